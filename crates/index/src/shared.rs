//! An index that several users share: the people who may read the index folder may
//! search it, though only the archiving user writes it.
//!
//! tantivy writes `meta.json` and `.managed.json` through a private temp file (0600); they
//! get the mode of every other index file, 0666 less the umask. And a reader takes the
//! meta lock (so no writer collects files while it loads the segment list) through a
//! lock file it opens for writing; a user who may not write the folder takes the same
//! `flock` through a read-only descriptor instead.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tantivy::directory::error::{DeleteError, LockError, OpenReadError, OpenWriteError};
use tantivy::directory::{
    Directory, DirectoryLock, FileHandle, FileSlice, Lock, META_LOCK, MmapDirectory, WatchCallback, WatchHandle,
    WritePtr,
};

use crate::error::IndexError;

/// The files tantivy replaces atomically.
const ATOMIC_FILES: [&str; 2] = ["meta.json", ".managed.json"];

/// Gives the atomically replaced files the mode the umask gives every other file.
pub(crate) fn follow_umask(dir: &Path) -> Result<(), IndexError> {
    let mode = 0o666 & !process_umask();
    for name in ATOMIC_FILES {
        let path = dir.join(name);
        match std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(mode)) {
            Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
                return Err(IndexError::Io { path, source: error });
            }
            _ => {}
        }
    }
    Ok(())
}

/// This process's umask, as Linux reports it (reading it with umask(2) would change it).
fn process_umask() -> u32 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|line| line.starts_with("Umask:"))?;
            u32::from_str_radix(line.trim_start_matches("Umask:").trim(), 8).ok()
        })
        .unwrap_or(0o022)
}

/// tantivy's memory-mapped directory, with a meta lock that readers without write
/// access can take too.
#[derive(Clone, Debug)]
pub(crate) struct SharedDirectory {
    inner: MmapDirectory,
    root: PathBuf,
}

impl SharedDirectory {
    pub(crate) fn new(inner: MmapDirectory, root: &Path) -> SharedDirectory {
        SharedDirectory { inner, root: root.to_path_buf() }
    }

    /// The meta lock through a read-only descriptor: `flock` does not need write access.
    fn read_only_lock(&self, lock: &Lock) -> Result<DirectoryLock, LockError> {
        let file = File::open(self.root.join(&lock.filepath)).map_err(|error| LockError::IoError(Arc::new(error)))?;
        if lock.is_blocking {
            file.lock().map_err(|error| LockError::IoError(Arc::new(error)))?;
        } else if file.try_lock().is_err() {
            return Err(LockError::LockBusy);
        }
        Ok(DirectoryLock::from(Box::new(file)))
    }
}

impl Directory for SharedDirectory {
    fn get_file_handle(&self, path: &Path) -> Result<Arc<dyn FileHandle>, OpenReadError> {
        self.inner.get_file_handle(path)
    }

    fn open_read(&self, path: &Path) -> Result<FileSlice, OpenReadError> {
        self.inner.open_read(path)
    }

    fn delete(&self, path: &Path) -> Result<(), DeleteError> {
        self.inner.delete(path)
    }

    fn exists(&self, path: &Path) -> Result<bool, OpenReadError> {
        self.inner.exists(path)
    }

    fn open_write(&self, path: &Path) -> Result<WritePtr, OpenWriteError> {
        self.inner.open_write(path)
    }

    fn atomic_read(&self, path: &Path) -> Result<Vec<u8>, OpenReadError> {
        self.inner.atomic_read(path)
    }

    fn atomic_write(&self, path: &Path, data: &[u8]) -> std::io::Result<()> {
        self.inner.atomic_write(path, data)
    }

    fn sync_directory(&self) -> std::io::Result<()> {
        self.inner.sync_directory()
    }

    fn acquire_lock(&self, lock: &Lock) -> Result<DirectoryLock, LockError> {
        match self.inner.acquire_lock(lock) {
            Err(LockError::IoError(error))
                if error.kind() == std::io::ErrorKind::PermissionDenied && lock.filepath == META_LOCK.filepath =>
            {
                self.read_only_lock(lock)
            }
            other => other,
        }
    }

    fn watch(&self, watch_callback: WatchCallback) -> tantivy::Result<WatchHandle> {
        self.inner.watch(watch_callback)
    }
}
