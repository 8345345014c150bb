//! Integration tests: the real `esker` binary against a temp home and real trees on disk.

mod common;

mod archive;
mod awkward;
mod conformance;
mod crash;
mod damage;
mod errors;
mod glacier;
mod incremental;
#[cfg(feature = "postgres")]
mod postgres;
mod query;
mod restore_safety;
mod retrieve;
mod s3;
mod xattrs;
