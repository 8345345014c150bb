//! esker's full-text engine: schema, path-aware tokenizer, query language, writer and reader
//! over tantivy.
//!
//! One document per file version. Words come from the path (split on separators, camelCase
//! and letter/digit boundaries, lowercased, accents folded), the tags, the description and
//! text values of extended attributes.
//!
//! # Query language
//! - Words are ANDed: `budget 2019 xlsx`; `OR` (uppercase) between terms (it binds tighter
//!   than the implicit AND); parentheses group; `-term` excludes; `"exact phrase"`.
//! - A word with several parts (`budget2019`, `Q3-forecast`) must match them adjacent; a
//!   trailing `*` (`budg*`) matches words starting with it.
//! - Filters (`field:value`, value may be quoted): `tag:`, `ext:`, `name:`, `in:`/`path:`
//!   (`/abs/folder` = anywhere below it, `NAME` = some folder on the path has that name),
//!   `size:` (`>10MB`, `<=1GiB`, `0`, `10MB..1GB`), `modified:`/`mtime:` (`<2020-01-01`,
//!   `2019`, `2019-06`, `2019-01-01..2019-06-30`, UTC), `kind:`, `state:`, `run:`,
//!   `bundle:` (id or its beginning), `store:`, `host:`, `owner:` and `group:` (name or
//!   number), `principal:` (any ACL principal: name or key such as `uid:1001`),
//!   `xattr:` (`NAME` or `NAME=VALUE`).
//! - A query of only exclusions means everything minus those.

mod collect;
mod date;
mod error;
mod filter;
mod folders;
mod index;
mod parser;
mod query;
mod schema;
mod shared;
mod size;
mod tokenizer;
mod translate;

pub use error::{IndexError, QueryError, SizeError};
pub use index::{FileDoc, FileIndex, Hit, IndexWriter};
pub use query::{Filter, Folder, Query, Range, Text, parse_query};
pub use size::{format_size, parse_size};
pub use tokenizer::{PathTokenizer, analyzer, tokenize};
