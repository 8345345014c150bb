//! Retrieval: choosing files, estimating cost and time per tier, starting restore jobs, and
//! writing the files back safely.

mod estimate;
mod select;
mod start;

pub use estimate::{CostBreakdown, RetrievalEstimate, TierEstimate, estimate};
pub use select::{Selection, Version, select};
pub use start::{RetrieveOutcome, RetrieveRequest, retrieve};
