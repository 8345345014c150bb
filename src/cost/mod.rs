//! Costs: pricing tables as data, and estimates built from them.

mod estimate;
mod pricing;

pub use estimate::{StorageCost, UploadEstimate, UploadEstimator};
pub use pricing::{BUILT_IN, ClassPrice, Pricing, PricingError, TierPrice, gigabytes};
