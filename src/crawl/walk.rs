//! Parallel recursive walk that yields folders in depth-first, name-sorted order.
//!
//! Worker threads read directories (`readdir` + `fstatat`) ahead of the consumer, but at
//! most `prefetch` jobs are in flight or waiting, each holding at most [`JOB_ENTRIES`]
//! entries, so memory stays flat whatever the size of the tree. A job reads a folder and
//! then, depth first, as much of the subtree below it as fits in that budget: a chain of
//! small folders costs one hand-off between threads (a futex wake-up) instead of one per
//! folder. The
//! deterministic order keeps the files of a folder, and folders of one subtree, next to
//! each other in bundles.

use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender, bounded};
use globset::GlobSet;

use crate::acl::{Xattr, is_cifs, read_xattrs};
use esker_model::{Entry, FileKind, Problem, SkipReason, Stat};

/// One folder's direct contents, minus subfolders (which follow as their own folders).
#[derive(Debug)]
pub struct Folder {
    /// Index of the root this folder was reached from.
    pub root: usize,
    /// Absolute path of the folder, raw bytes.
    pub path: PathBuf,
    /// Depth below the root (the root folder is 0).
    pub depth: usize,
    /// The folder's own `lstat`.
    pub stat: Option<Stat>,
    /// Files and symlinks, sorted by name.
    pub entries: Vec<Entry>,
    /// Entries that cannot be archived, with the reason.
    pub problems: Vec<Problem>,
    /// Number of subfolders that will be walked.
    pub subfolders: usize,
    /// Their names.
    pub subfolder_names: Vec<Vec<u8>>,
    /// Entries left out by `--exclude`.
    pub excluded: u64,
    /// Their names (they are still there: not deleted, just not archived).
    pub excluded_names: Vec<Vec<u8>>,
    /// Set when the folder itself could not be listed.
    pub error: Option<SkipReason>,
    /// True for the synthetic folder holding a root that is a file.
    pub file_root: bool,
    /// The folder's own extended attributes (with `WalkOptions::xattrs`).
    pub xattrs: Vec<Xattr>,
}

impl Folder {
    /// A folder with nothing in it at all: kept as an empty directory member.
    pub fn is_empty_dir(&self) -> bool {
        !self.file_root
            && self.error.is_none()
            && self.entries.is_empty()
            && self.problems.is_empty()
            && self.subfolders == 0
            && self.excluded == 0
    }
}

/// Settings of a walk.
#[derive(Clone)]
pub struct WalkOptions {
    pub threads: usize,
    pub prefetch: usize,
    pub excludes: Option<GlobSet>,
    /// Read every entry's extended attributes too.
    pub xattrs: bool,
}

/// Entries one job reads at most (the first folder is always read whole, however large).
const JOB_ENTRIES: usize = 1024;

struct Listing {
    entries: Vec<Entry>,
    problems: Vec<Problem>,
    /// Subfolders, each with its own listing when the job that read this one read it too.
    subfolders: Vec<(Vec<u8>, Stat, Option<Box<Listing>>)>,
    excluded: Vec<Vec<u8>>,
    error: Option<SkipReason>,
    xattrs: Vec<Xattr>,
}

struct Job {
    path: PathBuf,
    reply: Sender<Listing>,
}

enum Slot {
    Waiting,
    Submitted(Receiver<Listing>),
    /// Read by the job that read its parent.
    Ready(Box<Listing>),
}

/// A root that is not a folder.
enum RootEntry {
    Found(Entry),
    Vanished(Vec<u8>),
}

struct Pending {
    root: usize,
    path: PathBuf,
    depth: usize,
    stat: Option<Stat>,
    slot: Slot,
    file_root: Option<RootEntry>,
}

/// Iterator over the folders of one or more roots.
pub struct Walk {
    stack: Vec<Pending>,
    jobs: Option<Sender<Job>>,
    workers: Vec<JoinHandle<()>>,
    in_flight: usize,
    options: WalkOptions,
}

impl Walk {
    /// Starts walking `roots` (absolute paths, already validated to exist).
    pub fn new(roots: &[PathBuf], options: WalkOptions) -> Walk {
        let threads = options.threads.max(1);
        let (jobs, job_receiver) = bounded::<Job>(options.prefetch.max(1));
        let workers = (0..threads)
            .map(|_| {
                let job_receiver = job_receiver.clone();
                let excludes = options.excludes.clone();
                let xattrs = options.xattrs;
                std::thread::Builder::new()
                    .name("crawler".into())
                    .spawn(move || {
                        for job in job_receiver {
                            let listing = read_subtree(&job.path, excludes.as_ref(), xattrs);
                            let _ = job.reply.send(listing);
                        }
                    })
                    .expect("failed to spawn thread")
            })
            .collect();
        let mut stack = Vec::new();
        for (index, root) in roots.iter().enumerate().rev() {
            let pending = match fs::metadata(root) {
                Ok(metadata) if metadata.is_dir() => Pending {
                    root: index,
                    path: root.clone(),
                    depth: 0,
                    stat: Some(Stat::from_metadata(&metadata)),
                    slot: Slot::Waiting,
                    file_root: None,
                },
                Ok(_) | Err(_) => {
                    let parent = root.parent().unwrap_or(Path::new("/")).to_path_buf();
                    let name = root.file_name().unwrap_or(OsStr::new("")).as_bytes().to_vec();
                    // A root that vanished since it was checked is reported, never replaced by
                    // a walk of its parent.
                    let root_entry = match fs::symlink_metadata(root) {
                        Ok(metadata) => RootEntry::Found(Entry {
                            link_target: read_link_target(root, &metadata),
                            stat: Stat::from_metadata(&metadata),
                            name,
                            xattrs: if options.xattrs { entry_xattrs(root, is_cifs(root)) } else { Vec::new() },
                        }),
                        Err(_) => RootEntry::Vanished(name),
                    };
                    Pending {
                        root: index,
                        path: parent,
                        depth: 0,
                        stat: None,
                        slot: Slot::Waiting,
                        file_root: Some(root_entry),
                    }
                }
            };
            stack.push(pending);
        }
        Walk { stack, jobs: Some(jobs), workers, in_flight: 0, options }
    }

    fn top_up(&mut self) {
        let limit = self.options.prefetch.max(1);
        let Some(jobs) = &self.jobs else { return };
        let scan = self.stack.len().min(limit * 4);
        let start = self.stack.len() - scan;
        for pending in self.stack[start..].iter_mut().rev() {
            if self.in_flight >= limit {
                break;
            }
            if matches!(pending.slot, Slot::Waiting) && pending.file_root.is_none() {
                let (reply, receiver) = bounded(1);
                if jobs.send(Job { path: pending.path.clone(), reply }).is_err() {
                    return;
                }
                pending.slot = Slot::Submitted(receiver);
                self.in_flight += 1;
            }
        }
    }
}

impl Iterator for Walk {
    type Item = Folder;

    fn next(&mut self) -> Option<Folder> {
        let pending = self.stack.pop()?;
        if let Some(root_entry) = pending.file_root {
            return Some(file_root_folder(pending.root, pending.path, root_entry));
        }
        let listing = match pending.slot {
            Slot::Waiting => read_subtree(&pending.path, self.options.excludes.as_ref(), self.options.xattrs),
            Slot::Submitted(receiver) => {
                self.in_flight -= 1;
                receiver.recv().unwrap_or_else(|_| Listing::failed(SkipReason::Unreadable("walker stopped".into())))
            }
            Slot::Ready(listing) => *listing,
        };
        let subfolders = listing.subfolders.len();
        let subfolder_names = listing.subfolders.iter().map(|(name, _, _)| name.clone()).collect();
        for (name, stat, read) in listing.subfolders.into_iter().rev() {
            self.stack.push(Pending {
                root: pending.root,
                path: pending.path.join(OsStr::from_bytes(&name)),
                depth: pending.depth + 1,
                stat: Some(stat),
                slot: read.map_or(Slot::Waiting, Slot::Ready),
                file_root: None,
            });
        }
        self.top_up();
        Some(Folder {
            root: pending.root,
            path: pending.path,
            depth: pending.depth,
            stat: pending.stat,
            entries: listing.entries,
            problems: listing.problems,
            subfolders,
            subfolder_names,
            excluded: listing.excluded.len() as u64,
            excluded_names: listing.excluded,
            error: listing.error,
            file_root: false,
            xattrs: listing.xattrs,
        })
    }
}

/// The folder a root that is a single file stands in: that file, or the problem with it.
fn file_root_folder(root: usize, path: PathBuf, root_entry: RootEntry) -> Folder {
    let (entries, problems) = match root_entry {
        RootEntry::Found(entry) => classify_root_file(entry),
        RootEntry::Vanished(name) => (Vec::new(), vec![Problem { name, stat: None, reason: SkipReason::Vanished }]),
    };
    Folder {
        root,
        path,
        depth: 0,
        stat: None,
        entries,
        problems,
        subfolders: 0,
        subfolder_names: Vec::new(),
        excluded: 0,
        excluded_names: Vec::new(),
        error: None,
        file_root: true,
        xattrs: Vec::new(),
    }
}

impl Drop for Walk {
    fn drop(&mut self) {
        self.stack.clear();
        self.jobs = None;
        for worker in self.workers.drain(..) {
            let _ = worker.join();
        }
    }
}

impl Listing {
    /// Entries read for this folder alone.
    fn size(&self) -> usize {
        self.entries.len() + self.problems.len() + self.subfolders.len() + self.excluded.len()
    }

    fn failed(reason: SkipReason) -> Listing {
        Listing {
            entries: Vec::new(),
            problems: Vec::new(),
            subfolders: Vec::new(),
            excluded: Vec::new(),
            error: Some(reason),
            xattrs: Vec::new(),
        }
    }
}

fn classify_root_file(entry: Entry) -> (Vec<Entry>, Vec<Problem>) {
    if entry.stat.kind.is_archivable() {
        (vec![entry], Vec::new())
    } else {
        let reason = SkipReason::Special(entry.stat.kind);
        (Vec::new(), vec![Problem { name: entry.name, stat: Some(entry.stat), reason }])
    }
}

fn read_link_target(path: &Path, metadata: &fs::Metadata) -> Option<Vec<u8>> {
    if metadata.file_type().is_symlink() {
        fs::read_link(path).ok().map(|target| target.into_os_string().as_bytes().to_vec())
    } else {
        None
    }
}

fn is_excluded(excludes: Option<&GlobSet>, folder: &Path, name: &OsStr) -> bool {
    match excludes {
        None => false,
        Some(set) => set.is_match(Path::new(name)) || set.is_match(folder.join(name)),
    }
}

/// The extended attributes of one path; a failure to read them is logged, not fatal (the
/// file's data is still worth archiving).
fn entry_xattrs(path: &Path, on_cifs: bool) -> Vec<Xattr> {
    read_xattrs(path, on_cifs).unwrap_or_else(|error| {
        tracing::warn!("cannot read extended attributes of {}: {}", path.display(), crate::error::io_message(&error));
        Vec::new()
    })
}

/// Reads `path`, then its subfolders depth first while the job has read fewer than
/// [`JOB_ENTRIES`] entries; the subfolders left unread are read by later jobs.
fn read_subtree(path: &Path, excludes: Option<&GlobSet>, xattrs: bool) -> Listing {
    let mut listing = read_folder(path, excludes, xattrs);
    let mut budget = JOB_ENTRIES.saturating_sub(listing.size());
    read_below(path, &mut listing, &mut budget, excludes, xattrs);
    listing
}

fn read_below(path: &Path, listing: &mut Listing, budget: &mut usize, excludes: Option<&GlobSet>, xattrs: bool) {
    for (name, _, read) in &mut listing.subfolders {
        if *budget == 0 {
            return;
        }
        let child_path = path.join(OsStr::from_bytes(name));
        let mut child = read_folder(&child_path, excludes, xattrs);
        *budget = budget.saturating_sub(child.size().max(1));
        read_below(&child_path, &mut child, budget, excludes, xattrs);
        *read = Some(Box::new(child));
    }
}

fn read_folder(path: &Path, excludes: Option<&GlobSet>, xattrs: bool) -> Listing {
    let mut listing = list_folder(path, excludes);
    if xattrs && listing.error.is_none() {
        let on_cifs = is_cifs(path);
        listing.xattrs = entry_xattrs(path, on_cifs);
        for entry in &mut listing.entries {
            entry.xattrs = entry_xattrs(&path.join(OsStr::from_bytes(&entry.name)), on_cifs);
        }
    }
    listing
}

fn list_folder(path: &Path, excludes: Option<&GlobSet>) -> Listing {
    let reader = match fs::read_dir(path) {
        Ok(reader) => reader,
        Err(error) => return Listing::failed(SkipReason::from_io(&error)),
    };
    let mut listing = Listing {
        entries: Vec::new(),
        problems: Vec::new(),
        subfolders: Vec::new(),
        excluded: Vec::new(),
        error: None,
        xattrs: Vec::new(),
    };
    for item in reader {
        match item {
            Ok(item) => add_item(&mut listing, path, &item, excludes),
            Err(error) => {
                listing.error = Some(SkipReason::ReadError(crate::error::io_message(&error)));
                break;
            }
        }
    }
    listing.entries.sort_unstable_by(|a, b| a.name.cmp(&b.name));
    listing.subfolders.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    listing.problems.sort_unstable_by(|a, b| a.name.cmp(&b.name));
    listing
}

/// Files and symlinks become entries, folders subfolders; what cannot be archived (special
/// files, unreadable stats or link targets) becomes a problem with its reason.
fn add_item(listing: &mut Listing, folder: &Path, item: &fs::DirEntry, excludes: Option<&GlobSet>) {
    let name = item.file_name();
    if is_excluded(excludes, folder, &name) {
        listing.excluded.push(name.as_bytes().to_vec());
        return;
    }
    let name = name.as_bytes().to_vec();
    let stat = match item.metadata() {
        Ok(metadata) => Stat::from_metadata(&metadata),
        Err(error) => {
            listing.problems.push(Problem { name, stat: None, reason: SkipReason::from_io(&error) });
            return;
        }
    };
    match stat.kind {
        FileKind::Dir => listing.subfolders.push((name, stat, None)),
        FileKind::File => listing.entries.push(Entry { name, stat, link_target: None, xattrs: Vec::new() }),
        FileKind::Symlink => match fs::read_link(item.path()) {
            Ok(target) => listing.entries.push(Entry {
                name,
                stat,
                link_target: Some(target.into_os_string().as_bytes().to_vec()),
                xattrs: Vec::new(),
            }),
            Err(error) => {
                listing.problems.push(Problem { name, stat: Some(stat), reason: SkipReason::from_io(&error) })
            }
        },
        special => listing.problems.push(Problem { name, stat: Some(stat), reason: SkipReason::Special(special) }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn walk_paths(root: &Path, threads: usize, prefetch: usize) -> Vec<String> {
        let options = WalkOptions { threads, prefetch, excludes: None, xattrs: false };
        let mut seen = Vec::new();
        for folder in Walk::new(&[root.to_path_buf()], options) {
            seen.push(format!("{}/", folder.path.display()));
            for entry in &folder.entries {
                seen.push(format!("{}/{}", folder.path.display(), String::from_utf8_lossy(&entry.name)));
            }
        }
        seen
    }

    #[test]
    fn order_is_depth_first_sorted_and_independent_of_threads() {
        let dir = tempfile::tempdir().expect("tempdir");
        for (index, folder) in ["b", "a/z", "a/y/x", "c"].iter().enumerate() {
            let path = dir.path().join(folder);
            fs::create_dir_all(&path).expect("mkdir");
            for file in 0..3 {
                fs::write(path.join(format!("f{file}-{index}")), b"x").expect("write");
            }
        }
        let serial = walk_paths(dir.path(), 1, 1);
        let parallel = walk_paths(dir.path(), 4, 2);
        assert_eq!(serial, parallel);
        let root = dir.path().display().to_string();
        let folders: Vec<_> = serial
            .iter()
            .filter(|line| line.ends_with('/'))
            .map(|line| line.trim_start_matches(&root).to_string())
            .collect();
        assert_eq!(folders, ["/", "/a/", "/a/y/", "/a/y/x/", "/a/z/", "/b/", "/c/"]);
    }

    #[test]
    fn subtrees_larger_than_one_job_come_out_whole_and_in_order() {
        // 3 x 4 x 5 folders of 30 files: several jobs' worth of entries, so some folders are
        // read with their parent's job and the others by jobs of their own.
        let dir = tempfile::tempdir().expect("tempdir");
        for a in 0..3 {
            for b in 0..4 {
                for c in 0..5 {
                    let path = dir.path().join(format!("a{a}/b{b}/c{c}"));
                    fs::create_dir_all(&path).expect("mkdir");
                    for file in 0..30 {
                        fs::write(path.join(format!("f{file:02}")), b"").expect("write");
                    }
                }
            }
        }
        let serial = walk_paths(dir.path(), 1, 1);
        assert_eq!(serial.iter().filter(|line| !line.ends_with('/')).count(), 3 * 4 * 5 * 30);
        assert!(serial.is_sorted(), "depth first, sorted by name");
        assert_eq!(walk_paths(dir.path(), 3, 2), serial);
        assert_eq!(walk_paths(dir.path(), 2, 64), serial);
    }

    #[test]
    fn special_files_become_problems_and_empty_dirs_are_flagged() {
        let dir = tempfile::tempdir().expect("tempdir");
        fs::create_dir(dir.path().join("empty")).expect("mkdir");
        std::os::unix::net::UnixListener::bind(dir.path().join("sock")).expect("socket");
        let options = WalkOptions { threads: 2, prefetch: 4, excludes: None, xattrs: false };
        let folders: Vec<_> = Walk::new(&[dir.path().to_path_buf()], options).collect();
        assert_eq!(folders.len(), 2);
        assert_eq!(folders[0].problems.len(), 1);
        assert_eq!(folders[0].problems[0].reason, SkipReason::Special(FileKind::Socket));
        assert!(folders[1].is_empty_dir());
        assert!(!folders[0].is_empty_dir());
    }
}
