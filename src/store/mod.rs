//! Stores: where bundles live. One trait, one implementation per backend.

mod api;
mod error;
mod local;

use std::sync::Arc;

pub use api::{ObjectInfo, ObjectWriter, Store, StoredObject, bundle_key, manifest_key};
pub use error::{StoreError, StoreErrorKind};
pub use local::LocalStore;

use crate::config::StoreSettings;

/// Builds the store named `name` from its settings (touches nothing until used).
pub fn open(name: &str, settings: &StoreSettings) -> Arc<dyn Store> {
    match settings {
        StoreSettings::Local { path } => Arc::new(LocalStore::new(name, path)),
    }
}
