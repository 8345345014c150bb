//! Knowing, without opening a SQLite catalog, that the index holds every row it has: a
//! fingerprint of the catalog's files, saved beside the index when a catch-up check found
//! the index complete.
//!
//! `esker find` opens the catalog for two things: to check that the index is not behind it,
//! and to read the rows of the matches. A query that matches nothing needs only the first,
//! and opening SQLite (the file, its write-ahead log, the schema) is the longest step of
//! such a process. So when a check finds the index complete, `find` saves what the
//! catalog's files looked like then; a later `find` whose catalog files look the same needs
//! no check.
//!
//! The fingerprint is the identity, size and modification time of the database file and of its
//! write-ahead log, and the log's 32-byte header. esker keeps every SQLite catalog in WAL
//! mode, so every commit, by any process, reaches the log first: it appends frames (the log
//! grows) or, after a checkpoint, starts the log over, which writes a new header (SQLite
//! changes the checkpoint counter and the salts at every restart). Neither leaves the
//! fingerprint as it was, whatever the clock's resolution. A catalog whose log is missing
//! (the last writer closed it, or another journal mode) has no fingerprint: `find` then
//! opens it as before.
//!
//! A stamp taken while the log was empty also says that the database file alone holds every
//! commit: `find` then reads the rows of its matches from that file as an immutable snapshot
//! ([`crate::catalog::Catalog::open_snapshot`]), and trusts them only if the stamp still
//! holds after the reads ([`Stamp::still_holds`]).

use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The stamp's file, inside the index directory (tantivy leaves files it did not write
/// alone, and a rebuild that removes the directory removes the stamp with it).
const STAMP_FILE: &str = "catalog-stamp.json";

/// One file's identity, size and modification time. Not its change time: SQLite running as
/// root gives the log its database's owner at every open (`fchown`), which sets it anew.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct FileState {
    dev: u64,
    ino: u64,
    size: u64,
    mtime_ns: i128,
}

impl FileState {
    fn of(metadata: &std::fs::Metadata) -> FileState {
        FileState {
            dev: metadata.dev(),
            ino: metadata.ino(),
            size: metadata.size(),
            mtime_ns: i128::from(metadata.mtime()) * 1_000_000_000 + i128::from(metadata.mtime_nsec()),
        }
    }
}

/// What a SQLite catalog's files look like at one moment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fingerprint {
    database: FileState,
    log: FileState,
    /// The log's header (empty while the log is).
    log_header: String,
}

impl Fingerprint {
    /// The fingerprint of the catalog at `database` now; None when its write-ahead log is
    /// missing or either file cannot be read.
    pub fn take(database: &Path) -> Option<Fingerprint> {
        let database_state = FileState::of(&std::fs::metadata(database).ok()?);
        let mut log_path = database.as_os_str().to_owned();
        log_path.push("-wal");
        let mut log = std::fs::File::open(&log_path).ok()?;
        let log_state = FileState::of(&log.metadata().ok()?);
        let mut header = Vec::with_capacity(32);
        log.by_ref().take(32).read_to_end(&mut header).ok()?;
        Some(Fingerprint { database: database_state, log: log_state, log_header: hex::encode(header) })
    }
}

/// What the stamp file holds: which catalog, at which schema, looked like what when the
/// index was found to hold every row up to `sequence`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stamp {
    catalog: PathBuf,
    /// The newest migration the catalog had (this build's newest: it migrates on open).
    schema: String,
    /// The index's last commit number ([`esker_index::FileIndex::last_file_id`]).
    sequence: i64,
    fingerprint: Fingerprint,
}

impl Stamp {
    pub fn new(catalog: &Path, sequence: i64, fingerprint: Fingerprint) -> Option<Stamp> {
        let schema = crate::catalog::newest_sqlite_migration()?;
        Some(Stamp { catalog: catalog.to_owned(), schema, sequence, fingerprint })
    }

    /// Saves the stamp beside the index (written to a temporary file and renamed, so a
    /// reader never sees half of it). A home that cannot be written keeps no stamp; `find`
    /// then opens the catalog every time, as it would without one.
    pub fn save(&self, index_dir: &Path) {
        let path = index_dir.join(STAMP_FILE);
        let temporary = index_dir.join(format!(".{STAMP_FILE}.{}", std::process::id()));
        let written = serde_json::to_vec(self)
            .map_err(std::io::Error::other)
            .and_then(|bytes| std::fs::write(&temporary, bytes))
            .and_then(|()| std::fs::rename(&temporary, &path));
        if let Err(error) = written {
            let _ = std::fs::remove_file(&temporary);
            tracing::debug!("could not save {}: {error}", path.display());
        }
    }

    /// The stamp beside the index when it is for the catalog at `catalog` as its files are
    /// now. Its [`Stamp::sequence`] is the index commit number it vouches for: an index whose
    /// last commit has that number holds every row of the catalog.
    pub fn holding(index_dir: &Path, catalog: &Path) -> Option<Stamp> {
        let bytes = std::fs::read(index_dir.join(STAMP_FILE)).ok()?;
        let stamp = serde_json::from_slice::<Stamp>(&bytes).ok()?;
        let holds = stamp.catalog == catalog
            && Some(&stamp.schema) == crate::catalog::newest_sqlite_migration().as_ref()
            && stamp.still_holds();
        holds.then_some(stamp)
    }

    pub fn sequence(&self) -> i64 {
        self.sequence
    }

    /// Whether the catalog's write-ahead log was empty: the database file alone held every
    /// commit.
    pub fn log_is_empty(&self) -> bool {
        self.fingerprint.log.size == 0
    }

    /// Whether the catalog's files still look as they did: nothing has been committed or
    /// checkpointed since.
    pub fn still_holds(&self) -> bool {
        Fingerprint::take(&self.catalog).as_ref() == Some(&self.fingerprint)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{Catalog, CatalogLocation, NewRun};

    fn run() -> NewRun<'static> {
        NewRun::for_tests()
    }

    struct Fixture {
        dir: tempfile::TempDir,
        database: PathBuf,
        index: PathBuf,
    }

    impl Fixture {
        fn new() -> Fixture {
            let dir = tempfile::tempdir().expect("tempdir");
            let database = dir.path().join("catalog.db");
            let index = dir.path().join("index");
            std::fs::create_dir(&index).expect("mkdir index");
            Fixture { dir, database, index }
        }

        fn location(&self) -> CatalogLocation {
            CatalogLocation::Sqlite(self.database.clone())
        }

        /// A fixture whose catalog holds one run, stamped for an index at `sequence`, and
        /// the catalog's writer (still open, so the log stays).
        fn stamped(sequence: i64) -> (Fixture, Catalog) {
            let fixture = Fixture::new();
            let mut writer = Catalog::open(&fixture.location()).expect("create");
            writer.create_run(&run()).expect("write");
            fixture.stamp(sequence);
            (fixture, writer)
        }

        /// Stamps the catalog as it is now, for an index at `sequence`.
        fn stamp(&self, sequence: i64) {
            let fingerprint = Fingerprint::take(&self.database).expect("fingerprint");
            Stamp::new(&self.database, sequence, fingerprint).expect("stamp").save(&self.index);
        }
    }

    /// The index commit number the fixture's stamp vouches for, if it holds.
    fn held(fixture: &Fixture) -> Option<i64> {
        Stamp::holding(&fixture.index, &fixture.database).map(|stamp| stamp.sequence())
    }

    #[test]
    fn a_stamp_holds_until_the_catalog_is_written() {
        let (fixture, mut writer) = Fixture::stamped(7);
        assert_eq!(held(&fixture), Some(7));
        // Readers change nothing.
        let mut reader = Catalog::open_existing(&fixture.location()).expect("open").expect("exists");
        assert_eq!(reader.list_runs().expect("runs").len(), 1);
        assert_eq!(held(&fixture), Some(7));
        // Another catalog path: not this stamp's.
        assert_eq!(
            Stamp::holding(&fixture.index, &fixture.dir.path().join("other.db")).map(|stamp| stamp.sequence()),
            None
        );
        // Any commit, in the same second or not, ends it.
        writer.create_run(&run()).expect("write");
        assert_eq!(held(&fixture), None);
    }

    #[test]
    fn a_log_started_over_ends_a_stamp_even_at_its_old_size() {
        let (fixture, mut writer) = Fixture::stamped(1);
        let before = Fingerprint::take(&fixture.database).expect("fingerprint");
        // Checkpoint everything, so that the next commit writes the log again from its
        // start: the log keeps its size.
        use diesel::connection::{Connection, SimpleConnection};
        let mut other =
            diesel::sqlite::SqliteConnection::establish(fixture.database.to_str().expect("utf-8")).expect("connect");
        other.batch_execute("PRAGMA wal_checkpoint(RESTART);").expect("checkpoint");
        writer.create_run(&run()).expect("write");
        let after = Fingerprint::take(&fixture.database).expect("fingerprint");
        assert_eq!(before.log.size, after.log.size, "the log was written over, not grown");
        assert_ne!(before.log_header, after.log_header, "a new header");
        assert_eq!(held(&fixture), None);
    }

    #[test]
    fn no_log_no_stamp() {
        let (fixture, writer) = Fixture::stamped(1);
        // The last connection closes: SQLite checkpoints and removes the log.
        drop(writer);
        assert!(Fingerprint::take(&fixture.database).is_none());
        assert_eq!(held(&fixture), None);
        // An unreadable or foreign stamp file is no stamp either.
        std::fs::write(fixture.index.join(STAMP_FILE), b"{").expect("write");
        assert_eq!(held(&fixture), None);
    }
}
