//! Keeps the full-text index in step with the catalog. The index is derived data: it holds
//! every file row up to the catalog commit number recorded in its last commit (stored in
//! the index's `last_file_id` payload), and can be rebuilt at any time. Commit numbers,
//! unlike row ids, become visible in order even with several writers.

use std::path::Path;

use esker_index::{FileDoc, FileIndex, IndexWriter};

use crate::catalog::{Catalog, FileRecord};
use crate::error::Result;

const PAGE: i64 = 5_000;
/// tantivy's indexing arena: flushed to a segment when full, so memory stays bounded.
const WRITER_MEMORY: usize = 64 * 1024 * 1024;

/// What a sync did.
#[derive(Debug, Default, Clone, Copy, serde::Serialize)]
pub struct SyncReport {
    pub indexed: u64,
    pub last_file_id: u64,
}

fn add_record(writer: &mut IndexWriter, record: &FileRecord, tags: &[String]) -> Result<()> {
    let path = record.path_text();
    writer.add(&FileDoc {
        file_id: record.file.id as u64,
        path: &path,
        kind: &record.file.kind,
        size: record.file.size.max(0) as u64,
        mtime: record.file.mtime_ns.div_euclid(1_000_000_000),
        tags,
        description: &record.run.description,
        state: &record.file.state,
        run_id: record.run.id as u64,
        bundle: record.bundle_uuid.as_deref().unwrap_or(""),
        store: record.bundle_store.as_deref().unwrap_or(&record.run.store),
        host: &record.run.host,
    })?;
    Ok(())
}

fn feed(
    catalog: &mut Catalog,
    writer: &mut IndexWriter,
    after_seq: i64,
    mut progress: impl FnMut(u64),
) -> Result<SyncReport> {
    let mut report = SyncReport { indexed: 0, last_file_id: after_seq as u64 };
    let mut tag_cache: Option<(i64, Vec<String>)> = None;
    let mut cursor = (after_seq, i64::MAX);
    loop {
        let records = catalog.records_after(cursor, PAGE)?;
        let Some(last) = records.last() else { break };
        cursor = (last.file.seq, last.file.id);
        for record in &records {
            if tag_cache.as_ref().map(|(run, _)| *run) != Some(record.run.id) {
                tag_cache = Some((record.run.id, record.run.tag_list()));
            }
            let tags = tag_cache.as_ref().map(|(_, tags)| tags.as_slice()).unwrap_or_default();
            add_record(writer, record, tags)?;
        }
        report.indexed += records.len() as u64;
        progress(report.indexed);
    }
    report.last_file_id = cursor.0.max(after_seq) as u64;
    writer.commit(report.last_file_id)?;
    Ok(report)
}

/// Follows the catalog while it is being written (during `esker archive`): holds the index
/// writer, adds the rows committed since the last call at each [`follow`](Self::follow),
/// and commits once at the end, so indexing overlaps packing instead of following it. What
/// it adds is not visible to searches before [`commit`](Self::commit); dropped without a
/// commit, it leaves the index as it was (the next catch-up adds the rows).
pub struct Follower {
    writer: IndexWriter,
    cursor: (i64, i64),
    start: i64,
    tag_cache: Option<(i64, Vec<String>)>,
    indexed: u64,
}

impl Follower {
    /// Takes the index writer (fails with `Locked` when another process holds it).
    pub fn start(index_dir: &Path) -> Result<Follower> {
        let index = FileIndex::open_or_create(index_dir)?;
        let writer = index.writer(WRITER_MEMORY)?;
        // Read the position under the writer lock (see `catch_up`).
        let last = FileIndex::open_or_create(index_dir)?.last_file_id()? as i64;
        Ok(Follower { writer, cursor: (last, i64::MAX), start: last, tag_cache: None, indexed: 0 })
    }

    /// Adds every row committed after the last one added. Returns how many it added.
    pub fn follow(&mut self, catalog: &mut Catalog) -> Result<u64> {
        let before = self.indexed;
        loop {
            let records = catalog.records_after(self.cursor, PAGE)?;
            let Some(last) = records.last() else { break };
            self.cursor = (last.file.seq, last.file.id);
            for record in &records {
                if self.tag_cache.as_ref().map(|(run, _)| *run) != Some(record.run.id) {
                    self.tag_cache = Some((record.run.id, record.run.tag_list()));
                }
                let tags = self.tag_cache.as_ref().map(|(_, tags)| tags.as_slice()).unwrap_or_default();
                add_record(&mut self.writer, record, tags)?;
            }
            self.indexed += records.len() as u64;
        }
        Ok(self.indexed - before)
    }

    /// Makes what was added searchable and records the position in the index.
    pub fn commit(mut self) -> Result<SyncReport> {
        let last_file_id = self.cursor.0.max(self.start) as u64;
        self.writer.commit(last_file_id)?;
        Ok(SyncReport { indexed: self.indexed, last_file_id })
    }
}

/// Indexes the catalog rows the index does not hold yet.
pub fn catch_up(catalog: &mut Catalog, index_dir: &Path, progress: impl FnMut(u64)) -> Result<SyncReport> {
    let index = FileIndex::open_or_create(index_dir)?;
    if catalog.max_sequence()? <= index.last_file_id()? as i64 {
        return Ok(SyncReport { indexed: 0, last_file_id: index.last_file_id()? });
    }
    let mut writer = index.writer(WRITER_MEMORY)?;
    // Read the position again under the writer lock: another process may have caught up
    // in between, and its rows must not be added twice.
    let last = FileIndex::open_or_create(index_dir)?.last_file_id()?;
    feed(catalog, &mut writer, last as i64, progress)
}

/// Like [`catch_up`], but another process writing the index is only a warning: the rows
/// stay in the catalog and the next catch-up (or `find`) indexes them.
pub fn catch_up_or_warn(catalog: &mut Catalog, index_dir: &Path, progress: impl FnMut(u64)) -> Result<SyncReport> {
    match catch_up(catalog, index_dir, progress) {
        Err(crate::Error::Index(esker_index::IndexError::Locked { .. })) => {
            tracing::warn!("another process is writing the index; the newest files are indexed by the next find");
            Ok(SyncReport::default())
        }
        other => other,
    }
}

/// Drops the index contents and rebuilds them from the catalog.
pub fn rebuild(catalog: &mut Catalog, index_dir: &Path, progress: impl FnMut(u64)) -> Result<SyncReport> {
    let index = match FileIndex::open_or_create(index_dir) {
        Err(esker_index::IndexError::SchemaMismatch { .. }) => {
            // Derived data from another version: start over.
            std::fs::remove_dir_all(index_dir).map_err(|error| crate::Error::io(index_dir.display(), &error))?;
            FileIndex::open_or_create(index_dir)?
        }
        other => other?,
    };
    let mut writer = index.writer(WRITER_MEMORY)?;
    writer.delete_all()?;
    feed(catalog, &mut writer, 0, progress)
}
