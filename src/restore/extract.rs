//! Writing retrieved files below the destination: data goes to a temp file created 0600 in
//! its parent folder's descriptor, is checked against the catalog's BLAKE3, gets owner,
//! mode, extended attributes and mtime through its descriptor, and is renamed into place.
//! An entry already there with the archived content and metadata counts as restored, so a
//! rerun after a crash finishes instead of refusing.

use std::ffi::OsStr;
use std::fs::File;
use std::io::Write;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;

use rustix::fs::{AtFlags, FileType, Gid, Mode, OFlags, RenameFlags, Stat, Uid};
use rustix::io::Errno;

use super::tree::{RestoreTree, Target, io_fail, lstat, modification_time, stat_mtime_ns};
use crate::acl::{Xattr, XattrFailure, restore_xattrs, restore_xattrs_fd};
use esker_catalog::FileRecord;

/// Why one file could not be written. The text lands in the catalog and on stderr.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ExtractError {
    pub message: String,
    /// The bytes read back are not the bytes archived (size or checksum).
    pub damaged: bool,
}

impl ExtractError {
    pub fn new(message: impl Into<String>) -> ExtractError {
        ExtractError { message: message.into(), damaged: false }
    }
}

fn fail(message: impl Into<String>) -> ExtractError {
    ExtractError::new(message)
}

fn damaged(message: impl Into<String>) -> ExtractError {
    ExtractError { message: message.into(), damaged: true }
}

/// What to do with one entry, decided before any byte is fetched.
pub enum Planned {
    /// Write it (replacing what is there only when `replace` is set on the target).
    Write(Target),
    /// It is already there as archived: content, mode, owner and mtime.
    Present(Target),
}

/// Checks, before any byte is fetched, that an entry may be written.
pub fn check_target(tree: &RestoreTree, record: &FileRecord, overwrite: bool) -> Result<Planned, ExtractError> {
    let mut target = tree.locate(record)?;
    let Some(existing) = lstat(target.parent.as_fd(), &target.name) else {
        return Ok(Planned::Write(target));
    };
    let kind = FileType::from_raw_mode(existing.st_mode);
    if record.file.kind == "dir" && kind == FileType::Directory {
        return Ok(Planned::Write(target));
    }
    if already_restored(&target, &existing, record) {
        return Ok(Planned::Present(target));
    }
    if !overwrite {
        return Err(fail(format!(
            "{} exists and is not the archived copy (use --overwrite to replace it)",
            target.path.display()
        )));
    }
    if kind == FileType::Directory {
        return Err(fail(format!(
            "{} is a folder; not replacing it with a {}",
            target.path.display(),
            record.file.kind
        )));
    }
    target.replace = true;
    Ok(Planned::Write(target))
}

fn is_root() -> bool {
    nix::unistd::Uid::effective().is_root()
}

/// Whether `existing` is the archived entry: same kind, metadata and content.
fn already_restored(target: &Target, existing: &Stat, record: &FileRecord) -> bool {
    let kind = FileType::from_raw_mode(existing.st_mode);
    let owner_matches =
        !is_root() || (i64::from(existing.st_uid) == record.file.uid && i64::from(existing.st_gid) == record.file.gid);
    match record.file.kind.as_str() {
        "file" => {
            kind == FileType::RegularFile
                && owner_matches
                && existing.st_size == record.file.size
                && existing.st_mode & 0o7777 == record.file.mode as u32 & 0o7777
                && stat_mtime_ns(existing) == record.file.mtime_ns
                && content_matches(target, existing, record)
        }
        "symlink" => {
            kind == FileType::Symlink
                && owner_matches
                && rustix::fs::readlinkat(target.parent.as_fd(), &target.name, Vec::new())
                    .is_ok_and(|link| Some(link.as_bytes()) == record.file.link_target.as_deref())
        }
        _ => false,
    }
}

/// Whether the file at `target`, still the inode `existing` describes, hashes to the
/// catalog's BLAKE3. Opened without following symlinks and without blocking on a FIFO.
fn content_matches(target: &Target, existing: &Stat, record: &FileRecord) -> bool {
    let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
    let Ok(fd) = rustix::fs::openat(target.parent.as_fd(), &target.name, flags, Mode::empty()) else {
        return false;
    };
    let same_inode =
        rustix::fs::fstat(&fd).is_ok_and(|now| now.st_ino == existing.st_ino && now.st_dev == existing.st_dev);
    let mut hasher = blake3::Hasher::new();
    same_inode
        && std::io::copy(&mut File::from(fd), &mut hasher).is_ok()
        && record.file.blake3.as_deref() == Some(hasher.finalize().to_hex().as_str())
}

/// Creates the temp file of `target`, 0600 and exclusive; a leftover of an earlier pass of
/// the same job (killed before it could clean up) is removed first.
fn create_temp(target: &Target) -> Result<OwnedFd, ExtractError> {
    let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let open = || rustix::fs::openat(target.parent.as_fd(), &target.temp, flags, Mode::from_raw_mode(0o600));
    let created = match open() {
        Err(Errno::EXIST) => {
            rustix::fs::unlinkat(target.parent.as_fd(), &target.temp, AtFlags::empty()).and_then(|()| open())
        }
        other => other,
    };
    created.map_err(|errno| io_fail(&target.path.with_file_name(&target.temp), errno))
}

/// Renames the temp entry over the target's name. Without `replace`, an entry that
/// appeared there since the check is kept and this one fails.
fn place(target: &Target) -> Result<(), ExtractError> {
    let parent = target.parent.as_fd();
    let renamed = if target.replace {
        rustix::fs::renameat(parent, &target.temp, parent, &target.name)
    } else {
        match rustix::fs::renameat_with(parent, &target.temp, parent, &target.name, RenameFlags::NOREPLACE) {
            // A file system without RENAME_NOREPLACE: a hard link fails just as atomically
            // when the name is taken; then the temp name goes.
            Err(Errno::INVAL) => rustix::fs::linkat(parent, &target.temp, parent, &target.name, AtFlags::empty())
                .and_then(|()| rustix::fs::unlinkat(parent, &target.temp, AtFlags::empty())),
            other => other,
        }
    };
    renamed.map_err(|errno| match errno {
        Errno::EXIST => {
            fail(format!("{} appeared while restoring (use --overwrite to replace it)", target.path.display()))
        }
        errno => io_fail(&target.path, errno),
    })
}

fn remove_temp(target: &Target) {
    let _ = rustix::fs::unlinkat(target.parent.as_fd(), &target.temp, AtFlags::empty());
}

/// Sets owner (as root), extended attributes (ACLs among them), the full mode with
/// setuid/setgid/sticky, and mtime through the descriptor, in that order: a chown clears
/// setuid/setgid bits and file capabilities, so it comes first, and the mode comes after
/// the ACL so the group bits never grant more than the ACL's mask for a moment.
fn apply_metadata(
    fd: BorrowedFd,
    record: &FileRecord,
    xattrs: &[Xattr],
    target: &Target,
) -> Result<Vec<XattrFailure>, ExtractError> {
    let describe = |errno| io_fail(&target.path, errno);
    if is_root() {
        let (uid, gid) = owner_of(record, target)?;
        rustix::fs::fchown(fd, Some(uid), Some(gid)).map_err(describe)?;
    }
    let refused = restore_xattrs_fd(fd, xattrs);
    rustix::fs::fchmod(fd, Mode::from_raw_mode(record.file.mode as u32 & 0o7777)).map_err(describe)?;
    rustix::fs::futimens(fd, &modification_time(record.file.mtime_ns)).map_err(describe)?;
    Ok(refused)
}

/// The recorded owner and group as ids chown takes; a value outside them (a damaged row,
/// or -1, which chown would read as "leave as it is") is refused.
fn owner_of(record: &FileRecord, target: &Target) -> Result<(Uid, Gid), ExtractError> {
    let id = |value: i64, what: &str| {
        u32::try_from(value).ok().filter(|id| *id != u32::MAX).ok_or_else(|| {
            fail(format!("{}: the catalog records {what} {value}, which is no valid id", target.path.display()))
        })
    };
    Ok((Uid::from_raw(id(record.file.uid, "owner")?), Gid::from_raw(id(record.file.gid, "group")?)))
}

/// Incremental writer of one regular file: bytes go to the temp file and into BLAKE3.
pub struct FileWriter {
    target: Target,
    file: File,
    hasher: blake3::Hasher,
    written: u64,
    placed: bool,
}

impl Drop for FileWriter {
    /// A writer given up on (error, expired copy, crash of the pass) leaves no temp file.
    fn drop(&mut self) {
        if !self.placed {
            remove_temp(&self.target);
        }
    }
}

impl FileWriter {
    pub fn create(target: Target) -> Result<FileWriter, ExtractError> {
        let file = File::from(create_temp(&target)?);
        Ok(FileWriter { target, file, hasher: blake3::Hasher::new(), written: 0, placed: false })
    }

    pub fn write(&mut self, data: &[u8]) -> Result<(), ExtractError> {
        self.hasher.update(data);
        self.written += data.len() as u64;
        self.file.write_all(data).map_err(|error| {
            fail(format!("writing {}: {}", self.target.path.display(), crate::error::io_message(&error)))
        })?;
        esker_model::failpoint::hit("restore_data_written");
        Ok(())
    }

    /// Verifies size and BLAKE3, applies the metadata, renames into place. On any failure
    /// the temp file is removed: no file that looks good is left behind. Returns the
    /// attributes the file system or the process's rights refused.
    pub fn finish(mut self, record: &FileRecord, xattrs: &[Xattr]) -> Result<Vec<XattrFailure>, ExtractError> {
        let result = self.verify_and_place(record, xattrs);
        self.placed = result.is_ok();
        result
    }

    fn verify_and_place(&self, record: &FileRecord, xattrs: &[Xattr]) -> Result<Vec<XattrFailure>, ExtractError> {
        let path = self.target.path.display();
        let expected_size = record.file.size.max(0) as u64;
        if self.written != expected_size {
            return Err(damaged(format!(
                "{path}: the store returned {} of its {expected_size} bytes; file not written",
                self.written
            )));
        }
        let actual = self.hasher.finalize().to_hex().to_string();
        match record.file.blake3.as_deref() {
            Some(expected) if expected == actual => {}
            Some(expected) => {
                return Err(damaged(format!(
                    "{path}: checksum mismatch (BLAKE3 {actual}, catalog says {expected}); file not written"
                )));
            }
            None => return Err(fail(format!("{path}: the catalog has no checksum for it"))),
        }
        self.file.sync_all().map_err(|error| fail(format!("{path}: {}", crate::error::io_message(&error))))?;
        let refused = apply_metadata(self.file.as_fd(), record, xattrs, &self.target)?;
        place(&self.target)?;
        esker_model::failpoint::hit("restore_file_placed");
        Ok(refused)
    }
}

/// Entries that need no bytes from the bundle: symlinks and folders (empty ones, and those
/// recorded for their extended attributes). Returns the attributes refused.
pub fn write_metadata_only(
    target: &Target,
    record: &FileRecord,
    xattrs: &[Xattr],
) -> Result<Vec<XattrFailure>, ExtractError> {
    match record.file.kind.as_str() {
        "symlink" => {
            let written = write_symlink(target, record, xattrs);
            if written.is_err() {
                remove_temp(target);
            }
            written
        }
        "dir" => {
            let folder = open_folder(target)?;
            let refused = apply_metadata(folder.as_fd(), record, xattrs, target)?;
            Ok(refused)
        }
        other => Err(fail(format!("{}: cannot restore a {other}", target.path.display()))),
    }
}

/// Makes (or opens) the folder `target` names; a symlink there is refused, not followed.
fn open_folder(target: &Target) -> Result<OwnedFd, ExtractError> {
    let parent = target.parent.as_fd();
    match rustix::fs::mkdirat(parent, &target.name, Mode::from_raw_mode(0o700)) {
        Ok(()) | Err(Errno::EXIST) => {}
        Err(errno) => return Err(io_fail(&target.path, errno)),
    }
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    rustix::fs::openat(parent, &target.name, flags, Mode::empty()).map_err(|errno| match errno {
        Errno::LOOP | Errno::NOTDIR => {
            fail(format!("refusing to restore a folder over {} (not a folder)", target.path.display()))
        }
        errno => io_fail(&target.path, errno),
    })
}

/// A symlink under its temp name: owner and mtime of the link itself, then renamed.
fn write_symlink(target: &Target, record: &FileRecord, xattrs: &[Xattr]) -> Result<Vec<XattrFailure>, ExtractError> {
    let parent = target.parent.as_fd();
    let describe = |errno| io_fail(&target.path, errno);
    let link = record.file.link_target.clone().unwrap_or_default();
    let link = OsStr::from_bytes(&link);
    match rustix::fs::symlinkat(link, parent, &target.temp) {
        Err(Errno::EXIST) => rustix::fs::unlinkat(parent, &target.temp, AtFlags::empty())
            .and_then(|()| rustix::fs::symlinkat(link, parent, &target.temp)),
        other => other,
    }
    .map_err(describe)?;
    // The link itself, held by a descriptor: a swap of the temp name for another file
    // cannot redirect the chown.
    let flags = OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let made = rustix::fs::openat(parent, &target.temp, flags, Mode::empty()).map_err(describe)?;
    let stat = rustix::fs::fstat(&made).map_err(describe)?;
    if FileType::from_raw_mode(stat.st_mode) != FileType::Symlink
        || stat.st_uid != nix::unistd::Uid::effective().as_raw()
    {
        return Err(fail(format!("{}: the new symlink was replaced while restoring", target.path.display())));
    }
    if is_root() {
        let (uid, gid) = owner_of(record, target)?;
        let empty = AtFlags::EMPTY_PATH | AtFlags::SYMLINK_NOFOLLOW;
        rustix::fs::chownat(&made, "", Some(uid), Some(gid), empty).map_err(describe)?;
    }
    // A symlink has no descriptor to set attributes through: the parent's descriptor
    // names the folder, and the l-variant calls do not follow the link itself.
    let through_parent =
        std::path::PathBuf::from(format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&*target.parent)))
            .join(&target.temp);
    let refused = if xattrs.is_empty() { Vec::new() } else { restore_xattrs(&through_parent, xattrs) };
    rustix::fs::utimensat(parent, &target.temp, &modification_time(record.file.mtime_ns), AtFlags::SYMLINK_NOFOLLOW)
        .map_err(describe)?;
    place(target)?;
    Ok(refused)
}

/// Sets a restored folder's mtime again once everything below it is written.
pub fn settle_folder_time(tree: &RestoreTree, record: &FileRecord) -> Result<(), ExtractError> {
    let target = tree.locate(record)?;
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let folder = rustix::fs::openat(target.parent.as_fd(), &target.name, flags, Mode::empty())
        .map_err(|errno| io_fail(&target.path, errno))?;
    rustix::fs::futimens(&folder, &modification_time(record.file.mtime_ns))
        .map_err(|errno| io_fail(&target.path, errno))
}
