//! Vault inventories and archive labels: what esker writes into each archive's description
//! so a vault can be matched to a catalog, and the inventory-retrieval jobs that list a vault.

use aws_sdk_glacier::types::{JobParameters, StatusCode};
use serde::{Deserialize, Serialize};

use super::{GlacierStore, sdk_error};
use crate::error::{StoreError, StoreErrorKind};

/// What esker writes into an archive's description (printable ASCII, at most 1024
/// characters): its key, the bundle it belongs to and the run that wrote it, so a vault can
/// be matched to a catalog without one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArchiveLabel {
    /// Always `1`: marks the archives esker wrote.
    pub esker: u32,
    pub key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bundle: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<i64>,
}

impl ArchiveLabel {
    pub fn new(key: &str, run: Option<i64>) -> ArchiveLabel {
        let name = key.rsplit('/').next().unwrap_or_default();
        let bundle = name.split('.').next().filter(|id| uuid::Uuid::parse_str(id).is_ok()).map(str::to_string);
        ArchiveLabel { esker: 1, key: key.to_string(), bundle, run }
    }

    /// The description text.
    pub fn description(&self) -> String {
        let text = serde_json::to_string(self).unwrap_or_default();
        text.chars().filter(|c| (' '..='~').contains(c)).take(1024).collect()
    }

    /// The label in a description, when esker wrote it.
    pub fn parse(description: &str) -> Option<ArchiveLabel> {
        serde_json::from_str::<ArchiveLabel>(description).ok().filter(|label| label.esker == 1)
    }
}

/// One archive of a vault inventory (the inventory-retrieval job's JSON output).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VaultArchive {
    #[serde(rename = "ArchiveId")]
    pub archive_id: String,
    #[serde(rename = "ArchiveDescription", default)]
    pub description: String,
    #[serde(rename = "CreationDate", default)]
    pub creation_date: String,
    #[serde(rename = "Size")]
    pub size: u64,
    #[serde(rename = "SHA256TreeHash", default)]
    pub tree_hash: String,
}

/// A vault inventory.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VaultInventory {
    #[serde(rename = "VaultARN", default)]
    pub vault_arn: String,
    #[serde(rename = "InventoryDate", default)]
    pub inventory_date: String,
    #[serde(rename = "ArchiveList", default)]
    pub archives: Vec<VaultArchive>,
}

/// Where an inventory-retrieval job stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InventoryJobState {
    Running,
    Succeeded,
    Failed(String),
    /// The vault no longer knows the job (its output expired, or it never existed).
    Gone,
}

impl GlacierStore {
    /// Starts an inventory-retrieval job (JSON); returns its job id.
    pub fn request_inventory(&self) -> Result<String, StoreError> {
        let inner = &self.inner;
        let parameters = JobParameters::builder()
            .r#type("inventory-retrieval")
            .format("JSON")
            .description("esker inventory")
            .build();
        let output = inner
            .block_on(inner.initiate_job().job_parameters(parameters).send())
            .map_err(|error| sdk_error(&inner.url(), error))?;
        output.job_id().map(str::to_string).ok_or_else(|| {
            StoreError::new(StoreErrorKind::Other, format!("{}: the vault returned no job id", inner.url()))
        })
    }

    /// Where an inventory job stands.
    pub fn inventory_state(&self, job_id: &str) -> Result<InventoryJobState, StoreError> {
        match self.inner.describe_job(job_id) {
            Ok(job) => Ok(match job.status_code() {
                Some(StatusCode::Succeeded) => InventoryJobState::Succeeded,
                Some(StatusCode::Failed) => {
                    InventoryJobState::Failed(job.status_message().unwrap_or("failed").to_string())
                }
                _ => InventoryJobState::Running,
            }),
            Err(error) => error.unless_not_found(InventoryJobState::Gone),
        }
    }

    /// The output of a finished inventory job: the raw JSON, and its parsed form.
    pub fn inventory_output(&self, job_id: &str) -> Result<(Vec<u8>, VaultInventory), StoreError> {
        let inner = &self.inner;
        let what = format!("{} inventory job {job_id}", inner.url());
        let (bytes, _) = inner.job_output(job_id, None, &what)?;
        let inventory = serde_json::from_slice(&bytes).map_err(|error| {
            StoreError::new(StoreErrorKind::Other, format!("{what}: unreadable inventory: {error}"))
        })?;
        Ok((bytes, inventory))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_carry_key_bundle_and_run_and_round_trip() {
        let key = "bundles/01a201b2-3eb8-7128-a493-f5c7a81bb176.tar";
        let label = ArchiveLabel::new(key, Some(7));
        assert_eq!(label.bundle.as_deref(), Some("01a201b2-3eb8-7128-a493-f5c7a81bb176"));
        let text = label.description();
        assert!(text.chars().all(|c| (' '..='~').contains(&c)) && text.len() <= 1024, "{text}");
        assert_eq!(ArchiveLabel::parse(&text), Some(label));
        assert_eq!(ArchiveLabel::parse("my holiday photos"), None);
        let manifest = ArchiveLabel::new("manifests/01a201b2-3eb8-7128-a493-f5c7a81bb176.jsonl.zst", None);
        assert_eq!(manifest.bundle.as_deref(), Some("01a201b2-3eb8-7128-a493-f5c7a81bb176"));
    }
}
