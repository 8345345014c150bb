//! Rows of the catalog tables, as read and as inserted.

use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use super::schema::{bundles, dirs, files, runs};
use super::states::{BundleState, FileState, RunState};

#[derive(Debug, Clone, Queryable, Selectable, Insertable, Serialize, Deserialize)]
#[diesel(table_name = runs)]
pub struct Run {
    pub id: i64,
    pub started_at: i64,
    pub finished_at: Option<i64>,
    pub state: RunState,
    pub host: String,
    pub roots: String,
    pub roots_key: String,
    pub store: String,
    pub description: String,
    pub tags: String,
    pub options: String,
    pub files_archived: i64,
    pub bytes_archived: i64,
    pub files_skipped: i64,
    pub bundles: i64,
}

impl Run {
    pub fn tag_list(&self) -> Vec<String> {
        serde_json::from_str(&self.tags).unwrap_or_default()
    }

    pub fn root_list(&self) -> Vec<String> {
        serde_json::from_str(&self.roots).unwrap_or_default()
    }
}

#[derive(Debug, Insertable)]
#[diesel(table_name = runs)]
pub struct NewRun<'a> {
    pub started_at: i64,
    pub state: RunState,
    pub host: &'a str,
    pub roots: &'a str,
    pub roots_key: &'a str,
    pub store: &'a str,
    pub description: &'a str,
    pub tags: &'a str,
    pub options: &'a str,
}

impl NewRun<'static> {
    /// A run row for tests that need one in the catalog.
    #[doc(hidden)]
    pub fn for_tests() -> NewRun<'static> {
        NewRun {
            started_at: 1,
            state: RunState::Running,
            host: "h",
            roots: "[]",
            roots_key: "k",
            store: "local",
            description: "",
            tags: "",
            options: "{}",
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, Serialize, Deserialize)]
#[diesel(table_name = bundles)]
pub struct Bundle {
    pub id: i64,
    pub uuid: String,
    pub run_id: i64,
    pub store: String,
    pub object_key: String,
    pub manifest_key: Option<String>,
    pub storage_class: Option<String>,
    pub state: BundleState,
    pub file_count: i64,
    pub data_bytes: i64,
    pub bytes: Option<i64>,
    pub sha256: Option<String>,
    pub upload_id: Option<String>,
    pub error: Option<String>,
    pub created_at: i64,
    pub stored_at: Option<i64>,
    /// Glacier vaults: the archive's SHA-256 tree hash (hex), verified with the vault.
    #[serde(default)]
    pub tree_hash: Option<String>,
    /// Glacier vaults, while uploading: the planned entries, to resume the upload.
    #[serde(default, skip_serializing)]
    pub plan: Option<Vec<u8>>,
    /// BLAKE3 of the whole bundle object (hex); bundles made before it have `sha256`.
    #[serde(default)]
    pub blake3: Option<String>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = bundles)]
pub struct NewBundle<'a> {
    pub uuid: &'a str,
    pub run_id: i64,
    pub store: &'a str,
    pub object_key: &'a str,
    pub storage_class: Option<&'a str>,
    pub state: BundleState,
    pub file_count: i64,
    pub data_bytes: i64,
    pub created_at: i64,
    pub plan: Option<&'a [u8]>,
}

/// A folder row.
#[derive(Debug, Clone, Queryable, Insertable, Serialize, Deserialize)]
#[diesel(table_name = dirs)]
pub struct Dir {
    pub id: i64,
    pub path: Vec<u8>,
    pub path_text: String,
    pub path_hash: Vec<u8>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = dirs)]
pub struct NewDir<'a> {
    pub path: &'a [u8],
    pub path_text: &'a str,
    pub path_hash: &'a [u8],
}

/// The key of a folder row: BLAKE3 of its raw path (long paths cannot be index keys).
pub fn dir_key(path: &[u8]) -> [u8; 32] {
    *blake3::hash(path).as_bytes()
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, Serialize, Deserialize)]
#[diesel(table_name = files)]
pub struct File {
    pub id: i64,
    pub run_id: i64,
    pub dir_id: i64,
    pub name: Vec<u8>,
    pub name_text: String,
    pub kind: String,
    pub size: i64,
    pub mode: i32,
    pub uid: i64,
    pub gid: i64,
    pub mtime_ns: i64,
    pub atime_ns: i64,
    pub ctime_ns: i64,
    pub inode: i64,
    pub device: i64,
    pub link_target: Option<Vec<u8>>,
    pub blake3: Option<String>,
    pub bundle_id: Option<i64>,
    pub header_offset: Option<i64>,
    pub data_offset: Option<i64>,
    pub state: FileState,
    pub reason: Option<String>,
    /// The row whose stored bytes this file shares (unchanged or deduplicated).
    pub origin_id: Option<i64>,
    /// Commit number of the transaction that recorded it (the index follows these).
    pub seq: i64,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = files)]
// `None` is NULL (no `files` column has another default): every row has the same columns, so
// one prepared INSERT serves them all.
#[diesel(treat_none_as_default_value = false)]
pub struct NewFile {
    pub run_id: i64,
    pub dir_id: i64,
    pub name: Vec<u8>,
    pub name_text: String,
    pub kind: String,
    pub size: i64,
    pub mode: i32,
    pub uid: i64,
    pub gid: i64,
    pub mtime_ns: i64,
    pub atime_ns: i64,
    pub ctime_ns: i64,
    pub inode: i64,
    pub device: i64,
    pub link_target: Option<Vec<u8>>,
    pub blake3: Option<String>,
    pub bundle_id: Option<i64>,
    pub header_offset: Option<i64>,
    pub data_offset: Option<i64>,
    pub state: FileState,
    pub reason: Option<String>,
    pub origin_id: Option<i64>,
    /// Set when the row is inserted (see `Catalog::next_sequence`).
    pub seq: i64,
}

impl NewFile {
    /// A `skipped` row (no bundle needed) named `name`, owned by uid 0 and gid 0.
    #[doc(hidden)]
    pub fn for_tests(run_id: i64, name: &str) -> NewFile {
        NewFile {
            run_id,
            dir_id: 0,
            name: name.as_bytes().to_vec(),
            name_text: name.to_string(),
            kind: "file".into(),
            size: 1,
            mode: 0o644,
            uid: 0,
            gid: 0,
            mtime_ns: 0,
            atime_ns: 0,
            ctime_ns: 0,
            inode: 1,
            device: 1,
            link_target: None,
            blake3: None,
            bundle_id: None,
            header_offset: None,
            data_offset: None,
            state: FileState::Skipped,
            reason: Some("test".into()),
            origin_id: None,
            seq: 0,
        }
    }
}

/// A file with its folder, run and bundle: what `find` shows and a retrieval reads.
#[derive(Debug, Clone)]
pub struct FileRecord {
    pub file: File,
    pub dir_path: Vec<u8>,
    pub dir_text: String,
    /// Shared by every record of the run.
    pub run: std::sync::Arc<Run>,
    pub bundle_uuid: Option<String>,
    pub bundle_store: Option<String>,
}

impl FileRecord {
    /// Full path, raw bytes.
    pub fn path(&self) -> Vec<u8> {
        join_path(&self.dir_path, &self.file.name)
    }

    /// Full path for display (lossy UTF-8).
    pub fn path_text(&self) -> String {
        join_text(self.dir_text.clone(), &self.file.name_text)
    }
}

/// `dir` + `/` + `name` for display, reusing `dir`'s allocation.
pub fn join_text(mut dir: String, name: &str) -> String {
    if !dir.ends_with('/') {
        dir.reserve_exact(name.len() + 1);
        dir.push('/');
    }
    dir.push_str(name);
    dir
}

/// A file row as the full-text index reads it: only the columns a document holds, so that
/// indexing a large run reads and allocates less than [`FileRecord`]s would.
#[derive(Debug, Clone)]
pub struct IndexedFile {
    pub id: i64,
    /// Commit number (the index follows these).
    pub seq: i64,
    /// Shared by every row of the run.
    pub run: std::sync::Arc<Run>,
    /// Full path for display (lossy UTF-8), as [`FileRecord::path_text`].
    pub path_text: String,
    pub kind: String,
    pub size: i64,
    pub mtime_ns: i64,
    pub uid: i64,
    pub gid: i64,
    pub state: FileState,
    pub bundle_uuid: Option<String>,
    pub bundle_store: Option<String>,
}

/// `dir` + `/` + `name` on raw bytes.
pub fn join_path(dir: &[u8], name: &[u8]) -> Vec<u8> {
    let mut path = dir.to_vec();
    if !path.ends_with(b"/") {
        path.push(b'/');
    }
    path.extend_from_slice(name);
    path
}
