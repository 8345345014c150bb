//! The poller's part: fetch the output of every inventory job the vault has finished.

use crate::config::Settings;
use crate::error::Result;
use crate::poll::PollReport;
use esker_catalog::Catalog;
use esker_store::InventoryJobState;

/// Checks every requested inventory; stores the output of finished ones. A store error
/// leaves the inventory for the next pass.
pub fn poll_inventories(settings: &Settings, catalog: &mut Catalog, report: &mut PollReport) -> Result<()> {
    for inventory in catalog.open_inventories()? {
        let now = esker_model::time::now_seconds();
        let store = match super::request::vault_store(settings, &inventory.store) {
            Ok(store) => store,
            Err(error) => {
                report.errors.push(format!("inventory {}: {error}", inventory.id));
                report.inventories_waiting += 1;
                continue;
            }
        };
        let state = match store.inventory_state(&inventory.backend_job_id) {
            Ok(state) => state,
            Err(error) => {
                report.errors.push(format!("inventory {}: {error}", inventory.id));
                report.inventories_waiting += 1;
                continue;
            }
        };
        match state {
            InventoryJobState::Running => report.inventories_waiting += 1,
            InventoryJobState::Succeeded => match store.inventory_output(&inventory.backend_job_id) {
                Ok((raw, parsed)) => {
                    let compressed = zstd::encode_all(raw.as_slice(), 3)
                        .map_err(|error| crate::Error::io("inventory output", &error))?;
                    let date = (!parsed.inventory_date.is_empty()).then_some(parsed.inventory_date.as_str());
                    if catalog.complete_inventory(inventory.id, date, parsed.archives.len() as i64, &compressed, now)? {
                        report.inventories_done += 1;
                    }
                }
                Err(error) => {
                    report.errors.push(format!("inventory {}: {error}", inventory.id));
                    report.inventories_waiting += 1;
                }
            },
            InventoryJobState::Failed(why) => {
                catalog.fail_inventory(inventory.id, &why, now)?;
                report.errors.push(format!("inventory {} of vault {} failed: {why}", inventory.id, inventory.vault));
                report.inventories_failed += 1;
            }
            InventoryJobState::Gone => {
                let why = "the vault no longer knows the job (its output expired after 24 hours); request another";
                catalog.fail_inventory(inventory.id, why, now)?;
                report.errors.push(format!("inventory {} of vault {}: {why}", inventory.id, inventory.vault));
                report.inventories_failed += 1;
            }
        }
    }
    Ok(())
}
