//! Writing retrieved files: paths confined to the destination, data written to a temp name,
//! checked against the catalog's BLAKE3, then given its mode and mtime and renamed.

use std::ffi::OsStr;
use std::fs::{self, File};
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use crate::acl::{Xattr, XattrFailure, restore_xattrs};
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

/// Where a file goes: the destination plus its original path without the leading `/`.
/// Paths with `..`, `.` or empty components are refused.
pub fn target_path(destination: &Path, record: &FileRecord) -> Result<PathBuf, ExtractError> {
    let raw = record.path();
    let relative = Path::new(OsStr::from_bytes(&raw));
    let mut target = destination.to_path_buf();
    let mut parts = 0;
    for component in relative.components() {
        match component {
            Component::RootDir => {}
            Component::Normal(part) => {
                target.push(part);
                parts += 1;
            }
            _ => return Err(fail(format!("refusing unsafe path {}", relative.display()))),
        }
    }
    if parts == 0 || raw.split(|&byte| byte == b'/').any(|part| part == b"..") {
        return Err(fail(format!("refusing unsafe path {}", relative.display())));
    }
    Ok(target)
}

/// Creates the folders between `destination` and `target`, refusing any that is a symlink
/// or not a folder, so nothing lands outside the destination.
fn prepare_parents(destination: &Path, target: &Path) -> Result<(), ExtractError> {
    let parent = target.parent().ok_or_else(|| fail("no parent folder"))?;
    let relative = parent.strip_prefix(destination).map_err(|_| fail("path outside the destination"))?;
    let mut current = destination.to_path_buf();
    for component in relative.components() {
        current.push(component);
        match fs::symlink_metadata(&current) {
            Ok(metadata) if metadata.file_type().is_symlink() => {
                return Err(fail(format!("refusing to write through symlinked folder {}", current.display())));
            }
            Ok(metadata) if metadata.is_dir() => {}
            Ok(_) => return Err(fail(format!("{} exists and is not a folder", current.display()))),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => fs::create_dir(&current)
                .or_else(|error| if error.kind() == std::io::ErrorKind::AlreadyExists { Ok(()) } else { Err(error) })
                .map_err(|error| {
                    fail(format!("cannot create {}: {}", current.display(), crate::error::io_message(&error)))
                })?,
            Err(error) => return Err(fail(format!("{}: {}", current.display(), crate::error::io_message(&error)))),
        }
    }
    Ok(())
}

/// Checks, before any byte is fetched, that a file may be written.
pub fn check_target(destination: &Path, record: &FileRecord, overwrite: bool) -> Result<PathBuf, ExtractError> {
    let target = target_path(destination, record)?;
    prepare_parents(destination, &target)?;
    match fs::symlink_metadata(&target) {
        Ok(metadata) if record.file.kind == "dir" && metadata.is_dir() => Ok(target),
        Ok(_) if !overwrite => Err(fail(format!("{} exists (use --overwrite to replace it)", target.display()))),
        Ok(metadata) if metadata.is_dir() && record.file.kind != "dir" => {
            Err(fail(format!("{} is a folder; not replacing it with a file", target.display())))
        }
        _ => Ok(target),
    }
}

/// Temp name per file and per process, so two writers can never share one.
fn temp_name(target: &Path, record: &FileRecord) -> PathBuf {
    target.with_file_name(format!(".esker-{}-{}.part", record.file.id, std::process::id()))
}

/// Incremental writer of one regular file: bytes go to a temp file and into BLAKE3.
pub struct FileWriter {
    target: PathBuf,
    temp: PathBuf,
    file: File,
    hasher: blake3::Hasher,
    written: u64,
    placed: bool,
}

impl Drop for FileWriter {
    /// A writer given up on (error, expired copy, crash of the pass) leaves no temp file.
    fn drop(&mut self) {
        if !self.placed {
            let _ = fs::remove_file(&self.temp);
        }
    }
}

impl FileWriter {
    pub fn create(target: PathBuf, record: &FileRecord) -> Result<FileWriter, ExtractError> {
        let temp = temp_name(&target, record);
        let _ = fs::remove_file(&temp); // a leftover of this same process id
        let file =
            File::options().write(true).create_new(true).open(&temp).map_err(|error| {
                fail(format!("cannot create {}: {}", temp.display(), crate::error::io_message(&error)))
            })?;
        Ok(FileWriter { target, temp, file, hasher: blake3::Hasher::new(), written: 0, placed: false })
    }

    pub fn write(&mut self, data: &[u8]) -> Result<(), ExtractError> {
        self.hasher.update(data);
        self.written += data.len() as u64;
        self.file
            .write_all(data)
            .map_err(|error| fail(format!("writing {}: {}", self.temp.display(), crate::error::io_message(&error))))
    }

    /// Verifies size and BLAKE3, applies mode, mtime and `xattrs`, renames into place. On
    /// any failure the temp file is removed: no file that looks good is left behind.
    /// Returns the attributes the file system or the process's rights refused.
    pub fn finish(mut self, record: &FileRecord, xattrs: &[Xattr]) -> Result<Vec<XattrFailure>, ExtractError> {
        let result = self.verify_and_place(record, xattrs);
        self.placed = result.is_ok();
        result
    }

    fn verify_and_place(&self, record: &FileRecord, xattrs: &[Xattr]) -> Result<Vec<XattrFailure>, ExtractError> {
        let expected_size = record.file.size.max(0) as u64;
        if self.written != expected_size {
            return Err(damaged(format!(
                "{}: got {} bytes, expected {expected_size}",
                self.target.display(),
                self.written
            )));
        }
        let actual = self.hasher.finalize().to_hex().to_string();
        match record.file.blake3.as_deref() {
            Some(expected) if expected == actual => {}
            Some(expected) => {
                return Err(damaged(format!(
                    "{}: checksum mismatch (BLAKE3 {actual}, catalog says {expected}); file not written",
                    self.target.display()
                )));
            }
            None => return Err(fail(format!("{}: the catalog has no checksum for it", self.target.display()))),
        }
        self.file
            .sync_all()
            .map_err(|error| fail(format!("{}: {}", self.temp.display(), crate::error::io_message(&error))))?;
        apply_metadata(&self.temp, record)?;
        let refused = restore_xattrs(&self.temp, xattrs);
        fs::rename(&self.temp, &self.target)
            .map_err(|error| fail(format!("{}: {}", self.target.display(), crate::error::io_message(&error))))?;
        Ok(refused)
    }
}

fn apply_metadata(path: &Path, record: &FileRecord) -> Result<(), ExtractError> {
    let describe = |error: std::io::Error| fail(format!("{}: {}", path.display(), crate::error::io_message(&error)));
    fs::set_permissions(path, fs::Permissions::from_mode(record.file.mode as u32 & 0o7777)).map_err(describe)?;
    let mtime = UNIX_EPOCH.checked_add(Duration::from_nanos(record.file.mtime_ns.max(0) as u64)).unwrap_or(UNIX_EPOCH);
    File::options()
        .write(true)
        .open(path)
        .or_else(|_| File::open(path))
        .and_then(|file| file.set_times(fs::FileTimes::new().set_modified(mtime)))
        .map_err(describe)?;
    if nix::unistd::Uid::effective().is_root() {
        std::os::unix::fs::lchown(path, Some(record.file.uid as u32), Some(record.file.gid as u32))
            .map_err(describe)?;
    }
    Ok(())
}

/// Entries that need no bytes from the bundle: symlinks and folders (empty ones, and those
/// recorded for their extended attributes). Returns the attributes refused.
pub fn write_metadata_only(
    target: &Path,
    record: &FileRecord,
    xattrs: &[Xattr],
) -> Result<Vec<XattrFailure>, ExtractError> {
    match record.file.kind.as_str() {
        "symlink" => {
            let link = record.file.link_target.clone().unwrap_or_default();
            let temp = temp_name(target, record);
            let _ = fs::remove_file(&temp);
            std::os::unix::fs::symlink(OsStr::from_bytes(&link), &temp)
                .map_err(|error| fail(format!("{}: {}", target.display(), crate::error::io_message(&error))))?;
            let refused = restore_xattrs(&temp, xattrs);
            fs::rename(&temp, target)
                .map_err(|error| fail(format!("{}: {}", target.display(), crate::error::io_message(&error))))?;
            Ok(refused)
        }
        "dir" => {
            if fs::symlink_metadata(target).is_ok_and(|metadata| metadata.file_type().is_symlink()) {
                return Err(fail(format!("refusing to restore a folder over symlink {}", target.display())));
            }
            if !target.is_dir() {
                fs::create_dir(target)
                    .map_err(|error| fail(format!("{}: {}", target.display(), crate::error::io_message(&error))))?;
            }
            apply_metadata(target, record)?;
            Ok(restore_xattrs(target, xattrs))
        }
        other => Err(fail(format!("{}: cannot restore a {other}", target.display()))),
    }
}
