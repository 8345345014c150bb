//! `esker archive`: crawl, plan, pack, store, catalog, index.

mod error;
mod pipeline;
pub(crate) mod planner;
mod request;
mod run;
mod stored;
mod summary;

pub use error::ArchiveError;
pub use request::{ArchiveRequest, normalize_tags, resolve_roots};
pub use run::{archive, hostname};
pub use stored::{BundleError, PackOptions, PackedBundle, StoreSink, WrittenBundle, pack_bundle, write_bundle};
pub use summary::{SkippedExample, Summary};
