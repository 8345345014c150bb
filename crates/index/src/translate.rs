//! Translates a parsed [`Query`] into tantivy queries over the esker schema.
//!
//! Words score with BM25 (a word also found in the file name ranks higher); filters score 0,
//! so they narrow results without changing their order.

use std::ops::Bound;

use tantivy::Term;
use tantivy::query::{
    AllQuery, BooleanQuery, BoostQuery, ConstScoreQuery, EmptyQuery, Occur, PhrasePrefixQuery, PhraseQuery,
    Query as TantivyQuery, RangeQuery, TermQuery,
};
use tantivy::schema::{Field, IndexRecordOption};

use crate::query::{Filter, Folder, Query, Range, Text};
use crate::schema::{Fields, Key};
use crate::tokenizer::tokenize;

/// Extra weight of a word that is also in the file name.
const NAME_BOOST: f32 = 1.5;
/// How many words a prefix inside a phrase (`q3-fore*`) may expand to.
const PHRASE_PREFIX_EXPANSIONS: u32 = 10_000;

type Boxed = Box<dyn TantivyQuery>;

/// The tantivy query for `query`.
pub(crate) fn translate(query: &Query, fields: &Fields) -> Boxed {
    match query {
        Query::Text(text) => {
            let in_text = text_query(text, fields.text);
            let in_name = text_query(text, fields.name);
            Box::new(BooleanQuery::new(vec![
                (Occur::Must, in_text),
                (Occur::Should, Box::new(BoostQuery::new(in_name, NAME_BOOST))),
            ]))
        }
        Query::Filter(Filter::Name(text)) => text_query(text, fields.name),
        Query::Filter(filter) => Box::new(ConstScoreQuery::new(filter_query(filter, fields), 0.0)),
        Query::Not(inner) => everything_except(vec![translate(inner, fields)]),
        Query::And(queries) => {
            let mut clauses = Vec::with_capacity(queries.len() + 1);
            let mut excluded = Vec::new();
            for query in queries {
                match query {
                    Query::Not(inner) => excluded.push(translate(inner, fields)),
                    other => clauses.push((Occur::Must, translate(other, fields))),
                }
            }
            if clauses.is_empty() {
                return everything_except(excluded);
            }
            clauses.extend(excluded.into_iter().map(|query| (Occur::MustNot, query)));
            Box::new(BooleanQuery::new(clauses))
        }
        Query::Or(queries) => {
            Box::new(BooleanQuery::new(queries.iter().map(|query| (Occur::Should, translate(query, fields))).collect()))
        }
    }
}

/// Every document except those matching any of `excluded`, all scoring 0.
fn everything_except(excluded: Vec<Boxed>) -> Boxed {
    let mut clauses: Vec<(Occur, Boxed)> = vec![(Occur::Must, Box::new(AllQuery))];
    clauses.extend(excluded.into_iter().map(|query| (Occur::MustNot, query)));
    Box::new(ConstScoreQuery::new(Box::new(BooleanQuery::new(clauses)), 0.0))
}

/// Words or a phrase in a path-tokenized field.
fn text_query(text: &Text, field: Field) -> Boxed {
    let (words, prefix) = match text {
        Text::Word { text, prefix } => (text.as_str(), *prefix),
        Text::Phrase(phrase) => (phrase.as_str(), false),
    };
    let tokens = tokenize(words);
    let terms: Vec<Term> = tokens.iter().map(|token| Term::from_field_text(field, token)).collect();
    match (terms.len(), prefix) {
        // The parser rejects text without tokens; match nothing if one gets here anyway.
        (0, _) => Box::new(EmptyQuery),
        (1, false) => Box::new(TermQuery::new(terms[0].clone(), IndexRecordOption::WithFreqs)),
        (1, true) => prefix_query(field, &tokens[0]),
        (_, false) => Box::new(PhraseQuery::new(terms)),
        (_, true) => {
            let mut query = PhrasePrefixQuery::new(terms);
            query.set_max_expansions(PHRASE_PREFIX_EXPANSIONS);
            Box::new(query)
        }
    }
}

/// Terms of `field` starting with `prefix` (no limit on how many).
fn prefix_query(field: Field, prefix: &str) -> Boxed {
    let lower = Term::from_field_text(field, prefix);
    let mut upper = lower.clone();
    // No UTF-8 text contains the byte 0xFF, so every term with this prefix sorts below it.
    upper.append_bytes(&[0xFF]);
    Box::new(RangeQuery::new(Bound::Included(lower), Bound::Excluded(upper)))
}

fn exact(field: Field, value: &str) -> Boxed {
    Box::new(TermQuery::new(Term::from_field_text(field, value), IndexRecordOption::Basic))
}

/// The documents with `value` under `key`.
fn keyed(fields: &Fields, key: Key, value: &str) -> Boxed {
    exact(fields.keys, &key.term_text(value))
}

fn filter_query(filter: &Filter, fields: &Fields) -> Boxed {
    match filter {
        Filter::Tag(tag) => keyed(fields, Key::Tag, tag),
        Filter::Ext(extension) => keyed(fields, Key::Ext, extension),
        Filter::Name(text) => text_query(text, fields.name),
        Filter::In(Folder::Path(path)) if path == "/" => Box::new(AllQuery),
        Filter::In(Folder::Path(path)) => exact(fields.ancestors, path),
        Filter::In(Folder::Named(name)) => exact(fields.folder, name),
        Filter::Size(range) => numeric_range(range, |bytes| Term::from_field_u64(fields.size, bytes)),
        Filter::Modified(range) => numeric_range(range, |seconds| Term::from_field_i64(fields.mtime, seconds)),
        Filter::Kind(kind) => keyed(fields, Key::Kind, kind),
        Filter::State(state) => keyed(fields, Key::State, state),
        Filter::Run(run) => Box::new(TermQuery::new(Term::from_field_u64(fields.run, *run), IndexRecordOption::Basic)),
        Filter::Bundle(bundle) => prefix_query(fields.keys, &Key::Bundle.term_text(bundle)),
        Filter::Store(store) => keyed(fields, Key::Store, store),
        Filter::Host(host) => keyed(fields, Key::Host, host),
        Filter::Owner(owner) => keyed(fields, Key::Owner, owner),
        Filter::Group(group) => keyed(fields, Key::Group, group),
        Filter::Principal(principal) => keyed(fields, Key::Principal, principal),
        Filter::Xattr(xattr) => keyed(fields, Key::Xattr, xattr),
    }
}

fn numeric_range<T: Copy>(range: &Range<T>, term: impl Fn(T) -> Term) -> Boxed {
    let bound = |value: Option<T>| value.map_or(Bound::Unbounded, |value| Bound::Included(term(value)));
    match (range.min, range.max) {
        (None, None) => Box::new(AllQuery),
        (min, max) => Box::new(RangeQuery::new(bound(min), bound(max))),
    }
}
