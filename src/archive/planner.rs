//! The planning stage: walks the roots, applies filters, turns folders into planned bundles
//! and skip records. Runs on its own thread; used directly by `--dry-run`.

use std::collections::HashSet;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::request::ArchiveRequest;
use crate::bundle::{PlanItem, PlannedBundle, Planner, group_key};
use crate::catalog::{join_path, path_hash};
use crate::crawl::{Entry, FileKind, Folder, SkipReason, Stat, Walk, WalkOptions};

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

/// What the planning stage produces, in walk order.
pub enum PlanEvent {
    Bundle(PlannedBundle),
    Skipped(Vec<Skipped>),
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
/// `emit` returns false to stop the walk early (the consumer went away).
pub fn plan(
    request: &ArchiveRequest,
    done: &HashSet<u128>,
    mut emit: impl FnMut(PlanEvent) -> bool,
) -> Result<(), super::ArchiveError> {
    let options = WalkOptions { threads: request.jobs.max(2), prefetch: 64, excludes: request.exclude_set()? };
    let now = crate::time::now_ns();
    let mut planner = Planner::new(request.caps());
    for folder in Walk::new(&request.roots, options) {
        let root = &request.roots[folder.root];
        let group = group_key(root, &folder.path, folder.depth, request.group_depth);
        let (items, skipped, counted) = split_folder(request, done, now, folder);
        let mut open = skipped.is_empty() || emit(PlanEvent::Skipped(skipped));
        open = open && emit(counted);
        planner.push_folder(&group, items, &mut |bundle| open = open && emit(PlanEvent::Bundle(bundle)));
        if !open {
            return Ok(());
        }
    }
    planner.finish(&mut |bundle| {
        emit(PlanEvent::Bundle(bundle));
    });
    Ok(())
}

fn split_folder(
    request: &ArchiveRequest,
    done: &HashSet<u128>,
    now: i64,
    folder: Folder,
) -> (Vec<PlanItem>, Vec<Skipped>, PlanEvent) {
    let mut already_recorded = 0;
    let mut filtered_by_atime = 0;
    let crawled = (folder.entries.len() + folder.problems.len()) as u64;
    let is_done = |path: &[u8]| !done.is_empty() && done.contains(&path_hash(path));
    let mut items = Vec::with_capacity(folder.entries.len());
    let mut skipped = Vec::new();

    // A folder that could not be listed, or an empty folder, is recorded under its parent.
    if folder.error.is_some() || folder.is_empty_dir() {
        let parent = Arc::new(folder.path.parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("/")));
        let name = folder.path.file_name().map(|name| name.as_bytes().to_vec()).unwrap_or_default();
        if is_done(&join_path(parent.as_os_str().as_bytes(), &name)) {
            already_recorded += 1;
        } else if let Some(reason) = folder.error.clone() {
            skipped.push(Skipped { folder: parent, name, stat: folder.stat.clone(), reason });
        } else if let Some(stat) = folder.stat.clone() {
            items.push(PlanItem { folder: parent, entry: Entry { name, stat, link_target: None } });
        }
    }

    let here = Arc::new(folder.path);
    let here_bytes = here.as_os_str().as_bytes();
    for problem in folder.problems {
        if is_done(&join_path(here_bytes, &problem.name)) {
            already_recorded += 1;
            continue;
        }
        skipped.push(Skipped { folder: here.clone(), name: problem.name, stat: problem.stat, reason: problem.reason });
    }
    for entry in folder.entries {
        if is_done(&join_path(here_bytes, &entry.name)) {
            already_recorded += 1;
            continue;
        }
        if entry.stat.kind != FileKind::Dir && !request.atime_passes(entry.stat.atime_ns, now) {
            filtered_by_atime += 1;
            continue;
        }
        items.push(PlanItem { folder: here.clone(), entry });
    }
    let counted = PlanEvent::Counted { excluded: folder.excluded, filtered_by_atime, already_recorded, crawled };
    (items, skipped, counted)
}
