//! `esker status`: what of a tree is safe in cold storage. Crawls the tree (stat only, no
//! file contents) and compares each folder with the latest versions in the catalog, summed
//! per folder unit at a depth below the root.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::archive::planner::same_stat;
use crate::config::Settings;
use crate::crawl::{Folder, Walk, WalkOptions};
use crate::error::Result;
use esker_catalog::{Catalog, File, FileState, Run, RunState};

/// One folder unit's standing.
#[derive(Debug, Clone, Default, Serialize)]
pub struct UnitStatus {
    /// The unit's folder (absolute).
    pub unit: String,
    /// new, changed, partial, missing, synchronized.
    pub state: &'static str,
    pub local_files: u64,
    pub local_bytes: u64,
    /// Newest modification time on disk (RFC 3339), if any file.
    pub newest_mtime: Option<String>,
    pub archived_files: u64,
    pub archived_bytes: u64,
    /// When the newest version in the catalog was archived (RFC 3339).
    pub last_archived: Option<String>,
    /// Files new or different on disk since their latest version.
    pub changed_files: u64,
    /// Files the catalog holds that are gone from the disk.
    pub missing_files: u64,
    #[serde(skip)]
    newest_mtime_seconds: Option<i64>,
    #[serde(skip)]
    last_archived_seconds: Option<i64>,
    #[serde(skip)]
    partial: bool,
}

/// The unit a folder belongs to: its ancestor `depth` levels below `root` (or itself when
/// shallower).
fn unit_of(root: &Path, folder: &Path, depth: usize) -> PathBuf {
    let Ok(relative) = folder.strip_prefix(root) else { return root.to_path_buf() };
    let mut unit = root.to_path_buf();
    for component in relative.components().take(depth) {
        unit.push(component);
    }
    unit
}

struct Tally<'a> {
    units: BTreeMap<PathBuf, UnitStatus>,
    runs: &'a HashMap<i64, Run>,
}

impl Tally<'_> {
    fn unit(&mut self, unit: PathBuf) -> &mut UnitStatus {
        self.units
            .entry(unit.clone())
            .or_insert_with(|| UnitStatus { unit: unit.display().to_string(), ..UnitStatus::default() })
    }

    /// Counts a folder on the disk into its unit against the latest catalog versions of its
    /// files: what is there, what changed since it was archived, and what is gone.
    fn folder(&mut self, unit: PathBuf, folder: &Folder, previous: &HashMap<Vec<u8>, File>) {
        let status = self.unit(unit.clone());
        for entry in &folder.entries {
            status.local_files += 1;
            status.local_bytes += entry.stat.size;
            status.newest_mtime_seconds = status.newest_mtime_seconds.max(Some(entry.stat.mtime_seconds()));
            let synced = previous.get(&entry.name).is_some_and(|version| {
                version.state == FileState::Archived && version.bundle_id.is_some() && same_stat(version, entry)
            });
            if !synced {
                status.changed_files += 1;
            }
        }
        let mut present: HashSet<&[u8]> = folder.entries.iter().map(|entry| entry.name.as_slice()).collect();
        present.extend(folder.problems.iter().map(|problem| problem.name.as_slice()));
        present.extend(folder.subfolder_names.iter().map(Vec::as_slice));
        present.extend(folder.excluded_names.iter().map(Vec::as_slice));
        for version in previous.values().filter(|version| version.state != FileState::Deleted && version.kind != "dir")
        {
            if !present.contains(version.name.as_slice()) {
                self.unit(unit.clone()).missing_files += 1;
            }
            self.archived(unit.clone(), version);
        }
    }

    /// The units with anything in them, each with its state.
    fn finish(self) -> Vec<UnitStatus> {
        let mut units: Vec<UnitStatus> = self
            .units
            .into_values()
            .filter(|unit| unit.local_files > 0 || unit.archived_files > 0 || unit.missing_files > 0)
            .collect();
        for unit in &mut units {
            unit.state = if unit.local_files == 0 && unit.changed_files == 0 {
                "missing"
            } else if unit.archived_files == 0 && unit.missing_files == 0 {
                "new"
            } else if unit.partial {
                "partial"
            } else if unit.changed_files > 0 || unit.missing_files > 0 {
                "changed"
            } else {
                "synchronized"
            };
            unit.newest_mtime = unit.newest_mtime_seconds.map(esker_model::time::format_rfc3339);
            unit.last_archived = unit.last_archived_seconds.map(esker_model::time::format_rfc3339);
        }
        units
    }

    /// Counts a latest catalog version into its unit.
    fn archived(&mut self, unit: PathBuf, version: &File) {
        let run = self.runs.get(&version.run_id).cloned();
        let status = self.unit(unit);
        if version.state == FileState::Archived {
            status.archived_files += 1;
            status.archived_bytes += version.size.max(0) as u64;
        }
        if let Some(run) = run {
            let when = run.finished_at.unwrap_or(run.started_at);
            status.last_archived_seconds = status.last_archived_seconds.max(Some(when));
            if run.state != RunState::Complete {
                status.partial = true;
            }
        }
    }
}

pub fn status(settings: &Settings, root: &Path, depth: usize) -> Result<Vec<UnitStatus>> {
    let root = crate::config::absolute(root)?;
    let mut catalog = Catalog::open_for_reading(&settings.catalog)?;
    let runs = match catalog.as_mut() {
        Some(catalog) => catalog.runs_by_id()?,
        None => HashMap::new(),
    };
    let mut tally = Tally { units: BTreeMap::new(), runs: &runs };
    let mut visited: HashSet<Vec<u8>> = HashSet::new();
    if root.exists() {
        let options =
            WalkOptions { threads: crate::config::default_jobs().max(2), prefetch: 64, excludes: None, xattrs: false };
        for folder in Walk::new(std::slice::from_ref(&root), options) {
            let dir = folder.path.as_os_str().as_bytes().to_vec();
            let previous = match catalog.as_mut() {
                Some(catalog) if !folder.file_root => catalog.latest_in_dir(&dir)?,
                _ => HashMap::new(),
            };
            visited.insert(dir);
            tally.folder(unit_of(&root, &folder.path, depth), &folder, &previous);
        }
    }
    // Folders the catalog holds that are not on the disk (any more).
    if let Some(catalog) = catalog.as_mut() {
        for dir in catalog.dirs_under(root.as_os_str().as_bytes())? {
            if visited.contains(&dir) {
                continue;
            }
            let unit = unit_of(&root, Path::new(std::ffi::OsStr::from_bytes(&dir)), depth);
            for version in catalog.latest_in_dir(&dir)?.values().filter(|version| version.state != FileState::Deleted) {
                if version.kind != "dir" {
                    tally.unit(unit.clone()).missing_files += 1;
                }
                tally.archived(unit.clone(), version);
            }
        }
    }
    Ok(tally.finish())
}
