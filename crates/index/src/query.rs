//! The parsed search query (AST) and its canonical text form.
//!
//! [`parse_query`] builds it; `Display` prints a canonical form that parses back to the same
//! value. Filter values are normalized when parsed (lowercase, no `.` before an extension,
//! folders without trailing `/`, sizes in bytes, dates as inclusive ranges of unix seconds).

use std::fmt;

pub use crate::parser::parse_query;

/// A search query.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Query {
    /// Words in the path, tags or description.
    Text(Text),
    /// A field filter such as `tag:x` or `size:>10MB`.
    Filter(Filter),
    /// Everything except what matches the inner query (`-term`).
    Not(Box<Query>),
    /// All of these (words separated by spaces); never nested directly in another `And`.
    And(Vec<Query>),
    /// Any of these (`a OR b`); never nested directly in another `Or`.
    Or(Vec<Query>),
}

/// Words to look for; tokenized with the path tokenizer when the query runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Text {
    /// A bare word; several tokens (`budget2019`) must be adjacent; `prefix` (`budg*`) means
    /// the last token may be the start of a longer word.
    Word { text: String, prefix: bool },
    /// A quoted phrase: its tokens adjacent, in order.
    Phrase(String),
}

/// A field filter. Values are stored normalized (see the module docs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Filter {
    Tag(String),
    /// Extension without the dot.
    Ext(String),
    /// Words in the file name only.
    Name(Text),
    In(Folder),
    Size(Range<u64>),
    /// Modification time, unix seconds UTC.
    Modified(Range<i64>),
    Kind(String),
    State(String),
    Run(u64),
    /// A bundle id or its beginning.
    Bundle(String),
    Store(String),
    Host(String),
    /// Owner name or uid (lowercase).
    Owner(String),
    /// Group name or gid (lowercase).
    Group(String),
    /// Any ACL principal: name or key (`uid:1001`, `sid:s-1-5-…`), lowercase.
    Principal(String),
    /// An extended attribute: `name` or `name=value`, lowercase.
    Xattr(String),
}

/// Where a file lies (`in:`/`path:`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Folder {
    /// Anywhere below this absolute folder: lowercase, `/`-separated, no trailing `/`
    /// (`/` itself for the root).
    Path(String),
    /// Some folder on the path has this (lowercase) name.
    Named(String),
}

/// An inclusive range; `None` leaves that end open.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Range<T> {
    pub min: Option<T>,
    pub max: Option<T>,
}

impl Query {
    /// All of `queries`, flattening nested `And`s; a single query is returned as is.
    pub fn and(queries: Vec<Query>) -> Query {
        Self::combine(queries, true)
    }

    /// Any of `queries`, flattening nested `Or`s; a single query is returned as is.
    pub fn or(queries: Vec<Query>) -> Query {
        Self::combine(queries, false)
    }

    fn combine(queries: Vec<Query>, conjunction: bool) -> Query {
        let mut flat = Vec::with_capacity(queries.len());
        for query in queries {
            match (query, conjunction) {
                (Query::And(inner), true) | (Query::Or(inner), false) => flat.extend(inner),
                (other, _) => flat.push(other),
            }
        }
        if flat.len() == 1
            && let Some(only) = flat.pop()
        {
            return only;
        }
        if conjunction { Query::And(flat) } else { Query::Or(flat) }
    }

    /// Every filter in the query, at any depth.
    pub fn filters(&self) -> Vec<&Filter> {
        let mut filters = Vec::new();
        let mut pending = vec![self];
        while let Some(query) = pending.pop() {
            match query {
                Query::Text(_) => {}
                Query::Filter(filter) => filters.push(filter),
                Query::Not(inner) => pending.push(inner),
                Query::And(queries) | Query::Or(queries) => pending.extend(queries),
            }
        }
        filters
    }

    /// Whether results are ranked by relevance: the query has words (or `name:` words) that
    /// are not excluded. Other queries are pure filters and list hits by file id.
    pub fn is_scored(&self) -> bool {
        match self {
            Query::Text(_) | Query::Filter(Filter::Name(_)) => true,
            Query::Filter(_) | Query::Not(_) => false,
            Query::And(queries) | Query::Or(queries) => queries.iter().any(Query::is_scored),
        }
    }
}

impl fmt::Display for Query {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Query::Text(text) => write!(f, "{text}"),
            Query::Filter(filter) => write!(f, "{filter}"),
            Query::Not(inner) => match inner.as_ref() {
                Query::And(_) | Query::Or(_) => write!(f, "-({inner})"),
                _ => write!(f, "-{inner}"),
            },
            Query::And(queries) => {
                for (index, query) in queries.iter().enumerate() {
                    if index > 0 {
                        f.write_str(" ")?;
                    }
                    match query {
                        Query::And(_) => write!(f, "({query})")?,
                        _ => write!(f, "{query}")?,
                    }
                }
                Ok(())
            }
            Query::Or(queries) => {
                for (index, query) in queries.iter().enumerate() {
                    if index > 0 {
                        f.write_str(" OR ")?;
                    }
                    match query {
                        Query::And(_) | Query::Or(_) => write!(f, "({query})")?,
                        _ => write!(f, "{query}")?,
                    }
                }
                Ok(())
            }
        }
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Text::Word { text, prefix: true } => write!(f, "{text}*"),
            // A word that would not read back as itself means the same as a phrase.
            Text::Word { text, prefix: false } if is_plain_word(text) => f.write_str(text),
            Text::Word { text, .. } | Text::Phrase(text) => write_quoted(f, text),
        }
    }
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Filter::Tag(value) => write_filter(f, "tag", value),
            Filter::Ext(value) => write_filter(f, "ext", value),
            Filter::Name(text) => write!(f, "name:{text}"),
            Filter::In(Folder::Path(path)) => write_filter(f, "in", path),
            Filter::In(Folder::Named(name)) => write_filter(f, "in", name),
            Filter::Size(range) => {
                f.write_str("size:")?;
                write_range(f, range, |f, bytes| write!(f, "{bytes}"))
            }
            Filter::Modified(range) => {
                f.write_str("modified:")?;
                write_range(f, range, |f, seconds| f.write_str(&crate::date::format_timestamp(*seconds)))
            }
            Filter::Kind(value) => write_filter(f, "kind", value),
            Filter::State(value) => write_filter(f, "state", value),
            Filter::Run(run) => write!(f, "run:{run}"),
            Filter::Bundle(value) => write_filter(f, "bundle", value),
            Filter::Store(value) => write_filter(f, "store", value),
            Filter::Host(value) => write_filter(f, "host", value),
            Filter::Owner(value) => write_filter(f, "owner", value),
            Filter::Group(value) => write_filter(f, "group", value),
            Filter::Principal(value) => write_filter(f, "principal", value),
            Filter::Xattr(value) => write_filter(f, "xattr", value),
        }
    }
}

/// Whether `text` lexes back as this same bare word.
fn is_plain_word(text: &str) -> bool {
    !text.is_empty()
        && text != "OR"
        && text != "AND"
        && !text.starts_with('-')
        && !text.ends_with('*')
        && !text.contains(':')
        && !text.chars().any(needs_quotes)
}

fn needs_quotes(c: char) -> bool {
    c.is_whitespace() || matches!(c, '"' | '(' | ')')
}

fn write_quoted(f: &mut fmt::Formatter<'_>, text: &str) -> fmt::Result {
    f.write_str("\"")?;
    for c in text.chars() {
        if matches!(c, '"' | '\\') {
            f.write_str("\\")?;
        }
        write!(f, "{c}")?;
    }
    f.write_str("\"")
}

fn write_filter(f: &mut fmt::Formatter<'_>, name: &str, value: &str) -> fmt::Result {
    write!(f, "{name}:")?;
    if value.is_empty() || value.chars().any(needs_quotes) { write_quoted(f, value) } else { f.write_str(value) }
}

fn write_range<T: PartialEq>(
    f: &mut fmt::Formatter<'_>,
    range: &Range<T>,
    write_value: impl Fn(&mut fmt::Formatter<'_>, &T) -> fmt::Result,
) -> fmt::Result {
    match (&range.min, &range.max) {
        (Some(min), Some(max)) if min == max => write_value(f, min),
        (Some(min), Some(max)) => {
            write_value(f, min)?;
            f.write_str("..")?;
            write_value(f, max)
        }
        (Some(min), None) => {
            f.write_str(">=")?;
            write_value(f, min)
        }
        (None, Some(max)) => {
            f.write_str("<=")?;
            write_value(f, max)
        }
        // Not produced by the parser; prints a range that matches everything.
        (None, None) => f.write_str(".."),
    }
}
