//! The catalog: runs, bundles, folders and files in SQLite or PostgreSQL (diesel, migrations in `migrations/`).

mod any;
mod attributes;
mod bundles;
mod connection;
mod error;
mod files;
mod history;
mod inventories;
mod models;
mod retrievals;
mod runs;
mod schema;
mod transfer;

pub use any::{AnyConnection, RunAny};
pub use attributes::{FileAttributes, IdentityRow, PrincipalRow};
pub use bundles::{BUNDLE_FAILED, BUNDLE_STORED, BUNDLE_UPLOADING};
pub use connection::{Catalog, CatalogLocation, SchemaStatus, mask_password};
pub use error::{CatalogError, POSTGRES_NOT_BUILT};
pub use files::{PendingFile, StoredBundle, path_hash};
pub use history::{DEDUP_MIN_SIZE, FILE_ARCHIVED, FILE_DELETED};
pub use inventories::{INVENTORY_DONE, INVENTORY_FAILED, INVENTORY_REQUESTED, Inventory};
pub use models::{Bundle, Dir, File, FileRecord, IndexedFile, NewBundle, NewFile, NewRun, Run, join_path};
pub use retrievals::{
    FILE_DONE, FILE_FAILED, FILE_PENDING, JOB_DONE, JOB_DOWNLOADING, JOB_EXPIRED, JOB_FAILED, JOB_OPEN_STATES,
    JOB_READY, JOB_REQUESTED, JOB_RESTORING, Job, JobUpdate, JobView, NewJob, NewRetrieval, Retrieval,
};
pub use runs::{RUN_COMPLETE, RUN_INCOMPLETE, RUN_RUNNING};
pub use transfer::{TransferError, TransferReport};
