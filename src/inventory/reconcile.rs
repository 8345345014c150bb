//! `esker inventory show STORE`: the latest finished inventory of a vault against the
//! catalog: archives the catalog does not know, bundles (and manifest copies) the vault does
//! not hold, and archives whose size or tree hash differ from what the catalog recorded.

use std::collections::HashMap;

use serde::Serialize;

use crate::config::Settings;
use crate::error::{Error, Result};
use esker_catalog::{Bundle, BundleState, Catalog, Inventory, InventoryState};
use esker_store::{ArchiveLabel, VaultArchive, VaultInventory};

/// A vault archive no stored bundle of the catalog points at.
#[derive(Debug, Clone, Serialize)]
pub struct UnknownArchive {
    pub archive_id: String,
    pub size: u64,
    pub tree_hash: String,
    pub description: String,
    pub creation_date: String,
    /// The esker key and bundle in its description, when esker wrote it.
    pub key: Option<String>,
    pub bundle: Option<String>,
    pub run: Option<i64>,
    /// The bundle's state in the catalog when the catalog knows the bundle but not this
    /// archive (an upload confirmed by the vault but never recorded, say).
    pub catalog_state: Option<String>,
}

/// A stored bundle (or its manifest copy) whose archive is not in the vault.
#[derive(Debug, Clone, Serialize)]
pub struct MissingArchive {
    pub bundle: String,
    pub run: i64,
    /// `bundle` or `manifest`.
    pub what: &'static str,
    pub archive_id: String,
    pub bytes: Option<i64>,
}

/// An archive whose size or tree hash differs from the catalog's.
#[derive(Debug, Clone, Serialize)]
pub struct Mismatch {
    pub bundle: String,
    pub archive_id: String,
    pub catalog_bytes: Option<i64>,
    pub vault_bytes: u64,
    pub catalog_tree_hash: Option<String>,
    pub vault_tree_hash: String,
}

/// The reconciliation `inventory show` prints.
#[derive(Debug, Clone, Serialize)]
pub struct Reconciliation {
    pub store: String,
    pub vault: String,
    pub inventory: i64,
    pub inventory_date: Option<String>,
    /// Archives in the vault's list.
    pub archives: u64,
    /// Stored bundles whose archive (and manifest copy) matched in size and tree hash.
    pub matched: u64,
    pub unknown: Vec<UnknownArchive>,
    pub missing: Vec<MissingArchive>,
    pub mismatched: Vec<Mismatch>,
    /// Bundles stored after the inventory was taken: not expected in it.
    pub newer_than_inventory: u64,
}

impl Reconciliation {
    /// Whether the vault and the catalog agree.
    pub fn is_clean(&self) -> bool {
        self.unknown.is_empty() && self.missing.is_empty() && self.mismatched.is_empty()
    }
}

pub fn reconcile(settings: &Settings, name: &str) -> Result<Reconciliation> {
    let store = super::request::vault_store(settings, name)?;
    let Some(mut catalog) = Catalog::open_existing(&settings.catalog)? else {
        return Err(Error::Input(format!("no inventory of store `{name}` yet: run `esker inventory request {name}`")));
    };
    let (done, inventory) = latest_inventory(&mut catalog, name)?;
    let bundles = catalog.store_bundles(name)?;
    let taken = esker_model::time::parse_date(inventory.inventory_date.split('.').next().unwrap_or_default());
    let mut by_id: HashMap<&str, &VaultArchive> =
        inventory.archives.iter().map(|archive| (archive.archive_id.as_str(), archive)).collect();
    let mut result = Reconciliation {
        store: name.to_string(),
        vault: store.vault().to_string(),
        inventory: done.id,
        inventory_date: done.inventory_date.clone(),
        archives: inventory.archives.len() as u64,
        matched: 0,
        unknown: Vec::new(),
        missing: Vec::new(),
        mismatched: Vec::new(),
        newer_than_inventory: 0,
    };
    for bundle in bundles.iter().filter(|bundle| bundle.state == BundleState::Stored) {
        let newer = matches!((taken, bundle.stored_at), (Some(taken), Some(stored)) if stored > taken);
        check_bundle(bundle, newer, &mut by_id, &mut result);
    }
    let states: HashMap<&str, &str> =
        bundles.iter().map(|bundle| (bundle.uuid.as_str(), bundle.state.as_str())).collect();
    result.unknown = unknown_archives(by_id, &states);
    Ok(result)
}

/// The latest finished inventory of the store, read from the catalog; an error says what
/// to do when there is none yet.
fn latest_inventory(catalog: &mut Catalog, name: &str) -> Result<(Inventory, VaultInventory)> {
    let inventories = catalog.inventories(name)?;
    let Some(done) = inventories.iter().find(|inventory| inventory.state == InventoryState::Done) else {
        let waiting = inventories.iter().find(|inventory| inventory.state == InventoryState::Requested);
        return Err(Error::Input(match waiting {
            Some(waiting) => format!(
                "no finished inventory of store `{name}` yet: job {} was requested {}; `esker poll` fetches it once the vault has it ready",
                waiting.id,
                esker_model::time::format_rfc3339(waiting.requested_at)
            ),
            None => format!("no inventory of store `{name}` yet: run `esker inventory request {name}`"),
        }));
    };
    let compressed = catalog
        .inventory_output(done.id)?
        .ok_or_else(|| Error::Input(format!("inventory {} of store `{name}` has no output", done.id)))?;
    let raw = zstd::decode_all(compressed.as_slice()).map_err(|error| Error::io("inventory output", &error))?;
    let inventory: VaultInventory = serde_json::from_slice(&raw)
        .map_err(|error| Error::Input(format!("inventory {} of store `{name}` is unreadable: {error}", done.id)))?;
    Ok((done.clone(), inventory))
}

/// Looks up a stored bundle's archive and manifest copy in the inventory (taking them out
/// of `by_id`) and counts it as matched, missing, mismatched or newer than the inventory.
fn check_bundle(bundle: &Bundle, newer: bool, by_id: &mut HashMap<&str, &VaultArchive>, result: &mut Reconciliation) {
    let mut ok = true;
    let mut seen_any = false;
    let manifest = bundle.manifest_key.as_deref().filter(|key| esker_store::is_archive_id(key));
    for (what, key) in [("bundle", Some(bundle.object_key.as_str())), ("manifest", manifest)] {
        let Some(key) = key else { continue };
        match by_id.remove(key) {
            Some(archive) => {
                seen_any = true;
                if what == "bundle"
                    && let Some(mismatch) = mismatch(bundle, archive)
                {
                    ok = false;
                    result.mismatched.push(mismatch);
                }
            }
            None if newer => ok = false,
            None => {
                ok = false;
                result.missing.push(MissingArchive {
                    bundle: bundle.uuid.clone(),
                    run: bundle.run_id,
                    what,
                    archive_id: key.to_string(),
                    bytes: if what == "bundle" { bundle.bytes } else { None },
                });
            }
        }
    }
    if newer && !seen_any {
        result.newer_than_inventory += 1;
    } else if ok {
        result.matched += 1;
    }
}

/// How a bundle's archive differs from the catalog in size or tree hash, if it does.
fn mismatch(bundle: &Bundle, archive: &VaultArchive) -> Option<Mismatch> {
    let size_differs = bundle.bytes.is_some_and(|bytes| bytes.max(0) as u64 != archive.size);
    let hash_differs = bundle.tree_hash.as_deref().is_some_and(|hash| !hash.eq_ignore_ascii_case(&archive.tree_hash));
    (size_differs || hash_differs).then(|| Mismatch {
        bundle: bundle.uuid.clone(),
        archive_id: archive.archive_id.clone(),
        catalog_bytes: bundle.bytes,
        vault_bytes: archive.size,
        catalog_tree_hash: bundle.tree_hash.clone(),
        vault_tree_hash: archive.tree_hash.clone(),
    })
}

/// The archives no stored bundle claimed, oldest first, with what their descriptions say.
fn unknown_archives(by_id: HashMap<&str, &VaultArchive>, states: &HashMap<&str, &str>) -> Vec<UnknownArchive> {
    let mut unknown: Vec<UnknownArchive> = by_id
        .into_values()
        .map(|archive| {
            let label = ArchiveLabel::parse(&archive.description);
            let bundle = label.as_ref().and_then(|label| label.bundle.clone());
            UnknownArchive {
                archive_id: archive.archive_id.clone(),
                size: archive.size,
                tree_hash: archive.tree_hash.clone(),
                description: archive.description.clone(),
                creation_date: archive.creation_date.clone(),
                key: label.as_ref().map(|label| label.key.clone()),
                run: label.as_ref().and_then(|label| label.run),
                catalog_state: bundle.as_deref().and_then(|id| states.get(id)).map(|state| state.to_string()),
                bundle,
            }
        })
        .collect();
    unknown.sort_by(|left, right| {
        (left.creation_date.as_str(), left.archive_id.as_str())
            .cmp(&(right.creation_date.as_str(), right.archive_id.as_str()))
    });
    unknown
}
