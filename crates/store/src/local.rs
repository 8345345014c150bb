//! Local-directory store: every object is a file, written atomically (temp, fsync, rename).

use std::fs::{self, File};
use std::io::{Read, Seek, SeekFrom, Write};
use std::ops::Range;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use super::api::{
    Capabilities, ObjectChecksum, ObjectInfo, ObjectWriter, RestoreState, RestoreTier, Store, StoredObject,
    UnfinishedUpload, WriteOptions,
};
use super::error::{StoreError, StoreErrorKind};
use esker_model::buffers::Chunk;

/// Bytes written to an object file at a time.
const WRITE_CHUNK: usize = esker_model::buffers::CHUNK;

/// A store in a directory: `bundles/`, `manifests/`, and `tmp/` for unfinished writes.
///
/// With a cold delay it behaves like cold storage: bundles must be restored before they
/// can be read; a restore completes `cold_delay` seconds after it is requested (a marker
/// under `restores/` records the request) and the copy lasts `cold_lifetime` seconds
/// (default: the days asked for). Manifests stay readable.
pub struct LocalStore {
    name: String,
    root: PathBuf,
    cold_delay: Option<u64>,
    cold_lifetime: Option<u64>,
}

impl LocalStore {
    pub fn new(name: &str, root: &Path) -> LocalStore {
        LocalStore { name: name.to_string(), root: root.to_path_buf(), cold_delay: None, cold_lifetime: None }
    }

    /// Simulates cold storage (see the type's documentation).
    pub fn with_cold(mut self, delay: Option<u64>, lifetime: Option<u64>) -> LocalStore {
        self.cold_delay = delay;
        self.cold_lifetime = lifetime;
        self
    }

    fn marker_of(&self, key: &str) -> PathBuf {
        self.root.join("restores").join(key.replace('/', "_"))
    }

    /// Restore state of a bundle under simulated cold storage.
    fn cold_state(&self, key: &str) -> RestoreState {
        let Some(delay) = self.cold_delay else { return RestoreState::Online };
        if !key.starts_with("bundles/") {
            return RestoreState::Online;
        }
        let Ok(text) = fs::read_to_string(self.marker_of(key)) else { return RestoreState::Archived };
        // "requested-at-milliseconds days"
        let mut fields = text.split_whitespace().map(|field| field.parse::<i64>().unwrap_or(0));
        let (requested, days) = (fields.next().unwrap_or(0), fields.next().unwrap_or(1));
        let lifetime = self.cold_lifetime.map(|seconds| seconds as i64).unwrap_or(days * 86_400) * 1000;
        let now = esker_model::time::now_ns() / 1_000_000;
        let ready = requested + delay as i64 * 1000;
        if now < ready {
            RestoreState::Restoring
        } else if now < ready + lifetime {
            RestoreState::Restored { expires: Some(esker_model::time::format_rfc3339((ready + lifetime) / 1000)) }
        } else {
            RestoreState::Archived
        }
    }

    fn path_of(&self, key: &str) -> Result<PathBuf, StoreError> {
        if key.is_empty() || key.starts_with('/') || key.split('/').any(|part| part == ".." || part == ".") {
            return Err(StoreError::new(StoreErrorKind::Other, format!("invalid object key `{key}`")));
        }
        Ok(self.root.join(key))
    }

    fn temp_path_of(&self, key: &str) -> PathBuf {
        self.root.join("tmp").join(format!("{}.part", key.replace('/', "_")))
    }
}

/// Opens a stored object for reading. A FIFO, device or folder in its place is an error
/// naming it: the open does not block, and the kind is checked on the open descriptor.
fn open_object(path: &Path) -> Result<File, StoreError> {
    use std::os::unix::fs::OpenOptionsExt;
    let name = path.display().to_string();
    let file = File::options()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(|error| StoreError::io(&name, error))?;
    let metadata = file.metadata().map_err(|error| StoreError::io(&name, error))?;
    if !metadata.is_file() {
        return Err(not_an_object(path, metadata.file_type()));
    }
    Ok(file)
}

fn not_an_object(path: &Path, file_type: fs::FileType) -> StoreError {
    use std::os::unix::fs::FileTypeExt;
    let kind = if file_type.is_dir() {
        "a folder"
    } else if file_type.is_fifo() {
        "a FIFO"
    } else if file_type.is_block_device() || file_type.is_char_device() {
        "a device"
    } else {
        "not a regular file"
    };
    StoreError::new(StoreErrorKind::Damaged, format!("{}: is {kind}, not a stored object", path.display()))
}

fn sync_dir(path: &Path) -> Result<(), StoreError> {
    File::open(path).and_then(|dir| dir.sync_all()).map_err(|error| StoreError::io(&path.display().to_string(), error))
}

/// An object file written in 1 MiB chunks with `O_DIRECT` where the file system allows it:
/// a bundle is written once and not read again during the run, so its bytes go from
/// esker's buffer to the disk without being copied into the page cache first (that copy
/// and its writeback were the largest single cost of an archive: a quarter of its CPU
/// time on the benchmark machine), and they do not push the files being archived out of
/// the page cache. A direct write returns only once the disk has the data, so a thread of
/// its own writes each full chunk while the caller fills the next one. The
/// last, partial chunk is written through the page cache (O_DIRECT wants whole blocks),
/// and `finish` fsyncs as before. File systems without O_DIRECT (or that refuse a write
/// with EINVAL) get ordinary buffered writes.
struct ChunkedFile {
    buffer: Filled,
    /// Full chunks to the writer thread; `None` once finished or failed.
    chunks: Option<crossbeam_channel::Sender<Filled>>,
    writer: Option<std::thread::JoinHandle<std::io::Result<File>>>,
}

/// A chunk (aligned in memory, from [`crate::buffers`]'s pool, and back to it when dropped)
/// and how many of its bytes are to be written.
struct Filled {
    chunk: Chunk,
    filled: usize,
}

impl Filled {
    fn new() -> Filled {
        Filled { chunk: Chunk::take(), filled: 0 }
    }

    fn data(&self) -> &[u8] {
        &self.chunk[..self.filled]
    }
}

impl ChunkedFile {
    fn create(path: &Path) -> std::io::Result<ChunkedFile> {
        let mut options = fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        let (file, direct) = match options.clone().custom_flags(libc::O_DIRECT).open(path) {
            Ok(file) => (file, true),
            Err(error) if error.raw_os_error() == Some(libc::EINVAL) => (options.open(path)?, false),
            Err(error) => return Err(error),
        };
        let (chunks, full) = crossbeam_channel::bounded::<Filled>(1);
        let writer =
            std::thread::Builder::new().name("local-writer".into()).spawn(move || write_chunks(file, direct, &full))?;
        Ok(ChunkedFile { buffer: Filled::new(), chunks: Some(chunks), writer: Some(writer) })
    }

    /// A tar writer's full chunk goes to the writer thread as it is, with a spare one left
    /// in its place, when no bytes are waiting before it; anything else is copied.
    fn write_chunk(&mut self, chunk: &mut Chunk, length: usize) -> std::io::Result<()> {
        if length == WRITE_CHUNK && self.buffer.filled == 0 {
            let full = std::mem::replace(chunk, Chunk::take());
            return self.send(Filled { chunk: full, filled: length });
        }
        self.write_all(&chunk[..length])
    }

    fn write_all(&mut self, mut data: &[u8]) -> std::io::Result<()> {
        while !data.is_empty() {
            let buffer = &mut self.buffer;
            let count = (WRITE_CHUNK - buffer.filled).min(data.len());
            buffer.chunk[buffer.filled..buffer.filled + count].copy_from_slice(&data[..count]);
            buffer.filled += count;
            data = &data[count..];
            if buffer.filled == WRITE_CHUNK {
                self.hand_over()?;
            }
        }
        Ok(())
    }

    /// Sends the full buffer to the writer thread and takes a free one.
    fn hand_over(&mut self) -> std::io::Result<()> {
        let full = std::mem::replace(&mut self.buffer, Filled::new());
        self.send(full)
    }

    fn send(&mut self, chunk: Filled) -> std::io::Result<()> {
        if self.chunks.as_ref().is_some_and(|chunks| chunks.send(chunk).is_ok()) {
            return Ok(());
        }
        // The writer thread stopped on an error: that error is the answer.
        Err(self.join().err().unwrap_or_else(|| std::io::Error::other("object writer stopped")))
    }

    fn join(&mut self) -> std::io::Result<File> {
        self.chunks = None;
        match self.writer.take() {
            Some(writer) => writer.join().unwrap_or_else(|_| Err(std::io::Error::other("object writer panicked"))),
            None => Err(std::io::Error::other("object writer already closed")),
        }
    }

    /// Writes the rest and returns the file.
    fn into_file(mut self) -> std::io::Result<File> {
        if self.buffer.filled > 0 {
            // The chunk left in its place goes back to the pool with `self`.
            let last = std::mem::replace(&mut self.buffer, Filled::new());
            self.send(last)?;
        }
        self.join()
    }
}

/// The writer thread: writes chunks in order until the sender is dropped (a written chunk
/// goes back to the pool). A partial chunk (the end of the object) goes
/// through the page cache.
fn write_chunks(mut file: File, mut direct: bool, full: &crossbeam_channel::Receiver<Filled>) -> std::io::Result<File> {
    for chunk in full {
        if chunk.filled < WRITE_CHUNK {
            stop_direct(&file, &mut direct)?;
        }
        let mut done = 0;
        while done < chunk.filled {
            match file.write(&chunk.data()[done..]) {
                Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
                Ok(count) => done += count,
                Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
                // Opened with O_DIRECT, but this file system (or a short write before)
                // does not allow it here: go on through the page cache.
                Err(error) if direct && error.raw_os_error() == Some(libc::EINVAL) => stop_direct(&file, &mut direct)?,
                Err(error) => return Err(error),
            }
        }
    }
    Ok(file)
}

fn stop_direct(file: &File, direct: &mut bool) -> std::io::Result<()> {
    if *direct {
        let flags = rustix::fs::fcntl_getfl(file)?;
        rustix::fs::fcntl_setfl(file, flags - rustix::fs::OFlags::DIRECT)?;
        *direct = false;
    }
    Ok(())
}

struct LocalWriter {
    file: Option<ChunkedFile>,
    temp: PathBuf,
    target: PathBuf,
    key: String,
}

impl Write for LocalWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match &mut self.file {
            Some(file) => file.write_all(buf).map(|()| buf.len()),
            None => Err(std::io::Error::other("object writer already closed")),
        }
    }

    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        match &mut self.file {
            Some(file) => file.write_all(buf),
            None => Err(std::io::Error::other("object writer already closed")),
        }
    }

    /// Chunks are written when full and the rest by `finish`: the object is not
    /// complete (nor renamed into place) before that anyway.
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl ObjectWriter for LocalWriter {
    fn write_chunk(&mut self, chunk: &mut Chunk, length: usize) -> std::io::Result<()> {
        match &mut self.file {
            Some(file) => file.write_chunk(chunk, length),
            None => Err(std::io::Error::other("object writer already closed")),
        }
    }

    fn finish(mut self: Box<Self>, expected_size: u64) -> Result<StoredObject, StoreError> {
        let temp_name = self.temp.display().to_string();
        let Some(writer) = self.file.take() else {
            return Err(StoreError::new(StoreErrorKind::Other, format!("{temp_name}: already finished")));
        };
        let file = writer.into_file().map_err(|error| StoreError::io(&temp_name, error))?;
        file.sync_all().map_err(|error| StoreError::io(&temp_name, error))?;
        let size = file.metadata().map_err(|error| StoreError::io(&temp_name, error))?.len();
        drop(file);
        if size != expected_size {
            let _ = fs::remove_file(&self.temp);
            return Err(StoreError::new(
                StoreErrorKind::Io,
                format!("{temp_name}: wrote {size} bytes, expected {expected_size}"),
            ));
        }
        fs::rename(&self.temp, &self.target)
            .map_err(|error| StoreError::io(&self.target.display().to_string(), error))?;
        if let Some(parent) = self.target.parent() {
            sync_dir(parent)?;
        }
        Ok(StoredObject { key: self.key.clone(), size, checksum: None })
    }

    fn abort(mut self: Box<Self>) {
        self.file = None;
        let _ = fs::remove_file(&self.temp);
    }
}

impl Drop for LocalWriter {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            let _ = fs::remove_file(&self.temp);
        }
    }
}

impl Store for LocalStore {
    fn name(&self) -> &str {
        &self.name
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities { checksum: ObjectChecksum::None, resumes_uploads: false, names_objects: false }
    }

    fn location(&self) -> String {
        self.root.display().to_string()
    }

    fn storage_class(&self) -> Option<String> {
        None
    }

    fn prepare(&self) -> Result<(), StoreError> {
        for folder in ["bundles", "manifests", "tmp"] {
            let path = self.root.join(folder);
            fs::create_dir_all(&path).map_err(|error| StoreError::io(&path.display().to_string(), error))?;
        }
        Ok(())
    }

    fn create(&self, key: &str, _options: WriteOptions) -> Result<Box<dyn ObjectWriter>, StoreError> {
        let target = self.path_of(key)?;
        let temp = self.temp_path_of(key);
        let file = ChunkedFile::create(&temp).map_err(|error| StoreError::io(&temp.display().to_string(), error))?;
        Ok(Box::new(LocalWriter { file: Some(file), temp, target, key: key.to_string() }))
    }

    fn put_small(&self, key: &str, bytes: &[u8], _run: Option<i64>) -> Result<StoredObject, StoreError> {
        let mut writer = self.create(key, WriteOptions { size_hint: bytes.len() as u64, ..WriteOptions::default() })?;
        writer.write_all(bytes).map_err(|error| StoreError::io(key, error))?;
        writer.finish(bytes.len() as u64)
    }

    fn head(&self, key: &str) -> Result<Option<ObjectInfo>, StoreError> {
        let path = self.path_of(key)?;
        match fs::metadata(&path) {
            Ok(metadata) if !metadata.is_file() => Err(not_an_object(&path, metadata.file_type())),
            Ok(metadata) => Ok(Some(ObjectInfo {
                key: key.to_string(),
                size: metadata.len(),
                storage_class: None,
                restore: self.cold_state(key),
                checksum: None,
            })),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(StoreError::io(&path.display().to_string(), error)),
        }
    }

    fn get_range(&self, key: &str, range: Range<u64>) -> Result<Vec<u8>, StoreError> {
        let path = self.path_of(key)?;
        if matches!(self.cold_state(key), RestoreState::Archived | RestoreState::Restoring) && path.exists() {
            return Err(StoreError::new(
                StoreErrorKind::NotRestored,
                format!("{key}: not restored (simulated cold storage)"),
            ));
        }
        let name = path.display().to_string();
        let mut file = open_object(&path)?;
        file.seek(SeekFrom::Start(range.start)).map_err(|error| StoreError::io(&name, error))?;
        let mut buffer = Vec::with_capacity(range.end.saturating_sub(range.start) as usize);
        file.take(range.end.saturating_sub(range.start))
            .read_to_end(&mut buffer)
            .map_err(|error| StoreError::io(&name, error))?;
        Ok(buffer)
    }

    fn delete(&self, key: &str) -> Result<(), StoreError> {
        let _ = fs::remove_file(self.marker_of(key));
        let path = self.path_of(key)?;
        match fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(error) => Err(StoreError::io(&path.display().to_string(), error)),
        }
    }

    fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>, StoreError> {
        let mut found = Vec::new();
        for folder in ["bundles", "manifests"] {
            let path = self.root.join(folder);
            let reader = match fs::read_dir(&path) {
                Ok(reader) => reader,
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => continue,
                Err(error) => return Err(StoreError::io(&path.display().to_string(), error)),
            };
            for item in reader {
                let item = item.map_err(|error| StoreError::io(&path.display().to_string(), error))?;
                let key = format!("{folder}/{}", item.file_name().to_string_lossy());
                if key.starts_with(prefix) {
                    let size = item.metadata().map(|metadata| metadata.len()).unwrap_or(0);
                    found.push(ObjectInfo {
                        restore: self.cold_state(&key),
                        key,
                        size,
                        storage_class: None,
                        checksum: None,
                    });
                }
            }
        }
        found.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(found)
    }

    fn discard_unfinished(&self, key: &str) -> Result<(), StoreError> {
        let temp = self.temp_path_of(key);
        match fs::remove_file(&temp) {
            Ok(()) => Ok(()),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(error) => Err(StoreError::io(&temp.display().to_string(), error)),
        }
    }

    fn unfinished_uploads(&self, prefix: &str) -> Result<Vec<UnfinishedUpload>, StoreError> {
        let folder = self.root.join("tmp");
        let reader = match fs::read_dir(&folder) {
            Ok(reader) => reader,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(error) => return Err(StoreError::io(&folder.display().to_string(), error)),
        };
        let mut found = Vec::new();
        for item in reader {
            let item = item.map_err(|error| StoreError::io(&folder.display().to_string(), error))?;
            let name = item.file_name().to_string_lossy().into_owned();
            // Temp names are the key with '/' turned into '_' (see temp_path_of).
            let Some(flat) = name.strip_suffix(".part") else { continue };
            let key = flat.replacen('_', "/", 1);
            if key.starts_with(prefix) {
                found.push(UnfinishedUpload { key, upload_id: name });
            }
        }
        Ok(found)
    }

    fn request_restore(&self, key: &str, days: u32, _tier: RestoreTier) -> Result<RestoreState, StoreError> {
        let Some(info) = self.head(key)? else {
            return Err(StoreError::new(StoreErrorKind::NotFound, format!("{key}: no such object")));
        };
        if info.restore != RestoreState::Archived {
            return Ok(info.restore);
        }
        let marker = self.marker_of(key);
        let folder = self.root.join("restores");
        fs::create_dir_all(&folder).map_err(|error| StoreError::io(&folder.display().to_string(), error))?;
        fs::write(&marker, format!("{} {days}\n", esker_model::time::now_ns() / 1_000_000))
            .map_err(|error| StoreError::io(&marker.display().to_string(), error))?;
        Ok(self.cold_state(key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A prepared store in a new temporary directory.
    fn temp_store() -> (tempfile::TempDir, LocalStore) {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = LocalStore::new("local", dir.path());
        store.prepare().expect("prepare");
        (dir, store)
    }

    #[test]
    fn objects_written_in_chunks_are_byte_exact_whatever_the_write_sizes() {
        let (dir, store) = temp_store();
        // Three whole chunks and a tail, written in pieces that straddle chunk boundaries.
        let bytes: Vec<u8> = (0..3 * WRITE_CHUNK + 12_345).map(|index| (index * 31 % 251) as u8).collect();
        for (key, piece) in [("bundles/a.tar", 4096), ("bundles/b.tar", 4093), ("bundles/c.tar", WRITE_CHUNK + 7)] {
            let mut writer = store.create(key, WriteOptions::default()).expect("create");
            for part in bytes.chunks(piece) {
                writer.write_all(part).expect("write");
            }
            let stored = writer.finish(bytes.len() as u64).expect("finish");
            assert_eq!(stored.size, bytes.len() as u64);
            assert_eq!(fs::read(dir.path().join(key)).expect("read"), bytes, "{key}");
            assert!(!store.temp_path_of(key).exists());
        }
        // An empty object and one smaller than a block.
        for (key, size) in [("manifests/empty", 0), ("manifests/small", 100)] {
            let stored = store.put_small(key, &bytes[..size], None).expect("put");
            assert_eq!(stored.size, size as u64);
            assert_eq!(fs::read(dir.path().join(key)).expect("read"), &bytes[..size]);
        }
    }

    #[test]
    fn whole_chunks_are_taken_as_they_are_and_mixed_writes_keep_their_order() {
        let (dir, store) = temp_store();
        let bytes: Vec<u8> = (0..4 * WRITE_CHUNK + 777).map(|index| (index * 17 % 253) as u8).collect();
        let mut writer = store.create("bundles/mixed.tar", WriteOptions::default()).expect("create");
        let mut chunk = Chunk::take();
        let mut taken = 0;
        let mut at = 0;
        // A whole chunk, a few bytes written, a whole chunk (copied behind them), a partial
        // chunk, a whole chunk (taken again once the copies filled a chunk), the rest.
        for (whole, length) in [
            (true, WRITE_CHUNK),
            (false, 100),
            (true, WRITE_CHUNK),
            (true, WRITE_CHUNK - 100),
            (true, WRITE_CHUNK),
            (false, 777),
        ] {
            if whole {
                chunk[..length].copy_from_slice(&bytes[at..at + length]);
                let before = chunk.as_ptr();
                writer.write_chunk(&mut chunk, length).expect("write chunk");
                taken += usize::from(chunk.as_ptr() != before);
            } else {
                writer.write_all(&bytes[at..at + length]).expect("write");
            }
            at += length;
        }
        assert_eq!(at, bytes.len());
        writer.finish(bytes.len() as u64).expect("finish");
        assert_eq!(fs::read(dir.path().join("bundles/mixed.tar")).expect("read"), bytes);
        assert_eq!(taken, 2, "the first and the last whole chunk go to the disk without a copy");
    }

    #[test]
    fn a_listing_of_simulated_cold_storage_shows_objects_archived_until_restored() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = LocalStore::new("cold", dir.path()).with_cold(Some(3600), None);
        store.prepare().expect("prepare");
        let key = "bundles/cold.tar";
        let mut writer = store.create(key, WriteOptions::default()).expect("create");
        writer.write_all(b"cold bytes").expect("write");
        writer.finish(10).expect("finish");
        let listed = store.list("bundles/").expect("list");
        assert_eq!(
            listed.iter().map(|o| (o.key.as_str(), &o.restore)).collect::<Vec<_>>(),
            [(key, &RestoreState::Archived)]
        );
        assert_eq!(store.head(key).expect("head").map(|o| o.restore), Some(RestoreState::Archived));
        store.request_restore(key, 1, RestoreTier::Bulk).expect("restore");
        assert_eq!(store.list("bundles/").expect("list")[0].restore, RestoreState::Restoring);
    }
}
