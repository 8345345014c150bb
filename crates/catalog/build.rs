//! Rebuilds the crate when a migration changes: `embed_migrations!` reads `migrations/` at
//! compile time, and cargo does not know that by itself.

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
