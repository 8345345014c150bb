//! Stores: where bundles live. One trait, one implementation per backend.

mod api;
mod error;
mod local;
mod s3;

use std::sync::Arc;

pub use api::{
    ObjectInfo, ObjectWriter, RestoreState, RestoreTier, Store, StoredObject, UnfinishedUpload, bundle_key,
    manifest_key,
};
pub use error::{StoreError, StoreErrorKind};
pub use local::LocalStore;
pub use s3::{S3Store, composite_sha256, part_size_for};

use crate::config::StoreSettings;

/// Builds the store named `name` from its settings (no request is sent until it is used).
pub fn open(name: &str, settings: &StoreSettings) -> Result<Arc<dyn Store>, StoreError> {
    Ok(match settings {
        StoreSettings::Local { path, cold_delay, cold_lifetime } => {
            Arc::new(LocalStore::new(name, path).with_cold(*cold_delay, *cold_lifetime))
        }
        StoreSettings::S3(s3) => Arc::new(S3Store::new(name, s3)?),
    })
}
