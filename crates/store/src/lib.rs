//! Stores: where bundles live. One trait, one implementation per backend: a local
//! directory, an S3 bucket, a Glacier vault.

mod api;
mod aws;
#[cfg(feature = "conformance")]
pub mod conformance;
mod error;
mod glacier;
mod local;
mod multipart;
mod parts;
mod s3;
mod settings;
pub mod tree_hash;

use std::sync::Arc;

pub use api::{
    Capabilities, ObjectChecksum, ObjectInfo, ObjectWriter, RestoreJob, RestoreState, RestoreTier, StartedRestore,
    Store, StoredObject, UnfinishedUpload, WriteOptions, bundle_key, manifest_key,
};
pub use error::{StoreError, StoreErrorKind};
pub use glacier::{
    ArchiveLabel, GLACIER_VAULT_CLASS, GlacierStore, InventoryJobState, VaultArchive, VaultInventory, download_range,
    is_archive_id,
};
pub use local::LocalStore;
pub use multipart::part_size_for;
pub use s3::{S3Store, composite_sha256};
pub use settings::{AwsClientSettings, GlacierSettings, S3_STORAGE_CLASSES, S3Settings, StoreSettings};

/// Builds the store named `name` from its settings (no request is sent until it is used).
pub fn open(name: &str, settings: &StoreSettings) -> Result<Arc<dyn Store>, StoreError> {
    Ok(match settings {
        StoreSettings::Local { path, cold_delay, cold_lifetime } => {
            Arc::new(LocalStore::new(name, path).with_cold(*cold_delay, *cold_lifetime))
        }
        StoreSettings::S3(s3) => Arc::new(S3Store::new(name, s3)?),
        StoreSettings::Glacier(glacier) => Arc::new(GlacierStore::new(name, glacier)?),
    })
}
