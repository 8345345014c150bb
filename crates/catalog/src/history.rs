//! Earlier versions of paths: what incremental runs, dedup and `status` compare against.

use std::collections::HashMap;

use diesel::prelude::*;

use super::any::RunAny;

use super::connection::Catalog;
use super::error::CatalogError;
use super::models::{File, Run};
use super::schema::{bundles, dirs, files, runs};
use super::states::{BundleState, FileState};

/// (id, id of the latest version of its path that is not a `deleted` marker) for the files
/// in `$ids`.
macro_rules! latest_versions {
    ($ids:expr) => {{
        let versions = diesel::alias!(files as versions);
        let latest = versions
            .filter(versions.field(files::dir_id).eq(files::dir_id))
            .filter(versions.field(files::name).eq(files::name))
            .filter(versions.field(files::state).ne(FileState::Deleted))
            .select(diesel::dsl::max(versions.field(files::id)))
            .single_value();
        files::table.filter(files::id.eq_any($ids)).select((files::id, latest))
    }};
}

impl Catalog {
    /// The latest version of every name recorded in folder `dir` (raw path), any state.
    pub fn latest_in_dir(&mut self, dir: &[u8]) -> Result<HashMap<Vec<u8>, File>, CatalogError> {
        let key = super::models::dir_key(dir);
        let found: Option<i64> = dirs::table
            .filter(dirs::path_hash.eq(&key[..]))
            .select(dirs::id)
            .first_any(&mut self.connection)
            .optional()?;
        let Some(dir_id) = found else {
            return Ok(HashMap::new());
        };
        let rows: Vec<File> = files::table
            .filter(files::dir_id.eq(dir_id))
            .order(files::id.asc())
            .select(files::all_columns)
            .load_any(&mut self.connection)?;
        let mut latest = HashMap::with_capacity(rows.len());
        for row in rows {
            latest.insert(row.name.clone(), row);
        }
        Ok(latest)
    }

    /// Every size of at least [`DEDUP_MIN_SIZE`] some stored file has in `store`: a new
    /// file is hashed ahead, to look for a duplicate, only when its size is in this set
    /// (loaded once per run).
    pub fn stored_sizes(&mut self, store: &str) -> Result<std::collections::HashSet<i64>, CatalogError> {
        let sizes: Vec<i64> = dedup_candidates(store).select(files::size).distinct().load_any(&mut self.connection)?;
        Ok(sizes.into_iter().collect())
    }

    /// Whether the catalog knows any folder at or below `root` (no history: first run).
    pub fn has_dirs_under(&mut self, root: &[u8]) -> Result<bool, CatalogError> {
        let mut prefix = root.to_vec();
        if !prefix.ends_with(b"/") {
            prefix.push(b'/');
        }
        let mut upper = prefix.clone();
        if let Some(last) = upper.last_mut() {
            *last += 1;
        }
        let found: Option<i64> = dirs::table
            .filter(dirs::path.eq(root).or(dirs::path.ge(prefix).and(dirs::path.lt(upper))))
            .select(dirs::id)
            .first_any(&mut self.connection)
            .optional()?;
        Ok(found.is_some())
    }

    /// A file with this content stored in `store`, if any (`size` at least
    /// [`DEDUP_MIN_SIZE`]; smaller files are never looked up).
    pub fn stored_content(&mut self, size: i64, blake3: &str, store: &str) -> Result<Option<File>, CatalogError> {
        Ok(dedup_candidates(store)
            .filter(files::size.eq(size))
            .filter(files::blake3.eq(blake3))
            .order(files::id.asc())
            .select(files::all_columns)
            .first_any(&mut self.connection)
            .optional()?)
    }

    /// The store each stored bundle lives in.
    pub fn bundle_stores(&mut self) -> Result<HashMap<i64, String>, CatalogError> {
        Ok(bundles::table
            .filter(bundles::state.eq(BundleState::Stored))
            .select((bundles::id, bundles::store))
            .load_any::<(i64, String)>(&mut self.connection)?
            .into_iter()
            .collect())
    }

    /// Raw paths of every recorded folder at or below `root`.
    pub fn dirs_under(&mut self, root: &[u8]) -> Result<Vec<Vec<u8>>, CatalogError> {
        let mut prefix = root.to_vec();
        if !prefix.ends_with(b"/") {
            prefix.push(b'/');
        }
        // BLOBs compare bytewise: everything starting with "root/" sorts in [root/, root0).
        let mut upper = prefix.clone();
        if let Some(last) = upper.last_mut() {
            *last += 1;
        }
        Ok(dirs::table
            .filter(dirs::path.eq(root).or(dirs::path.ge(prefix).and(dirs::path.lt(upper))))
            .select(dirs::path)
            .load_any(&mut self.connection)?)
    }

    /// For files in `ids`: the id of the latest version of the same path that is not a
    /// `deleted` marker (to show one version per path). One statement per chunk of ids, the
    /// latest version looked up through `files_dir_name` for each: `find` runs it once per
    /// query, where a statement per folder cost about 30 us each to prepare.
    pub fn latest_version_ids(&mut self, ids: &[i64]) -> Result<HashMap<i64, i64>, CatalogError> {
        let mut out = HashMap::with_capacity(ids.len());
        for chunk in ids.chunks(2000) {
            let rows: Vec<(i64, Option<i64>)> = latest_versions!(chunk).load_any(&mut self.connection)?;
            out.extend(rows.into_iter().filter_map(|(id, latest)| latest.map(|latest| (id, latest))));
        }
        Ok(out)
    }

    /// Runs by id (for version choices by run and date).
    pub fn runs_by_id(&mut self) -> Result<HashMap<i64, Run>, CatalogError> {
        Ok(runs::table
            .select(runs::all_columns)
            .load_any(&mut self.connection)?
            .into_iter()
            .map(|run: Run| (run.id, run))
            .collect())
    }
}

/// Files smaller than this are never deduplicated: an archive uploads them again rather than
/// look for a stored copy. Only larger rows are in the `files_dedup` index (migration 8), so
/// small files cost no random index insert, and a folder's small files are restored from its
/// own bundles. Changing it takes a new migration that rebuilds the index.
pub const DEDUP_MIN_SIZE: i64 = 64 * 1024;

/// The `files_dedup` index's condition, `files.size >= 65536`, written into the SQL as a
/// constant: PostgreSQL's generic plans (and SQLite's planner) can only use a partial index
/// for a condition they can see implies the index's own, which a bound parameter does not
/// show. Unlike `dsl::sql`, it keeps the statement cacheable.
#[derive(Debug, Clone, Copy, diesel::query_builder::QueryId)]
struct DedupSized;

impl diesel::Expression for DedupSized {
    type SqlType = diesel::sql_types::Bool;
}

impl<QS> diesel::AppearsOnTable<QS> for DedupSized {}

impl diesel::expression::ValidGrouping<()> for DedupSized {
    type IsAggregate = diesel::expression::is_aggregate::Never;
}

impl<DB: diesel::backend::Backend> diesel::query_builder::QueryFragment<DB> for DedupSized {
    fn walk_ast<'b>(&'b self, mut out: diesel::query_builder::AstPass<'_, 'b, DB>) -> QueryResult<()> {
        out.push_sql(DEDUP_CONDITION);
        Ok(())
    }
}

const DEDUP_CONDITION: &str = "files.size >= 65536";

fn dedup_sized() -> DedupSized {
    DedupSized
}

#[allow(non_camel_case_types)] // the type `auto_type` expects for `dedup_sized()`
type dedup_sized = DedupSized;

/// Where dedup looks: archived files of at least [`DEDUP_MIN_SIZE`] with a hash, in stored
/// bundles of `store`.
#[diesel::dsl::auto_type(no_type_alias)]
fn dedup_candidates<'a>(store: &'a str) -> _ {
    let archived: &'static str = FileState::Archived.as_str();
    let stored: &'static str = BundleState::Stored.as_str();
    files::table
        .inner_join(bundles::table)
        .filter(dedup_sized())
        .filter(files::blake3.is_not_null())
        .filter(files::state.eq(archived))
        .filter(bundles::store.eq(store))
        .filter(bundles::state.eq(stored))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both migrations create the index with the condition the queries state.
    #[test]
    fn dedup_condition_matches_the_migrations_and_the_constant() {
        assert_eq!(DEDUP_CONDITION, format!("files.size >= {DEDUP_MIN_SIZE}"));
        for up in [
            include_str!("../migrations/sqlite/2026-11-22-000008_dedup_large_files/up.sql"),
            include_str!("../migrations/postgres/2026-11-22-000008_dedup_large_files/up.sql"),
        ] {
            assert!(up.contains(&format!("WHERE size >= {DEDUP_MIN_SIZE};")), "{up}");
        }
    }
}
