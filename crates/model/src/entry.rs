//! What the crawler learns about one directory entry: its kind and `lstat` fields.

use std::fs::Metadata;
use std::os::unix::fs::{FileTypeExt, MetadataExt};

/// The kind of a file system object, as esker records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FileKind {
    File,
    Dir,
    Symlink,
    Fifo,
    Socket,
    BlockDevice,
    CharDevice,
}

impl FileKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FileKind::File => "file",
            FileKind::Dir => "dir",
            FileKind::Symlink => "symlink",
            FileKind::Fifo => "fifo",
            FileKind::Socket => "socket",
            FileKind::BlockDevice => "block-device",
            FileKind::CharDevice => "char-device",
        }
    }

    /// Every kind, in order.
    pub const ALL: [FileKind; 7] = [
        FileKind::File,
        FileKind::Dir,
        FileKind::Symlink,
        FileKind::Fifo,
        FileKind::Socket,
        FileKind::BlockDevice,
        FileKind::CharDevice,
    ];

    pub fn parse(text: &str) -> Option<FileKind> {
        FileKind::ALL.into_iter().find(|kind| kind.as_str() == text)
    }

    /// Whether esker stores this kind in a bundle (everything else is recorded and skipped).
    pub fn is_archivable(self) -> bool {
        matches!(self, FileKind::File | FileKind::Dir | FileKind::Symlink)
    }
}

/// The `lstat` fields esker keeps. Times are nanoseconds since the epoch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stat {
    pub kind: FileKind,
    pub size: u64,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub mtime_ns: i64,
    pub atime_ns: i64,
    pub ctime_ns: i64,
    pub inode: u64,
    pub device: u64,
}

impl Stat {
    /// A regular file with every field zero (for entries whose `lstat` failed, and tests).
    pub fn zeroed() -> Stat {
        Stat {
            kind: FileKind::File,
            size: 0,
            mode: 0,
            uid: 0,
            gid: 0,
            mtime_ns: 0,
            atime_ns: 0,
            ctime_ns: 0,
            inode: 0,
            device: 0,
        }
    }

    pub fn from_metadata(metadata: &Metadata) -> Stat {
        let file_type = metadata.file_type();
        let kind = if file_type.is_file() {
            FileKind::File
        } else if file_type.is_dir() {
            FileKind::Dir
        } else if file_type.is_symlink() {
            FileKind::Symlink
        } else if file_type.is_fifo() {
            FileKind::Fifo
        } else if file_type.is_socket() {
            FileKind::Socket
        } else if file_type.is_block_device() {
            FileKind::BlockDevice
        } else {
            FileKind::CharDevice
        };
        Stat {
            kind,
            size: if kind == FileKind::File { metadata.size() } else { 0 },
            mode: metadata.mode(),
            uid: metadata.uid(),
            gid: metadata.gid(),
            mtime_ns: nanos(metadata.mtime(), metadata.mtime_nsec()),
            atime_ns: nanos(metadata.atime(), metadata.atime_nsec()),
            ctime_ns: nanos(metadata.ctime(), metadata.ctime_nsec()),
            inode: metadata.ino(),
            device: metadata.dev(),
        }
    }

    /// Whether the modification time lies outside what nanoseconds in an `i64` hold
    /// (before 1677 or after 2262) and was recorded as the nearest time that fits.
    pub fn mtime_clamped(&self) -> bool {
        self.mtime_ns == i64::MAX || self.mtime_ns == i64::MIN
    }

    pub fn mtime_seconds(&self) -> i64 {
        self.mtime_ns.div_euclid(1_000_000_000)
    }
}

fn nanos(seconds: i64, nanoseconds: i64) -> i64 {
    seconds.saturating_mul(1_000_000_000).saturating_add(nanoseconds)
}

/// One non-directory entry of a folder (or an empty folder), ready to plan.
#[derive(Debug, Clone)]
pub struct Entry {
    /// File name, raw bytes.
    pub name: Vec<u8>,
    pub stat: Stat,
    /// Target of a symlink, raw bytes.
    pub link_target: Option<Vec<u8>>,
    /// Extended attributes, read only with `archive --xattrs`.
    pub xattrs: Vec<crate::acl::Xattr>,
}

/// An entry the crawler could not take, with the reason.
#[derive(Debug, Clone)]
pub struct Problem {
    pub name: Vec<u8>,
    /// `lstat` result when it succeeded (e.g. a FIFO skipped by kind).
    pub stat: Option<Stat>,
    pub reason: SkipReason,
}

/// Why a file was not archived. The text forms are stable: they appear in the catalog.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SkipReason {
    Special(FileKind),
    Vanished,
    Unreadable(String),
    ReadError(String),
}

impl SkipReason {
    /// The short category used in summaries ("unreadable", "special file", …).
    pub fn category(&self) -> &'static str {
        match self {
            SkipReason::Special(_) => "special file",
            SkipReason::Vanished => "vanished",
            SkipReason::Unreadable(_) => "unreadable",
            SkipReason::ReadError(_) => "read error",
        }
    }

    pub fn from_io(error: &std::io::Error) -> SkipReason {
        match error.kind() {
            std::io::ErrorKind::NotFound => SkipReason::Vanished,
            std::io::ErrorKind::PermissionDenied => SkipReason::Unreadable("permission denied".into()),
            _ => SkipReason::Unreadable(crate::io_message(error)),
        }
    }
}

impl std::fmt::Display for SkipReason {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SkipReason::Special(kind) => write!(formatter, "special file ({})", kind.as_str()),
            SkipReason::Vanished => formatter.write_str("vanished"),
            SkipReason::Unreadable(why) => write!(formatter, "unreadable: {why}"),
            SkipReason::ReadError(why) => write!(formatter, "read error: {why}"),
        }
    }
}
