//! The `esker` binary: all logic lives in the library.

fn main() -> std::process::ExitCode {
    tune_malloc();
    esker::cli::main()
}

/// Keeps glibc malloc from holding on to memory that a long run has freed: at most one
/// arena per CPU (glibc's default is eight per CPU, and each of esker's threads that
/// allocates a lot keeps its own arena's high-water mark), and a fixed mmap threshold of
/// 256 KiB, so large buffers (tantivy's 1 MiB arena pages, bundle buffers, merge buffers)
/// are mapped on their own and returned to the system when freed, instead of the dynamic
/// threshold moving up and leaving them fragmented in an arena. With glibc's defaults,
/// peak RSS grew from 126 MiB for 200,000 files to 227 MiB for 1,000,000; with these, from
/// 104 to 142 MiB (BENCHMARKS.md, "Memory").
#[allow(unsafe_code)] // the one reviewed exception to the crate-wide `deny(unsafe_code)`
fn tune_malloc() {
    let arenas = esker::config::default_jobs().min(64) as libc::c_int;
    // SAFETY: mallopt only changes allocator parameters; called before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, arenas);
        libc::mallopt(libc::M_MMAP_THRESHOLD, 256 * 1024);
    }
}
