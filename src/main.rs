//! The `esker` binary: all logic lives in the library.
#![no_main]

/// The process entry, called by the C runtime with esker's own start instead of Rust's
/// (`lang_start`). `esker find` is a whole process per query, and `lang_start` costs every
/// process about 0.1 ms before esker's first line: it reads and parses /proc/self/maps to
/// find the main thread's stack guard, for a handler that only prints "stack overflow"
/// before the crash. What of it esker relies on is done here: SIGPIPE is ignored (a closed
/// pipe is a write error, which esker turns into a quiet exit), stdout is flushed, and a
/// panic exits with 101.
#[unsafe(no_mangle)]
#[allow(unsafe_code)] // reviewed: the C entry point, and one libc call before anything runs
extern "C" fn main(_argc: libc::c_int, _argv: *const *const libc::c_char) -> libc::c_int {
    // SAFETY: setting a signal's disposition before any other thread exists.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
    #[cfg(esker_wrapped_openssl_cpuid)]
    openssl_cpuid::MAIN_STARTED.store(true, std::sync::atomic::Ordering::Relaxed);
    tune_malloc();
    let code = std::panic::catch_unwind(esker::cli::main).unwrap_or(101);
    let _ = std::io::Write::flush(&mut std::io::stdout());
    code.into()
}

/// Keeps glibc malloc from holding on to memory that a long run has freed: at most four
/// arenas per CPU (glibc's default is eight per CPU, and each of esker's threads that
/// allocates a lot keeps its own arena's high-water mark), and a fixed mmap threshold of
/// 256 KiB, so large buffers (tantivy's 1 MiB arena pages, bundle buffers, merge buffers)
/// are mapped on their own and returned to the system when freed, instead of the dynamic
/// threshold moving up and leaving them fragmented in an arena. With glibc's defaults,
/// peak RSS grew from 126 MiB for 200,000 files to 227 MiB for 1,000,000; with these, from
/// 104 to 142 MiB (BENCHMARKS.md, "Memory"). One arena per CPU was too few: an archive's
/// ten threads then wait for each other's arena locks (the catalog thread spent 11 % of
/// its time waking waiters), and an archive of a million files took 25.3 s instead of 23.0
/// s, for the same peak memory.
///
/// The arena cap counts the CPUs this process may run on (its affinity mask, one system
/// call), not `default_jobs`, which also reads cgroup files: this runs at every start.
#[allow(unsafe_code)] // reviewed: libc calls before anything runs
fn tune_malloc() {
    // SAFETY: `set` is a plain bit set that sched_getaffinity fills in; mallopt only
    // changes allocator parameters; both run before any other thread exists.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        let cpus = match libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) {
            0 => libc::CPU_COUNT(&set).max(1),
            _ => 2,
        };
        let arenas = (cpus * 4).min(64);
        libc::mallopt(libc::M_ARENA_MAX, arenas);
        libc::mallopt(libc::M_MMAP_THRESHOLD, 256 * 1024);
    }
}

/// OpenSSL's CPU detection, deferred from the start of every process to OpenSSL's first use.
///
/// With OpenSSL linked in statically, its `.init` section calls `OPENSSL_cpuid_setup` in
/// every process before `main`, four `CPUID` instructions that each exit to the hypervisor
/// in a virtual machine (about 40 us of a 3 ms `find` on the benchmark machines), though
/// only TLS to a PostgreSQL catalog uses OpenSSL. build.rs links the executable with
/// `--wrap=OPENSSL_cpuid_setup`, so those calls come here: the one before `main` is
/// skipped, and later ones, from OpenSSL's own initialisation at its first use, detect the
/// CPU as before. Were it never to run, OpenSSL would still work, on its generic code.
#[cfg(esker_wrapped_openssl_cpuid)]
mod openssl_cpuid {
    use std::sync::atomic::{AtomicBool, Ordering};

    pub static MAIN_STARTED: AtomicBool = AtomicBool::new(false);

    #[allow(unsafe_code)] // reviewed: declares OpenSSL's own function, renamed by the linker
    unsafe extern "C" {
        fn __real_OPENSSL_cpuid_setup();
    }

    #[unsafe(no_mangle)]
    #[allow(unsafe_code)] // reviewed: called by OpenSSL in place of its own function
    extern "C" fn __wrap_OPENSSL_cpuid_setup() {
        if MAIN_STARTED.load(Ordering::Relaxed) {
            // SAFETY: OpenSSL's function, which takes no arguments and guards itself
            // against running twice.
            unsafe { __real_OPENSSL_cpuid_setup() }
        }
    }
}
