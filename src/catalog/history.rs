//! Earlier versions of paths: what incremental runs, dedup and `status` compare against.

use std::collections::HashMap;

use diesel::prelude::*;

use super::any::RunAny;

use super::connection::Catalog;
use super::error::CatalogError;
use super::models::{File, Run};
use super::schema::{bundles, dirs, files, runs};

pub const FILE_ARCHIVED: &str = "archived";
pub const FILE_DELETED: &str = "deleted";

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
        let sizes: Vec<i64> = files::table
            .inner_join(bundles::table)
            .filter(files::blake3.is_not_null())
            .filter(files::state.eq(FILE_ARCHIVED))
            .filter(dedup_sized())
            .filter(bundles::store.eq(store))
            .select(files::size)
            .distinct()
            .load_any(&mut self.connection)?;
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
        Ok(files::table
            .inner_join(bundles::table)
            .filter(dedup_sized())
            .filter(files::size.eq(size))
            .filter(files::blake3.eq(blake3))
            .filter(files::state.eq(FILE_ARCHIVED))
            .filter(bundles::store.eq(store))
            .filter(bundles::state.eq(super::bundles::BUNDLE_STORED))
            .order(files::id.asc())
            .select(files::all_columns)
            .first_any(&mut self.connection)
            .optional()?)
    }

    /// The store each stored bundle lives in.
    pub fn bundle_stores(&mut self) -> Result<HashMap<i64, String>, CatalogError> {
        Ok(bundles::table
            .filter(bundles::state.eq(super::bundles::BUNDLE_STORED))
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
    /// `deleted` marker (to show one version per path).
    pub fn latest_version_ids(&mut self, ids: &[i64]) -> Result<HashMap<i64, i64>, CatalogError> {
        let mut out = HashMap::new();
        for chunk in ids.chunks(2000) {
            let keys: Vec<(i64, i64, Vec<u8>)> = files::table
                .filter(files::id.eq_any(chunk))
                .select((files::id, files::dir_id, files::name))
                .load_any(&mut self.connection)?;
            let mut by_dir: HashMap<i64, Vec<(i64, Vec<u8>)>> = HashMap::new();
            for (id, dir, name) in keys {
                by_dir.entry(dir).or_default().push((id, name));
            }
            for (dir, members) in by_dir {
                let names: Vec<&[u8]> = members.iter().map(|(_, name)| name.as_slice()).collect();
                let latest: Vec<(Vec<u8>, Option<i64>)> = files::table
                    .filter(files::dir_id.eq(dir))
                    .filter(files::name.eq_any(&names))
                    .filter(files::state.ne(FILE_DELETED))
                    .group_by(files::name)
                    .select((files::name, diesel::dsl::max(files::id)))
                    .load_any(&mut self.connection)?;
                let latest: HashMap<Vec<u8>, i64> =
                    latest.into_iter().filter_map(|(name, id)| id.map(|id| (name, id))).collect();
                for (id, name) in members {
                    if let Some(newest) = latest.get(&name) {
                        out.insert(id, *newest);
                    }
                }
            }
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
/// look for a stored copy. Only larger rows are in the `files_dedup` index (migration 8,
/// whose `WHERE size >= 65536` must match), so small files cost no random index insert, and
/// a folder's small files are restored from its own bundles.
pub const DEDUP_MIN_SIZE: i64 = 64 * 1024;

/// The `files_dedup` index's condition, written out as SQL: a bound parameter would not
/// let SQLite's planner see that a query falls under the partial index.
fn dedup_sized() -> diesel::expression::SqlLiteral<diesel::sql_types::Bool> {
    const _: () = assert!(DEDUP_MIN_SIZE == 65536, "update migration 8 and the literal below");
    diesel::dsl::sql::<diesel::sql_types::Bool>("files.size >= 65536")
}
