//! Keeps the full-text index in step with the catalog. The index is derived data: it holds
//! every file row up to the catalog commit number recorded in its last commit (stored in
//! the index's `last_file_id` payload), and can be rebuilt at any time. Commit numbers,
//! unlike row ids, become visible in order even with several writers.

use std::path::Path;

use std::collections::HashMap;

use esker_index::{FileDoc, FileIndex, IndexWriter};

use crate::acl::Xattr;
use crate::error::Result;
use esker_catalog::{Catalog, IndexedFile, PrincipalRow};

const PAGE: i64 = 5_000;
/// tantivy's indexing arena: flushed to a segment when full, so memory stays bounded.
const WRITER_MEMORY: usize = 64 * 1024 * 1024;

/// Indexing threads of a catch-up or rebuild, where indexing is the only work: one per CPU
/// (tantivy's own default).
fn catch_up_threads() -> usize {
    crate::config::default_jobs()
}

/// What a sync did.
#[derive(Debug, Default, Clone, Copy, serde::Serialize)]
pub struct SyncReport {
    pub indexed: u64,
    pub last_file_id: u64,
}

/// What the index needs beyond the file rows: principal names, and per page the xattrs
/// and ACL entries of its files.
struct Extras {
    names: HashMap<String, String>,
    /// Owners, groups (`false`/`true`, id) and ACL principals already looked for in
    /// `names`: a key not found there reloads it once, not on every page.
    checked_ids: std::collections::HashSet<(bool, i64)>,
    checked_principals: std::collections::HashSet<String>,
    attributes: bool,
    xattrs: HashMap<i64, Vec<Xattr>>,
    principals: HashMap<i64, Vec<PrincipalRow>>,
    /// [`owner_terms`] by (uid, gid); cleared when `names` is reloaded.
    owners: HashMap<(i64, i64), OwnerTerms>,
}

impl Extras {
    fn load(catalog: &mut Catalog) -> Result<Extras> {
        Ok(Extras {
            names: catalog.identity_names()?,
            checked_ids: Default::default(),
            checked_principals: Default::default(),
            attributes: catalog.has_attributes()?,
            xattrs: HashMap::new(),
            principals: HashMap::new(),
            owners: HashMap::new(),
        })
    }

    fn load_page(&mut self, catalog: &mut Catalog, records: &[IndexedFile]) -> Result<()> {
        // While a run writes the catalog, attributes and names can appear after the first page.
        if !self.attributes {
            self.attributes = catalog.has_attributes()?;
        }
        if self.attributes {
            let ids: Vec<i64> = records.iter().map(|record| record.id).collect();
            self.xattrs = catalog.xattrs_of(&ids)?;
            self.principals = catalog.principals_of(&ids)?;
        }
        let mut unknown = false;
        for record in records {
            for (group, id) in [(false, record.uid), (true, record.gid)] {
                if self.checked_ids.insert((group, id)) {
                    let key = if group { format!("gid:{id}") } else { format!("uid:{id}") };
                    unknown |= !self.names.contains_key(&key);
                }
            }
        }
        for entry in self.principals.values().flatten() {
            if !self.checked_principals.contains(&entry.principal) {
                self.checked_principals.insert(entry.principal.clone());
                unknown |= !self.names.contains_key(&entry.principal);
            }
        }
        if unknown {
            self.names = catalog.identity_names()?;
            self.owners.clear();
        }
        Ok(())
    }
}

/// The owner, group and principal terms of a file owned by `uid`:`gid` before its ACL
/// entries are added: built once per pair, since most files share a few owners.
fn owner_terms<'a>(
    owners: &'a mut HashMap<(i64, i64), OwnerTerms>,
    names: &HashMap<String, String>,
    uid: i64,
    gid: i64,
) -> &'a OwnerTerms {
    owners.entry((uid, gid)).or_insert_with(|| {
        let (uid_key, gid_key) = (format!("uid:{uid}"), format!("gid:{gid}"));
        let mut terms = OwnerTerms { owner: vec![uid.to_string()], group: vec![gid.to_string()], principals: vec![] };
        terms_of(names, &uid_key, &mut terms.owner);
        terms_of(names, &gid_key, &mut terms.group);
        terms_of(names, &uid_key, &mut terms.principals);
        terms_of(names, &gid_key, &mut terms.principals);
        terms.principals.sort_unstable();
        terms.principals.dedup();
        terms
    })
}

/// A key and, when `names` knows it, its name.
fn terms_of(names: &HashMap<String, String>, key: &str, into: &mut Vec<String>) {
    into.push(key.to_string());
    if let Some(name) = names.get(key) {
        into.push(name.clone());
    }
}

/// The identity terms of a document (see [`esker_index::FileDoc`]).
#[derive(Clone)]
struct OwnerTerms {
    owner: Vec<String>,
    group: Vec<String>,
    principals: Vec<String>,
}

fn add_record(
    writer: &mut IndexWriter,
    record: &IndexedFile,
    tags: &[String],
    extras: &mut Extras,
    replace: bool,
) -> Result<()> {
    let acl = extras.principals.get(&record.id).map(Vec::as_slice).unwrap_or_default();
    let mut with_acl;
    let terms = owner_terms(&mut extras.owners, &extras.names, record.uid, record.gid);
    let terms = if acl.is_empty() {
        terms
    } else {
        with_acl = terms.clone();
        for entry in acl {
            terms_of(&extras.names, &entry.principal, &mut with_acl.principals);
            match entry.access.as_str() {
                "owner" => terms_of(&extras.names, &entry.principal, &mut with_acl.owner),
                "group" => terms_of(&extras.names, &entry.principal, &mut with_acl.group),
                _ => {}
            }
        }
        with_acl.principals.sort_unstable();
        with_acl.principals.dedup();
        &with_acl
    };
    let xattrs: Vec<(String, Option<String>)> = extras
        .xattrs
        .get(&record.id)
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|xattr| (xattr.name_text(), xattr.text_value().map(str::to_string)))
        .collect();
    let doc = FileDoc {
        file_id: record.id as u64,
        path: &record.path_text,
        kind: &record.kind,
        size: record.size.max(0) as u64,
        mtime: record.mtime_ns.div_euclid(1_000_000_000),
        tags,
        description: &record.run.description,
        state: record.state.as_str(),
        run_id: record.run.id as u64,
        bundle: record.bundle_uuid.as_deref().unwrap_or(""),
        store: record.bundle_store.as_deref().unwrap_or(&record.run.store),
        host: &record.run.host,
        owner: &terms.owner,
        group: &terms.group,
        principals: &terms.principals,
        xattrs: &xattrs,
    };
    if replace {
        writer.replace(&doc)?
    } else {
        writer.add(&doc)?
    }
    Ok(())
}

fn add_page(
    writer: &mut IndexWriter,
    catalog: &mut Catalog,
    records: &[IndexedFile],
    extras: &mut Extras,
    tag_cache: &mut Option<(i64, Vec<String>)>,
    replace: bool,
) -> Result<()> {
    extras.load_page(catalog, records)?;
    for record in records {
        if tag_cache.as_ref().map(|(run, _)| *run) != Some(record.run.id) {
            *tag_cache = Some((record.run.id, record.run.tag_list()));
        }
        let tags = tag_cache.as_ref().map(|(_, tags)| tags.as_slice()).unwrap_or_default();
        add_record(writer, record, tags, extras, replace)?;
    }
    Ok(())
}

fn feed(
    catalog: &mut Catalog,
    mut writer: IndexWriter,
    after_seq: i64,
    mut progress: impl FnMut(u64),
) -> Result<SyncReport> {
    let mut report = SyncReport { indexed: 0, last_file_id: after_seq as u64 };
    let mut tag_cache: Option<(i64, Vec<String>)> = None;
    let mut extras = Extras::load(catalog)?;
    let mut cursor = (after_seq, i64::MAX);
    loop {
        let records = catalog.indexed_after(cursor, PAGE)?;
        let Some(last) = records.last() else { break };
        cursor = (last.seq, last.id);
        add_page(&mut writer, catalog, &records, &mut extras, &mut tag_cache, false)?;
        report.indexed += records.len() as u64;
        progress(report.indexed);
    }
    report.last_file_id = cursor.0.max(after_seq) as u64;
    writer.commit(report.last_file_id)?;
    settle(writer.close_merged());
    Ok(report)
}

/// After a writer's commit, which made its rows searchable, what closing it does (waiting
/// for merges, merging what it made) only makes later searches faster: a failure there is
/// a warning, and the next writer merges instead.
fn settle(closed: std::result::Result<(), esker_index::IndexError>) {
    if let Err(error) = closed {
        tracing::warn!("the index holds every row, but merging its segments failed: {error}");
    }
}

/// Takes the index writer (`Locked` when another process holds it), then reads the last
/// file id the index holds: under the lock, since another writer may have committed
/// between opening the index and locking it, and its rows must not be added twice.
fn locked_writer(index: &FileIndex, index_dir: &Path, threads: usize) -> Result<(IndexWriter, u64)> {
    let writer = index.writer(threads, WRITER_MEMORY)?;
    let last = FileIndex::open_or_create(index_dir)?.last_file_id()?;
    Ok((writer, last))
}

/// Rewrites the documents of files already indexed from the catalog, e.g. after `identities
/// refresh` named their owners. It takes the index writer when made, so a caller can make
/// sure of the index before it changes the catalog.
pub struct Reindexer {
    writer: IndexWriter,
    last: u64,
}

impl Reindexer {
    /// Takes the index writer (fails with `Locked` when another process holds it).
    pub fn start(index_dir: &Path) -> Result<Reindexer> {
        let index = FileIndex::open_or_create(index_dir)?;
        let (writer, last) = locked_writer(&index, index_dir, catch_up_threads())?;
        Ok(Reindexer { writer, last })
    }

    /// Rewrites the documents of `file_ids` and commits. Rows the index does not hold yet
    /// are left to the next catch-up.
    pub fn rewrite(mut self, catalog: &mut Catalog, file_ids: &[i64]) -> Result<u64> {
        let mut extras = Extras::load(catalog)?;
        let mut tag_cache = None;
        let mut rewritten = 0;
        for chunk in file_ids.chunks(PAGE as usize) {
            let records: Vec<IndexedFile> =
                catalog.indexed_by_ids(chunk)?.into_iter().filter(|record| record.seq <= self.last as i64).collect();
            add_page(&mut self.writer, catalog, &records, &mut extras, &mut tag_cache, true)?;
            rewritten += records.len() as u64;
        }
        self.writer.commit(self.last)?;
        settle(self.writer.close());
        Ok(rewritten)
    }
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
    extras: Option<Extras>,
    indexed: u64,
}

impl Follower {
    /// Takes the index writer (fails with `Locked` when another process holds it).
    pub fn start(index_dir: &Path) -> Result<Follower> {
        let index = FileIndex::open_or_create(index_dir)?;
        // One indexing thread: during a run the packers keep the CPUs busy anyway, and one
        // thread with the whole budget flushes half as many segments as two, so tantivy
        // merges (and maps the merged segments into memory) half as often.
        let (writer, last) = locked_writer(&index, index_dir, 1)?;
        let last = last as i64;
        Ok(Follower { writer, cursor: (last, i64::MAX), start: last, tag_cache: None, extras: None, indexed: 0 })
    }

    /// Adds every row committed after the last one added. Returns how many it added.
    pub fn follow(&mut self, catalog: &mut Catalog) -> Result<u64> {
        let before = self.indexed;
        loop {
            let records = catalog.indexed_after(self.cursor, PAGE)?;
            let Some(last) = records.last() else { break };
            self.cursor = (last.seq, last.id);
            let extras = match &mut self.extras {
                Some(extras) => extras,
                None => self.extras.insert(Extras::load(catalog)?),
            };
            add_page(&mut self.writer, catalog, &records, extras, &mut self.tag_cache, false)?;
            self.indexed += records.len() as u64;
        }
        Ok(self.indexed - before)
    }

    /// Makes what was added searchable, records the position in the index, and waits for
    /// the segment merges under way. (A run leaves one segment per ~270,000 files: merging
    /// them would map them all, and an archive's memory must not grow with the tree; see
    /// [`IndexWriter::close_merged`].)
    pub fn commit(mut self) -> Result<SyncReport> {
        let last_file_id = self.cursor.0.max(self.start) as u64;
        self.writer.commit(last_file_id)?;
        settle(self.writer.close());
        Ok(SyncReport { indexed: self.indexed, last_file_id })
    }
}

/// Indexes the catalog rows the index does not hold yet.
pub fn catch_up(catalog: &mut Catalog, index_dir: &Path, progress: impl FnMut(u64)) -> Result<SyncReport> {
    catch_up_open(catalog, index_dir, progress).map(|(_, report)| report)
}

/// [`catch_up`], handing back the index it opened, so that a search after it (`find`)
/// does not open the index a second time.
pub(crate) fn catch_up_open(
    catalog: &mut Catalog,
    index_dir: &Path,
    progress: impl FnMut(u64),
) -> Result<(FileIndex, SyncReport)> {
    let index = match FileIndex::open_or_create(index_dir) {
        // An index written by another esker version is derived data: build it again.
        Err(esker_index::IndexError::SchemaMismatch { .. }) => return rebuild_open(catalog, index_dir, progress),
        other => other?,
    };
    let last_file_id = index.last_file_id()?;
    if catalog.max_sequence()? <= last_file_id as i64 {
        return Ok((index, SyncReport { indexed: 0, last_file_id }));
    }
    let (writer, last) = locked_writer(&index, index_dir, catch_up_threads())?;
    let report = feed(catalog, writer, last as i64, progress)?;
    Ok((index, report))
}

/// Like [`catch_up`], but another process writing the index is only a warning: the rows
/// stay in the catalog and the next catch-up (or `find`) indexes them.
pub fn catch_up_or_warn(catalog: &mut Catalog, index_dir: &Path, progress: impl FnMut(u64)) -> Result<SyncReport> {
    match catch_up(catalog, index_dir, progress) {
        Err(crate::Error::Index(esker_index::IndexError::Locked { .. })) => {
            tracing::warn!("another process is writing the index; the newest files are indexed by the next find");
            Ok(SyncReport::default())
        }
        Err(crate::Error::Index(esker_index::IndexError::ReadOnly { .. })) => {
            tracing::warn!("this user may not write the index; the newest files are indexed by the next archive");
            Ok(SyncReport::default())
        }
        other => other,
    }
}

/// Drops the index contents and rebuilds them from the catalog.
pub fn rebuild(catalog: &mut Catalog, index_dir: &Path, progress: impl FnMut(u64)) -> Result<SyncReport> {
    rebuild_open(catalog, index_dir, progress).map(|(_, report)| report)
}

fn rebuild_open(catalog: &mut Catalog, index_dir: &Path, progress: impl FnMut(u64)) -> Result<(FileIndex, SyncReport)> {
    let index = match FileIndex::open_or_create(index_dir) {
        Err(esker_index::IndexError::SchemaMismatch { .. } | esker_index::IndexError::Damaged { .. }) => {
            // Derived data from another version, or damaged: start over.
            std::fs::remove_dir_all(index_dir).map_err(|error| crate::Error::io(index_dir.display(), &error))?;
            FileIndex::open_or_create(index_dir)?
        }
        other => other?,
    };
    let mut writer = index.writer(catch_up_threads(), WRITER_MEMORY)?;
    writer.delete_all()?;
    let report = feed(catalog, writer, 0, progress)?;
    Ok((index, report))
}
