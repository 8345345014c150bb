//! A PostgreSQL connection string whose password never shows: in Display, Debug, JSON,
//! logs or error messages. Both forms libpq accepts are understood: URLs
//! (`postgres://user:secret@host/db?password=secret`, also with an unescaped `@` in the
//! password) and keyword strings (`host=db password='s3 cret' dbname=esker`).

use std::ops::Range;

const MASK: &str = "********";

#[derive(Clone, PartialEq, Eq)]
pub struct ConnectionString(String);

impl ConnectionString {
    pub fn new(text: impl Into<String>) -> ConnectionString {
        ConnectionString(text.into())
    }

    /// Whether `text` is a libpq keyword string (`host=… dbname=…`) rather than a path.
    pub fn is_keyword_string(text: &str) -> bool {
        let trimmed = text.trim_start();
        let key_length = trimmed.bytes().take_while(|byte| byte.is_ascii_lowercase() || *byte == b'_').count();
        key_length > 0 && trimmed[key_length..].trim_start().starts_with('=')
    }

    /// Whether the user info of a URL holds more than one `@`: libpq would end the user
    /// info at the first one and take the rest of the password for a host name.
    pub fn has_unescaped_at(&self) -> bool {
        let Some(start) = self.0.find("://").map(|at| at + 3) else { return false };
        let end = self.0[start..].find(['/', '?']).map_or(self.0.len(), |at| start + at);
        self.0[start..end].matches('@').count() > 1
    }

    /// The text to hand to libpq, and nothing else.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The string with every password replaced by asterisks.
    pub fn masked(&self) -> String {
        let mut text = self.0.clone();
        for span in self.password_spans().into_iter().rev() {
            text.replace_range(span, MASK);
        }
        text
    }

    /// `message` (an error from libpq, say) with every password of this string masked,
    /// as written and as percent-decoded.
    pub fn scrub(&self, message: &str) -> String {
        let mut scrubbed = message.to_string();
        for span in self.password_spans() {
            let written = &self.0[span];
            for secret in [written.to_string(), percent_decoded(written)] {
                if !secret.is_empty() {
                    scrubbed = scrubbed.replace(&secret, MASK);
                }
            }
        }
        scrubbed.replace(&self.0, &self.masked())
    }

    fn password_spans(&self) -> Vec<Range<usize>> {
        if let Some(start) = self.0.find("://") {
            url_password_spans(&self.0, start + 3)
        } else {
            keyword_password_spans(&self.0)
        }
    }
}

impl std::fmt::Display for ConnectionString {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(&self.masked())
    }
}

impl std::fmt::Debug for ConnectionString {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "ConnectionString({:?})", self.masked())
    }
}

impl serde::Serialize for ConnectionString {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.masked())
    }
}

/// The password of the user info (up to the last `@` before the query, so an unescaped `@`
/// in the password stays inside it) and every `password=` value of the query.
fn url_password_spans(text: &str, authority_start: usize) -> Vec<Range<usize>> {
    let query_start = text[authority_start..].find('?').map_or(text.len(), |at| authority_start + at);
    let mut spans = Vec::new();
    if let Some(at) = text[authority_start..query_start].rfind('@') {
        let user_info = &text[authority_start..authority_start + at];
        if let Some(colon) = user_info.find(':') {
            spans.push(authority_start + colon + 1..authority_start + at);
        }
    }
    let mut offset = query_start + 1;
    while offset < text.len() {
        let end = text[offset..].find('&').map_or(text.len(), |at| offset + at);
        if let Some(value) = text[offset..end].strip_prefix("password=") {
            spans.push(end - value.len()..end);
        }
        offset = end + 1;
    }
    spans
}

/// The value of every `password` keyword: up to the next space, or a single-quoted value
/// with `\'` and `\\` escapes.
fn keyword_password_spans(text: &str) -> Vec<Range<usize>> {
    let bytes = text.as_bytes();
    let mut spans = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        while at < bytes.len() && bytes[at].is_ascii_whitespace() {
            at += 1;
        }
        let key_start = at;
        while at < bytes.len() && bytes[at] != b'=' && !bytes[at].is_ascii_whitespace() {
            at += 1;
        }
        let key = &text[key_start..at];
        while at < bytes.len() && (bytes[at].is_ascii_whitespace() || bytes[at] == b'=') {
            at += 1;
        }
        let value = value_span(bytes, at);
        if key == "password" {
            spans.push(value.clone());
        }
        at = value.end + 1;
    }
    spans
}

/// The value starting at `start`: quoted (without its quotes) or up to whitespace.
fn value_span(bytes: &[u8], start: usize) -> Range<usize> {
    if bytes.get(start) != Some(&b'\'') {
        let end = (start..bytes.len()).find(|&at| bytes[at].is_ascii_whitespace()).unwrap_or(bytes.len());
        return start..end;
    }
    let mut at = start + 1;
    while at < bytes.len() && bytes[at] != b'\'' {
        at += if bytes[at] == b'\\' { 2 } else { 1 };
    }
    start + 1..at.min(bytes.len())
}

fn percent_decoded(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        let hex = bytes.get(at + 1..at + 3).and_then(|pair| std::str::from_utf8(pair).ok());
        match (bytes[at], hex.and_then(|pair| u8::from_str_radix(pair, 16).ok())) {
            (b'%', Some(byte)) => {
                decoded.push(byte);
                at += 3;
            }
            (byte, _) => {
                decoded.push(byte);
                at += 1;
            }
        }
    }
    String::from_utf8_lossy(&decoded).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn masked(text: &str) -> String {
        ConnectionString::new(text).masked()
    }

    #[test]
    fn url_passwords_are_masked_in_every_place() {
        assert_eq!(masked("postgres://esker:hunter2@db/esker"), "postgres://esker:********@db/esker");
        assert_eq!(masked("postgres://esker:p@ss@db:5432/esker"), "postgres://esker:********@db:5432/esker");
        assert_eq!(
            masked("postgresql://esker@db/esker?sslmode=require&password=hunter2"),
            "postgresql://esker@db/esker?sslmode=require&password=********"
        );
        assert_eq!(masked("postgres://db/esker?user=x"), "postgres://db/esker?user=x");
    }

    #[test]
    fn keyword_passwords_are_masked_quoted_or_not() {
        assert_eq!(masked("host=db password=hunter2 dbname=esker"), "host=db password=******** dbname=esker");
        assert_eq!(masked("password = 'it\\'s secret' host=db"), "password = '********' host=db");
        assert_eq!(masked("host=db password='s3 cret'"), "host=db password='********'");
    }

    #[test]
    fn messages_lose_raw_and_decoded_passwords() {
        let url = ConnectionString::new("postgres://esker:p%40ss@db/esker");
        let message = "could not connect to postgres://esker:p%40ss@db/esker: password p@ss rejected";
        let scrubbed = url.scrub(message);
        assert!(!scrubbed.contains("p%40ss") && !scrubbed.contains("p@ss"), "{scrubbed}");
        assert!(!format!("{url:?} {url}").contains("p%40ss"));
    }

    #[test]
    fn an_unescaped_at_in_a_url_password_is_noticed() {
        assert!(ConnectionString::new("postgres://u:p@ss@db/esker").has_unescaped_at());
        assert!(!ConnectionString::new("postgres://u:p%40ss@db/esker").has_unescaped_at());
        assert!(!ConnectionString::new("postgres://db/esker?options=a@b").has_unescaped_at());
    }

    #[test]
    fn keyword_strings_are_told_from_paths() {
        assert!(ConnectionString::is_keyword_string("host=localhost dbname=esker"));
        assert!(ConnectionString::is_keyword_string("  dbname = esker"));
        assert!(!ConnectionString::is_keyword_string("/data/a=b.db"));
        assert!(!ConnectionString::is_keyword_string("catalog.db"));
    }
}
