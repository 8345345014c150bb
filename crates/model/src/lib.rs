//! The values every layer of esker shares: what the crawler records about an entry, its
//! extended attributes and ACL entries, stored objects, time and I/O error helpers,
//! reusable aligned buffers, and the crash-test failpoints.
//!
//! This crate depends on no other esker crate; every other one may depend on it.

mod acl;
pub mod buffers;
mod entry;
pub mod failpoint;
mod io_error;
mod object;
pub mod time;

pub use acl::{Access, AclEntry, Resolution, Xattr};
pub use entry::{Entry, FileKind, Problem, SkipReason, Stat};
pub use io_error::io_message;
pub use object::{RestoreTier, StoredObject};
