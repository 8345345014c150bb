//! Bundles into a store: a bundle is written into one of the store's object writers, then
//! confirmed by the store, and its manifest copy is stored beside it.

use std::io::{self, Write};

use esker_bundle::tar::TarSink;
use esker_bundle::{BundleContext, PackError, PackScratch, PackedEntry, PlannedBundle, WriteFailed};
use esker_model::StoredObject;
use esker_model::buffers::Chunk;
use esker_store::{ObjectWriter, Store, StoreError, WriteOptions, bundle_key, manifest_key};
use uuid::Uuid;

/// Why a bundle did not reach the store.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("failed to write bundle {key}: {message}")]
    Write { key: String, message: String },
}

impl BundleError {
    fn from_pack(key: &str, error: PackError) -> BundleError {
        match error {
            // A store's own error travels through `io::Write` inside the io::Error: keep its kind.
            PackError::Sink { source, .. } => {
                match source.get_ref().and_then(|inner| inner.downcast_ref::<StoreError>()) {
                    Some(store) => BundleError::Store(StoreError::new(store.kind, store.message.clone())),
                    None => BundleError::Write { key: key.to_string(), message: esker_model::io_message(&source) },
                }
            }
            PackError::Manifest { message, .. } => BundleError::Write { key: key.to_string(), message },
        }
    }
}

/// How one bundle is written.
#[derive(Debug, Clone)]
pub struct PackOptions {
    /// The manifest's creation time, fixed when the bundle is planned, so packing the same
    /// entries again gives the same bytes.
    pub created_ns: i64,
    /// An interrupted upload of this bundle may exist (see [`WriteOptions::resume`]).
    pub resume: bool,
    /// The store confirmed the object before the run stopped (see [`WriteOptions::confirmed`]).
    pub confirmed: Option<StoredObject>,
}

/// A bundle written and confirmed by the store.
#[derive(Debug)]
pub struct PackedBundle {
    pub id: Uuid,
    pub key: String,
    pub manifest_key: String,
    pub entries: Vec<PackedEntry>,
    pub object: StoredObject,
    pub blake3: [u8; 32],
}

/// A store's object writer as the sink of a tar writer.
pub struct StoreSink(Box<dyn ObjectWriter>);

impl Write for StoreSink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.0.write_all(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

impl TarSink for StoreSink {
    fn write_chunk(&mut self, chunk: &mut Chunk, length: usize) -> io::Result<()> {
        self.0.write_chunk(chunk, length)
    }
}

/// A bundle whose bytes are all written to the store but not yet confirmed: confirming it
/// (`fsync`, an upload's completion) and storing its manifest copy can overlap with
/// writing the next bundle.
pub struct WrittenBundle {
    written: esker_bundle::WrittenBundle<StoreSink>,
    run_id: i64,
}

/// Writes every byte of `bundle` as object `bundle_key(id)` in `store`; the object is not
/// confirmed until [`WrittenBundle::finish`].
pub fn write_bundle(
    store: &dyn Store,
    id: Uuid,
    bundle: PlannedBundle,
    context: &BundleContext<'_>,
    options: PackOptions,
    scratch: &mut PackScratch,
) -> Result<WrittenBundle, BundleError> {
    let key = store.key(&bundle_key(&id));
    // Data, a header (and maybe a pax header) per member, the manifest, the end marker.
    let size_hint = bundle.data_bytes + bundle.items.len() as u64 * 2048 + (1 << 20);
    let writer = store.create(
        &key,
        WriteOptions { size_hint, run: Some(context.run_id), resume: options.resume, confirmed: options.confirmed },
    )?;
    match esker_bundle::write_bundle(StoreSink(writer), id, bundle, context, options.created_ns, scratch) {
        Ok(written) => Ok(WrittenBundle { written, run_id: context.run_id }),
        Err(WriteFailed { sink, error }) => {
            if let Some(StoreSink(writer)) = sink {
                writer.abort();
            }
            Err(BundleError::from_pack(&key, error))
        }
    }
}

/// Packs `bundle` into `store` and confirms it, with its manifest copy.
pub fn pack_bundle(
    store: &dyn Store,
    id: Uuid,
    bundle: PlannedBundle,
    context: &BundleContext<'_>,
    options: PackOptions,
    scratch: &mut PackScratch,
) -> Result<PackedBundle, BundleError> {
    write_bundle(store, id, bundle, context, options, scratch)?.finish(store, &mut |_| Ok(()))
}

impl WrittenBundle {
    /// Confirms the object with the store, tells `on_confirmed` (which records it, so that a
    /// crash from here on does not upload the bundle again), then stores the manifest copy.
    pub fn finish(
        self,
        store: &dyn Store,
        on_confirmed: &mut dyn FnMut(&StoredObject) -> Result<(), BundleError>,
    ) -> Result<PackedBundle, BundleError> {
        let esker_bundle::WrittenBundle { id, sink: StoreSink(writer), length, blake3, entries, manifest } =
            self.written;
        let object = writer.finish(length)?;
        on_confirmed(&object)?;
        esker_model::failpoint::hit("bundle_confirmed");
        // From here on the bundle is stored: a failure must not leave it behind unrecorded.
        let stored_manifest = match store.put_small(&store.key(&manifest_key(&id)), &manifest, Some(self.run_id)) {
            Ok(stored) => stored,
            Err(error) => {
                if let Err(cleanup) = store.delete(&object.key) {
                    tracing::warn!("bundle {id}: could not remove {} after its manifest failed: {cleanup}", object.key);
                }
                return Err(error.into());
            }
        };
        Ok(PackedBundle { id, key: object.key.clone(), manifest_key: stored_manifest.key, entries, object, blake3 })
    }

    /// Gives up on the bundle, removing what was written.
    pub fn abort(self) {
        self.written.sink.0.abort();
    }

    /// The bundle's id.
    pub fn id(&self) -> Uuid {
        self.written.id
    }
}

#[cfg(test)]
mod tests {
    use std::fs;

    use esker_bundle::tar::{MemberHeader, MemberKind, TarWriter};
    use esker_model::buffers::CHUNK;
    use esker_store::LocalStore;

    use super::*;

    /// Writes members of 3.5 MiB in all into `tar`, data read straight into its chunk.
    fn fill_tar<W: TarSink>(tar: &mut TarWriter<W>) {
        let header = |path: &'static [u8], size: u64| MemberHeader {
            path,
            kind: MemberKind::Regular,
            size,
            mode: 0o644,
            uid: 0,
            gid: 0,
            mtime: 0,
            xattrs: &[],
        };
        tar.append(&header(b"small.txt", 100), &[b's'; 100]).expect("append");
        let size = 2 * CHUNK + CHUNK / 2 + 3;
        tar.begin_member(&header(b"large.bin", size as u64)).expect("begin");
        let mut written = 0;
        while tar.remaining() > 0 {
            let space = tar.data_space().expect("space");
            let take = space.len().min(70_000);
            for (index, byte) in space[..take].iter_mut().enumerate() {
                *byte = ((written + index) % 241) as u8;
            }
            tar.commit_data(take).expect("commit");
            written += take;
        }
        tar.append(&header(b"tail.txt", CHUNK as u64 - 700), &vec![b't'; CHUNK - 700]).expect("append");
    }

    #[test]
    fn a_tar_written_to_the_store_has_the_bytes_and_hash_of_one_written_to_memory() {
        // Chunks that held other bytes, back in the pool for the tar writer and the store.
        let dirty: Vec<Chunk> = (0..8)
            .map(|_| {
                let mut chunk = Chunk::take();
                chunk.fill(0xAA);
                chunk
            })
            .collect();
        drop(dirty);
        let dir = tempfile::tempdir().expect("tempdir");
        let store = LocalStore::new("local", dir.path());
        store.prepare().expect("prepare");
        let writer = store.create("bundles/t.tar", WriteOptions::default()).expect("create");
        let mut stored = TarWriter::new(StoreSink(writer));
        fill_tar(&mut stored);
        let stored = stored.finish().expect("finish");
        stored.inner.0.finish(stored.length).expect("finish object");
        let mut memory = TarWriter::new(Vec::new());
        fill_tar(&mut memory);
        let memory = memory.finish().expect("finish");
        let bytes = fs::read(dir.path().join("bundles/t.tar")).expect("read");
        assert!(bytes == memory.inner, "the stored tar differs from the one written to memory");
        assert_eq!(stored.blake3, memory.blake3);
        assert_eq!(stored.blake3, *blake3::hash(&bytes).as_bytes());
    }
}
