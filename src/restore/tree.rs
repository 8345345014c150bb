//! The target tree of a restore, walked through file descriptors. `--to` is opened once;
//! every folder below it is entered with `openat(O_DIRECTORY | O_NOFOLLOW)` from its
//! parent's descriptor, and every entry is created, described and renamed relative to its
//! parent's descriptor. A symlink or other non-folder where a folder is expected is refused,
//! never followed, so a local user who swaps a path component while root restores into a
//! folder they can write cannot redirect any write, chmod or chown.

use std::cell::RefCell;
use std::ffi::{OsStr, OsString};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use rustix::fs::{AtFlags, FileType, Mode, OFlags, Stat, Timespec, Timestamps};
use rustix::io::Errno;

use super::extract::ExtractError;
use esker_catalog::FileRecord;

/// Flags for entering a folder: never through a symlink, never inherited by children.
const DIRECTORY: OFlags = OFlags::RDONLY.union(OFlags::DIRECTORY).union(OFlags::NOFOLLOW).union(OFlags::CLOEXEC);

/// The open destination of one restore.
pub struct RestoreTree {
    root: OwnedFd,
    root_path: PathBuf,
    /// Part of every temp name: the retrieval job, so a rerun finds its own leftovers.
    temp_tag: String,
    /// The folder of the previous entry: neighbours in a bundle share folders.
    last_parent: RefCell<Option<OpenFolder>>,
}

/// A folder below the root, by its names, and its descriptor.
type OpenFolder = (Vec<Vec<u8>>, Rc<OwnedFd>);

/// Where one entry goes: its parent folder's descriptor and its name there.
pub struct Target {
    pub parent: Rc<OwnedFd>,
    pub name: OsString,
    /// The temp name beside it, written first and renamed over `name` when complete.
    pub temp: OsString,
    /// The full path, for messages only.
    pub path: PathBuf,
    /// Whether what is at `name` may be replaced (`--overwrite`, checked before writing).
    pub replace: bool,
}

pub(super) fn io_fail(path: &Path, errno: Errno) -> ExtractError {
    let error = std::io::Error::from(errno);
    ExtractError::new(format!("{}: {}", path.display(), crate::error::io_message(&error)))
}

impl RestoreTree {
    /// Opens `destination`, which the retrieval created and recorded in canonical form.
    pub fn open(destination: &Path, temp_tag: impl std::fmt::Display) -> Result<RestoreTree, ExtractError> {
        let root = rustix::fs::open(destination, DIRECTORY, Mode::empty()).map_err(|errno| match errno {
            Errno::LOOP | Errno::NOTDIR => {
                ExtractError::new(format!("{}: the destination is no longer a folder", destination.display()))
            }
            errno => io_fail(destination, errno),
        })?;
        Ok(RestoreTree {
            root,
            root_path: destination.to_path_buf(),
            temp_tag: temp_tag.to_string(),
            last_parent: RefCell::new(None),
        })
    }

    /// The parent folder and name of a record's target, creating the folders in between.
    pub fn locate(&self, record: &FileRecord) -> Result<Target, ExtractError> {
        let mut components = safe_components(record)?;
        let name = components.pop().expect("safe_components is never empty");
        let parent = self.enter(&components)?;
        let mut path = self.root_path.clone();
        components.iter().for_each(|part| path.push(OsStr::from_bytes(part)));
        path.push(OsStr::from_bytes(&name));
        let temp = format!(".esker-{}-{}.part", self.temp_tag, record.file.id).into();
        Ok(Target { parent, name: OsStr::from_bytes(&name).to_owned(), temp, path, replace: false })
    }

    /// Opens (creating where missing) each folder of `components` below the root.
    fn enter(&self, components: &[Vec<u8>]) -> Result<Rc<OwnedFd>, ExtractError> {
        if let Some((cached, fd)) = self.last_parent.borrow().as_ref()
            && cached.as_slice() == components
        {
            return Ok(Rc::clone(fd));
        }
        let mut current: Option<OwnedFd> = None;
        let mut path = self.root_path.clone();
        for part in components {
            path.push(OsStr::from_bytes(part));
            let parent = current.as_ref().map_or(self.root.as_fd(), AsFd::as_fd);
            current = Some(enter_folder(parent, OsStr::from_bytes(part), &path)?);
        }
        let fd = Rc::new(match current {
            Some(fd) => fd,
            None => self.root.try_clone().map_err(|error| ExtractError::new(format!("{}: {error}", path.display())))?,
        });
        *self.last_parent.borrow_mut() = Some((components.to_vec(), Rc::clone(&fd)));
        Ok(fd)
    }
}

/// Opens folder `name` in `parent`, making it if it is missing; a symlink is refused.
fn enter_folder(parent: BorrowedFd, name: &OsStr, path: &Path) -> Result<OwnedFd, ExtractError> {
    match rustix::fs::openat(parent, name, DIRECTORY, Mode::empty()) {
        Ok(fd) => return Ok(fd),
        Err(Errno::NOENT) => {}
        Err(errno) => return Err(not_a_folder(parent, name, path, errno)),
    }
    match rustix::fs::mkdirat(parent, name, Mode::from_raw_mode(0o777)) {
        Ok(()) | Err(Errno::EXIST) => {}
        Err(errno) => return Err(io_fail(path, errno)),
    }
    rustix::fs::openat(parent, name, DIRECTORY, Mode::empty()).map_err(|errno| not_a_folder(parent, name, path, errno))
}

/// The message for a folder that could not be entered: a symlink, another kind of entry,
/// or an I/O error.
fn not_a_folder(parent: BorrowedFd, name: &OsStr, path: &Path, errno: Errno) -> ExtractError {
    if !matches!(errno, Errno::LOOP | Errno::NOTDIR) {
        return io_fail(path, errno);
    }
    match lstat(parent, name) {
        Some(stat) if FileType::from_raw_mode(stat.st_mode) == FileType::Symlink => {
            ExtractError::new(format!("refusing to write through symlinked folder {}", path.display()))
        }
        _ => ExtractError::new(format!("{} exists and is not a folder", path.display())),
    }
}

/// The entry `name` in `parent` itself, never what a symlink points to.
pub fn lstat(parent: BorrowedFd, name: &OsStr) -> Option<Stat> {
    rustix::fs::statat(parent, name, AtFlags::SYMLINK_NOFOLLOW).ok()
}

/// The record's path below the destination, one name per folder and the entry's own name
/// last. Paths with `..`, `.` or empty components are refused.
fn safe_components(record: &FileRecord) -> Result<Vec<Vec<u8>>, ExtractError> {
    let raw = record.path();
    let unsafe_path = || ExtractError::new(format!("refusing unsafe path {}", record.path_text()));
    let relative = raw.strip_prefix(b"/").unwrap_or(&raw);
    let parts: Vec<Vec<u8>> = relative.split(|&byte| byte == b'/').map(<[u8]>::to_vec).collect();
    if parts.iter().any(|part| part.is_empty() || part == b"." || part == b"..") {
        return Err(unsafe_path());
    }
    Ok(parts)
}

/// A catalog time (nanoseconds since 1970, negative before) as the kernel takes it.
pub fn timespec(nanoseconds: i64) -> Timespec {
    Timespec { tv_sec: nanoseconds.div_euclid(1_000_000_000), tv_nsec: nanoseconds.rem_euclid(1_000_000_000) as _ }
}

/// Sets the modification time and leaves the access time as it is.
pub fn modification_time(nanoseconds: i64) -> Timestamps {
    Timestamps {
        last_access: Timespec { tv_sec: 0, tv_nsec: rustix::fs::UTIME_OMIT },
        last_modification: timespec(nanoseconds),
    }
}

/// A stat's modification time in catalog form.
pub fn stat_mtime_ns(stat: &Stat) -> i64 {
    stat.st_mtime.saturating_mul(1_000_000_000).saturating_add(stat.st_mtime_nsec as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_before_1970_keep_their_nanoseconds() {
        let before = timespec(-1_500_000_000);
        assert_eq!((before.tv_sec, before.tv_nsec), (-2, 500_000_000));
        let after = timespec(1_700_000_000_123_456_789);
        assert_eq!((after.tv_sec, after.tv_nsec), (1_700_000_000, 123_456_789));
    }

    #[test]
    fn a_symlinked_folder_is_refused_and_a_missing_one_made() {
        let dir = tempfile::tempdir().expect("tempdir");
        let outside = dir.path().join("outside");
        std::fs::create_dir(&outside).expect("mkdir");
        std::os::unix::fs::symlink(&outside, dir.path().join("trap")).expect("symlink");
        let root = rustix::fs::open(dir.path(), DIRECTORY, Mode::empty()).expect("open");
        let error = enter_folder(root.as_fd(), OsStr::new("trap"), &dir.path().join("trap")).expect_err("refused");
        assert!(error.message.contains("symlinked folder"), "{}", error.message);
        enter_folder(root.as_fd(), OsStr::new("made"), &dir.path().join("made")).expect("created");
        assert!(dir.path().join("made").is_dir());
        std::fs::write(dir.path().join("plain"), b"x").expect("write");
        let error = enter_folder(root.as_fd(), OsStr::new("plain"), &dir.path().join("plain")).expect_err("refused");
        assert!(error.message.contains("not a folder"), "{}", error.message);
    }
}
