//! Links the `esker` executable for a fast start on Linux: position-dependent (non-PIE), and
//! with OpenSSL linked in from its static libraries when they are installed.
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
