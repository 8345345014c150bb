//! Parsing and normalizing the value of one `field:value` filter.

use crate::date::parse_period;
use crate::error::QueryError;
use crate::parser::check_searchable;
use crate::query::{Filter, Folder, Range, Text};
use crate::size::parse_size;

/// Every filter name the query language knows.
const FILTERS: [&str; 18] = [
    "tag",
    "ext",
    "name",
    "path",
    "in",
    "size",
    "modified",
    "mtime",
    "kind",
    "state",
    "run",
    "bundle",
    "store",
    "host",
    "owner",
    "group",
    "principal",
    "xattr",
];

/// Builds the filter `name:value`; `quoted` says whether the value was written in quotes.
pub(crate) fn parse_filter(name: &str, value: &str, quoted: bool) -> Result<Filter, QueryError> {
    let key = name.to_lowercase();
    let term = if quoted { format!("{name}:\"{value}\"") } else { format!("{name}:{value}") };
    if !FILTERS.contains(&key.as_str()) {
        return Err(QueryError::UnknownFilter { name: name.to_owned() });
    }
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(QueryError::MissingValue { name: name.to_owned() });
    }
    let lower = trimmed.to_lowercase();
    let filter = match key.as_str() {
        "tag" => Filter::Tag(lower),
        "ext" => parse_ext(name, &lower)?,
        "name" => parse_name(value, quoted, &term)?,
        "path" | "in" => Filter::In(parse_folder(&lower, trimmed, &term)?),
        "size" => parse_size_filter(trimmed, &term)?,
        "modified" | "mtime" => parse_modified_filter(trimmed, &term)?,
        "kind" => Filter::Kind(lower),
        "state" => Filter::State(lower),
        "run" => Filter::Run(
            trimmed.parse().map_err(|_| QueryError::BadRun { value: trimmed.to_owned(), term: term.clone() })?,
        ),
        "bundle" => Filter::Bundle(lower),
        "store" => Filter::Store(lower),
        "owner" => Filter::Owner(lower),
        "group" => Filter::Group(lower),
        "principal" => Filter::Principal(lower),
        "xattr" => Filter::Xattr(lower),
        _ => Filter::Host(lower),
    };
    Ok(filter)
}

/// `ext:jpg` or `ext:.jpg`.
fn parse_ext(name: &str, lower: &str) -> Result<Filter, QueryError> {
    let extension = lower.strip_prefix('.').unwrap_or(lower);
    if extension.is_empty() {
        return Err(QueryError::MissingValue { name: name.to_owned() });
    }
    Ok(Filter::Ext(extension.to_owned()))
}

/// `name:word`, `name:prefix*` or `name:"a phrase"`.
fn parse_name(value: &str, quoted: bool, term: &str) -> Result<Filter, QueryError> {
    let text = match value.strip_suffix('*') {
        Some(stem) if !quoted => Text::Word { text: stem.to_owned(), prefix: true },
        _ if quoted => Text::Phrase(value.to_owned()),
        _ => Text::Word { text: value.to_owned(), prefix: false },
    };
    let (Text::Word { text: words, .. } | Text::Phrase(words)) = &text;
    check_searchable(words, term)?;
    Ok(Filter::Name(text))
}

/// `size:>10MB`, `size:1KB..2MB` and the like, in bytes.
fn parse_size_filter(value: &str, term: &str) -> Result<Filter, QueryError> {
    let bytes = |text: &str| {
        parse_size(text).map(|bytes| (bytes, bytes)).map_err(|error| QueryError::BadSize {
            value: text.to_owned(),
            term: term.to_owned(),
            reason: error.reason,
        })
    };
    let range = parse_range(value, term, bytes, |bytes| bytes.checked_add(1), |bytes| bytes.checked_sub(1))?;
    Ok(Filter::Size(range))
}

/// `modified:2024-03`, `mtime:<2020` and the like, in seconds.
fn parse_modified_filter(value: &str, term: &str) -> Result<Filter, QueryError> {
    let period = |text: &str| {
        parse_period(text).map_err(|reason| QueryError::BadDate {
            value: text.to_owned(),
            term: term.to_owned(),
            reason,
        })
    };
    let range = parse_range(value, term, period, |seconds| seconds.checked_add(1), |seconds| seconds.checked_sub(1))?;
    Ok(Filter::Modified(range))
}

/// `/abs/folder` (anywhere below it) or `name` (a folder of that name on the path).
fn parse_folder(lower: &str, shown: &str, term: &str) -> Result<Folder, QueryError> {
    if lower.starts_with('/') {
        let parts: Vec<&str> = lower.split('/').filter(|part| !part.is_empty()).collect();
        return Ok(Folder::Path(format!("/{}", parts.join("/"))));
    }
    let name = lower.trim_end_matches('/');
    if name.is_empty() || name.contains('/') {
        return Err(QueryError::BadFolder { value: shown.to_owned(), term: term.to_owned() });
    }
    Ok(Folder::Named(name.to_owned()))
}

/// Parses `>X`, `>=X`, `<X`, `<=X`, `=X`, `X` and `X..Y` (either end may be left out).
/// `period` gives the first and last value a single `X` stands for (a day covers many
/// seconds); `after`/`before` step past the end or before the start.
fn parse_range<T: Copy + Ord>(
    value: &str,
    term: &str,
    period: impl Fn(&str) -> Result<(T, T), QueryError>,
    after: impl Fn(T) -> Option<T>,
    before: impl Fn(T) -> Option<T>,
) -> Result<Range<T>, QueryError> {
    let empty = |reason: &str| QueryError::EmptyRange { term: term.to_owned(), reason: reason.to_owned() };
    let range = if let Some(rest) = value.strip_prefix(">=") {
        Range { min: Some(period(rest.trim())?.0), max: None }
    } else if let Some(rest) = value.strip_prefix("<=") {
        Range { min: None, max: Some(period(rest.trim())?.1) }
    } else if let Some(rest) = value.strip_prefix('>') {
        let end = period(rest.trim())?.1;
        let min = after(end).ok_or_else(|| empty("nothing is above the largest value"))?;
        Range { min: Some(min), max: None }
    } else if let Some(rest) = value.strip_prefix('<') {
        let start = period(rest.trim())?.0;
        let max = before(start).ok_or_else(|| empty("nothing is below the smallest value"))?;
        Range { min: None, max: Some(max) }
    } else if let Some(rest) = value.strip_prefix('=') {
        let (start, end) = period(rest.trim())?;
        Range { min: Some(start), max: Some(end) }
    } else if let Some((low, high)) = value.split_once("..") {
        let (low, high) = (low.trim(), high.trim());
        if low.is_empty() && high.is_empty() {
            // Reports the missing values through the usual "bad size/date" message.
            period("")?;
        }
        let min = if low.is_empty() { None } else { Some(period(low)?.0) };
        let max = if high.is_empty() { None } else { Some(period(high)?.1) };
        if let (Some(min), Some(max)) = (min, max)
            && min > max
        {
            return Err(empty("the lower end is above the upper end"));
        }
        Range { min, max }
    } else {
        let (start, end) = period(value)?;
        Range { min: Some(start), max: Some(end) }
    };
    Ok(range)
}
