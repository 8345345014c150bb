//! The catalog: runs, bundles, folders and files in SQLite or PostgreSQL (diesel, migrations in `migrations/`).

mod any;
mod attributes;
mod bundles;
mod check;
mod connection;
mod error;
mod files;
mod history;
mod inventories;
mod models;
mod retrievals;
mod runs;
mod schema;
mod secret;
mod states;
mod transfer;

pub use any::{AnyConnection, RunAny};
pub use attributes::{FileAttributes, IdentityRow, PrincipalRow};
pub use check::CheckReport;
pub use connection::{Catalog, CatalogLocation, SchemaStatus, mask_password};
pub use error::{CatalogError, POSTGRES_NOT_BUILT};
pub use files::{PendingFile, StoredBundle, path_hash};
pub use history::DEDUP_MIN_SIZE;
pub use inventories::Inventory;
pub use models::{Bundle, Dir, File, FileRecord, IndexedFile, NewBundle, NewFile, NewRun, Run, join_path};
pub use retrievals::{Job, JobUpdate, JobView, NewJob, NewRetrieval, Retrieval};
pub use secret::ConnectionString;
pub use states::{
    BundleState, FileState, InventoryState, JobState, RetrievalFileState, RetrievalState, RunState, UnknownState,
};
pub use transfer::{TransferError, TransferReport};
