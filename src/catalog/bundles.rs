//! Bundles: one row per tar object, from the moment its upload starts.

use diesel::prelude::*;

use super::connection::Catalog;
use super::error::CatalogError;
use super::models::{Bundle, NewBundle};
use super::schema::bundles;

pub const BUNDLE_UPLOADING: &str = "uploading";
pub const BUNDLE_STORED: &str = "stored";
pub const BUNDLE_FAILED: &str = "failed";

impl Catalog {
    /// Records a bundle before any byte of it reaches the store, so a crash never leaves an
    /// object the catalog does not know about.
    pub fn insert_bundle(&mut self, bundle: &NewBundle<'_>) -> Result<i64, CatalogError> {
        self.transaction(|connection| {
            diesel::insert_into(bundles::table).values(bundle).returning(bundles::id).get_result(connection)
        })
    }

    pub fn mark_bundle_failed(&mut self, id: i64, error: &str) -> Result<(), CatalogError> {
        self.transaction(|connection| {
            diesel::update(bundles::table.find(id))
                .set((bundles::state.eq(BUNDLE_FAILED), bundles::error.eq(error)))
                .execute(connection)
                .map(drop)
        })
    }

    /// Bundles of a run that never reached `stored`.
    pub fn unfinished_bundles(&mut self, run_id: i64) -> Result<Vec<Bundle>, CatalogError> {
        Ok(bundles::table
            .filter(bundles::run_id.eq(run_id))
            .filter(bundles::state.ne(BUNDLE_STORED))
            .select(Bundle::as_select())
            .load(&mut self.connection)?)
    }

    /// Removes a bundle row that holds no files (an unfinished upload being redone).
    pub fn delete_bundle(&mut self, id: i64) -> Result<(), CatalogError> {
        self.transaction(|connection| diesel::delete(bundles::table.find(id)).execute(connection).map(drop))
    }

    pub fn bundle(&mut self, id: i64) -> Result<Option<Bundle>, CatalogError> {
        Ok(bundles::table.find(id).select(Bundle::as_select()).first(&mut self.connection).optional()?)
    }

    pub fn bundle_by_uuid(&mut self, uuid: &str) -> Result<Option<Bundle>, CatalogError> {
        Ok(bundles::table
            .filter(bundles::uuid.eq(uuid))
            .select(Bundle::as_select())
            .first(&mut self.connection)
            .optional()?)
    }

    pub fn list_bundles(&mut self, run: Option<i64>) -> Result<Vec<Bundle>, CatalogError> {
        let mut query = bundles::table.order(bundles::id.asc()).select(Bundle::as_select()).into_boxed();
        if let Some(run) = run {
            query = query.filter(bundles::run_id.eq(run));
        }
        Ok(query.load(&mut self.connection)?)
    }
}
