//! `esker inventory request STORE`: starts an inventory-retrieval job and records it.

use serde::Serialize;

use crate::config::{Settings, StoreSettings};
use crate::error::{Error, Result};
use esker_catalog::Catalog;
use esker_store::GlacierStore;

/// What `inventory request` started.
#[derive(Debug, Serialize)]
pub struct InventoryRequested {
    /// The catalog's number for it.
    pub id: i64,
    pub store: String,
    pub vault: String,
    pub job_id: String,
}

/// The vault store named `name`, or an input error naming its kind.
pub fn vault_store(settings: &Settings, name: &str) -> Result<GlacierStore> {
    match settings.store(name)? {
        StoreSettings::Glacier(glacier) => Ok(GlacierStore::new(name, glacier)?),
        other => {
            let kind = match other {
                StoreSettings::Local { .. } => "local",
                StoreSettings::S3(_) => "s3",
                StoreSettings::Glacier(_) => "glacier",
            };
            Err(Error::Input(format!(
                "store `{name}` is a {kind} store: inventories are for glacier vaults (kind = \"glacier\")"
            )))
        }
    }
}

pub fn request_inventory(settings: &Settings, name: &str) -> Result<InventoryRequested> {
    let store = vault_store(settings, name)?;
    settings.home.ensure()?;
    let mut catalog = Catalog::open(&settings.catalog)?;
    let job_id = store.request_inventory()?;
    let id = catalog.insert_inventory(name, store.vault(), &job_id, esker_model::time::now_seconds())?;
    Ok(InventoryRequested { id, store: name.to_string(), vault: store.vault().to_string(), job_id })
}
