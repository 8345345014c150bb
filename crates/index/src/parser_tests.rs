//! Tests of the query parser: structure, filters, errors, canonical form and round trips.

use proptest::prelude::*;

use super::parse_query;
use crate::error::QueryError;
use crate::query::{Filter, Folder, Query, Range, Text};

fn word(text: &str) -> Query {
    Query::Text(Text::Word { text: text.into(), prefix: false })
}

fn filter(text: &str) -> Filter {
    match parse_query(text) {
        Ok(Query::Filter(filter)) => filter,
        other => panic!("{text} parsed as {other:?}"),
    }
}

fn error(text: &str) -> QueryError {
    parse_query(text).expect_err(text)
}

#[track_caller]
fn canonical(text: &str, expected: &str) {
    let query = parse_query(text).unwrap_or_else(|error| panic!("{text}: {error}"));
    assert_eq!(query.to_string(), expected, "canonical form of {text}");
    assert_eq!(parse_query(expected).as_ref(), Ok(&query), "{expected} reads back");
}

#[test]
fn words_and_operators() {
    assert_eq!(parse_query("budget 2019 xlsx"), Ok(Query::And(vec![word("budget"), word("2019"), word("xlsx")])));
    assert_eq!(parse_query("  budget  "), Ok(word("budget")));
    assert_eq!(parse_query("a OR b"), Ok(Query::Or(vec![word("a"), word("b")])));
    // OR binds tighter than the implicit AND.
    assert_eq!(
        parse_query("report pdf OR docx"),
        Ok(Query::And(vec![word("report"), Query::Or(vec![word("pdf"), word("docx")])]))
    );
    assert_eq!(parse_query("a AND b"), parse_query("a b"));
    assert_eq!(parse_query("-draft"), Ok(Query::Not(Box::new(word("draft")))));
    assert_eq!(parse_query("budg*"), Ok(Query::Text(Text::Word { text: "budg".into(), prefix: true })));
    assert_eq!(parse_query("\"q3 forecast\""), Ok(Query::Text(Text::Phrase("q3 forecast".into()))));
    // A dash inside a word is part of it; lowercase `or` is a word.
    assert_eq!(parse_query("Q3-forecast"), Ok(word("Q3-forecast")));
    assert_eq!(parse_query("this or that"), Ok(Query::And(vec![word("this"), word("or"), word("that")])));
}

#[test]
fn grouping_and_negation() {
    canonical("(a OR b) (c OR d)", "a OR b c OR d");
    canonical("a (b c)", "a b c");
    canonical("(a b) OR c", "(a b) OR c");
    canonical("((a))", "a");
    canonical("-(a OR b) c", "-(a OR b) c");
    canonical("-(a b)", "-(a b)");
    canonical("--a", "--a");
    canonical("a OR (b OR c)", "a OR b OR c");
    canonical("-tag:old -\"a phrase\"", "-tag:old -\"a phrase\"");
    canonical("a AND b OR c", "a b OR c");
}

#[test]
fn filters() {
    assert_eq!(filter("tag:Finance"), Filter::Tag("finance".into()));
    assert_eq!(filter("TAG:\"Q3 Report\""), Filter::Tag("q3 report".into()));
    assert_eq!(filter("ext:pdf"), Filter::Ext("pdf".into()));
    assert_eq!(filter("ext:.PDF"), Filter::Ext("pdf".into()));
    assert_eq!(filter("name:forecast"), Filter::Name(Text::Word { text: "forecast".into(), prefix: false }));
    assert_eq!(filter("name:fore*"), Filter::Name(Text::Word { text: "fore".into(), prefix: true }));
    assert_eq!(filter("name:\"q3 forecast\""), Filter::Name(Text::Phrase("q3 forecast".into())));
    let projects = Filter::In(Folder::Path("/share/projects".into()));
    assert_eq!(filter("in:/share/Projects"), projects);
    assert_eq!(filter("in:/share/Projects/"), projects);
    assert_eq!(filter("path:/share//Projects"), projects);
    assert_eq!(filter("in:/"), Filter::In(Folder::Path("/".into())));
    assert_eq!(filter("in:Budget_2019"), Filter::In(Folder::Named("budget_2019".into())));
    assert_eq!(filter("in:\"My Docs/\""), Filter::In(Folder::Named("my docs".into())));
    assert_eq!(filter("kind:File"), Filter::Kind("file".into()));
    assert_eq!(filter("state:archived"), Filter::State("archived".into()));
    assert_eq!(filter("run:42"), Filter::Run(42));
    assert_eq!(filter("bundle:0192F3"), Filter::Bundle("0192f3".into()));
    assert_eq!(filter("store:Glacier"), Filter::Store("glacier".into()));
    assert_eq!(filter("host:NAS1"), Filter::Host("nas1".into()));
    assert_eq!(filter("owner:Alice"), Filter::Owner("alice".into()));
    assert_eq!(filter("group:20001"), Filter::Group("20001".into()));
    assert_eq!(filter("principal:sid:S-1-1-0"), Filter::Principal("sid:s-1-1-0".into()));
    assert_eq!(filter("xattr:user.Project=Apollo"), Filter::Xattr("user.project=apollo".into()));
}

#[test]
fn size_filters() {
    let range = |min, max| Filter::Size(Range { min, max });
    const MB: u64 = 1_000_000;
    assert_eq!(filter("size:>10MB"), range(Some(10 * MB + 1), None));
    assert_eq!(filter("size:>=1GiB"), range(Some(1 << 30), None));
    assert_eq!(filter("size:<1k"), range(None, Some(1023)));
    assert_eq!(filter("size:<=1k"), range(None, Some(1024)));
    assert_eq!(filter("size:=0"), range(Some(0), Some(0)));
    assert_eq!(filter("size:0"), range(Some(0), Some(0)));
    assert_eq!(filter("size:10MB..1GB"), range(Some(10 * MB), Some(1000 * MB)));
    assert_eq!(filter("size:1.5G.."), range(Some(3 << 29), None));
    assert_eq!(filter("size:..2k"), range(None, Some(2048)));
    assert_eq!(filter("size:\">= 2 KiB\""), range(Some(2048), None));
}

#[test]
fn date_filters() {
    let range = |min, max| Filter::Modified(Range { min, max });
    let year_2019 = (1_546_300_800, 1_577_836_799);
    assert_eq!(filter("modified:2019"), range(Some(year_2019.0), Some(year_2019.1)));
    assert_eq!(filter("mtime:2019"), filter("modified:2019"));
    assert_eq!(filter("modified:<2020-01-01"), range(None, Some(year_2019.1)));
    assert_eq!(filter("modified:>2019"), range(Some(year_2019.1 + 1), None));
    assert_eq!(filter("modified:>=2019-06-01"), range(Some(1_559_347_200), None));
    assert_eq!(filter("modified:<=2019"), range(None, Some(year_2019.1)));
    assert_eq!(filter("modified:2019-06"), range(Some(1_559_347_200), Some(1_561_939_199)));
    assert_eq!(filter("modified:2019-06-01"), range(Some(1_559_347_200), Some(1_559_433_599)));
    assert_eq!(filter("modified:2019-01-01..2019-06-30"), range(Some(year_2019.0), Some(1_561_939_199)));
    assert_eq!(filter("modified:2019-06-01T12:30"), range(Some(1_559_392_200), Some(1_559_392_259)));
    assert_eq!(filter("modified:<1970"), range(None, Some(-1)));
}

#[test]
fn error_messages() {
    let cases = [
        ("", "empty query"),
        ("   ", "empty query"),
        (
            "colour:red",
            "unknown filter `colour:` (known filters: tag, ext, name, path, in, size, modified, \
             kind, state, run, bundle, store, host, owner, group, principal, xattr)",
        ),
        (
            "size:>10XB",
            "bad size `10XB` in `size:>10XB` (unknown unit `XB`; use B, k/KiB, M/MiB, G/GiB, T/TiB, KB, MB, GB or TB)",
        ),
        ("size:-5", "bad size `-5` in `size:-5` (sizes cannot be negative)"),
        ("modified:2019-13-01", "bad date `2019-13-01` in `modified:2019-13-01` (month must be 01-12)"),
        ("\"budget 2019", "unclosed quote in `\"budget 2019`"),
        ("tag:\"open", "unclosed quote in `\"open`"),
        ("(a b", "unbalanced parenthesis: missing `)`"),
        ("a b)", "unbalanced parenthesis: `)` without `(`"),
        (")", "unbalanced parenthesis: `)` without `(`"),
        ("()", "empty parentheses `()`"),
        ("a -", "nothing after `-` (write `-word` to exclude a word)"),
        ("a OR", "`OR` needs a term on each side"),
        ("OR a", "`OR` needs a term on each side"),
        ("a OR OR b", "`OR` needs a term on each side"),
        ("AND a", "`AND` needs a term on each side"),
        ("&&", "`&&` has no letters or digits to search for"),
        ("*", "`*` has no letters or digits to search for"),
        ("\"--\"", "`\"--\"` has no letters or digits to search for"),
        ("tag:", "missing value after `tag:`"),
        ("tag:\"\"", "missing value after `tag:`"),
        ("ext:.", "missing value after `ext:`"),
        ("run:x", "bad run number `x` in `run:x`"),
        ("in:a/b", "bad folder `a/b` in `in:a/b` (use an absolute path like /share/projects or a single folder name)"),
        ("size:10GB..1MB", "empty range in `size:10GB..1MB` (the lower end is above the upper end)"),
        ("size:<0", "empty range in `size:<0` (nothing is below the smallest value)"),
        ("name:--", "`name:--` has no letters or digits to search for"),
    ];
    for (text, message) in cases {
        assert_eq!(error(text).to_string(), message, "error of {text:?}");
    }
    assert!(matches!(error("size:>"), QueryError::BadSize { .. }));
    assert!(matches!(error("size:.."), QueryError::BadSize { .. }));
    assert!(matches!(error("modified:yesterday"), QueryError::BadDate { .. }));
    assert!(matches!(error("modified:2019-02-30"), QueryError::BadDate { .. }));
    assert!(matches!(error("http://example.com"), QueryError::UnknownFilter { .. }));
}

#[test]
fn canonical_forms() {
    canonical("Budget  2019", "Budget 2019");
    canonical("tag:Finance ext:.PDF", "tag:finance ext:pdf");
    canonical("TAG:\"Q3 Report\"", "tag:\"q3 report\"");
    canonical("path:/Share/Projects/", "in:/share/projects");
    canonical("size:>=1k", "size:>=1024");
    canonical("size:>1k", "size:>=1025");
    canonical("size:1k..2k", "size:1024..2048");
    canonical("size:0", "size:0");
    canonical("modified:2019-06-01", "modified:2019-06-01T00:00:00..2019-06-01T23:59:59");
    canonical("mtime:<2020", "modified:<=2019-12-31T23:59:59");
    canonical("name:\"a b\" name:c*", "name:\"a b\" name:c*");
    canonical("\"say \\\"hi\\\"\"", "\"say \\\"hi\\\"\"");
    canonical("tag:\"a\\\\b c\"", "tag:\"a\\\\b c\"");
    canonical("budg**", "budg**");
}

/// Strategies for queries the parser can produce (normalized values).
fn arbitrary_text() -> impl Strategy<Value = Text> {
    prop_oneof![
        // `OR` and `AND` as words are written as phrases (see `keywords_as_words_read_back_as_phrases`).
        ("[A-Za-z0-9][A-Za-z0-9_.\\-]{0,8}", any::<bool>())
            .prop_filter("a keyword", |(text, prefix)| *prefix || (text != "OR" && text != "AND"))
            .prop_map(|(text, prefix)| Text::Word { text, prefix }),
        "[a-z0-9 \"\\\\().-]{0,6}[a-z0-9][a-z0-9 \"\\\\()]{0,6}".prop_map(Text::Phrase),
    ]
}

fn arbitrary_filter() -> impl Strategy<Value = Filter> {
    let value = "[a-z0-9_.\\-][a-z0-9 _.:\\-\"\\\\()]{0,8}[a-z0-9_]";
    let range_u64 = (any::<u64>(), any::<u64>(), 0..4u8).prop_map(|(a, b, shape)| {
        let (low, high) = (a.min(b), a.max(b));
        match shape {
            0 => Range { min: Some(low), max: Some(high) },
            1 => Range { min: Some(low), max: None },
            2 => Range { min: None, max: Some(high) },
            _ => Range { min: Some(low), max: Some(low) },
        }
    });
    let seconds = -62_167_219_200i64..=253_402_300_799;
    let range_i64 = (seconds.clone(), seconds, 0..3u8).prop_map(|(a, b, shape)| {
        let (low, high) = (a.min(b), a.max(b));
        match shape {
            0 => Range { min: Some(low), max: Some(high) },
            1 => Range { min: Some(low), max: None },
            _ => Range { min: None, max: Some(high) },
        }
    });
    prop_oneof![
        value.prop_map(Filter::Tag),
        "[a-z0-9]{1,5}".prop_map(Filter::Ext),
        arbitrary_text().prop_map(Filter::Name),
        "(/[a-z0-9_.]([a-z0-9 _.]{0,4}[a-z0-9_.])?){0,3}"
            .prop_map(|path| { Filter::In(Folder::Path(if path.is_empty() { "/".into() } else { path })) }),
        "[a-z0-9_.][a-z0-9 _.]{0,6}[a-z0-9_.]".prop_map(|name| Filter::In(Folder::Named(name))),
        range_u64.prop_map(Filter::Size),
        range_i64.prop_map(Filter::Modified),
        "[a-z]{1,8}".prop_map(Filter::Kind),
        "[a-z]{1,8}".prop_map(Filter::State),
        any::<u64>().prop_map(Filter::Run),
        "[0-9a-f\\-]{1,36}".prop_map(Filter::Bundle),
        value.prop_map(Filter::Store),
        value.prop_map(Filter::Host),
    ]
}

fn arbitrary_query() -> impl Strategy<Value = Query> {
    let leaf = prop_oneof![arbitrary_text().prop_map(Query::Text), arbitrary_filter().prop_map(Query::Filter),];
    leaf.prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            inner.clone().prop_map(|query| Query::Not(Box::new(query))),
            prop::collection::vec(inner.clone(), 2..4).prop_map(Query::and),
            prop::collection::vec(inner, 2..4).prop_map(Query::or),
        ]
    })
}

#[test]
fn keywords_as_words_read_back_as_phrases() {
    for keyword in ["OR", "AND"] {
        let word = Query::Text(Text::Word { text: keyword.into(), prefix: false });
        let text = word.to_string();
        assert_eq!(text, format!("\"{keyword}\""));
        assert_eq!(parse_query(&text), Ok(Query::Text(Text::Phrase(keyword.into()))));
    }
}

#[test]
fn nesting_is_limited_and_never_exhausts_the_stack() {
    let nested = |depth: usize| format!("{}word{}", "(".repeat(depth), ")".repeat(depth));
    assert!(parse_query(&nested(crate::parser::MAX_DEPTH)).is_ok());
    assert_eq!(parse_query(&nested(crate::parser::MAX_DEPTH + 1)), Err(QueryError::TooDeep { limit: 64 }));
    assert_eq!(parse_query(&nested(12_000)), Err(QueryError::TooDeep { limit: 64 }));
    assert_eq!(parse_query(&format!("{}word", "-".repeat(100_000))), Err(QueryError::TooDeep { limit: 64 }));
    assert_eq!(parse_query(&format!("{}word", "(-".repeat(50_000))), Err(QueryError::TooDeep { limit: 64 }));
}

proptest! {
    #[test]
    fn deep_and_unbalanced_nesting_never_panics(text in "[()\\- ]{0,3000}x[()\\- ]{0,3000}") {
        let _ = parse_query(&text);
    }

    #[test]
    fn parse_never_panics(text in "\\PC{0,40}") {
        let _ = parse_query(&text);
    }

    #[test]
    fn parse_never_panics_on_query_like_text(
        text in "[a-z0-9 ()\"*:<>=.\\-]{0,12}(OR|AND|tag:|size:|modified:|in:/)?[a-z0-9 ()\"*:<>=./\\-]{0,12}"
    ) {
        let _ = parse_query(&text);
    }

    #[test]
    fn display_round_trips(query in arbitrary_query()) {
        let text = query.to_string();
        prop_assert_eq!(parse_query(&text), Ok(query), "canonical text: {}", text);
    }

    #[test]
    fn canonical_form_is_stable(text in "[a-zA-Z0-9 ()\"*:<>=.\\-]{0,30}") {
        if let Ok(query) = parse_query(&text) {
            let canonical = query.to_string();
            prop_assert_eq!(parse_query(&canonical), Ok(query), "{} -> {}", text, canonical);
        }
    }
}
