//! Vault inventories: inventory-retrieval jobs `esker inventory request` starts and
//! `esker poll` fetches, with the job output kept (zstd) for `esker inventory show`.

use diesel::prelude::*;
use serde::Serialize;

use super::any::RunAny;
use super::connection::Catalog;
use super::error::CatalogError;
use super::models::Bundle;
use super::schema::{bundles, inventories};
use super::states::InventoryState;

/// One inventory job (the output is read separately: it can be large).
#[derive(Debug, Clone, Queryable, Serialize)]
pub struct Inventory {
    pub id: i64,
    pub store: String,
    pub vault: String,
    pub backend_job_id: String,
    pub state: InventoryState,
    pub error: Option<String>,
    pub requested_at: i64,
    pub done_at: Option<i64>,
    pub inventory_date: Option<String>,
    pub archives: Option<i64>,
    pub updated_at: i64,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = inventories)]
struct NewInventory<'a> {
    store: &'a str,
    vault: &'a str,
    backend_job_id: &'a str,
    state: InventoryState,
    requested_at: i64,
    updated_at: i64,
}

/// Every column but the output. A tuple, not `Inventory::as_select()`: `as_select` fixes
/// the backend, and `load_any` needs a query that runs on both.
const INVENTORY_COLUMNS: (
    inventories::id,
    inventories::store,
    inventories::vault,
    inventories::backend_job_id,
    inventories::state,
    inventories::error,
    inventories::requested_at,
    inventories::done_at,
    inventories::inventory_date,
    inventories::archives,
    inventories::updated_at,
) = (
    inventories::id,
    inventories::store,
    inventories::vault,
    inventories::backend_job_id,
    inventories::state,
    inventories::error,
    inventories::requested_at,
    inventories::done_at,
    inventories::inventory_date,
    inventories::archives,
    inventories::updated_at,
);

impl Catalog {
    /// Records a requested inventory job; returns its id.
    pub fn insert_inventory(&mut self, store: &str, vault: &str, job_id: &str, now: i64) -> Result<i64, CatalogError> {
        let row = NewInventory {
            store,
            vault,
            backend_job_id: job_id,
            state: InventoryState::Requested,
            requested_at: now,
            updated_at: now,
        };
        self.transaction(|connection| {
            diesel::insert_into(inventories::table).values(&row).returning(inventories::id).get_result_any(connection)
        })
    }

    /// Inventory jobs still waiting for their output.
    pub fn open_inventories(&mut self) -> Result<Vec<Inventory>, CatalogError> {
        Ok(inventories::table
            .filter(inventories::state.eq(InventoryState::Requested))
            .order(inventories::id.asc())
            .select(INVENTORY_COLUMNS)
            .load_any(&mut self.connection)?)
    }

    /// Stores a finished inventory's output. Only a job still `requested` changes, so two
    /// pollers finishing the same job record it once; returns whether this call did.
    pub fn complete_inventory(
        &mut self,
        id: i64,
        inventory_date: Option<&str>,
        archives: i64,
        output_zstd: &[u8],
        now: i64,
    ) -> Result<bool, CatalogError> {
        let changed = self.transaction(|connection| {
            diesel::update(inventories::table.find(id).filter(inventories::state.eq(InventoryState::Requested)))
                .set((
                    inventories::state.eq(InventoryState::Done),
                    inventories::inventory_date.eq(inventory_date),
                    inventories::archives.eq(archives),
                    inventories::output.eq(output_zstd),
                    inventories::done_at.eq(now),
                    inventories::updated_at.eq(now),
                ))
                .execute_any(connection)
        })?;
        Ok(changed > 0)
    }

    pub fn fail_inventory(&mut self, id: i64, error: &str, now: i64) -> Result<(), CatalogError> {
        self.transaction(|connection| {
            diesel::update(inventories::table.find(id).filter(inventories::state.eq(InventoryState::Requested)))
                .set((
                    inventories::state.eq(InventoryState::Failed),
                    inventories::error.eq(error),
                    inventories::updated_at.eq(now),
                ))
                .execute_any(connection)
                .map(drop)
        })
    }

    /// Every inventory job of a store, newest first.
    pub fn inventories(&mut self, store: &str) -> Result<Vec<Inventory>, CatalogError> {
        Ok(inventories::table
            .filter(inventories::store.eq(store))
            .order(inventories::id.desc())
            .select(INVENTORY_COLUMNS)
            .load_any(&mut self.connection)?)
    }

    /// The zstd output of a finished inventory.
    pub fn inventory_output(&mut self, id: i64) -> Result<Option<Vec<u8>>, CatalogError> {
        Ok(inventories::table
            .find(id)
            .select(inventories::output)
            .first_any::<Option<Vec<u8>>>(&mut self.connection)
            .optional()?
            .flatten())
    }

    /// Every bundle recorded for a store.
    pub fn store_bundles(&mut self, store: &str) -> Result<Vec<Bundle>, CatalogError> {
        Ok(bundles::table
            .filter(bundles::store.eq(store))
            .order(bundles::id.asc())
            .select(bundles::all_columns)
            .load_any(&mut self.connection)?)
    }
}
