//! Search: keeping the tantivy index in step with the catalog, and answering queries.

mod find;
mod query;
mod sync;

pub use find::{FindResult, Finder, Match, latest_only};
pub use query::parse_query;
pub use sync::{Follower, Reindexer, SyncReport, catch_up, catch_up_or_warn, rebuild};
