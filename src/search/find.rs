//! Running a query: parse, bring the index up to date, search, read the rows from the catalog.

use esker_index::{FileIndex, Query};
use serde::Serialize;

use super::stamp::{Fingerprint, Stamp};
use crate::catalog::{Catalog, CatalogLocation, FileRecord};
use crate::config::Settings;
use crate::error::Result;

/// One match, as `find --json` prints it.
#[derive(Debug, Serialize)]
pub struct Match {
    pub file_id: i64,
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path_hex: Option<String>,
    pub kind: String,
    pub size: i64,
    pub mtime: String,
    pub mtime_ns: i64,
    pub mode: String,
    pub uid: i64,
    pub gid: i64,
    /// Owner and group names (local NSS or LDAP), when known.
    pub owner: Option<String>,
    pub group: Option<String>,
    pub tags: Vec<String>,
    pub description: String,
    pub bundle: Option<String>,
    pub store: String,
    pub state: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub run: i64,
    pub host: String,
    pub blake3: Option<String>,
    pub header_offset: Option<i64>,
    pub data_offset: Option<i64>,
    /// Extended attributes (`archive --xattrs`): name and value (lossy text).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub xattrs: Vec<crate::acl::Xattr>,
    /// ACL entries, with `name` filled in where the principal is known.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub acl: Vec<AclView>,
}

/// One ACL entry of a match.
#[derive(Debug, Serialize)]
pub struct AclView {
    #[serde(flatten)]
    pub entry: crate::catalog::PrincipalRow,
    pub name: Option<String>,
}

impl Match {
    pub fn from_record(record: FileRecord) -> Match {
        let (_, path_hex) = crate::bundle::text_and_hex(&record.path());
        Match {
            file_id: record.file.id,
            path: record.path_text(),
            path_hex,
            kind: record.file.kind.clone(),
            size: record.file.size,
            mtime: crate::time::format_rfc3339(record.file.mtime_ns.div_euclid(1_000_000_000)),
            mtime_ns: record.file.mtime_ns,
            mode: crate::bundle::mode_text(record.file.mode as u32),
            uid: record.file.uid,
            gid: record.file.gid,
            owner: None,
            group: None,
            tags: record.run.tag_list(),
            description: record.run.description.clone(),
            store: record.bundle_store.clone().unwrap_or_else(|| record.run.store.clone()),
            bundle: record.bundle_uuid,
            state: record.file.state,
            reason: record.file.reason,
            run: record.run.id,
            host: record.run.host.clone(),
            blake3: record.file.blake3,
            header_offset: record.file.header_offset,
            data_offset: record.file.data_offset,
            xattrs: Vec::new(),
            acl: Vec::new(),
        }
    }
}

/// Records as matches with owner names, xattrs and ACL entries filled in.
pub fn matches_of(catalog: &mut Catalog, records: Vec<FileRecord>) -> Result<Vec<Match>> {
    if records.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<i64> = records.iter().map(|record| record.file.id).collect();
    let (mut xattrs, mut principals) = if catalog.has_attributes()? {
        (catalog.xattrs_of(&ids)?, catalog.principals_of(&ids)?)
    } else {
        Default::default()
    };
    // Only the names these matches show: a directory may hold many thousands.
    let mut keys: Vec<String> = records
        .iter()
        .flat_map(|record| [format!("uid:{}", record.file.uid), format!("gid:{}", record.file.gid)])
        .chain(principals.values().flatten().map(|entry| entry.principal.clone()))
        .collect();
    keys.sort_unstable();
    keys.dedup();
    let names = catalog.identity_names_of(&keys)?;
    Ok(records
        .into_iter()
        .map(|record| {
            let mut found = Match::from_record(record);
            found.owner = names.get(&format!("uid:{}", found.uid)).cloned();
            found.group = names.get(&format!("gid:{}", found.gid)).cloned();
            found.xattrs = xattrs.remove(&found.file_id).unwrap_or_default();
            found.acl = principals
                .remove(&found.file_id)
                .unwrap_or_default()
                .into_iter()
                .map(|entry| AclView { name: names.get(&entry.principal).cloned(), entry })
                .collect();
            found
        })
        .collect())
}

/// Matches of a query, best first, and how many there are in all.
pub struct FindResult {
    pub matches: Vec<Match>,
    pub total: usize,
    /// `total` counts every version of the matching paths (an upper bound of paths).
    pub total_is_upper_bound: bool,
    /// True when the home has no catalog yet.
    pub empty_catalog: bool,
}

/// Keeps, of each path's versions among `ids`, only its latest one that is not a `deleted`
/// marker (the order of `ids` is kept).
pub fn latest_only(catalog: &mut Catalog, ids: Vec<i64>) -> Result<Vec<i64>> {
    if ids.is_empty() {
        return Ok(ids);
    }
    let latest = catalog.latest_version_ids(&ids)?;
    Ok(ids.into_iter().filter(|id| latest.get(id) == Some(id)).collect())
}

/// The open catalog and index that queries run against.
///
/// `esker find` is a whole process per query, so its start counts. When a [`Stamp`] shows
/// that the index holds every row of a SQLite catalog, the index is searched alone, and the
/// catalog is opened only for the rows of the matches. Otherwise the catalog (SQLite: the
/// file, its write-ahead log and the schema; PostgreSQL: a connection) opens on a thread of
/// its own, on another CPU, while the index is opened and searched: the first search runs
/// on the index as it is on disk, and when the catalog turns out to hold rows the index
/// lacks, the index catches up and the search runs again.
pub struct Finder {
    location: CatalogLocation,
    /// The catalog being opened on its own thread, until [`Finder::ready`] takes it.
    opening: Option<Opening>,
    /// The stamp that vouches for the opened index, while it does: the index is known to
    /// hold every row of the catalog without asking it (see [`Finder::complete`]).
    stamp: Option<Stamp>,
    /// The catalog was opened as an unchanging file, without locks ([`Catalog::open_snapshot`]):
    /// what was read from it counts only if the stamp still holds afterwards.
    snapshot: bool,
    /// Whether [`Finder::ready`] has run.
    ready: bool,
    /// None when the home has no catalog yet.
    catalog: Option<Catalog>,
    /// The index and the highest catalog commit number it holds; None until it is known to
    /// exist and to be of this version's format.
    index: Option<(FileIndex, i64)>,
    index_dir: std::path::PathBuf,
}

/// An opened catalog, its highest commit number then, and (SQLite) the fingerprint of its
/// files taken before it was opened.
struct Opened {
    catalog: Catalog,
    last: i64,
    fingerprint: Option<Fingerprint>,
}

impl Opened {
    /// The catalog at `location` when a stamp showed that the index holds all of it: it
    /// exists and has this build's schema, and nothing about it needs checking.
    fn current(location: &CatalogLocation) -> Result<Opened> {
        Ok(Opened { catalog: Catalog::open_current(location)?, last: 0, fingerprint: None })
    }

    /// The same, when the stamp also showed an empty write-ahead log: the database file
    /// alone, read as a snapshot.
    fn snapshot(path: &std::path::Path) -> Result<Opened> {
        Ok(Opened { catalog: Catalog::open_snapshot(path)?, last: 0, fingerprint: None })
    }

    /// Opens the catalog at `location`, migrating it if needed; None when there is none.
    fn open(location: &CatalogLocation) -> Result<Option<Opened>> {
        // Before the catalog is opened: a commit made meanwhile shows in the highest commit
        // number read below, or changes the files after this.
        let fingerprint = match location {
            CatalogLocation::Sqlite(path) => Fingerprint::take(path),
            CatalogLocation::Postgres(_) => None,
        };
        let Some(mut catalog) = Catalog::open_existing(location)? else { return Ok(None) };
        let last = catalog.max_sequence()?;
        Ok(Some(Opened { catalog, last, fingerprint }))
    }
}

/// The catalog being opened on a thread of its own.
struct Opening {
    result: std::sync::mpsc::Receiver<Result<Option<Opened>>>,
    thread: std::thread::JoinHandle<()>,
}

impl Opening {
    fn start(location: CatalogLocation) -> Result<Opening> {
        let (sender, result) = std::sync::mpsc::sync_channel(1);
        let thread = std::thread::Builder::new()
            .name("catalog".into())
            .spawn(move || {
                let _ = sender.send(Opened::open(&location));
            })
            .map_err(|error| crate::Error::io("a thread to open the catalog", &error))?;
        run_elsewhere(&thread);
        Ok(Opening { result, thread })
    }

    /// The opened catalog. The result is looked for without sleeping at first: the other
    /// CPU is about to deliver it, and waking up from a sleep costs about 0.2 ms here. Past
    /// 2 ms (a PostgreSQL server far away, a lock held by a writer) it sleeps.
    fn wait(self) -> Result<Option<Opened>> {
        use std::sync::mpsc::TryRecvError;
        let patience = std::time::Instant::now() + std::time::Duration::from_millis(2);
        loop {
            match self.result.try_recv() {
                Ok(opened) => return opened,
                Err(TryRecvError::Empty) if std::time::Instant::now() < patience => std::thread::yield_now(),
                Err(_) => break,
            }
        }
        match self.result.recv() {
            Ok(opened) => opened,
            // The thread ended without a result: it panicked.
            Err(_) => match self.thread.join() {
                Err(panic) => std::panic::resume_unwind(panic),
                Ok(()) => unreachable!("the catalog thread always sends its result"),
            },
        }
    }
}

/// Moves a thread that was just started off the CPU this one runs on. Linux starts a new
/// thread on its parent's CPU and moves it only when that CPU is busy for a while, and the
/// parent here is busy only a millisecond: the catalog thread would wait for the index
/// search to finish instead of running beside it (measured: it started 0.5 ms after it was
/// spawned, when the search was done; elsewhere, 0.1 ms after).
#[allow(unsafe_code)] // reviewed: a CPU set filled in by the kernel, and a live thread's handle
fn run_elsewhere(thread: &std::thread::JoinHandle<()>) {
    use std::os::unix::thread::JoinHandleExt;
    let size = std::mem::size_of::<libc::cpu_set_t>();
    // SAFETY: `set` is a plain bit set the kernel fills in; `as_pthread_t` is the handle of
    // a thread that is not joined yet, so it is valid even if the thread has ended.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        let here = libc::sched_getcpu();
        if here < 0 || libc::sched_getaffinity(0, size, &mut set) != 0 || libc::CPU_COUNT(&set) < 2 {
            return;
        }
        libc::CPU_CLR(here as usize, &mut set);
        libc::pthread_setaffinity_np(thread.as_pthread_t(), size, &set);
    }
}

impl Finder {
    /// Whether a stamp shows that the index holds every row of the catalog: a query that
    /// matches nothing is then answered without the catalog.
    fn complete(&self) -> bool {
        self.stamp.is_some()
    }

    /// Opens the index as it is, and starts opening the catalog (if there is one) unless a
    /// stamp shows that the index holds all of it.
    pub fn open(settings: &Settings) -> Result<Finder> {
        Finder::at(settings.catalog.clone(), settings.home.index.clone())
    }

    /// [`Finder::open`] for the catalog at `location` and the index in `index_dir`.
    pub fn at(location: CatalogLocation, index_dir: std::path::PathBuf) -> Result<Finder> {
        let stamped = match &location {
            CatalogLocation::Sqlite(path) => Stamp::holding(&index_dir, path),
            CatalogLocation::Postgres(_) => None,
        };
        let opening = match &stamped {
            Some(_) => None,
            None => Some(Opening::start(location.clone())?),
        };
        let opened = FileIndex::open(&index_dir)
            .and_then(|index| index.map(|index| index.last_file_id().map(|last| (index, last as i64))).transpose());
        let index = match opened {
            Ok(index) => index,
            Err(esker_index::IndexError::SchemaMismatch { .. }) => None,
            Err(error) => {
                // Not before the catalog is closed again: it may be migrating.
                drop(opening.map(Opening::wait));
                return Err(error.into());
            }
        };
        let stamp = stamped.filter(|stamp| Some(stamp.sequence()) == index.as_ref().map(|(_, last)| *last));
        Ok(Finder { location, opening, stamp, snapshot: false, ready: false, catalog: None, index, index_dir })
    }

    /// Waits for the catalog, and brings the index up to date with it when it lacks rows
    /// the catalog held when opened. Returns whether it did (searches made before are stale
    /// then).
    fn ready(&mut self) -> Result<bool> {
        if std::mem::replace(&mut self.ready, true) {
            return Ok(false);
        }
        let opened = match self.opening.take() {
            Some(opening) => opening.wait()?,
            None if self.complete() => match (&self.stamp, &self.location) {
                (Some(stamp), CatalogLocation::Sqlite(path)) if stamp.log_is_empty() => {
                    self.snapshot = true;
                    Some(Opened::snapshot(path)?)
                }
                _ => Some(Opened::current(&self.location)?),
            },
            None => Opened::open(&self.location)?,
        };
        let Some(Opened { mut catalog, last, fingerprint }) = opened else { return Ok(false) };
        let stale = self.index.as_ref().is_none_or(|(_, indexed)| *indexed < last);
        if stale {
            self.index = self.catch_up(&mut catalog)?;
        }
        if !self.complete()
            && let (Some(fingerprint), CatalogLocation::Sqlite(path), Some((_, indexed))) =
                (fingerprint, catalog.location(), &self.index)
            && *indexed >= last
            && let Some(stamp) = Stamp::new(path, *indexed, fingerprint)
        {
            stamp.save(&self.index_dir);
        }
        self.catalog = Some(catalog);
        Ok(stale)
    }

    fn catch_up(&mut self, catalog: &mut Catalog) -> Result<Option<(FileIndex, i64)>> {
        match super::sync::catch_up_open(catalog, &self.index_dir, |_| {}) {
            Ok((index, report)) => Ok(Some((index, report.last_file_id as i64))),
            Err(crate::Error::Index(esker_index::IndexError::Locked { .. })) => {
                tracing::warn!("the index is being written by another process; results may miss the newest files");
                Ok(FileIndex::open(&self.index_dir)?.map(|index| (index, 0)))
            }
            Err(error) => Err(error),
        }
    }

    /// For a process that exits next: leaves unmapping the index's files (six per segment)
    /// to the exit, which is about 0.8 ms faster than unmapping them one by one, and ends
    /// the catalog as [`Catalog::close_at_exit`] does.
    pub fn finish_at_exit(self) {
        let Finder { opening, catalog, index, .. } = self;
        let catalog = match opening {
            // A catalog still opening is waited for: it may be migrating.
            Some(opening) => opening.wait().ok().flatten().map(|opened| opened.catalog),
            None => catalog,
        };
        if let Some(catalog) = catalog {
            catalog.close_at_exit();
        }
        std::mem::forget(index);
    }

    /// Runs `query`. `limit` None = every match. Unless `all_versions`, each path shows up
    /// once, as its latest version.
    pub fn find(&mut self, query: &Query, limit: Option<usize>, all_versions: bool) -> Result<FindResult> {
        let found = self.find_once(query, limit, all_versions);
        if !self.snapshot {
            return found;
        }
        // Read without locks: the rows count only if nothing was committed or checkpointed
        // meanwhile, which the catalog's files show. Otherwise (or if the reads failed, a
        // checkpoint rewriting pages under them) the catalog is opened as usual and the
        // query runs again, the index catching up first if it has to.
        if found.is_ok() && self.stamp.as_ref().is_some_and(Stamp::still_holds) {
            return found;
        }
        tracing::debug!("the catalog changed while it was read as a snapshot; reading it again");
        self.catalog = None;
        self.stamp = None;
        self.snapshot = false;
        self.ready = false;
        self.find_once(query, limit, all_versions)
    }

    fn find_once(&mut self, query: &Query, limit: Option<usize>, all_versions: bool) -> Result<FindResult> {
        let empty =
            |empty_catalog| FindResult { matches: Vec::new(), total: 0, total_is_upper_bound: false, empty_catalog };
        // Older versions and deletion markers are filtered out after the search, so fetch
        // more hits than the limit, and more again until it is filled or the hits run out.
        let mut fetch = if all_versions { limit } else { limit.map(|limit| limit.saturating_mul(4).max(64)) };
        // The first search runs while the catalog opens. Its error waits for the catalog
        // too, which may be migrating: the process must not exit under it.
        let early = self.index.as_ref().map(|(index, _)| index.search(query, fetch));
        if self.complete() && matches!(&early, Some(Ok(hits)) if hits.is_empty()) {
            tracing::debug!("no match, and the catalog stamp says the index holds every row");
            return Ok(empty(false));
        }
        let caught_up = self.ready()?;
        let Some(catalog) = &mut self.catalog else { return Ok(empty(true)) };
        let Some((index, _)) = &self.index else { return Ok(empty(false)) };
        let mut hits = match early {
            Some(hits) if !caught_up => hits?,
            _ => index.search(query, fetch)?,
        };
        let mut total_is_upper_bound = false;
        let (ids, total) = if all_versions {
            let total = if limit.is_some_and(|limit| hits.len() >= limit) { index.count(query)? } else { hits.len() };
            (hits.iter().map(|hit| hit.file_id as i64).collect::<Vec<_>>(), total)
        } else {
            loop {
                let exhausted = fetch.is_none_or(|fetch| hits.len() < fetch);
                let ids = latest_only(catalog, hits.iter().map(|hit| hit.file_id as i64).collect())?;
                if exhausted || limit.is_some_and(|limit| ids.len() >= limit) {
                    // Resolving versions over every hit only to count them costs seconds on
                    // broad queries: past the limit, report the index's count (all versions)
                    // as a bound.
                    let (total, bound) = if exhausted { (ids.len(), false) } else { (index.count(query)?, true) };
                    total_is_upper_bound = bound;
                    let shown = limit.map_or(ids.len(), |limit| limit.min(ids.len()));
                    break (ids[..shown].to_vec(), total);
                }
                fetch = fetch.map(|fetch| fetch.saturating_mul(4));
                hits = index.search(query, fetch)?;
            }
        };
        let records = catalog.records_by_ids(&ids)?;
        let matches = matches_of(catalog, records)?;
        Ok(FindResult { matches, total, total_is_upper_bound, empty_catalog: false })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{NewFile, NewRun, PendingFile};

    /// A `skipped` row (no bundle needed) for `name` in `/src`.
    fn row(run_id: i64, name: &str) -> PendingFile {
        PendingFile { dir_path: b"/src".to_vec(), row: NewFile::for_tests(run_id, name), attributes: None }
    }

    fn names(result: &FindResult) -> Vec<&str> {
        let mut names: Vec<&str> = result.matches.iter().map(|found| found.path.as_str()).collect();
        names.sort_unstable();
        names
    }

    /// A stamped, checkpointed catalog is read as a snapshot; a commit made after the stamp
    /// was checked is not missed: the snapshot is thrown away and the catalog read again.
    #[test]
    fn a_snapshot_read_while_the_catalog_changes_is_read_again() {
        let dir = tempfile::tempdir().expect("tempdir");
        let database = dir.path().join("catalog.db");
        let location = CatalogLocation::Sqlite(database.clone());
        let index_dir = dir.path().join("index");
        let query = esker_index::parse_query("first").expect("query");

        let mut writer = Catalog::open(&location).expect("create");
        let run_id = writer.create_run(&NewRun::for_tests()).expect("run");
        writer.insert_rows(run_id, vec![row(run_id, "first.txt")]).expect("rows");
        drop(writer); // the last connection: checkpointed, the log removed

        // A reader keeps the (empty) log in place, as `find`'s own exit does.
        let mut keeper = Catalog::open_existing(&location).expect("open").expect("exists");
        keeper.list_runs().expect("read");

        // The first find builds the index and stamps it.
        let mut finder = Finder::at(location.clone(), index_dir.clone()).expect("finder");
        assert_eq!(names(&finder.find(&query, None, false).expect("find")), ["/src/first.txt"]);
        assert!(!finder.snapshot);
        drop(finder);

        let mut finder = Finder::at(location.clone(), index_dir.clone()).expect("finder");
        assert!(finder.complete(), "the stamp holds");
        assert_eq!(names(&finder.find(&query, None, false).expect("find")), ["/src/first.txt"]);
        assert!(finder.snapshot, "read as a snapshot: the stamp showed an empty log");
        drop(finder);

        // A commit between the stamp check and the reads: the snapshot would not see it
        // (it is in the log), nor would the index.
        let mut finder = Finder::at(location.clone(), index_dir.clone()).expect("finder");
        assert!(finder.complete());
        let mut writer = Catalog::open_existing(&location).expect("open").expect("exists");
        writer.insert_rows(run_id, vec![row(run_id, "first-again.txt")]).expect("rows");
        let result = finder.find(&query, None, false).expect("find");
        assert_eq!(names(&result), ["/src/first-again.txt", "/src/first.txt"]);
        assert!(!finder.snapshot, "read again the usual way");
        drop(keeper);
    }
}
