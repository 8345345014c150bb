//! Bundles: one row per tar object, from the moment its upload starts.

use diesel::prelude::*;

use super::any::RunAny;

use super::connection::Catalog;
use super::error::CatalogError;
use super::models::{Bundle, NewBundle};
use super::schema::bundles;
use super::states::BundleState;

impl Catalog {
    /// Records a bundle before any byte of it reaches the store, so a crash never leaves an
    /// object the catalog does not know about.
    pub fn insert_bundle(&mut self, bundle: &NewBundle<'_>) -> Result<i64, CatalogError> {
        self.transaction(|connection| {
            diesel::insert_into(bundles::table).values(bundle).returning(bundles::id).get_result_any(connection)
        })
    }

    pub fn mark_bundle_failed(&mut self, id: i64, error: &str) -> Result<(), CatalogError> {
        self.transaction(|connection| {
            diesel::update(bundles::table.find(id))
                .set((bundles::state.eq(BundleState::Failed), bundles::error.eq(error)))
                .execute_any(connection)
                .map(drop)
        })
    }

    /// Bundles of a run that never reached `stored`.
    pub fn unfinished_bundles(&mut self, run_id: i64) -> Result<Vec<Bundle>, CatalogError> {
        Ok(bundles::table
            .filter(bundles::run_id.eq(run_id))
            .filter(bundles::state.ne(BundleState::Stored))
            .select(bundles::all_columns)
            .load_any(&mut self.connection)?)
    }

    /// Removes a bundle row that holds no files (an unfinished upload being redone).
    pub fn delete_bundle(&mut self, id: i64) -> Result<(), CatalogError> {
        self.transaction(|connection| diesel::delete(bundles::table.find(id)).execute_any(connection).map(drop))
    }

    pub fn bundle(&mut self, id: i64) -> Result<Option<Bundle>, CatalogError> {
        Ok(bundles::table.find(id).select(bundles::all_columns).first_any(&mut self.connection).optional()?)
    }

    pub fn bundle_by_uuid(&mut self, uuid: &str) -> Result<Option<Bundle>, CatalogError> {
        Ok(bundles::table
            .filter(bundles::uuid.eq(uuid))
            .select(bundles::all_columns)
            .first_any(&mut self.connection)
            .optional()?)
    }

    pub fn list_bundles(&mut self, run: Option<i64>) -> Result<Vec<Bundle>, CatalogError> {
        let all = bundles::table.order(bundles::id.asc()).select(bundles::all_columns);
        Ok(match run {
            Some(run) => all.filter(bundles::run_id.eq(run)).load_any(&mut self.connection)?,
            None => all.load_any(&mut self.connection)?,
        })
    }
}
