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
    TextAnalyzer::builder(PathTokenizer::default()).filter(AsciiFoldingFilter).filter(LowerCaser).build()
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

/// Splits text into words; case folding happens in the filters after it. It keeps the
/// tokens of the last text and writes the next text's words into their strings, so that
/// indexing millions of paths does not allocate a string per word.
#[derive(Clone, Debug, Default)]
pub struct PathTokenizer {
    tokens: Vec<Token>,
}

/// Tokens of one text, computed up front.
pub struct PathTokenStream<'a> {
    tokens: &'a mut [Token],
    /// How many tokens [`advance`](TokenStream::advance) has handed out.
    handed: usize,
    /// What [`token`](TokenStream::token) shows before the first `advance`.
    none: Token,
}

impl Tokenizer for PathTokenizer {
    type TokenStream<'a> = PathTokenStream<'a>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> PathTokenStream<'a> {
        let count = split(text, &mut self.tokens);
        PathTokenStream { tokens: &mut self.tokens[..count], handed: 0, none: Token::default() }
    }
}

impl TokenStream for PathTokenStream<'_> {
    fn advance(&mut self) -> bool {
        if self.handed == self.tokens.len() {
            return false;
        }
        self.handed += 1;
        true
    }

    fn token(&self) -> &Token {
        match self.handed {
            0 => &self.none,
            handed => &self.tokens[handed - 1],
        }
    }

    fn token_mut(&mut self) -> &mut Token {
        match self.handed {
            0 => &mut self.none,
            handed => &mut self.tokens[handed - 1],
        }
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
    // Paths are mostly ASCII: decide those without the Unicode tables and ranges below.
    match c {
        'a'..='z' => Class::Lower,
        'A'..='Z' => Class::Upper,
        '0'..='9' => Class::Digit,
        _ if c.is_ascii() => Class::Separator,
        _ => classify_unicode(c),
    }
}

fn classify_unicode(c: char) -> Class {
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

/// The word being built; its text is the splitter's next token slot.
struct Word {
    offset_from: usize,
    offset_to: usize,
    /// Class of the last non-mark character.
    last_class: Class,
    /// How many uppercase letters the word ends with.
    upper_run: usize,
    /// Byte offset in the source of the last non-mark character (the last one of the text:
    /// marks are dropped from it).
    last_char_offset: usize,
}

/// Writes words into `tokens[..len]`, reusing the strings already there.
struct Splitter<'t> {
    tokens: &'t mut Vec<Token>,
    len: usize,
    word: Option<Word>,
}

impl Splitter<'_> {
    /// The text of the next token, emptied.
    fn next_text(&mut self) -> &mut String {
        if self.tokens.len() == self.len {
            self.tokens.push(Token::default());
        }
        let text = &mut self.tokens[self.len].text;
        text.clear();
        text
    }

    /// Makes the next token, whose text is written, part of the output.
    fn close(&mut self, offset_from: usize, offset_to: usize) {
        let position = self.len;
        let token = &mut self.tokens[position];
        token.offset_from = offset_from;
        token.offset_to = offset_to;
        token.position = position;
        token.position_length = 1;
        self.len += 1;
    }

    fn finish_word(&mut self) {
        if let Some(word) = self.word.take() {
            self.close(word.offset_from, word.offset_to);
        }
    }

    fn start_word(&mut self, offset: usize, c: char, class: Class) {
        self.next_text().push(c);
        self.word = Some(Word {
            offset_from: offset,
            offset_to: offset + c.len_utf8(),
            last_class: class,
            upper_run: usize::from(class == Class::Upper),
            last_char_offset: offset,
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
            if c == 's' && !is_letter(next) {
                self.finish_word();
                self.start_word(offset, c, class);
                return;
            }
            let (head_from, split_offset) = (word.offset_from, word.last_char_offset);
            let capital = self.tokens[self.len].text.pop().expect("a word holds its last letter");
            self.word = None;
            self.close(head_from, split_offset);
            self.start_word(split_offset, capital, Class::Upper);
        }
        let word = self.word.as_mut().expect("a word was started above");
        word.last_char_offset = offset;
        word.offset_to = offset + c.len_utf8();
        word.last_class = class;
        word.upper_run = if class == Class::Upper { word.upper_run + 1 } else { 0 };
        self.tokens[self.len].text.push(c);
    }
}

/// Splits `text` into words, keeping the original case, into `tokens[..count]` (reusing
/// the strings of earlier calls); returns `count`.
fn split(text: &str, tokens: &mut Vec<Token>) -> usize {
    let mut splitter = Splitter { tokens, len: 0, word: None };
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
                splitter.next_text().push(c);
                splitter.close(offset, offset + c.len_utf8());
            }
            Class::Upper | Class::Lower | Class::Uncased | Class::Digit => {
                let next = chars.peek().map_or(Class::Separator, |&(_, next)| classify(next));
                splitter.push(offset, c, class, next);
            }
        }
    }
    splitter.finish_word();
    splitter.len
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
    fn ascii_is_classified_as_the_unicode_tables_say() {
        for c in (0u8..128).map(char::from) {
            assert_eq!(classify(c), classify_unicode(c), "{c:?}");
        }
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

    /// The tokens of `texts` from one analyzer, which reuses the strings of each text's
    /// tokens for the next.
    fn tokens_in_turn(texts: &[&str]) -> Vec<Vec<(String, usize, usize, usize)>> {
        let mut analyzer = analyzer();
        texts
            .iter()
            .map(|text| {
                let mut stream = analyzer.token_stream(text);
                let mut tokens = Vec::new();
                while let Some(token) = stream.next() {
                    tokens.push((token.text.clone(), token.position, token.offset_from, token.offset_to));
                }
                tokens
            })
            .collect()
    }

    #[test]
    fn reused_tokens_hold_nothing_of_the_text_before() {
        let texts = ["/Very/LongFolderNames/HTMLParserDocs", "a", "", "/x/Résumé9", "PDFs", "HTMLParser"];
        let in_turn = tokens_in_turn(&texts);
        for (text, tokens) in texts.iter().zip(&in_turn) {
            assert_eq!(tokens, &tokens_in_turn(&[text])[0], "tokens of {text:?} after other texts");
        }
        assert_eq!(in_turn[5].iter().map(|token| token.0.as_str()).collect::<Vec<_>>(), ["html", "parser"]);
    }

    proptest! {
        #[test]
        fn one_analyzer_splits_each_text_as_a_fresh_one(first in "\\PC{0,40}", second in "\\PC{0,40}") {
            let in_turn = tokens_in_turn(&[&first, &second]);
            prop_assert_eq!(&in_turn[1], &tokens_in_turn(&[&second])[0]);
        }

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
