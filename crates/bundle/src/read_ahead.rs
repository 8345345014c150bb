//! Opening the files of a bundle ahead of their turn, with read-ahead hints where they help.

use std::fs::File;
use std::io::{self, Read};
use std::num::NonZeroU64;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;

use esker_model::FileKind;

use super::pack::entry_path;
use super::plan::PlanItem;

/// Whether the packer asks the kernel to start reading the files it opens ahead
/// (`posix_fadvise(WILLNEED)`). On a cold cache the hint lets the disk work while earlier
/// files are hashed; on files already in the page cache it finds nothing to do and costs a
/// system call per file.
///
/// A file opened without a hint is a probe: its first read is tried with `RWF_NOWAIT`, which
/// fails with `EAGAIN` instead of waiting when the data is not in the page cache. (A hinted
/// file tells nothing: its hint may have brought the data in.) While the hints are on, one
/// file in [`PROBE_EVERY`] goes without one, as a probe; [`PROBE_HITS`] probes in a row that
/// find their data cached turn the hints off, and then every file is a probe, and a single
/// miss turns them on again. On a cold tree that costs the hint of one file in
/// [`PROBE_EVERY`]. Where `RWF_NOWAIT` is refused (tmpfs, for one), every file gets its
/// hint.
#[derive(Debug, Default)]
pub(crate) struct ReadAhead {
    /// The hints are off: the last probes found their files cached.
    off: bool,
    /// Probes in a row that found their file cached while the hints were on.
    hits: u32,
    /// Files hinted since the last probe.
    since_probe: u32,
    /// `RWF_NOWAIT` was refused: no probes, every file hinted.
    no_probe: bool,
}

/// While the hints are on, one file in this many is opened without one, as a probe.
const PROBE_EVERY: u32 = 32;
/// Probes in a row that find their file cached before the hints go off.
const PROBE_HITS: u32 = 2;

/// A file opened ahead of its turn.
pub(crate) struct Opened {
    pub(crate) file: io::Result<File>,
    /// It was given a read-ahead hint (and is no probe).
    pub(crate) hinted: bool,
}

impl ReadAhead {
    /// Whether the next file opened ahead gets a hint.
    fn hint_next(&mut self) -> bool {
        if self.no_probe {
            return true;
        }
        if self.off {
            return false;
        }
        self.since_probe += 1;
        if self.since_probe < PROBE_EVERY {
            return true;
        }
        self.since_probe = 0;
        false
    }

    /// What a probe found.
    fn cached(&mut self, hit: bool) {
        if !hit {
            (self.off, self.hits) = (false, 0);
        } else if !self.off {
            self.hits += 1;
            if self.hits >= PROBE_HITS {
                (self.off, self.hits) = (true, 0);
            }
        }
    }

    /// The first read of an opened file: with `RWF_NOWAIT` when it was given no hint, a
    /// plain read otherwise and whenever the probe gave no data.
    pub(crate) fn first_read(&mut self, file: &mut File, space: &mut [u8], hinted: bool) -> io::Result<usize> {
        if !hinted && !self.no_probe {
            let flags = rustix::io::ReadWriteFlags::NOWAIT;
            // `u64::MAX`: read at the file's position, and move it, as `read` does.
            match rustix::io::preadv2(&*file, &mut [io::IoSliceMut::new(space)], u64::MAX, flags) {
                Ok(read) if read > 0 => {
                    self.cached(true);
                    return Ok(read);
                }
                // Linux 5.9 and 5.10 can answer 0 for data that is not cached instead of
                // EAGAIN (preadv2(2), BUGS): only a plain read can say the file ended.
                Ok(_) => {}
                Err(rustix::io::Errno::AGAIN) => self.cached(false),
                Err(rustix::io::Errno::OPNOTSUPP | rustix::io::Errno::NOSYS | rustix::io::Errno::INVAL) => {
                    self.no_probe = true;
                }
                // EINTR, EIO, ...: the plain read retries it or reports it.
                Err(_) => {}
            }
        }
        file.read(space)
    }
}

/// Files of a bundle opened ahead of the one being packed, with a read-ahead hint while
/// [`ReadAhead`] gives them.
pub(crate) const OPEN_AHEAD: usize = 16;
/// How much of each file opened ahead the kernel is asked to read early (it reads on by
/// itself once reading starts).
const AHEAD_BYTES: u64 = 1 << 20;

/// Opens the file of an upcoming item and, unless `read_ahead` says no, asks the kernel to
/// start reading its first [`AHEAD_BYTES`], so the disk works while earlier files are hashed
/// and written. `None` for entries with nothing to read.
pub(crate) fn open_ahead(item: &PlanItem, read_ahead: &mut ReadAhead) -> Option<Opened> {
    let stat = &item.entry.stat;
    if stat.kind != FileKind::File || stat.size == 0 {
        return None;
    }
    let path = entry_path(item);
    let file = open_for_reading(std::path::Path::new(std::ffi::OsStr::from_bytes(&path)));
    let hinted = file.is_ok() && read_ahead.hint_next();
    if let (Ok(file), true) = (&file, hinted) {
        // Only a hint: a failure changes nothing but the speed.
        let _ = rustix::fs::fadvise(file, 0, NonZeroU64::new(stat.size.min(AHEAD_BYTES)), rustix::fs::Advice::WillNeed);
    }
    Some(Opened { file, hinted })
}

pub(crate) fn open_for_reading(path: &std::path::Path) -> io::Result<File> {
    let open = |flags| std::fs::OpenOptions::new().read(true).custom_flags(flags).open(path);
    // O_NOATIME keeps access times intact (they drive --atime-older); it needs ownership or
    // CAP_FOWNER, so fall back to a plain open.
    // O_NONBLOCK: a FIFO swapped in after the crawl opens at once (and is refused as not a
    // regular file) instead of blocking; it changes nothing for regular files.
    match open(libc::O_NOFOLLOW | libc::O_NOATIME | libc::O_NONBLOCK) {
        Err(error) if error.raw_os_error() == Some(libc::EPERM) => open(libc::O_NOFOLLOW | libc::O_NONBLOCK),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_ahead_hints_leave_out_probes_go_off_after_cached_probes_and_on_after_a_miss() {
        let mut read_ahead = ReadAhead::default();
        // On: one file in PROBE_EVERY goes without a hint.
        let hints: Vec<bool> = (0..PROBE_EVERY * 3).map(|_| read_ahead.hint_next()).collect();
        assert_eq!(hints.iter().filter(|hinted| !**hinted).count(), 3);
        for _ in 1..PROBE_HITS {
            read_ahead.cached(true);
        }
        assert!(!read_ahead.off, "one probe short of PROBE_HITS");
        read_ahead.cached(false);
        for _ in 1..PROBE_HITS {
            read_ahead.cached(true);
        }
        assert!(!read_ahead.off, "a miss starts the count again");
        read_ahead.cached(true);
        // Off: no file gets a hint, and one miss turns them back on.
        assert!((0..PROBE_EVERY * 3).all(|_| !read_ahead.hint_next()));
        read_ahead.cached(true);
        assert!(read_ahead.off);
        read_ahead.cached(false);
        assert!(read_ahead.hint_next());
        // Where RWF_NOWAIT is refused, every file gets its hint.
        let mut refused = ReadAhead { no_probe: true, off: true, ..ReadAhead::default() };
        assert!((0..PROBE_EVERY * 3).all(|_| refused.hint_next()));
    }

    #[test]
    fn first_reads_probe_the_page_cache_and_read_the_data_either_way() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut read_ahead = ReadAhead::default();
        let mut space = vec![0u8; 1 << 16];
        // An empty file: the probe's 0 is no answer (Linux 5.9 and 5.10 also answer 0 for
        // uncached data); the plain read after it says the file ended.
        let empty = dir.path().join("empty");
        std::fs::write(&empty, b"").expect("write");
        assert_eq!(read_ahead.first_read(&mut File::open(&empty).expect("open"), &mut space, false).expect("read"), 0);
        assert_eq!(read_ahead.hits, 0);

        // Files just written are in the page cache: RWF_NOWAIT reads them.
        for index in 0..PROBE_HITS {
            let path = dir.path().join(format!("warm-{index}"));
            std::fs::write(&path, b"cached").expect("write");
            let mut file = File::open(&path).expect("open");
            assert_eq!(read_ahead.first_read(&mut file, &mut space, false).expect("read"), 6);
            assert_eq!(&space[..6], b"cached");
            // The position moved as with `read`: what follows is the end of the file.
            assert_eq!(file.read(&mut space).expect("read"), 0);
        }
        if read_ahead.no_probe {
            // This filesystem refuses RWF_NOWAIT (tmpfs): every file keeps its hint.
            assert!(read_ahead.hint_next());
            eprintln!("RWF_NOWAIT refused under {}: only that case was checked", dir.path().display());
            return;
        }
        assert!(read_ahead.off, "{read_ahead:?}");

        // A file whose pages were dropped from the page cache: its first read misses, the
        // data is still read, and the hints are back on.
        let path = dir.path().join("cold");
        std::fs::write(&path, vec![7u8; 1 << 16]).expect("write");
        let mut file = File::open(&path).expect("open");
        file.sync_all().expect("fsync");
        rustix::fs::fadvise(&file, 0, None, rustix::fs::Advice::DontNeed).expect("fadvise");
        let flags = rustix::io::ReadWriteFlags::NOWAIT;
        let evicted = rustix::io::preadv2(&file, &mut [io::IoSliceMut::new(&mut space[..1])], 0, flags)
            == Err(rustix::io::Errno::AGAIN);
        let read = read_ahead.first_read(&mut file, &mut space, false).expect("read");
        assert!(read > 0 && space[..read].iter().all(|&byte| byte == 7), "read {read}");
        if evicted {
            assert!(!read_ahead.off, "{read_ahead:?}");
            assert!(read_ahead.hint_next());
        } else {
            eprintln!("DONTNEED kept the pages under {}: the miss was not checked", dir.path().display());
        }
    }
}
