//! Links the `esker` executable as position-dependent (non-PIE) on Linux.
//!
//! `esker find` is a whole process per query, and a position-independent executable of this
//! size makes the dynamic loader apply about 86,000 relative relocations at every start,
//! copying each page of `.data.rel.ro` it touches: 1.5-2 ms of a 6-8 ms `find`
//! (BENCHMARKS.md, "find start-up"). A non-PIE executable has them resolved at link time.
//! The cost is that the executable's own code and data sit at a fixed address (ASLR still
//! covers the stack, heap and shared libraries), as Go's linker does by default.
//! `ESKER_PIE=1` at build time keeps the platform's default (PIE).

fn main() {
    println!("cargo:rerun-if-env-changed=ESKER_PIE");
    println!("cargo:rerun-if-changed=build.rs");
    let linux_gnu = std::env::var("CARGO_CFG_TARGET_OS").is_ok_and(|os| os == "linux")
        && std::env::var("CARGO_CFG_TARGET_ENV").is_ok_and(|env| env == "gnu");
    let keep_pie = std::env::var("ESKER_PIE").is_ok_and(|value| value == "1");
    if linux_gnu && !keep_pie {
        println!("cargo:rustc-link-arg-bins=-no-pie");
    }
}
