//! Opening the on-disk index, writing file documents and searching it.
//!
//! Several processes may use one index directory: at most one holds the writer (tantivy's
//! lock file), readers reload the latest commit before each search. The highest file id a
//! commit covers is stored in that commit's payload, so it is atomic with the data.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use tantivy::collector::Count;
use tantivy::directory::MmapDirectory;
use tantivy::directory::error::LockError;
use tantivy::index::SegmentId;
use tantivy::{Index, IndexReader, ReloadPolicy, TantivyDocument, TantivyError};

use crate::collect::HitCollector;
use crate::error::IndexError;
use crate::folders::{ANCESTORS_TOKENIZER, AncestorTokenizer, FOLDERS_TOKENIZER, FolderTokenizer};
use crate::query::Query;
use crate::schema::Fields;
use crate::shared::{SharedDirectory, follow_umask};
use crate::tokenizer::{TOKENIZER_NAME, analyzer};
use crate::translate::translate;

/// Prefix of the commit payload; the rest is the last file id.
const PAYLOAD_PREFIX: &str = "last_file_id=";
/// Smallest writer memory budget tantivy accepts (per indexing thread).
const MIN_MEMORY_BUDGET: usize = 15_000_000;
/// Largest budget we hand to tantivy (it caps each thread just below 4 GiB).
const MAX_MEMORY_BUDGET: usize = 4_000_000_000;

/// Everything the index knows about one file (one version of it).
#[derive(Clone, Copy, Debug, Default)]
pub struct FileDoc<'a> {
    pub file_id: u64,
    /// Lossy UTF-8 absolute path, `/`-separated.
    pub path: &'a str,
    /// `file`, `symlink`, `dir`, `fifo`, ...
    pub kind: &'a str,
    pub size: u64,
    /// Modification time, unix seconds UTC.
    pub mtime: i64,
    pub tags: &'a [String],
    pub description: &'a str,
    /// `archived`, `skipped`, `changed`, ...
    pub state: &'a str,
    pub run_id: u64,
    /// Bundle uuid text, `""` if none.
    pub bundle: &'a str,
    pub store: &'a str,
    pub host: &'a str,
    /// Owner terms: the name(s) and the uid as text.
    pub owner: &'a [String],
    /// Group terms: the name(s) and the gid as text.
    pub group: &'a [String],
    /// ACL principals: names and keys (`uid:1001`, `sid:S-1-…`, `everyone`).
    pub principals: &'a [String],
    /// Extended attributes: name and, when it is text, the value.
    pub xattrs: &'a [(String, Option<String>)],
}

/// One search result.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Hit {
    pub file_id: u64,
    /// Relevance (higher is better); 0 for pure-filter queries.
    pub score: f32,
}

/// A full-text index of files in one directory.
pub struct FileIndex {
    index: Index,
    /// Opened at the first search: opening it opens every segment, which a caller that only
    /// reads [`last_file_id`](FileIndex::last_file_id) (a catch-up check) does not need.
    reader: OnceLock<IndexReader>,
    fields: Fields,
    dir: PathBuf,
}

/// The single writer of an index; dropping it releases the lock.
pub struct IndexWriter {
    writer: tantivy::IndexWriter<TantivyDocument>,
    fields: Fields,
    dir: PathBuf,
    /// The segments the index held when this writer took the lock.
    before: HashSet<SegmentId>,
}

impl FileIndex {
    /// Opens the index in `dir`, creating the directory and an empty index if missing.
    pub fn open_or_create(dir: &Path) -> Result<FileIndex, IndexError> {
        std::fs::create_dir_all(dir).map_err(|source| IndexError::Io { path: dir.to_owned(), source })?;
        if let Some(index) = Self::open(dir)? {
            return Ok(index);
        }
        let (schema, _) = Fields::schema();
        match Index::create_in_dir(dir, schema) {
            Ok(index) => Self::from_index(index, dir),
            // Another process created it in the meantime.
            Err(TantivyError::IndexAlreadyExists) => {
                Self::open(dir)?.ok_or_else(|| tantivy_error(dir, TantivyError::IndexAlreadyExists))
            }
            Err(error) => Err(tantivy_error(dir, error)),
        }
    }

    /// Opens the index in `dir`; `Ok(None)` when there is none (nothing is created).
    pub fn open(dir: &Path) -> Result<Option<FileIndex>, IndexError> {
        if !dir.is_dir() {
            return Ok(None);
        }
        let directory = MmapDirectory::open(dir).map_err(|error| tantivy_error(dir, error.into()))?;
        let directory = SharedDirectory::new(directory, dir);
        let exists = Index::exists(&directory).map_err(|error| tantivy_error(dir, error.into()))?;
        if !exists {
            return Ok(None);
        }
        let index = Index::open(directory).map_err(|error| tantivy_error(dir, error))?;
        Self::from_index(index, dir).map(Some)
    }

    fn from_index(index: Index, dir: &Path) -> Result<FileIndex, IndexError> {
        let (schema, fields) = Fields::schema();
        if index.schema() != schema {
            return Err(IndexError::SchemaMismatch { path: dir.to_owned() });
        }
        index.tokenizers().register(TOKENIZER_NAME, analyzer());
        index.tokenizers().register(ANCESTORS_TOKENIZER, AncestorTokenizer::default());
        index.tokenizers().register(FOLDERS_TOKENIZER, FolderTokenizer::default());
        Ok(FileIndex { index, reader: OnceLock::new(), fields, dir: dir.to_owned() })
    }

    /// The directory the index lives in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Segments a search opens (each costs a search about 0.14 ms, see
    /// [`IndexWriter::close_merged`]).
    pub fn segment_count(&self) -> Result<usize, IndexError> {
        Ok(self.index.searchable_segment_ids().map_err(|error| tantivy_error(&self.dir, error))?.len())
    }

    /// Highest file id the last commit covers; 0 for a new index.
    ///
    /// Read from the commit's `meta.json` for its payload alone: tantivy's own reading of
    /// that file builds the whole schema again, which `find` already paid for once when it
    /// opened the index (and pays again when it opens the reader).
    pub fn last_file_id(&self) -> Result<u64, IndexError> {
        #[derive(serde::Deserialize)]
        struct Commit {
            payload: Option<String>,
        }
        let path = self.dir.join("meta.json");
        let bytes = std::fs::read(&path).map_err(|source| IndexError::Io { path: path.clone(), source })?;
        let commit: Commit = serde_json::from_slice(&bytes).map_err(|error| IndexError::Io {
            path: path.clone(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidData, error),
        })?;
        let Some(payload) = commit.payload else {
            return Ok(0);
        };
        payload
            .strip_prefix(PAYLOAD_PREFIX)
            .and_then(|id| id.parse().ok())
            .ok_or_else(|| IndexError::BadPayload { path: self.dir.clone(), payload: payload.clone() })
    }

    /// Number of documents in the last commit.
    pub fn num_docs(&self) -> Result<u64, IndexError> {
        Ok(self.searcher()?.num_docs())
    }

    /// Takes the writer lock; [`IndexError::Locked`] if another writer holds it. tantivy
    /// indexes on `threads` threads (at least 1), each with its share of the budget, clamped
    /// to what tantivy accepts (at least 15 MB a thread). Each thread flushes a segment when
    /// its share is full, so fewer threads with the same budget make fewer, larger segments.
    pub fn writer(&self, threads: usize, memory_budget_bytes: usize) -> Result<IndexWriter, IndexError> {
        let threads = threads.clamp(1, 8);
        let budget = memory_budget_bytes.clamp(MIN_MEMORY_BUDGET * threads, MAX_MEMORY_BUDGET);
        let writer = self.index.writer_with_num_threads(threads, budget).map_err(|error| match error {
            TantivyError::LockFailure(LockError::LockBusy, _) => IndexError::Locked { path: self.dir.clone() },
            TantivyError::LockFailure(LockError::IoError(error), _)
                if error.kind() == std::io::ErrorKind::PermissionDenied =>
            {
                IndexError::ReadOnly { path: self.dir.clone() }
            }
            other => tantivy_error(&self.dir, other),
        })?;
        let before = self.index.searchable_segment_ids().map_err(|error| tantivy_error(&self.dir, error))?;
        Ok(IndexWriter { writer, fields: self.fields, dir: self.dir.clone(), before: before.into_iter().collect() })
    }

    /// Hits best first (pure-filter queries: ascending file id); `limit` None = all hits.
    pub fn search(&self, query: &Query, limit: Option<usize>) -> Result<Vec<Hit>, IndexError> {
        let searcher = self.searcher()?;
        let collector = HitCollector { limit, scored: query.is_scored() };
        searcher
            .search(translate(query, &self.fields).as_ref(), &collector)
            .map_err(|error| tantivy_error(&self.dir, error))
    }

    /// Number of documents matching `query`.
    pub fn count(&self, query: &Query) -> Result<usize, IndexError> {
        self.searcher()?
            .search(translate(query, &self.fields).as_ref(), &Count)
            .map_err(|error| tantivy_error(&self.dir, error))
    }

    /// A searcher over the latest commit.
    fn searcher(&self) -> Result<tantivy::Searcher, IndexError> {
        if let Some(reader) = self.reader.get() {
            reader.reload().map_err(|error| tantivy_error(&self.dir, error))?;
            return Ok(reader.searcher());
        }
        // A new reader holds the latest commit already.
        let reader: IndexReader = self
            .index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .map_err(|error| tantivy_error(&self.dir, error))?;
        let searcher = reader.searcher();
        // Another thread may have set one meanwhile; either reader is as good.
        let _ = self.reader.set(reader);
        Ok(searcher)
    }
}

impl IndexWriter {
    /// Queues one file's document; visible to searches after [`IndexWriter::commit`].
    pub fn add(&mut self, doc: &FileDoc<'_>) -> Result<(), IndexError> {
        self.writer.add_document(self.fields.document(doc)).map_err(|error| tantivy_error(&self.dir, error))?;
        Ok(())
    }

    /// Replaces the document of `doc.file_id` (takes effect at the next commit).
    pub fn replace(&mut self, doc: &FileDoc<'_>) -> Result<(), IndexError> {
        self.writer.delete_term(tantivy::Term::from_field_u64(self.fields.file_id, doc.file_id));
        self.add(doc)
    }

    /// Deletes every document (takes effect at the next commit).
    pub fn delete_all(&mut self) -> Result<(), IndexError> {
        self.writer.delete_all_documents().map_err(|error| tantivy_error(&self.dir, error))?;
        Ok(())
    }

    /// Commits everything added so far, recording `last_file_id` in the commit payload.
    pub fn commit(&mut self, last_file_id: u64) -> Result<(), IndexError> {
        let mut prepared = self.writer.prepare_commit().map_err(|error| tantivy_error(&self.dir, error))?;
        prepared.set_payload(&format!("{PAYLOAD_PREFIX}{last_file_id}"));
        prepared.commit().map_err(|error| tantivy_error(&self.dir, error))?;
        follow_umask(&self.dir)
    }

    /// Waits for background segment merges, then releases the lock. Dropping the writer
    /// instead is safe but abandons the merges under way: their work is lost, and the index
    /// keeps more segments until a later writer merges them.
    pub fn close(self) -> Result<(), IndexError> {
        self.writer.wait_merging_threads().map_err(|error| tantivy_error(&self.dir, error))?;
        follow_umask(&self.dir)
    }

    /// [`close`](Self::close), then, when this writer made [`CONSOLIDATE_AT`] segments or
    /// more, merges them into one.
    ///
    /// A search opens every segment (six files, each opened and mapped), about 0.07-0.14 ms
    /// of a whole `esker find` per segment here, where the whole takes 1.5-4 ms. A writer that
    /// indexed much at once (a rebuild, a catch-up after an import) leaves one segment per
    /// memory budget it filled, nine or ten for a million files; merged, they cost a find one
    /// segment's opening. The merge rewrites what the writer added, about 2-3 s per million
    /// documents, once, and maps the segments it reads (counted as resident memory while it
    /// runs), so `esker archive`, whose memory must not grow with the tree, closes without it.
    pub fn close_merged(self) -> Result<(), IndexError> {
        let IndexWriter { writer, dir, before, .. } = self;
        let index = writer.index().clone();
        writer.wait_merging_threads().map_err(|error| tantivy_error(&dir, error))?;
        let made = || -> Result<Vec<SegmentId>, IndexError> {
            let ids = index.searchable_segment_ids().map_err(|error| tantivy_error(&dir, error))?;
            Ok(ids.into_iter().filter(|id| !before.contains(id)).collect())
        };
        follow_umask(&dir)?;
        if made()?.len() < CONSOLIDATE_AT {
            return Ok(());
        }
        // A writer of its own, now that nothing else merges: the lock was released above,
        // and if another process took it meanwhile, its own writer merges later.
        let mut merger: tantivy::IndexWriter<TantivyDocument> =
            match index.writer_with_num_threads(1, MIN_MEMORY_BUDGET) {
                Ok(merger) => merger,
                Err(TantivyError::LockFailure(LockError::LockBusy, _)) => return Ok(()),
                Err(error) => return Err(tantivy_error(&dir, error)),
            };
        // Listed again under the lock: another writer may have merged some of them away
        // between the release above and this writer.
        let made = made()?;
        if made.len() < CONSOLIDATE_AT {
            return Ok(());
        }
        merger.set_merge_policy(Box::new(tantivy::indexer::NoMergePolicy));
        merger.merge(&made).wait().map_err(|error| tantivy_error(&dir, error))?;
        merger.wait_merging_threads().map_err(|error| tantivy_error(&dir, error))?;
        follow_umask(&dir)
    }
}

/// A writer closed with [`IndexWriter::close_merged`] that made this many segments or more
/// merges them into one. A catch-up indexes on one thread per CPU and each thread ends its
/// own segment, so two are the usual outcome even of a small catch-up (cheap to merge) and
/// of a rebuild; one segment is what every later query reads fastest.
pub const CONSOLIDATE_AT: usize = 2;

fn tantivy_error(dir: &Path, source: TantivyError) -> IndexError {
    match source {
        TantivyError::OpenReadError(tantivy::directory::error::OpenReadError::IoError {
            ref io_error,
            ref filepath,
        }) if io_error.kind() == std::io::ErrorKind::PermissionDenied => {
            IndexError::Io { path: dir.join(filepath), source: std::io::Error::from(io_error.kind()) }
        }
        TantivyError::DataCorruption(_) | TantivyError::OpenReadError(_) => {
            IndexError::Damaged { path: dir.to_owned(), message: source.to_string() }
        }
        source => IndexError::Tantivy { path: dir.to_owned(), source },
    }
}
