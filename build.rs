//! Links the `esker` executable for a fast start on Linux: position-dependent (non-PIE), with
//! OpenSSL linked in from its static libraries when they are installed, and with GCC's
//! unwinder linked in rather than loaded.
//!
//! `esker find` is a whole process per query, so what the dynamic loader does at every start
//! counts (BENCHMARKS.md, "find start-up"):
//!
//! - A position-independent executable of this size makes the loader apply about 86,000
//!   relative relocations, copying each page of `.data.rel.ro` it touches: 1.5-2 ms of a
//!   6-8 ms `find`. A non-PIE executable has them resolved at link time. The cost is that the
//!   executable's own code and data sit at a fixed address (ASLR still covers the stack, heap
//!   and shared libraries), as Go's linker does by default. `ESKER_PIE=1` at build time keeps
//!   the platform's default (PIE).
//! - OpenSSL serves one purpose in esker: TLS to a PostgreSQL catalog, inside the built-in
//!   libpq. Loading `libssl.so.3` and `libcrypto.so.3` costs every process about 0.8 ms (the
//!   loader relocates their 23,000 entries and binds 4,200 symbols), whatever the command.
//!   Linked from the static archives of the same installed OpenSSL (Debian's `libssl-dev`
//!   ships them), that work is done once, by the linker. The cost: a security update of the
//!   system's OpenSSL reaches esker when esker is built again (cargo relinks it by itself
//!   once the archives change). `ESKER_DYNAMIC_OPENSSL=1` at build time links the shared
//!   libraries instead; without the static archives, esker links them as well.
//! - Rust's standard library names `libgcc_s.so.1` for unwinding panics. Loading it costs
//!   every process its mapping and relocations, and its constructor runs twelve `CPUID`
//!   instructions; where esker runs in a virtual machine, each `CPUID` exits to the
//!   hypervisor, about 10 us apiece on the nested virtual machines the benchmarks ran on.
//!   The same unwinder is linked in from GCC's `libgcc_eh.a` instead, as
//!   `gcc -static-libgcc` does: `esker --version` 1.7 -> 1.5 ms, a selective `find` about
//!   0.4 ms faster. `ESKER_SHARED_LIBGCC=1` at build time keeps the shared library.
//! - A release build lays out first, side by side, the functions that `esker find` and
//!   `esker --version` run (`link/symbol-order.txt`, made by `scripts/symbol-order.sh`,
//!   through lld's `--symbol-ordering-file`). Those 1.5 MB of code would otherwise lie
//!   scattered over 24 MB, and every process faults in each 64 KiB piece it touches: about
//!   90 page faults at start instead of about 25, 0.08 ms of a 1.5 ms `find`. Only where
//!   the linker is lld, Rust's default on x86_64 Linux: not when a linker is configured
//!   (`RUSTC_LINKER`, `-C linker`, `-fuse-ld`), and not with `ESKER_SYMBOL_ORDER=0`.

use std::path::{Path, PathBuf};

fn main() {
    println!("cargo:rerun-if-env-changed=ESKER_PIE");
    println!("cargo:rerun-if-env-changed=ESKER_DYNAMIC_OPENSSL");
    println!("cargo:rerun-if-env-changed=PKG_CONFIG");
    println!("cargo:rerun-if-env-changed=ESKER_SYMBOL_ORDER");
    println!("cargo:rerun-if-env-changed=ESKER_SHARED_LIBGCC");
    println!("cargo::rustc-check-cfg=cfg(esker_wrapped_openssl_cpuid)");
    println!("cargo:rerun-if-changed=build.rs");
    // `embed_migrations!` reads these folders when the crate compiles: a migration added
    // there must make it compile again.
    println!("cargo:rerun-if-changed=migrations");
    let linux_gnu = std::env::var("CARGO_CFG_TARGET_OS").is_ok_and(|os| os == "linux")
        && std::env::var("CARGO_CFG_TARGET_ENV").is_ok_and(|env| env == "gnu");
    if !linux_gnu {
        return;
    }
    if !std::env::var("ESKER_PIE").is_ok_and(|value| value == "1") {
        println!("cargo:rustc-link-arg-bins=-no-pie");
    }
    order_symbols();
    let native = std::env::var("TARGET").ok() == std::env::var("HOST").ok();
    if native
        && !std::env::var("ESKER_DYNAMIC_OPENSSL").is_ok_and(|value| value == "1")
        && let Some(dir) = static_openssl_dir()
    {
        link_openssl_statically(&dir);
    }
    // Native builds only, as for OpenSSL: a cross build's C compiler is not `cc`.
    if native && !std::env::var("ESKER_SHARED_LIBGCC").is_ok_and(|value| value == "1") {
        link_unwinder_statically();
    }
}

/// Links GCC's unwinder (`libgcc_eh.a`, what `gcc -static-libgcc` links) into the
/// executables instead of loading `libgcc_s.so.1`, which Rust's standard library names for
/// unwinding panics. Rust passes `-lgcc_s` itself, so a directory of the build's own holding
/// `libgcc_s.a`, a copy of `libgcc_eh.a`, is searched first: the linker takes the archive
/// from there, and `libgcc_s.so.1` is no longer a dependency.
///
/// The archive is the one of the C compiler Rust links with on Linux, `cc` (or `CC`, whose
/// first word is the compiler). Without it (no GCC, or one that has no `libgcc_eh.a`), the
/// build says so and keeps the shared library.
fn link_unwinder_statically() {
    println!("cargo:rerun-if-env-changed=CC");
    let compiler = std::env::var("CC").unwrap_or_default();
    let mut words = compiler.split_whitespace();
    let program = words.next().unwrap_or("cc");
    let output = std::process::Command::new(program).args(words).arg("-print-file-name=libgcc_eh.a").output();
    let archive = match &output {
        Ok(output) if output.status.success() => PathBuf::from(String::from_utf8_lossy(&output.stdout).trim()),
        _ => PathBuf::new(),
    };
    // GCC prints the bare name back when it has no such file.
    if !archive.is_absolute() || !archive.is_file() {
        println!("cargo:warning=no libgcc_eh.a from `{program} -print-file-name`: esker loads libgcc_s.so.1");
        return;
    }
    let dir = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("unwinder");
    let copy = dir.join("libgcc_s.a");
    // Removed first: copying onto a symbolic link (what an earlier build left there) would
    // write through it, into GCC's own archive.
    let replaced = std::fs::create_dir_all(&dir)
        .and_then(|()| match std::fs::remove_file(&copy) {
            Err(error) if error.kind() != std::io::ErrorKind::NotFound => Err(error),
            _ => Ok(()),
        })
        .and_then(|()| std::fs::copy(&archive, &copy));
    if let Err(error) = replaced {
        println!("cargo:warning=cannot copy {} to {}: {error}", archive.display(), copy.display());
        return;
    }
    println!("cargo:rerun-if-changed={}", archive.display());
    println!("cargo:rustc-link-search=native={}", dir.display());
}

/// The directory of the installed OpenSSL's libraries (as `pkg-config` reports it, the one
/// `openssl-sys` builds against), if it holds both static archives.
fn static_openssl_dir() -> Option<PathBuf> {
    let pkg_config = std::env::var("PKG_CONFIG").unwrap_or_else(|_| "pkg-config".into());
    let output = std::process::Command::new(pkg_config).args(["--variable=libdir", "openssl"]).output().ok()?;
    if !output.status.success() {
        return None;
    }
    let dir = PathBuf::from(String::from_utf8(output.stdout).ok()?.trim());
    ["libssl.a", "libcrypto.a"].iter().all(|name| dir.join(name).is_file()).then_some(dir)
}

/// Links every object of both archives ahead of the Rust crates, so that the built-in libpq
/// finds OpenSSL's symbols defined and the linker (`--as-needed`) leaves the shared
/// libraries that `openssl-sys` also names out of the executable.
fn link_openssl_statically(dir: &Path) {
    for name in ["libssl.a", "libcrypto.a"] {
        println!("cargo:rerun-if-changed={}", dir.join(name).display());
    }
    println!("cargo:rustc-link-search=native={}", dir.display());
    println!("cargo:rustc-link-lib=static:+whole-archive,-bundle=ssl");
    println!("cargo:rustc-link-lib=static:+whole-archive,-bundle=crypto");
    // OpenSSL's CPU detection runs from the `.init` section of every process (four `CPUID`
    // instructions, about 40 us in a nested virtual machine), though only a PostgreSQL
    // catalog's TLS ever uses OpenSSL. Calls to it go through src/main.rs instead, which
    // lets them through once `main` has started: the first use of OpenSSL (its own
    // initialisation calls it) detects the CPU then. Every binary target of this package
    // must define the wrapper (there is one, `esker`), and nothing may use OpenSSL before
    // `main`: its initialisation runs once, and would then leave it on generic code. Only on
    // x86, where OpenSSL calls it from `.init`: elsewhere it registers a constructor in the
    // file that defines it, which `--wrap` cannot reach.
    let x86 = std::env::var("CARGO_CFG_TARGET_ARCH").is_ok_and(|arch| arch == "x86_64" || arch == "x86");
    if x86 {
        println!("cargo:rustc-link-arg-bins=-Wl,--wrap=OPENSSL_cpuid_setup");
        println!("cargo:rustc-cfg=esker_wrapped_openssl_cpuid");
    }
    // The shared libraries `openssl-sys` also names sit on the link line, and the linker
    // exported every OpenSSL function they refer to from the executable (5,885 entries of
    // its dynamic symbol table, which every symbol the loader binds is looked up in first).
    // Nothing outside the executable calls into it.
    println!("cargo:rustc-link-arg-bins=-Wl,--exclude-libs,ALL");
}

/// Passes `link/symbol-order.txt` to the linker of a release build when that linker is
/// Rust's own lld (the file names functions by their mangled names, which differ in debug
/// builds; names that are gone after an upgrade are skipped without a warning).
fn order_symbols() {
    const ORDER: &str = "link/symbol-order.txt";
    println!("cargo:rerun-if-changed={ORDER}");
    let var = |name: &str| std::env::var(name).unwrap_or_default();
    let path = Path::new(&var("CARGO_MANIFEST_DIR")).join(ORDER);
    let flags = var("CARGO_ENCODED_RUSTFLAGS");
    let own_linker = std::env::var_os("RUSTC_LINKER").is_some()
        || ["linker", "fuse-ld", "link-self-contained"].iter().any(|flag| flags.contains(flag));
    if var("TARGET") != "x86_64-unknown-linux-gnu"
        || var("PROFILE") != "release"
        || own_linker
        || var("ESKER_SYMBOL_ORDER") == "0"
        || !path.is_file()
    {
        return;
    }
    println!("cargo:rustc-link-arg-bins=-Wl,--symbol-ordering-file={}", path.display());
    println!("cargo:rustc-link-arg-bins=-Wl,--no-warn-symbol-ordering");
}
