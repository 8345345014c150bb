//! Crawling: a parallel, ordered walk of the roots and what it learns about each entry.

mod walk;

pub use esker_model::{Entry, FileKind, Problem, SkipReason, Stat};
pub use walk::{Folder, Walk, WalkOptions};
