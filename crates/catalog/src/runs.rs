//! Runs: one row per `esker archive` invocation.

use diesel::prelude::*;

use super::any::RunAny;

use super::connection::Catalog;
use super::error::CatalogError;
use super::models::{NewRun, Run};
use super::schema::runs;
use super::states::RunState;

impl Catalog {
    pub fn create_run(&mut self, run: &NewRun<'_>) -> Result<i64, CatalogError> {
        self.transaction(|connection| {
            diesel::insert_into(runs::table).values(run).returning(runs::id).get_result_any(connection)
        })
    }

    pub fn run(&mut self, id: i64) -> Result<Option<Run>, CatalogError> {
        Ok(runs::table.find(id).select(runs::all_columns).first_any(&mut self.connection).optional()?)
    }

    /// Unfinished runs of this host over the same roots and store, newest first:
    /// candidates to resume. Runs of other hosts sharing the catalog are theirs to resume.
    pub fn resumable_runs(&mut self, roots_key: &str, store: &str, host: &str) -> Result<Vec<Run>, CatalogError> {
        Ok(runs::table
            .filter(runs::roots_key.eq(roots_key))
            .filter(runs::store.eq(store))
            .filter(runs::host.eq(host))
            .filter(runs::state.ne(RunState::Complete))
            .order(runs::id.desc())
            .select(runs::all_columns)
            .load_any(&mut self.connection)?)
    }

    pub fn finish_run(&mut self, id: i64, state: RunState, finished_at: i64) -> Result<(), CatalogError> {
        self.transaction(|connection| {
            diesel::update(runs::table.find(id))
                .set((runs::state.eq(state), runs::finished_at.eq(finished_at)))
                .execute_any(connection)
                .map(drop)
        })
    }

    pub fn list_runs(&mut self) -> Result<Vec<Run>, CatalogError> {
        Ok(runs::table.order(runs::id.asc()).select(runs::all_columns).load_any(&mut self.connection)?)
    }
}
