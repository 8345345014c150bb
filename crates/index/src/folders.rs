//! Tokenizers of the `ancestors` and `folder` fields. A document gives each field one
//! value, the lowercase folders of the path joined by `/` (`/share/projects/budget_2019`),
//! and these split it into what `in:` looks up: every ancestor (`/share`, `/share/projects`,
//! `/share/projects/budget_2019`) and every folder name (`share`, `projects`,
//! `budget_2019`). One value instead of one per folder saves tantivy a token stream per
//! folder for each of millions of documents.

use tantivy::tokenizer::{Token, TokenStream, Tokenizer};

/// Name of [`AncestorTokenizer`] in the index.
pub const ANCESTORS_TOKENIZER: &str = "esker_ancestors";
/// Name of [`FolderTokenizer`] in the index.
pub const FOLDERS_TOKENIZER: &str = "esker_folders";

/// Every ancestor of a joined folder path: each prefix that ends before a `/`, and the
/// whole path.
#[derive(Clone, Debug, Default)]
pub struct AncestorTokenizer {
    token: Token,
}

/// Every folder name of a joined folder path (its non-empty `/`-separated parts).
#[derive(Clone, Debug, Default)]
pub struct FolderTokenizer {
    token: Token,
}

/// The tokens of one joined folder path; `token.text` is rewritten at each step.
pub struct FolderStream<'a> {
    text: &'a str,
    /// Byte offset where the next token's search starts.
    next: usize,
    /// Whole prefixes (ancestors) or single parts (folder names).
    prefixes: bool,
    token: &'a mut Token,
}

impl Tokenizer for AncestorTokenizer {
    type TokenStream<'a> = FolderStream<'a>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> FolderStream<'a> {
        FolderStream::new(text, true, &mut self.token)
    }
}

impl Tokenizer for FolderTokenizer {
    type TokenStream<'a> = FolderStream<'a>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> FolderStream<'a> {
        FolderStream::new(text, false, &mut self.token)
    }
}

impl<'a> FolderStream<'a> {
    fn new(text: &'a str, prefixes: bool, token: &'a mut Token) -> FolderStream<'a> {
        token.reset();
        token.position = usize::MAX;
        FolderStream { text, next: 0, prefixes, token }
    }
}

impl TokenStream for FolderStream<'_> {
    fn advance(&mut self) -> bool {
        // Skip separators, then take the part up to the next one.
        let rest = &self.text[self.next..];
        let Some(skipped) = rest.find(|c| c != '/') else {
            self.next = self.text.len();
            return false;
        };
        let start = self.next + skipped;
        let end = self.text[start..].find('/').map_or(self.text.len(), |slash| start + slash);
        self.next = end;
        let from = if self.prefixes { 0 } else { start };
        self.token.text.clear();
        self.token.text.push_str(&self.text[from..end]);
        self.token.offset_from = from;
        self.token.offset_to = end;
        self.token.position = self.token.position.wrapping_add(1);
        self.token.position_length = 1;
        true
    }

    fn token(&self) -> &Token {
        self.token
    }

    fn token_mut(&mut self) -> &mut Token {
        self.token
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(mut tokenizer: impl Tokenizer, texts: &[&str]) -> Vec<Vec<String>> {
        texts
            .iter()
            .map(|text| {
                let mut stream = tokenizer.token_stream(text);
                let mut tokens = Vec::new();
                let mut position = 0;
                while let Some(token) = stream.next() {
                    assert_eq!(token.position, position, "positions of {text:?}");
                    assert_eq!(&text[token.offset_from..token.offset_to], token.text);
                    position += 1;
                    tokens.push(token.text.clone());
                }
                tokens
            })
            .collect()
    }

    #[test]
    fn ancestors_are_the_prefixes_before_each_slash() {
        let texts = ["/share/projects/budget_2019", "a/b", "/été", "", "/", "x"];
        assert_eq!(
            tokens(AncestorTokenizer::default(), &texts),
            [
                vec!["/share", "/share/projects", "/share/projects/budget_2019"],
                vec!["a", "a/b"],
                vec!["/été"],
                vec![],
                vec![],
                vec!["x"],
            ]
        );
    }

    #[test]
    fn folders_are_the_parts_between_slashes() {
        let texts = ["/share/projects/budget_2019", "a/b", "/été", "", "/", "x"];
        assert_eq!(
            tokens(FolderTokenizer::default(), &texts),
            [vec!["share", "projects", "budget_2019"], vec!["a", "b"], vec!["été"], vec![], vec![], vec!["x"]]
        );
    }
}
