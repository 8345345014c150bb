//! The path-aware tokenizer: splits paths on separators, camelCase and digit boundaries.
//!
//! `/share/Projects/Budget_2019/Q3-forecast.xlsx` becomes `share projects budget 2019 q 3
//! forecast xlsx`, `XMLHttpRequest` becomes `xml http request`, `Résumé` becomes `resume`.
//! Every token takes the next position, so a phrase query can span path parts.

use tantivy::tokenizer::{AsciiFoldingFilter, LowerCaser, TextAnalyzer, Token, TokenStream, Tokenizer};

/// Name under which the analyzer is registered in the index.
pub const TOKENIZER_NAME: &str = "esker_path";

/// The full analyzer: split, fold accents to ASCII, lowercase.
pub fn analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(PathTokenizer).filter(AsciiFoldingFilter).filter(LowerCaser).build()
}

/// The tokens `text` is indexed as (lowercase, accent-folded), in position order.
pub fn tokenize(text: &str) -> Vec<String> {
    let mut analyzer = analyzer();
    let mut stream = analyzer.token_stream(text);
    let mut tokens = Vec::new();
    while let Some(token) = stream.next() {
        tokens.push(token.text.clone());
    }
    tokens
}

/// Splits text into words; case folding happens in the filters after it.
#[derive(Clone, Copy, Debug, Default)]
pub struct PathTokenizer;

/// Tokens of one text, computed up front.
pub struct PathTokenStream {
    tokens: std::vec::IntoIter<Token>,
    current: Token,
}

impl Tokenizer for PathTokenizer {
    type TokenStream<'a> = PathTokenStream;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> PathTokenStream {
        PathTokenStream { tokens: split(text).into_iter(), current: Token::default() }
    }
}

impl TokenStream for PathTokenStream {
    fn advance(&mut self) -> bool {
        match self.tokens.next() {
            Some(token) => {
                self.current = token;
                true
            }
            None => false,
        }
    }

    fn token(&self) -> &Token {
        &self.current
    }

    fn token_mut(&mut self) -> &mut Token {
        &mut self.current
    }
}

/// What a character contributes to a word.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Class {
    Upper,
    Lower,
    /// A letter without case (Hangul, Arabic, titlecase digraphs...).
    Uncased,
    Digit,
    /// A CJK ideograph or kana: a word of its own.
    Ideograph,
    /// A combining mark: belongs to the previous letter, dropped from the token text.
    Mark,
    Separator,
}

fn classify(c: char) -> Class {
    let code = u32::from(c);
    if matches!(code, 0x0300..=0x036F | 0x1AB0..=0x1AFF | 0x1DC0..=0x1DFF | 0x20D0..=0x20FF
        | 0xFE20..=0xFE2F | 0x3099..=0x309A)
    {
        Class::Mark
    } else if matches!(code, 0x3040..=0x3098 | 0x309B..=0x30FF | 0x31F0..=0x31FF
        | 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0xFF66..=0xFF9F
        | 0x20000..=0x3134F)
    {
        Class::Ideograph
    } else if c.is_alphabetic() {
        if c.is_uppercase() {
            Class::Upper
        } else if c.is_lowercase() {
            Class::Lower
        } else {
            Class::Uncased
        }
    } else if c.is_numeric() {
        Class::Digit
    } else {
        Class::Separator
    }
}

fn is_letter(class: Class) -> bool {
    matches!(class, Class::Upper | Class::Lower | Class::Uncased)
}

/// The word being built.
struct Word {
    text: String,
    offset_from: usize,
    offset_to: usize,
    /// Class of the last non-mark character.
    last_class: Class,
    /// How many uppercase letters the word ends with.
    upper_run: usize,
    /// Byte offset in the source and length of `text` before the last non-mark character.
    last_char_offset: usize,
    last_char_text_len: usize,
}

struct Splitter {
    tokens: Vec<Token>,
    word: Option<Word>,
}

impl Splitter {
    fn emit(&mut self, text: String, offset_from: usize, offset_to: usize) {
        let position = self.tokens.len();
        self.tokens.push(Token { offset_from, offset_to, position, text, position_length: 1 });
    }

    fn finish_word(&mut self) {
        if let Some(word) = self.word.take() {
            self.emit(word.text, word.offset_from, word.offset_to);
        }
    }

    fn start_word(&mut self, offset: usize, c: char, class: Class) {
        self.word = Some(Word {
            text: c.to_string(),
            offset_from: offset,
            offset_to: offset + c.len_utf8(),
            last_class: class,
            upper_run: usize::from(class == Class::Upper),
            last_char_offset: offset,
            last_char_text_len: 0,
        });
    }

    /// Handles a letter or digit at `offset`; `next` is the class of the character after it.
    fn push(&mut self, offset: usize, c: char, class: Class, next: Class) {
        let Some(word) = self.word.as_mut() else {
            self.start_word(offset, c, class);
            return;
        };
        let previous = word.last_class;
        let letter_digit_boundary =
            (is_letter(previous) && class == Class::Digit) || (previous == Class::Digit && is_letter(class));
        if letter_digit_boundary || (previous == Class::Lower && class == Class::Upper) {
            self.finish_word();
            self.start_word(offset, c, class);
            return;
        }
        if previous == Class::Upper && class == Class::Lower && word.upper_run >= 2 {
            // `PDFs` -> `pdf s`; `HTMLParser` -> `html parser` (the last capital starts the word).
            let plural = c == 's' && !is_letter(next);
            if plural {
                self.finish_word();
                self.start_word(offset, c, class);
            } else {
                let split_offset = word.last_char_offset;
                let head_from = word.offset_from;
                let mut text = word.text.split_off(word.last_char_text_len);
                let head = std::mem::take(&mut word.text);
                self.emit(head, head_from, split_offset);
                let last_char_text_len = text.len();
                text.push(c);
                self.word = Some(Word {
                    text,
                    offset_from: split_offset,
                    offset_to: offset + c.len_utf8(),
                    last_class: class,
                    upper_run: 0,
                    last_char_offset: offset,
                    last_char_text_len,
                });
            }
            return;
        }
        word.last_char_offset = offset;
        word.last_char_text_len = word.text.len();
        word.text.push(c);
        word.offset_to = offset + c.len_utf8();
        word.last_class = class;
        word.upper_run = if class == Class::Upper { word.upper_run + 1 } else { 0 };
    }
}

/// Splits `text` into words, keeping the original case.
fn split(text: &str) -> Vec<Token> {
    let mut splitter = Splitter { tokens: Vec::new(), word: None };
    let mut chars = text.char_indices().peekable();
    while let Some((offset, c)) = chars.next() {
        let class = classify(c);
        match class {
            Class::Separator => splitter.finish_word(),
            Class::Mark => {
                if let Some(word) = splitter.word.as_mut() {
                    word.offset_to = offset + c.len_utf8();
                }
            }
            Class::Ideograph => {
                splitter.finish_word();
                splitter.emit(c.to_string(), offset, offset + c.len_utf8());
            }
            Class::Upper | Class::Lower | Class::Uncased | Class::Digit => {
                let next = chars.peek().map_or(Class::Separator, |&(_, next)| classify(next));
                splitter.push(offset, c, class, next);
            }
        }
    }
    splitter.finish_word();
    splitter.tokens
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn words(text: &str) -> Vec<String> {
        tokenize(text)
    }

    #[track_caller]
    fn check(text: &str, expected: &[&str]) {
        assert_eq!(words(text), expected, "tokens of {text:?}");
    }

    #[test]
    fn splits_paths() {
        check(
            "/share/Projects/Budget_2019/Q3-forecast.xlsx",
            &["share", "projects", "budget", "2019", "q", "3", "forecast", "xlsx"],
        );
        check(r"C:\Users\bob\My Documents", &["c", "users", "bob", "my", "documents"]);
        check("a.b-c_d e+f", &["a", "b", "c", "d", "e", "f"]);
        check("", &[]);
        check("/// -- __", &[]);
    }

    #[test]
    fn splits_camel_case() {
        check("fooBar", &["foo", "bar"]);
        check("HTMLParser", &["html", "parser"]);
        check("XMLHttpRequest", &["xml", "http", "request"]);
        check("getHTTPResponseCode", &["get", "http", "response", "code"]);
        check("PDFs", &["pdf", "s"]);
        check("ABC", &["abc"]);
        check("Budget", &["budget"]);
        check("iPhone", &["i", "phone"]);
    }

    #[test]
    fn splits_digits() {
        check("Budget2019", &["budget", "2019"]);
        check("v2final", &["v", "2", "final"]);
        check("2019report", &["2019", "report"]);
        check("HTML5Parser", &["html", "5", "parser"]);
        check("00042", &["00042"]);
    }

    #[test]
    fn folds_accents_and_case() {
        check("Résumé", &["resume"]);
        check("RÉSUMÉ.pdf", &["resume", "pdf"]);
        // Decomposed form, as macOS writes file names.
        check("Re\u{301}sume\u{301}", &["resume"]);
        check("Straße", &["strasse"]);
        check("Ærøskøbing", &["aeroskobing"]);
    }

    #[test]
    fn keeps_non_ascii_letters() {
        // Greek keeps its tonos: ASCII folding only covers Latin letters.
        check("Ελληνικά_αρχεία", &["ελληνικά", "αρχεία"]);
        check("報告書2019", &["報", "告", "書", "2019"]);
        check("한국어 파일", &["한국어", "파일"]);
        check("Привет мир", &["привет", "мир"]);
    }

    #[test]
    fn positions_and_offsets() {
        let mut analyzer = analyzer();
        let text = "/a/FooBar9";
        let mut stream = analyzer.token_stream(text);
        let mut seen = Vec::new();
        while let Some(token) = stream.next() {
            seen.push((token.position, token.text.clone(), text[token.offset_from..token.offset_to].to_owned()));
        }
        let expected = [(0, "a", "a"), (1, "foo", "Foo"), (2, "bar", "Bar"), (3, "9", "9")];
        let expected: Vec<_> = expected
            .iter()
            .map(|(position, token, source)| (*position, token.to_string(), source.to_string()))
            .collect();
        assert_eq!(seen, expected);
    }

    proptest! {
        #[test]
        fn tokens_are_non_empty_lowercase_and_in_order(text in "\\PC{0,40}") {
            let mut analyzer = analyzer();
            let mut stream = analyzer.token_stream(&text);
            let mut expected_position = 0;
            while let Some(token) = stream.next() {
                prop_assert!(!token.text.is_empty());
                prop_assert_eq!(&token.text, &token.text.to_lowercase());
                prop_assert_eq!(token.position, expected_position);
                prop_assert!(text.get(token.offset_from..token.offset_to).is_some());
                expected_position += 1;
            }
        }

        #[test]
        fn path_like_text_never_panics(text in "[A-Za-z0-9_./\\\\ -]{0,40}") {
            for token in tokenize(&text) {
                prop_assert!(token.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()));
            }
        }
    }
}
