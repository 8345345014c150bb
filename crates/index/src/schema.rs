//! The tantivy schema (one document per file version) and turning a [`FileDoc`] into a document.

use tantivy::TantivyDocument;
use tantivy::schema::{FAST, Field, IndexRecordOption, NumericOptions, Schema, TextFieldIndexing, TextOptions};

use crate::folders::{ANCESTORS_TOKENIZER, FOLDERS_TOKENIZER};
use crate::index::FileDoc;
use crate::tokenizer::TOKENIZER_NAME;

/// Handles of every field of the schema.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Fields {
    /// Catalog id of the file: a fast field, which searches read their hits' ids from, and
    /// indexed, for replacing a file's document.
    pub file_id: Field,
    /// Path, tags and description, path-tokenized with positions.
    pub text: Field,
    /// File name only, path-tokenized with positions.
    pub name: Field,
    /// Every ancestor folder, lowercase (`/share`, `/share/projects`); see [`crate::folders`].
    pub ancestors: Field,
    /// Lowercase names of the folders on the path; see [`crate::folders`].
    pub folder: Field,
    /// Size in bytes, a fast field only: tantivy answers a range query on a fast field from
    /// the column, so terms for it would never be read.
    pub size: Field,
    /// Modification time (seconds since the epoch), a fast field only, as `size`.
    pub mtime: Field,
    /// Run id, indexed.
    pub run: Field,
    /// Every exact-match filter value, lowercase, behind the name of its filter: one field
    /// instead of eleven (see [`Key`]).
    pub keys: Field,
}

/// The exact-match filters, whose values all go in the `keys` field as `NAME:value` terms
/// (`kind:file`, `host:nas1`, `xattr:user.project=apollo`). One field for all of them keeps
/// the schema small, and tantivy reads the whole schema from the index's `meta.json` each
/// time the index is opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Key {
    /// Extension without the dot.
    Ext,
    Tag,
    Kind,
    State,
    Bundle,
    Store,
    Host,
    Owner,
    Group,
    Principal,
    /// `name` and `name=value` of each extended attribute.
    Xattr,
}

impl Key {
    /// What the key's terms start with.
    pub(crate) fn prefix(self) -> &'static str {
        match self {
            Key::Ext => "ext:",
            Key::Tag => "tag:",
            Key::Kind => "kind:",
            Key::State => "state:",
            Key::Bundle => "bundle:",
            Key::Store => "store:",
            Key::Host => "host:",
            Key::Owner => "owner:",
            Key::Group => "group:",
            Key::Principal => "principal:",
            Key::Xattr => "xattr:",
        }
    }

    /// The term text of `value` (already lowercase) under this key.
    pub(crate) fn term_text(self, value: &str) -> String {
        let prefix = self.prefix();
        let mut text = String::with_capacity(prefix.len() + value.len());
        text.push_str(prefix);
        text.push_str(value);
        text
    }
}

impl Fields {
    /// The schema every esker index uses, with its field handles.
    ///
    /// Nothing is stored (hits are read from the `file_id` column), and only `text` and
    /// `name`, the fields whose words are ranked, keep field norms: every other field is a
    /// filter, whose terms score alike in every document that has them.
    pub fn schema() -> (Schema, Fields) {
        let mut builder = Schema::builder();
        let indexed = |tokenizer, record, fieldnorms| {
            TextOptions::default().set_indexing_options(
                TextFieldIndexing::default()
                    .set_tokenizer(tokenizer)
                    .set_index_option(record)
                    .set_fieldnorms(fieldnorms),
            )
        };
        let words = indexed(TOKENIZER_NAME, IndexRecordOption::WithFreqsAndPositions, true);
        let exact = indexed("raw", IndexRecordOption::Basic, false);
        let folders = |tokenizer| indexed(tokenizer, IndexRecordOption::Basic, false);
        let fields = Fields {
            file_id: builder.add_u64_field("file_id", NumericOptions::default().set_indexed().set_fast()),
            text: builder.add_text_field("text", words.clone()),
            name: builder.add_text_field("name", words),
            ancestors: builder.add_text_field("ancestors", folders(ANCESTORS_TOKENIZER)),
            folder: builder.add_text_field("folder", folders(FOLDERS_TOKENIZER)),
            size: builder.add_u64_field("size", FAST),
            mtime: builder.add_i64_field("mtime", FAST),
            run: builder.add_u64_field("run", NumericOptions::default().set_indexed()),
            keys: builder.add_text_field("keys", exact),
        };
        (builder.build(), fields)
    }

    /// The tantivy document for one file.
    pub fn document(&self, file: &FileDoc<'_>) -> TantivyDocument {
        // Lowercase values are written here unless already lowercase (`add_text` copies them).
        let mut scratch = String::new();
        let mut document = TantivyDocument::new();
        document.add_u64(self.file_id, file.file_id);
        document.add_text(self.text, file.path);
        for tag in file.tags {
            let tag = tag.trim();
            if !tag.is_empty() {
                document.add_text(self.text, tag);
                document.add_text(self.keys, Key::Tag.term_text(lowercase(tag, &mut scratch)));
            }
        }
        if !file.description.trim().is_empty() {
            document.add_text(self.text, file.description);
        }

        let parts = PathParts::new(file.path);
        document.add_text(self.name, parts.name);
        if let Some(extension) = extension(parts.name) {
            document.add_text(self.keys, Key::Ext.term_text(lowercase(extension, &mut scratch)));
        }
        if !parts.folders.is_empty() {
            document.add_text(self.ancestors, &parts.folders);
            document.add_text(self.folder, &parts.folders);
        }

        self.add_people_and_xattrs(&mut document, file, &mut scratch);
        document.add_u64(self.size, file.size);
        document.add_i64(self.mtime, file.mtime);
        document.add_u64(self.run, file.run_id);
        for (key, value) in [
            (Key::Kind, file.kind),
            (Key::State, file.state),
            (Key::Bundle, file.bundle),
            (Key::Store, file.store),
            (Key::Host, file.host),
        ] {
            let value = value.trim();
            if !value.is_empty() {
                document.add_text(self.keys, key.term_text(lowercase(value, &mut scratch)));
            }
        }
        document
    }

    /// Owners, groups and principals as exact keys; xattr names and `name=value` pairs as
    /// keys, their values as text too.
    fn add_people_and_xattrs(&self, document: &mut TantivyDocument, file: &FileDoc<'_>, scratch: &mut String) {
        for (key, values) in [(Key::Owner, file.owner), (Key::Group, file.group), (Key::Principal, file.principals)] {
            for value in values {
                let value = value.trim();
                if !value.is_empty() {
                    document.add_text(self.keys, key.term_text(lowercase(value, scratch)));
                }
            }
        }
        for (name, value) in file.xattrs {
            let name = name.to_lowercase();
            if let Some(value) = value {
                document.add_text(self.text, value);
                let pair = format!("{name}={}", value.trim().to_lowercase());
                document.add_text(self.keys, Key::Xattr.term_text(&pair));
            }
            document.add_text(self.keys, Key::Xattr.term_text(&name));
        }
    }
}

/// `text` lowercased (as `str::to_lowercase`): `text` itself when it has no uppercase letter,
/// else written into `scratch`.
fn lowercase<'a>(text: &'a str, scratch: &'a mut String) -> &'a str {
    if !text.is_ascii() {
        *scratch = text.to_lowercase();
    } else if text.bytes().any(|byte| byte.is_ascii_uppercase()) {
        scratch.clear();
        scratch.push_str(text);
        scratch.make_ascii_lowercase();
    } else {
        return text;
    }
    scratch
}

/// The pieces of a `/`-separated path.
struct PathParts<'a> {
    /// The last non-empty component.
    name: &'a str,
    /// The other non-empty components, the folders holding the file, lowercase, joined by
    /// `/` and led by one when the path is absolute (`/share/projects`).
    folders: String,
}

impl<'a> PathParts<'a> {
    fn new(path: &'a str) -> PathParts<'a> {
        let absolute = path.starts_with('/');
        let mut parts = PathParts { name: "", folders: String::with_capacity(path.len()) };
        for component in path.split('/').filter(|part| !part.is_empty()) {
            let folder = std::mem::replace(&mut parts.name, component);
            if !folder.is_empty() {
                if absolute || !parts.folders.is_empty() {
                    parts.folders.push('/');
                }
                let start = parts.folders.len();
                if folder.is_ascii() {
                    parts.folders.push_str(folder);
                    parts.folders[start..].make_ascii_lowercase();
                } else {
                    parts.folders.push_str(&folder.to_lowercase());
                }
            }
        }
        parts
    }
}

/// The extension of a file name (after the last dot; none for `.bashrc` or `name.`).
fn extension(name: &str) -> Option<&str> {
    let dot = name.rfind('.')?;
    let extension = &name[dot + 1..];
    (dot > 0 && !extension.is_empty()).then_some(extension)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_parts() {
        let parts = PathParts::new("/share/Projects/Budget_2019/Q3-forecast.xlsx");
        assert_eq!(parts.name, "Q3-forecast.xlsx");
        assert_eq!(parts.folders, "/share/projects/budget_2019");
        let root = PathParts::new("/");
        assert_eq!((root.name, root.folders.as_str()), ("", ""));
        let top = PathParts::new("/file");
        assert_eq!((top.name, top.folders.as_str()), ("file", ""));
        let relative = PathParts::new("a//b/c/");
        assert_eq!((relative.name, relative.folders.as_str()), ("c", "a/b"));
        let accented = PathParts::new("/ÉTÉ/Ὀδυσσεύς ΣΑΣ/x");
        assert_eq!(accented.folders, "/été/ὀδυσσεύς σας");
    }

    #[test]
    fn lowercase_borrows_what_is_already_lowercase() {
        let mut scratch = String::new();
        for (text, expected) in [("abc-1", "abc-1"), ("ABC", "abc"), ("ÉTÉ", "été"), ("ΣΑΣ", "σας"), ("", "")]
        {
            assert_eq!(lowercase(text, &mut scratch), expected);
            assert_eq!(lowercase(text, &mut scratch), text.to_lowercase());
        }
        let text = "already lower";
        assert!(std::ptr::eq(lowercase(text, &mut scratch), text));
    }

    #[test]
    fn extensions() {
        assert_eq!(extension("Q3-forecast.xlsx"), Some("xlsx"));
        assert_eq!(extension("archive.tar.gz"), Some("gz"));
        assert_eq!(extension(".bashrc"), None);
        assert_eq!(extension("name."), None);
        assert_eq!(extension("README"), None);
    }
}
