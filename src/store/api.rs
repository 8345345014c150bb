//! The store trait every backend implements (local directory now; S3 and Glacier vaults later).

use std::io::Write;
use std::ops::Range;

use super::error::StoreError;

/// A finished, confirmed object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredObject {
    pub key: String,
    pub size: u64,
    /// The checksum the store reported and esker verified (e.g. S3's SHA-256), if any.
    pub checksum: Option<String>,
}

/// Whether an object can be read now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RestoreState {
    /// Readable without a restore (hot class, local store).
    Online,
    /// In a cold class, not restored: a read fails until a restore completes.
    Archived,
    /// A restore was requested and is running.
    Restoring,
    /// A restored copy is readable until the given time (RFC 1123 text as the store says it).
    Restored { expires: Option<String> },
}

/// What a store knows about an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    pub key: String,
    pub size: u64,
    pub storage_class: Option<String>,
    pub restore: RestoreState,
    /// The object's checksum as the store reports it (S3: SHA-256, base64), when it has one.
    pub checksum: Option<String>,
}

/// An upload that was started and neither completed nor aborted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnfinishedUpload {
    pub key: String,
    pub upload_id: String,
}

/// Retrieval speed of a restore, cheapest last.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestoreTier {
    Expedited,
    Standard,
    Bulk,
}

/// Streams one object into the store. Nothing is visible under the key until
/// [`finish`](ObjectWriter::finish) returns; dropping the writer without finishing
/// leaves at most an unfinished upload that [`Store::discard_unfinished`] removes.
pub trait ObjectWriter: Write + Send {
    /// Completes the object and confirms it with the store (size, and checksum where the
    /// backend reports one).
    fn finish(self: Box<Self>, expected_size: u64) -> Result<StoredObject, StoreError>;
    /// Gives up on the object, removing whatever was written.
    fn abort(self: Box<Self>);
}

/// A place bundles live. Keys are relative (`bundles/{uuid}.tar`); a store adds its own
/// prefix or folder.
pub trait Store: Send + Sync {
    /// The name the user gave the store in the config.
    fn name(&self) -> &str;
    /// The full key of a relative key (`bundles/x.tar` → `{prefix}bundles/x.tar`). Every
    /// other method takes full keys; the catalog records full keys.
    fn key(&self, relative: &str) -> String {
        relative.to_string()
    }
    /// `local`, `s3`, `glacier`.
    fn kind(&self) -> &'static str;
    /// Where it is, for people (a path, a bucket URL).
    fn location(&self) -> String;
    /// The storage class new bundles get, if the backend has classes.
    fn storage_class(&self) -> Option<String>;
    /// Creates what the store needs before the first write (folders, checks).
    fn prepare(&self) -> Result<(), StoreError>;
    /// Starts streaming a new object of about `size_hint` bytes (backends with part limits
    /// size their parts from it; writing more is allowed).
    fn create(&self, key: &str, size_hint: u64) -> Result<Box<dyn ObjectWriter>, StoreError>;
    /// Stores a small object in one request (manifests), in the hot class.
    fn put_small(&self, key: &str, bytes: &[u8]) -> Result<StoredObject, StoreError>;
    /// Size and class of an object, or None when it does not exist.
    fn head(&self, key: &str) -> Result<Option<ObjectInfo>, StoreError>;
    /// Reads a byte range of an object.
    fn get_range(&self, key: &str, range: Range<u64>) -> Result<Vec<u8>, StoreError>;
    /// Removes an object; removing a missing object is not an error.
    fn delete(&self, key: &str) -> Result<(), StoreError>;
    /// Objects whose key starts with `prefix`.
    fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>, StoreError>;
    /// Removes any unfinished upload of `key` left by a crashed run.
    fn discard_unfinished(&self, key: &str) -> Result<(), StoreError>;
    /// Unfinished uploads whose key starts with `prefix` (full key).
    fn unfinished_uploads(&self, prefix: &str) -> Result<Vec<UnfinishedUpload>, StoreError>;
    /// Asks for a readable copy of an archived object for `days` days. Returns the state
    /// after the request (`Online` when the store needs no restore).
    fn request_restore(&self, key: &str, days: u32, tier: RestoreTier) -> Result<RestoreState, StoreError>;
}

/// Object key of a bundle.
pub fn bundle_key(id: &uuid::Uuid) -> String {
    format!("bundles/{id}.tar")
}

/// Object key of a bundle's manifest copy.
pub fn manifest_key(id: &uuid::Uuid) -> String {
    format!("manifests/{id}.jsonl.zst")
}
