//! Recursive-descent parser for the query language: words, `"phrases"`, `-exclusions`, `OR`,
//! parentheses and `field:value` filters.
//!
//! Grammar (`OR` binds tighter than the implicit AND, as in web search engines, so
//! `report pdf OR docx` means `report (pdf OR docx)`):
//! ```text
//! query  := all EOF
//! all    := any ( "AND"? any )*
//! any    := unary ( "OR" unary )*
//! unary  := "-" unary | "(" all ")" | WORD | "PHRASE" | NAME:VALUE
//! ```

use crate::error::QueryError;
use crate::filter::parse_filter;
use crate::query::{Query, Text};
use crate::tokenizer::tokenize;

/// One lexical element of a query.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Lexeme {
    OpenParen,
    CloseParen,
    Minus,
    Or,
    And,
    Word(String),
    Phrase(String),
    Filter { name: String, value: String, quoted: bool },
}

/// Parses a search query. See the crate docs for the language.
pub fn parse_query(text: &str) -> Result<Query, QueryError> {
    let lexemes = lex(text)?;
    let mut parser = Parser { lexemes, position: 0, depth: 0 };
    let queries = parser.parse_all()?;
    if parser.peek() == Some(&Lexeme::CloseParen) {
        return Err(QueryError::UnexpectedCloseParen);
    }
    if queries.is_empty() {
        return Err(QueryError::Empty);
    }
    Ok(Query::and(queries))
}

/// How deep `(` and `-` may nest: far beyond any query a person writes, and shallow
/// enough that neither parsing nor running a query can exhaust the stack.
pub const MAX_DEPTH: usize = 64;

struct Parser {
    lexemes: Vec<Lexeme>,
    position: usize,
    /// Groups and exclusions open around the current lexeme.
    depth: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Lexeme> {
        self.lexemes.get(self.position)
    }

    fn next(&mut self) -> Option<Lexeme> {
        let lexeme = self.lexemes.get(self.position).cloned();
        self.position += 1;
        lexeme
    }

    /// Whether the next lexeme can start a term.
    fn at_term(&self) -> bool {
        matches!(
            self.peek(),
            Some(Lexeme::OpenParen | Lexeme::Minus | Lexeme::Word(_) | Lexeme::Phrase(_) | Lexeme::Filter { .. })
        )
    }

    /// `all`: stops before `)` or the end.
    fn parse_all(&mut self) -> Result<Vec<Query>, QueryError> {
        let mut queries = Vec::new();
        loop {
            match self.peek() {
                None | Some(Lexeme::CloseParen) => return Ok(queries),
                Some(Lexeme::And) => {
                    self.next();
                    if queries.is_empty() || !self.at_term() {
                        return Err(QueryError::DanglingOperator { operator: "AND".into() });
                    }
                }
                Some(Lexeme::Or) => {
                    return Err(QueryError::DanglingOperator { operator: "OR".into() });
                }
                Some(_) => queries.push(self.parse_any()?),
            }
        }
    }

    fn parse_any(&mut self) -> Result<Query, QueryError> {
        let mut alternatives = vec![self.parse_unary()?];
        while self.peek() == Some(&Lexeme::Or) {
            self.next();
            if !self.at_term() {
                return Err(QueryError::DanglingOperator { operator: "OR".into() });
            }
            alternatives.push(self.parse_unary()?);
        }
        Ok(Query::or(alternatives))
    }

    /// A term inside one more group or exclusion; refused beyond [`MAX_DEPTH`].
    fn nested<T>(&mut self, parse: impl FnOnce(&mut Parser) -> Result<T, QueryError>) -> Result<T, QueryError> {
        if self.depth >= MAX_DEPTH {
            return Err(QueryError::TooDeep { limit: MAX_DEPTH });
        }
        self.depth += 1;
        let parsed = parse(self);
        self.depth -= 1;
        parsed
    }

    fn parse_unary(&mut self) -> Result<Query, QueryError> {
        match self.next() {
            Some(Lexeme::Minus) => {
                if !self.at_term() {
                    return Err(QueryError::DanglingMinus);
                }
                Ok(Query::Not(Box::new(self.nested(Parser::parse_unary)?)))
            }
            Some(Lexeme::OpenParen) => {
                let queries = self.nested(Parser::parse_all)?;
                if self.next() != Some(Lexeme::CloseParen) {
                    return Err(QueryError::MissingCloseParen);
                }
                if queries.is_empty() {
                    return Err(QueryError::EmptyGroup);
                }
                Ok(Query::and(queries))
            }
            Some(Lexeme::Word(word)) => {
                let (text, prefix) = match word.strip_suffix('*') {
                    Some(stem) => (stem.to_owned(), true),
                    None => (word.clone(), false),
                };
                check_searchable(&text, &word)?;
                Ok(Query::Text(Text::Word { text, prefix }))
            }
            Some(Lexeme::Phrase(phrase)) => {
                check_searchable(&phrase, &format!("\"{phrase}\""))?;
                Ok(Query::Text(Text::Phrase(phrase)))
            }
            Some(Lexeme::Filter { name, value, quoted }) => Ok(Query::Filter(parse_filter(&name, &value, quoted)?)),
            // Callers only get here after checking `at_term`.
            Some(Lexeme::CloseParen) => Err(QueryError::UnexpectedCloseParen),
            Some(Lexeme::Or) | None => Err(QueryError::DanglingOperator { operator: "OR".into() }),
            Some(Lexeme::And) => Err(QueryError::DanglingOperator { operator: "AND".into() }),
        }
    }
}

/// Rejects words that the tokenizer turns into nothing (`&&`, `*`).
pub(crate) fn check_searchable(text: &str, shown: &str) -> Result<(), QueryError> {
    if tokenize(text).is_empty() {
        return Err(QueryError::NothingToSearch { text: shown.to_owned() });
    }
    Ok(())
}

/// Splits the query text into lexemes.
fn lex(text: &str) -> Result<Vec<Lexeme>, QueryError> {
    let mut lexemes = Vec::new();
    let mut rest = text;
    // Whether the next character starts a term (so `-` means "exclude").
    let mut at_term_start = true;
    while let Some(c) = rest.chars().next() {
        if c.is_whitespace() {
            rest = &rest[c.len_utf8()..];
            at_term_start = true;
            continue;
        }
        match c {
            '(' => {
                lexemes.push(Lexeme::OpenParen);
                rest = &rest[1..];
                at_term_start = true;
            }
            ')' => {
                lexemes.push(Lexeme::CloseParen);
                rest = &rest[1..];
                at_term_start = true;
            }
            '-' if at_term_start => {
                lexemes.push(Lexeme::Minus);
                rest = &rest[1..];
            }
            '"' => {
                let (phrase, after) = read_quoted(rest)?;
                lexemes.push(Lexeme::Phrase(phrase));
                rest = after;
                at_term_start = true;
            }
            _ => {
                let end = rest.find(|c: char| c.is_whitespace() || matches!(c, '(' | ')' | '"')).unwrap_or(rest.len());
                let word = &rest[..end];
                rest = &rest[end..];
                at_term_start = true;
                let lexeme = match word.split_once(':') {
                    None if word == "OR" => Lexeme::Or,
                    None if word == "AND" => Lexeme::And,
                    None => Lexeme::Word(word.to_owned()),
                    Some((name, value)) if value.is_empty() && rest.starts_with('"') => {
                        let (value, after) = read_quoted(rest)?;
                        rest = after;
                        Lexeme::Filter { name: name.to_owned(), value, quoted: true }
                    }
                    Some((name, value)) => {
                        Lexeme::Filter { name: name.to_owned(), value: value.to_owned(), quoted: false }
                    }
                };
                lexemes.push(lexeme);
            }
        }
    }
    Ok(lexemes)
}

/// Reads a `"quoted string"` (with `\"` and `\\` escapes) at the start of `text`; returns it
/// and the text after the closing quote.
fn read_quoted(text: &str) -> Result<(String, &str), QueryError> {
    let mut value = String::new();
    let mut chars = text.char_indices().skip(1);
    while let Some((index, c)) = chars.next() {
        match c {
            '"' => return Ok((value, &text[index + 1..])),
            '\\' => match chars.next() {
                Some((_, escaped @ ('"' | '\\'))) => value.push(escaped),
                Some((_, other)) => {
                    value.push('\\');
                    value.push(other);
                }
                None => value.push('\\'),
            },
            other => value.push(other),
        }
    }
    Err(QueryError::UnclosedQuote { fragment: text.to_owned() })
}

#[cfg(test)]
#[path = "parser_tests.rs"]
mod tests;
