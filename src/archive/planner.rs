//! The planning stage: walks the roots, applies filters, turns folders into planned bundles
//! and skip records. Runs on its own thread; used directly by `--dry-run`.

use std::collections::{HashMap, HashSet};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::request::ArchiveRequest;
use crate::crawl::{Entry, FileKind, Folder, SkipReason, Stat, Walk, WalkOptions};
use esker_bundle::{PlanItem, PlannedBundle, Planner, group_key};
use esker_catalog::{Catalog, File, FileState, join_path, path_hash};

/// An entry that will not be stored, with the reason.
#[derive(Debug, Clone)]
pub struct Skipped {
    pub folder: Arc<PathBuf>,
    pub name: Vec<u8>,
    pub stat: Option<Stat>,
    pub reason: SkipReason,
}

impl Skipped {
    pub fn path(&self) -> Vec<u8> {
        join_path(self.folder.as_os_str().as_bytes(), &self.name)
    }
}

/// Why an entry needs no upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReuseReason {
    /// Same as the latest stored version of its path.
    Unchanged,
    /// New or changed, but its content is already stored elsewhere.
    Duplicate,
}

/// An entry recorded as sharing bytes already stored.
#[derive(Debug, Clone)]
pub struct Reused {
    pub folder: Arc<PathBuf>,
    pub entry: Entry,
    /// The stored row whose bundle and offsets it shares.
    pub origin: File,
    pub blake3: Option<String>,
    pub reason: ReuseReason,
}

/// A path the catalog holds that is gone from the disk.
#[derive(Debug, Clone)]
pub struct Gone {
    pub folder: Vec<u8>,
    pub previous: File,
}

/// What the planning stage produces, in walk order.
pub enum PlanEvent {
    Bundle(PlannedBundle),
    Skipped(Vec<Skipped>),
    Reused(Vec<Reused>),
    Deleted(Vec<Gone>),
    /// Counters that do not produce rows.
    Counted {
        excluded: u64,
        filtered_by_atime: u64,
        already_recorded: u64,
        crawled: u64,
    },
}

/// Walks `request.roots` and calls `emit` for every event. `done` holds path hashes a resumed
/// run already recorded; they are left out.
/// `emit` returns false to stop the walk early (the consumer went away). With `history`
/// (the catalog, read-only), unchanged and already-stored entries are not planned again and
/// paths gone since the last run are reported.
pub fn plan(
    request: &ArchiveRequest,
    done: &HashSet<u128>,
    mut history: Option<&mut Catalog>,
    mut emit: impl FnMut(PlanEvent) -> bool,
) -> Result<(), crate::Error> {
    let options = WalkOptions {
        threads: request.jobs.max(2),
        prefetch: 64,
        excludes: request.exclude_set()?,
        xattrs: request.xattrs,
    };
    let now = esker_model::time::now_ns();
    let mut planner = Planner::new(request.caps());
    let mut seen = SeenFolders::default();
    let context = match history.as_deref_mut() {
        Some(catalog) => known_history(catalog, request)?,
        None => HistoryContext::default(),
    };
    for folder in Walk::new(&request.roots, options) {
        let root = &request.roots[folder.root];
        let group = group_key(root, &folder.path, folder.depth, request.group_depth);
        if history.is_some() && !folder.file_root {
            seen.add(&folder);
        }
        let (mut items, skipped, counted) = split_folder(request, done, now, &folder);
        let mut open = skipped.is_empty() || emit(PlanEvent::Skipped(skipped));
        if let Some(catalog) = history.as_deref_mut() {
            let (reused, gone) = compare_with_history(catalog, &context, request, done, &folder, &mut items)?;
            open = open && (reused.is_empty() || emit(PlanEvent::Reused(reused)));
            open = open && (gone.is_empty() || emit(PlanEvent::Deleted(gone)));
        }
        open = open && emit(counted);
        planner.push_folder(&group, items, &mut |bundle| open = open && emit(PlanEvent::Bundle(bundle)));
        if !open {
            return Ok(());
        }
    }
    planner.finish(&mut |bundle| {
        emit(PlanEvent::Bundle(bundle));
    });
    if let Some(catalog) = history.filter(|_| context.roots_known) {
        emit_gone_folders(catalog, request, done, &seen, &mut emit)?;
    }
    Ok(())
}

/// Only copies in the target store count as already stored; sizes are loaded once so a new
/// file is hashed ahead only when something stored before this run has its size. Also
/// whether the catalog has seen any of the roots before.
fn known_history(catalog: &mut Catalog, request: &ArchiveRequest) -> Result<HistoryContext, crate::Error> {
    let mut roots_known = false;
    for root in &request.roots {
        roots_known |= catalog.has_dirs_under(root.as_os_str().as_bytes())?;
    }
    Ok(HistoryContext { stores: catalog.bundle_stores()?, sizes: catalog.stored_sizes(&request.store)?, roots_known })
}

/// The folders a walk listed, and the subtrees it did not see (excluded, or below a folder
/// that could not be listed): what the catalog holds there is not known to be gone.
#[derive(Default)]
struct SeenFolders {
    visited: HashSet<Vec<u8>>,
    unseen: Vec<Vec<u8>>,
}

impl SeenFolders {
    fn add(&mut self, folder: &Folder) {
        let here = folder.path.as_os_str().as_bytes();
        self.visited.insert(here.to_vec());
        self.unseen.extend(folder.excluded_names.iter().map(|name| join_path(here, name)));
        if folder.error.is_some() {
            self.unseen.push(here.to_vec());
        }
    }

    /// Whether the walk may have missed what the catalog holds in `dir`.
    fn may_hold(&self, dir: &[u8]) -> bool {
        self.visited.contains(dir)
            || self
                .unseen
                .iter()
                .any(|prefix| dir.starts_with(prefix) && (dir.len() == prefix.len() || dir[prefix.len()] == b'/'))
    }
}

/// Folders recorded before but not walked now are gone with everything in them.
fn emit_gone_folders(
    catalog: &mut Catalog,
    request: &ArchiveRequest,
    done: &HashSet<u128>,
    seen: &SeenFolders,
    emit: &mut impl FnMut(PlanEvent) -> bool,
) -> Result<(), crate::Error> {
    for root in &request.roots {
        for dir in catalog.dirs_under(root.as_os_str().as_bytes())? {
            if seen.may_hold(&dir) {
                continue;
            }
            let gone: Vec<Gone> = catalog
                .latest_in_dir(&dir)?
                .into_values()
                .filter(|previous| previous.state != FileState::Deleted)
                .filter(|previous| !is_done(done, &join_path(&dir, &previous.name)))
                .map(|previous| Gone { folder: dir.clone(), previous })
                .collect();
            if !gone.is_empty() && !emit(PlanEvent::Deleted(gone)) {
                return Ok(());
            }
        }
    }
    Ok(())
}

fn is_done(done: &HashSet<u128>, path: &[u8]) -> bool {
    !done.is_empty() && done.contains(&path_hash(path))
}

/// Whether an entry matches a stored version closely enough to skip reading it.
pub(crate) fn same_stat(previous: &File, entry: &Entry) -> bool {
    let stat = &entry.stat;
    previous.kind == stat.kind.as_str()
        && previous.size == stat.size as i64
        && previous.mtime_ns == stat.mtime_ns
        && previous.ctime_ns == stat.ctime_ns
        && previous.inode == stat.inode as i64
        && previous.link_target == entry.link_target
}

/// BLAKE3 of a file's current content (read without touching its access time).
fn hash_file(path: &Path) -> Option<String> {
    use std::os::unix::fs::OpenOptionsExt;
    let open = |flags| std::fs::OpenOptions::new().read(true).custom_flags(flags).open(path);
    let mut file = match open(libc::O_NOFOLLOW | libc::O_NOATIME | libc::O_NONBLOCK) {
        Err(error) if error.raw_os_error() == Some(libc::EPERM) => open(libc::O_NOFOLLOW | libc::O_NONBLOCK).ok()?,
        other => other.ok()?,
    };
    if !file.metadata().ok()?.is_file() {
        return None;
    }
    let mut hasher = blake3::Hasher::new();
    std::io::copy(&mut file, &mut hasher).ok()?;
    Some(hasher.finalize().to_hex().to_string())
}

/// What the planner knows of the catalog for this run.
#[derive(Default)]
struct HistoryContext {
    /// Store of every stored bundle.
    stores: HashMap<i64, String>,
    /// Sizes of files stored in the target store before this run.
    sizes: HashSet<i64>,
    /// Whether the catalog has seen these roots before (if not, there is nothing to compare).
    roots_known: bool,
}

/// Takes out of `items` what is already stored (unchanged, or duplicate content) and lists
/// the folder's names that are gone since their latest version.
fn compare_with_history(
    catalog: &mut Catalog,
    context: &HistoryContext,
    request: &ArchiveRequest,
    done: &HashSet<u128>,
    folder: &Folder,
    items: &mut Vec<PlanItem>,
) -> Result<(Vec<Reused>, Vec<Gone>), crate::Error> {
    let dir = folder.path.as_os_str().as_bytes();
    let previous = if context.roots_known { catalog.latest_in_dir(dir)? } else { Default::default() };
    // An empty folder is recorded in its parent, so its earlier version is found there.
    let mut parent_versions = None;
    let mut reused = Vec::new();
    let mut keep = Vec::with_capacity(items.len());
    for item in items.drain(..) {
        let versions = if item.folder.as_os_str().as_bytes() == dir {
            &previous
        } else {
            parent_versions.get_or_insert(if context.roots_known {
                catalog.latest_in_dir(item.folder.as_os_str().as_bytes())?
            } else {
                Default::default()
            })
        };
        match reusable(catalog, context, request, versions, item)? {
            Ok(found) => reused.push(found),
            Err(item) => keep.push(item),
        }
    }
    *items = keep;
    let gone = if folder.error.is_some() || folder.file_root { Vec::new() } else { gone_names(folder, previous, done) };
    Ok((reused, gone))
}

/// The stored copy `item` can reuse: its own latest version in the target store when the
/// file is unchanged (by stat, or by content with `--checksum`), or the same content stored
/// for another file. `Err(item)` when it has to be packed.
fn reusable(
    catalog: &mut Catalog,
    context: &HistoryContext,
    request: &ArchiveRequest,
    versions: &HashMap<Vec<u8>, File>,
    item: PlanItem,
) -> Result<Result<Reused, PlanItem>, crate::Error> {
    let stored = versions
        .get(&item.entry.name)
        .filter(|previous| previous.state == FileState::Archived && previous.data_offset.is_some())
        .filter(|previous| previous.bundle_id.and_then(|bundle| context.stores.get(&bundle)) == Some(&request.store));
    let full =
        || PathBuf::from(std::ffi::OsStr::from_bytes(&join_path(item.folder.as_os_str().as_bytes(), &item.entry.name)));
    let is_file = item.entry.stat.kind == FileKind::File;
    if let Some(previous) = stored {
        let unchanged = if request.checksum && is_file {
            previous.size == item.entry.stat.size as i64 && hash_file(&full()).as_deref() == previous.blake3.as_deref()
        } else {
            same_stat(previous, &item.entry)
        };
        if unchanged {
            return Ok(Ok(Reused {
                blake3: previous.blake3.clone(),
                origin: previous.clone(),
                folder: item.folder,
                entry: item.entry,
                reason: ReuseReason::Unchanged,
            }));
        }
    }
    let size = item.entry.stat.size as i64;
    if is_file
        && size >= esker_catalog::DEDUP_MIN_SIZE
        && context.sizes.contains(&size)
        && let Some(hash) = hash_file(&full())
        && let Some(origin) = catalog.stored_content(size, &hash, &request.store)?
    {
        let reason = ReuseReason::Duplicate;
        return Ok(Ok(Reused { blake3: Some(hash), origin, folder: item.folder, entry: item.entry, reason }));
    }
    Ok(Err(item))
}

/// Names recorded before that the folder no longer has (in any form).
fn gone_names(folder: &Folder, previous: HashMap<Vec<u8>, File>, done: &HashSet<u128>) -> Vec<Gone> {
    let dir = folder.path.as_os_str().as_bytes();
    let mut present: HashSet<&[u8]> = folder.entries.iter().map(|entry| entry.name.as_slice()).collect();
    present.extend(folder.problems.iter().map(|problem| problem.name.as_slice()));
    present.extend(folder.subfolder_names.iter().map(Vec::as_slice));
    present.extend(folder.excluded_names.iter().map(Vec::as_slice));
    previous
        .into_values()
        .filter(|previous| previous.state != FileState::Deleted && !present.contains(previous.name.as_slice()))
        .filter(|previous| !is_done(done, &join_path(dir, &previous.name)))
        .map(|previous| Gone { folder: dir.to_vec(), previous })
        .collect()
}

fn split_folder(
    request: &ArchiveRequest,
    done: &HashSet<u128>,
    now: i64,
    folder: &Folder,
) -> (Vec<PlanItem>, Vec<Skipped>, PlanEvent) {
    let mut already_recorded = 0;
    let mut filtered_by_atime = 0;
    let crawled = (folder.entries.len() + folder.problems.len()) as u64;
    // Joining the path costs an allocation per entry: only a resumed run needs it.
    let is_done = |folder: &[u8], name: &[u8]| !done.is_empty() && is_done(done, &join_path(folder, name));
    let mut items = Vec::with_capacity(folder.entries.len());
    let mut skipped = Vec::new();

    // A folder that could not be listed, an empty folder, or one with extended attributes
    // (default ACLs, tags) is recorded under its parent.
    let has_xattrs = !folder.xattrs.is_empty() && !folder.file_root;
    if folder.error.is_some() || folder.is_empty_dir() || has_xattrs {
        let parent = Arc::new(folder.path.parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("/")));
        let name = folder.path.file_name().map(|name| name.as_bytes().to_vec()).unwrap_or_default();
        if is_done(parent.as_os_str().as_bytes(), &name) {
            already_recorded += 1;
        } else if let Some(reason) = folder.error.clone() {
            skipped.push(Skipped { folder: parent, name, stat: folder.stat.clone(), reason });
        } else if let Some(stat) = folder.stat.clone() {
            let xattrs = folder.xattrs.clone();
            items.push(PlanItem { folder: parent, entry: Entry { name, stat, link_target: None, xattrs } });
        }
    }

    let here = Arc::new(folder.path.clone());
    let here_bytes = here.as_os_str().as_bytes();
    for problem in &folder.problems {
        if is_done(here_bytes, &problem.name) {
            already_recorded += 1;
            continue;
        }
        skipped.push(Skipped {
            folder: here.clone(),
            name: problem.name.clone(),
            stat: problem.stat.clone(),
            reason: problem.reason.clone(),
        });
    }
    for entry in &folder.entries {
        if is_done(here_bytes, &entry.name) {
            already_recorded += 1;
            continue;
        }
        if entry.stat.kind != FileKind::Dir && !request.atime_passes(entry.stat.atime_ns, now) {
            filtered_by_atime += 1;
            continue;
        }
        items.push(PlanItem { folder: here.clone(), entry: entry.clone() });
    }
    let counted = PlanEvent::Counted { excluded: folder.excluded, filtered_by_atime, already_recorded, crawled };
    (items, skipped, counted)
}
