//! Files and their folders: recording packed and skipped entries, reading them back.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use diesel::prelude::*;

use super::any::{AnyConnection, RunAny};
use esker_model::StoredObject;

use super::attributes::{FileAttributes, insert_attributes};

use super::connection::Catalog;
use super::error::CatalogError;
use super::models::{File, FileRecord, IndexedFile, NewDir, NewFile, Run, join_path, join_text};
use super::schema::{bundles, dirs, files, runs};
use super::states::{BundleState, FileState};

/// Rows per multi-row INSERT (SQLite allows 32766 bound variables; a file row has 21).
const INSERT_CHUNK: usize = 1000;
const DIR_CACHE_LIMIT: usize = 100_000;
/// Ids per `IN (…)` lookup (SQLite allows 32766 bound variables).
const ID_CHUNK: usize = 10_000;

/// A file row waiting for its folder's id.
#[derive(Debug, Clone)]
pub struct PendingFile {
    pub dir_path: Vec<u8>,
    pub row: NewFile,
    /// Extended attributes and ACL entries (`archive --xattrs`), boxed: most files have none.
    pub attributes: Option<Box<FileAttributes>>,
}

/// What changes on a bundle row when its object is confirmed.
#[derive(Debug, Clone)]
pub struct StoredBundle<'a> {
    pub bundle_id: i64,
    /// The key the store holds the bundle under (a vault's archive id).
    pub object_key: &'a str,
    pub bytes: i64,
    /// BLAKE3 of the whole bundle object (hex).
    pub blake3: &'a str,
    /// Glacier vaults: the archive's tree hash (hex).
    pub tree_hash: Option<&'a str>,
    pub manifest_key: &'a str,
    pub stored_at: i64,
}

/// Caches folder ids; cleared on rollback so it never holds an id that was not committed.
#[derive(Default)]
pub struct DirCache {
    ids: HashMap<Vec<u8>, i64>,
}

impl DirCache {
    fn resolve(&mut self, connection: &mut AnyConnection, path: &[u8]) -> Result<i64, diesel::result::Error> {
        if let Some(&id) = self.ids.get(path) {
            return Ok(id);
        }
        let text = String::from_utf8_lossy(path);
        let key = super::models::dir_key(path);
        diesel::insert_into(dirs::table)
            .values(&NewDir { path, path_text: &text, path_hash: &key })
            .on_conflict(dirs::path_hash)
            .do_nothing()
            .execute_any(connection)?;
        let id = dirs::table.filter(dirs::path_hash.eq(&key[..])).select(dirs::id).first_any(connection)?;
        if self.ids.len() >= DIR_CACHE_LIMIT {
            self.ids.clear();
        }
        self.ids.insert(path.to_vec(), id);
        Ok(id)
    }
}

/// Inserts rows, all with the transaction's commit number. On SQLite one row at a time with
/// a statement prepared once per connection (cheaper than building and parsing the SQL of a
/// multi-row INSERT for every bundle; there are no round trips to save); on PostgreSQL in
/// multi-row chunks, one round trip each.
fn insert_files(
    connection: &mut AnyConnection,
    cache: &mut DirCache,
    pending: Vec<PendingFile>,
) -> Result<(), diesel::result::Error> {
    let seq = Catalog::next_sequence(connection)?;
    if matches!(connection, AnyConnection::Sqlite(_)) {
        let mut attributes = Vec::new();
        for PendingFile { dir_path, mut row, attributes: found } in pending {
            row.seq = seq;
            row.dir_id = cache.resolve(connection, &dir_path)?;
            match found {
                None => {
                    diesel::insert_into(files::table).values(&row).execute_any(connection)?;
                }
                Some(found) => {
                    let id: i64 = diesel::insert_into(files::table)
                        .values(&row)
                        .returning(files::id)
                        .get_result_any(connection)?;
                    attributes.push((id, found));
                }
            }
        }
        let attributes: Vec<(i64, &FileAttributes)> =
            attributes.iter().map(|(id, found)| (*id, found.as_ref())).collect();
        return insert_attributes(connection, &attributes);
    }
    let mut rows = Vec::with_capacity(pending.len().min(INSERT_CHUNK));
    let mut attributes = Vec::new();
    for PendingFile { dir_path, mut row, attributes: found } in pending {
        row.seq = seq;
        row.dir_id = cache.resolve(connection, &dir_path)?;
        if let Some(found) = found {
            attributes.push((rows.len(), found));
        }
        rows.push(row);
        if rows.len() == INSERT_CHUNK {
            insert_chunk(connection, &rows, &mut attributes)?;
            rows.clear();
        }
    }
    if !rows.is_empty() {
        insert_chunk(connection, &rows, &mut attributes)?;
    }
    Ok(())
}

/// One multi-row INSERT; when some rows carry attributes, their new ids are read back (by
/// folder and name, unique within a transaction) to record them.
fn insert_chunk(
    connection: &mut AnyConnection,
    rows: &[NewFile],
    attributes: &mut Vec<(usize, Box<FileAttributes>)>,
) -> Result<(), diesel::result::Error> {
    if attributes.is_empty() {
        diesel::insert_into(files::table).values(rows).execute_any(connection)?;
        return Ok(());
    }
    let inserted: Vec<(i64, i64, Vec<u8>)> = diesel::insert_into(files::table)
        .values(rows)
        .returning((files::id, files::dir_id, files::name))
        .load_any(connection)?;
    let ids: HashMap<(i64, &[u8]), i64> =
        inserted.iter().map(|(id, dir_id, name)| ((*dir_id, name.as_slice()), *id)).collect();
    let mut found = Vec::with_capacity(attributes.len());
    for (index, file_attributes) in attributes.iter() {
        let row = &rows[*index];
        let id = ids.get(&(row.dir_id, row.name.as_slice())).copied().ok_or(diesel::result::Error::NotFound)?;
        found.push((id, file_attributes.as_ref()));
    }
    insert_attributes(connection, &found)?;
    attributes.clear();
    Ok(())
}

type RecordRow = (File, Vec<u8>, String, Option<String>, Option<String>);

macro_rules! record_query {
    () => {
        files::table.inner_join(dirs::table).left_join(bundles::table).select((
            files::all_columns,
            dirs::path,
            dirs::path_text,
            bundles::uuid.nullable(),
            bundles::store.nullable(),
        ))
    };
}

/// (id, seq, run_id, folder path_text, name_text, kind, size, mtime_ns, uid, gid, state,
/// bundle uuid, bundle store): an [`IndexedFile`] before its run is attached.
type IndexRow = (i64, i64, i64, String, String, String, i64, i64, i64, i64, FileState, Option<String>, Option<String>);

macro_rules! index_query {
    () => {
        files::table.inner_join(dirs::table).left_join(bundles::table).select((
            files::id,
            files::seq,
            files::run_id,
            dirs::path_text,
            files::name_text,
            files::kind,
            files::size,
            files::mtime_ns,
            files::uid,
            files::gid,
            files::state,
            bundles::uuid.nullable(),
            bundles::store.nullable(),
        ))
    };
}

impl Catalog {
    /// The runs with these ids (runs are few: loaded once per call, shared by the rows).
    fn shared_runs(&mut self, run_ids: impl Iterator<Item = i64>) -> Result<HashMap<i64, Arc<Run>>, CatalogError> {
        let mut wanted: Vec<i64> = run_ids.collect();
        wanted.sort_unstable();
        wanted.dedup();
        Ok(runs::table
            .filter(runs::id.eq_any(&wanted))
            .select(runs::all_columns)
            .load_any(&mut self.connection)?
            .into_iter()
            .map(|run: Run| (run.id, Arc::new(run)))
            .collect())
    }

    /// Attaches each row's run.
    fn attach_runs(&mut self, rows: Vec<RecordRow>) -> Result<Vec<FileRecord>, CatalogError> {
        let runs = self.shared_runs(rows.iter().map(|row| row.0.run_id))?;
        Ok(rows
            .into_iter()
            .filter_map(|(file, dir_path, dir_text, bundle_uuid, bundle_store)| {
                let run = runs.get(&file.run_id)?.clone();
                Some(FileRecord { file, dir_path, dir_text, run, bundle_uuid, bundle_store })
            })
            .collect())
    }

    /// Atomically: the bundle becomes `stored`, its files are cataloged, the run counts them.
    pub fn record_stored_bundle(
        &mut self,
        run_id: i64,
        stored: &StoredBundle<'_>,
        pending: Vec<PendingFile>,
    ) -> Result<(), CatalogError> {
        let archived = pending.iter().filter(|file| file.row.state == "archived").count() as i64;
        let archived_bytes: i64 =
            pending.iter().filter(|file| file.row.state == "archived").map(|file| file.row.size).sum();
        let skipped = pending.iter().filter(|file| file.row.state != "archived").count() as i64;
        let mut cache = std::mem::take(&mut self.dir_cache);
        let result = self.connection.transaction(|connection| {
            insert_files(connection, &mut cache, pending)?;
            diesel::update(bundles::table.find(stored.bundle_id))
                .set((
                    bundles::state.eq(BundleState::Stored),
                    bundles::object_key.eq(stored.object_key),
                    bundles::tree_hash.eq(stored.tree_hash),
                    bundles::plan.eq(None::<Vec<u8>>),
                    bundles::bytes.eq(stored.bytes),
                    bundles::blake3.eq(stored.blake3),
                    bundles::manifest_key.eq(stored.manifest_key),
                    bundles::stored_at.eq(stored.stored_at),
                ))
                .execute_any(connection)?;
            diesel::update(runs::table.find(run_id))
                .set((
                    runs::files_archived.eq(runs::files_archived + archived),
                    runs::bytes_archived.eq(runs::bytes_archived + archived_bytes),
                    runs::files_skipped.eq(runs::files_skipped + skipped),
                    runs::bundles.eq(runs::bundles + 1),
                ))
                .execute_any(connection)
                .map(drop)
        });
        self.dir_cache = if result.is_ok() { cache } else { DirCache::default() };
        Ok(result?)
    }

    /// Remembers that the store confirmed a bundle's object (a vault archive) before its
    /// files are cataloged: a run that dies in between is resumed without uploading it again.
    pub fn record_confirmed(&mut self, bundle_id: i64, object: &StoredObject) -> Result<(), CatalogError> {
        diesel::update(bundles::table.find(bundle_id).filter(bundles::state.eq(BundleState::Uploading)))
            .set((
                bundles::object_key.eq(&object.key),
                bundles::bytes.eq(object.size as i64),
                bundles::tree_hash.eq(&object.checksum),
            ))
            .execute_any(&mut self.connection)?;
        Ok(())
    }

    /// Records entries that need no upload: skipped ones (special, unreadable, vanished),
    /// ones sharing stored bytes (unchanged, duplicates) and `deleted` markers. The run
    /// counts the archived and skipped ones.
    pub fn insert_rows(&mut self, run_id: i64, pending: Vec<PendingFile>) -> Result<(), CatalogError> {
        if pending.is_empty() {
            return Ok(());
        }
        let archived: Vec<&PendingFile> = pending.iter().filter(|file| file.row.state == "archived").collect();
        let (archived, archived_bytes) =
            (archived.len() as i64, archived.iter().map(|file| file.row.size).sum::<i64>());
        let skipped = pending.iter().filter(|file| file.row.state == "skipped").count() as i64;
        let mut cache = std::mem::take(&mut self.dir_cache);
        let result = self.connection.transaction(|connection| {
            insert_files(connection, &mut cache, pending)?;
            diesel::update(runs::table.find(run_id))
                .set((
                    runs::files_skipped.eq(runs::files_skipped + skipped),
                    runs::files_archived.eq(runs::files_archived + archived),
                    runs::bytes_archived.eq(runs::bytes_archived + archived_bytes),
                ))
                .execute_any(connection)
                .map(drop)
        });
        self.dir_cache = if result.is_ok() { cache } else { DirCache::default() };
        Ok(result?)
    }

    /// Hashes of the full paths a run has already recorded (to resume it without redoing them).
    pub fn run_path_hashes(&mut self, run_id: i64) -> Result<HashSet<u128>, CatalogError> {
        let mut seen = HashSet::new();
        let mut after = 0i64;
        loop {
            let page: Vec<(i64, Vec<u8>, Vec<u8>)> = files::table
                .inner_join(dirs::table)
                .filter(files::run_id.eq(run_id))
                .filter(files::id.gt(after))
                .order(files::id.asc())
                .limit(50_000)
                .select((files::id, dirs::path, files::name))
                .load_any(&mut self.connection)?;
            let Some(last) = page.last() else { break };
            after = last.0;
            seen.extend(page.iter().map(|(_, dir, name)| path_hash(&join_path(dir, name))));
        }
        Ok(seen)
    }

    /// How many distinct paths have a version stored in a bundle (one query, for guards).
    pub fn stored_path_count(&mut self) -> Result<i64, CatalogError> {
        #[derive(diesel::QueryableByName)]
        struct Count {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            paths: i64,
        }
        let count: Count = diesel::sql_query(
            "SELECT COUNT(*) AS paths FROM (SELECT DISTINCT dir_id, name FROM files \
             WHERE bundle_id IS NOT NULL AND state IN ('archived', 'changed')) AS stored",
        )
        .get_result_any(&mut self.connection)?;
        Ok(count.paths)
    }

    /// Ids of every file stored in a bundle.
    pub fn stored_file_ids(&mut self) -> Result<Vec<i64>, CatalogError> {
        Ok(files::table
            .filter(files::bundle_id.is_not_null())
            .filter(files::state.eq_any(["archived", "changed"]))
            .select(files::id)
            .load_any(&mut self.connection)?)
    }

    /// The highest commit number of any file row.
    pub fn max_sequence(&mut self) -> Result<i64, CatalogError> {
        let max: Option<i64> = files::table.select(diesel::dsl::max(files::seq)).first_any(&mut self.connection)?;
        Ok(max.unwrap_or(0))
    }

    /// Up to `limit` files after the cursor `(seq, id)`, in commit order, as the index reads
    /// them. Commit numbers become visible in order (see `Catalog::next_sequence`), so a
    /// reader that has seen number N has seen every row numbered up to N.
    pub fn indexed_after(&mut self, after: (i64, i64), limit: i64) -> Result<Vec<IndexedFile>, CatalogError> {
        let (seq, id) = after;
        let rows: Vec<IndexRow> = index_query!()
            .filter(files::seq.ge(seq))
            .filter(files::seq.gt(seq).or(files::seq.eq(seq).and(files::id.gt(id))))
            .order((files::seq.asc(), files::id.asc()))
            .limit(limit)
            .load_any(&mut self.connection)?;
        self.indexed_files(rows)
    }

    /// The files with these ids as the index reads them, in no particular order (missing
    /// ids are left out).
    pub fn indexed_by_ids(&mut self, ids: &[i64]) -> Result<Vec<IndexedFile>, CatalogError> {
        let mut found = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(ID_CHUNK) {
            let rows: Vec<IndexRow> = index_query!().filter(files::id.eq_any(chunk)).load_any(&mut self.connection)?;
            found.extend(self.indexed_files(rows)?);
        }
        Ok(found)
    }

    fn indexed_files(&mut self, rows: Vec<IndexRow>) -> Result<Vec<IndexedFile>, CatalogError> {
        let runs = self.shared_runs(rows.iter().map(|row| row.2))?;
        Ok(rows
            .into_iter()
            .filter_map(|(id, seq, run_id, dir_text, name_text, kind, size, mtime_ns, uid, gid, state, uuid, store)| {
                Some(IndexedFile {
                    id,
                    seq,
                    run: runs.get(&run_id)?.clone(),
                    path_text: join_text(dir_text, &name_text),
                    kind,
                    size,
                    mtime_ns,
                    uid,
                    gid,
                    state,
                    bundle_uuid: uuid,
                    bundle_store: store,
                })
            })
            .collect())
    }

    /// The files with these ids, in the order given (missing ids are left out).
    pub fn records_by_ids(&mut self, ids: &[i64]) -> Result<Vec<FileRecord>, CatalogError> {
        let mut by_id = HashMap::with_capacity(ids.len());
        for chunk in ids.chunks(ID_CHUNK) {
            let rows: Vec<RecordRow> =
                record_query!().filter(files::id.eq_any(chunk)).load_any(&mut self.connection)?;
            by_id.extend(self.attach_runs(rows)?.into_iter().map(|record| (record.file.id, record)));
        }
        Ok(ids.iter().filter_map(|id| by_id.remove(id)).collect())
    }

    /// Every file of a bundle, in tar order: the rows written when it was packed, not the
    /// later versions (unchanged files, duplicates) that only point at its bytes.
    pub fn bundle_records(&mut self, bundle_id: i64) -> Result<Vec<FileRecord>, CatalogError> {
        let rows: Vec<RecordRow> = record_query!()
            .filter(files::bundle_id.eq(bundle_id))
            .filter(files::origin_id.is_null())
            .order(files::header_offset.asc())
            .load_any(&mut self.connection)?;
        self.attach_runs(rows)
    }
}

/// 128-bit hash of a path, for resume bookkeeping without keeping paths in memory.
pub fn path_hash(path: &[u8]) -> u128 {
    let digest = blake3::hash(path);
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest.as_bytes()[..16]);
    u128::from_le_bytes(bytes)
}
