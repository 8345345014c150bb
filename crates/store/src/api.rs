//! The store trait every backend implements: a local directory, S3, a Glacier vault.

use std::io::Write;
use std::ops::Range;

use esker_model::buffers::Chunk;
pub use esker_model::{RestoreTier, StoredObject};

use super::error::StoreError;

/// What a new object is, beyond its key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteOptions {
    /// About how many bytes will be written (backends with part limits size their parts
    /// from it; writing more is allowed).
    pub size_hint: u64,
    /// The run writing it (vaults put it in the archive description).
    pub run: Option<i64>,
    /// An interrupted upload of the same key may exist. Stores that can (vaults) continue
    /// it, sending only the parts that are missing or differ; the others start over.
    pub resume: bool,
    /// The store already confirmed this object in an interrupted run (a vault archive whose
    /// completion was recorded before the crash): nothing is sent again; the bytes written
    /// are checked against its checksum and `finish` returns it.
    pub confirmed: Option<StoredObject>,
}

/// The checksum a store keeps for each object and confirms uploads with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectChecksum {
    /// None: the store is trusted on size (a local directory, whose bytes esker wrote itself).
    None,
    /// SHA-256, composite over the parts of a multipart upload, base64 (S3).
    Sha256,
    /// The SHA-256 tree hash of the vault API, hex: [`StoredObject::checksum`] of a vault
    /// archive is the tree hash the catalog records for the bundle.
    TreeHash,
}

/// What a store can do, for the callers whose behaviour depends on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    pub checksum: ObjectChecksum,
    /// [`Store::create`] with `resume` continues an interrupted upload, so an interrupted
    /// bundle is packed again under the same key (with the same plan) rather than afresh.
    pub resumes_uploads: bool,
    /// The store names new objects itself: [`StoredObject::key`] differs from the key asked
    /// for (a vault's archive ids).
    pub names_objects: bool,
}

/// A store-side retrieval job (vaults): its id and the byte range it makes readable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoreJob {
    pub id: String,
    pub range: Range<u64>,
    /// Size of the whole object.
    pub object_size: u64,
}

/// What [`Store::start_restore`] started or found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartedRestore {
    pub state: RestoreState,
    /// The job making the bytes readable, for stores that restore through jobs.
    pub job: Option<RestoreJob>,
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

/// Streams one object into the store. Nothing is visible under the key until
/// [`finish`](ObjectWriter::finish) returns; dropping the writer without finishing
/// leaves at most an unfinished upload that [`Store::discard_unfinished`] removes.
pub trait ObjectWriter: Write + Send {
    /// Takes the first `length` bytes of a tar writer's `chunk`, as
    /// a tar writer's `TarSink::write_chunk`: the default writes them through [`Write`];
    /// the local store keeps a full chunk for its direct writes and leaves a spare one in its
    /// place, which saves a copy of every byte.
    fn write_chunk(&mut self, chunk: &mut Chunk, length: usize) -> std::io::Result<()> {
        self.write_all(&chunk[..length])
    }
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
    /// What this store can do.
    fn capabilities(&self) -> Capabilities;
    /// Where it is, for people (a path, a bucket URL).
    fn location(&self) -> String;
    /// The storage class new bundles get, if the backend has classes.
    fn storage_class(&self) -> Option<String>;
    /// Creates what the store needs before the first write (folders, checks).
    fn prepare(&self) -> Result<(), StoreError>;
    /// Starts streaming a new object.
    fn create(&self, key: &str, options: WriteOptions) -> Result<Box<dyn ObjectWriter>, StoreError>;
    /// Stores a small object in one request (manifests), in the hot class where the store
    /// has one.
    fn put_small(&self, key: &str, bytes: &[u8], run: Option<i64>) -> Result<StoredObject, StoreError>;
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
    /// Makes `range` of an object of `object_size` bytes readable. Stores that restore
    /// whole objects do that ([`request_restore`](Store::request_restore)); vaults start an
    /// archive-retrieval job over the range widened to MiB boundaries, or reuse a running
    /// or finished one that covers it.
    fn start_restore(
        &self,
        key: &str,
        range: Range<u64>,
        object_size: u64,
        days: u32,
        tier: RestoreTier,
    ) -> Result<StartedRestore, StoreError> {
        let _ = (range, object_size);
        Ok(StartedRestore { state: self.request_restore(key, days, tier)?, job: None })
    }
    /// Where a restore stands; `None` when the object is gone. For a vault, `Archived` means
    /// the job is unknown or its output expired: start another.
    fn restore_state(&self, key: &str, job: Option<&RestoreJob>) -> Result<Option<RestoreState>, StoreError> {
        let _ = job;
        Ok(self.head(key)?.map(|info| info.restore))
    }
    /// Reads `range` (object offsets) of a restored or online object; vaults read the job's
    /// output and check it against tree hashes where the range allows.
    fn read_restored(&self, key: &str, job: Option<&RestoreJob>, range: Range<u64>) -> Result<Vec<u8>, StoreError> {
        let _ = job;
        self.get_range(key, range)
    }
}

/// Object key of a bundle.
pub fn bundle_key(id: &uuid::Uuid) -> String {
    format!("bundles/{id}.tar")
}

/// Object key of a bundle's manifest copy.
pub fn manifest_key(id: &uuid::Uuid) -> String {
    format!("manifests/{id}.jsonl.zst")
}
