//! The tantivy schema (one document per file version) and turning a [`FileDoc`] into a document.

use tantivy::TantivyDocument;
use tantivy::schema::{
    FAST, Field, INDEXED, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing, TextOptions,
};

use crate::index::FileDoc;
use crate::tokenizer::TOKENIZER_NAME;

/// Handles of every field of the schema.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Fields {
    /// Catalog id of the file (the only stored field).
    pub file_id: Field,
    /// Path, tags and description, path-tokenized with positions.
    pub text: Field,
    /// File name only, path-tokenized with positions.
    pub name: Field,
    /// Lowercase extension without the dot.
    pub ext: Field,
    /// Lowercase tags.
    pub tag: Field,
    /// Every ancestor folder, lowercase (`/share`, `/share/projects`).
    pub ancestors: Field,
    /// Lowercase names of the folders on the path.
    pub folder: Field,
    pub size: Field,
    pub mtime: Field,
    pub kind: Field,
    pub state: Field,
    pub bundle: Field,
    pub store: Field,
    pub host: Field,
    pub run: Field,
    pub owner: Field,
    pub group: Field,
    pub principal: Field,
    /// `name` and `name=value` of each extended attribute, lowercase.
    pub xattr: Field,
}

impl Fields {
    /// The schema every esker index uses, with its field handles.
    pub fn schema() -> (Schema, Fields) {
        let mut builder = Schema::builder();
        let words = TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(TOKENIZER_NAME)
                .set_index_option(IndexRecordOption::WithFreqsAndPositions),
        );
        let fields = Fields {
            file_id: builder.add_u64_field("file_id", INDEXED | FAST | STORED),
            text: builder.add_text_field("text", words.clone()),
            name: builder.add_text_field("name", words),
            ext: builder.add_text_field("ext", STRING),
            tag: builder.add_text_field("tag", STRING),
            ancestors: builder.add_text_field("ancestors", STRING),
            folder: builder.add_text_field("folder", STRING),
            size: builder.add_u64_field("size", INDEXED | FAST),
            mtime: builder.add_i64_field("mtime", INDEXED | FAST),
            kind: builder.add_text_field("kind", STRING),
            state: builder.add_text_field("state", STRING),
            bundle: builder.add_text_field("bundle", STRING),
            store: builder.add_text_field("store", STRING),
            host: builder.add_text_field("host", STRING),
            run: builder.add_u64_field("run", INDEXED),
            owner: builder.add_text_field("owner", STRING),
            group: builder.add_text_field("group", STRING),
            principal: builder.add_text_field("principal", STRING),
            xattr: builder.add_text_field("xattr", STRING),
        };
        (builder.build(), fields)
    }

    /// The tantivy document for one file.
    pub fn document(&self, file: &FileDoc<'_>) -> TantivyDocument {
        let mut document = TantivyDocument::new();
        document.add_u64(self.file_id, file.file_id);
        document.add_text(self.text, file.path);
        for tag in file.tags {
            let tag = tag.trim();
            if !tag.is_empty() {
                document.add_text(self.text, tag);
                document.add_text(self.tag, tag.to_lowercase());
            }
        }
        if !file.description.trim().is_empty() {
            document.add_text(self.text, file.description);
        }

        let parts = PathParts::new(file.path);
        document.add_text(self.name, parts.name);
        if let Some(extension) = extension(parts.name) {
            document.add_text(self.ext, extension.to_lowercase());
        }
        for ancestor in parts.ancestors() {
            document.add_text(self.ancestors, ancestor);
        }
        for folder in parts.folders() {
            document.add_text(self.folder, folder.to_lowercase());
        }

        for (field, values) in [(self.owner, file.owner), (self.group, file.group), (self.principal, file.principals)] {
            for value in values {
                let value = value.trim();
                if !value.is_empty() {
                    document.add_text(field, value.to_lowercase());
                }
            }
        }
        for (name, value) in file.xattrs {
            let name = name.to_lowercase();
            if let Some(value) = value {
                document.add_text(self.text, value);
                document.add_text(self.xattr, format!("{name}={}", value.trim().to_lowercase()));
            }
            document.add_text(self.xattr, name);
        }

        document.add_u64(self.size, file.size);
        document.add_i64(self.mtime, file.mtime);
        document.add_u64(self.run, file.run_id);
        for (field, value) in [
            (self.kind, file.kind),
            (self.state, file.state),
            (self.bundle, file.bundle),
            (self.store, file.store),
            (self.host, file.host),
        ] {
            let value = value.trim();
            if !value.is_empty() {
                document.add_text(field, value.to_lowercase());
            }
        }
        document
    }
}

/// The pieces of a `/`-separated path.
struct PathParts<'a> {
    absolute: bool,
    /// Non-empty components, the file name last.
    components: Vec<&'a str>,
    name: &'a str,
}

impl<'a> PathParts<'a> {
    fn new(path: &'a str) -> PathParts<'a> {
        let components: Vec<&str> = path.split('/').filter(|part| !part.is_empty()).collect();
        let name = components.last().copied().unwrap_or("");
        PathParts { absolute: path.starts_with('/'), components, name }
    }

    /// Folders holding the file, outermost first.
    fn folders(&self) -> &[&'a str] {
        &self.components[..self.components.len().saturating_sub(1)]
    }

    /// Lowercase paths of the folders holding the file: `/share`, `/share/projects`, ...
    fn ancestors(&self) -> Vec<String> {
        let mut current = String::new();
        let mut ancestors = Vec::with_capacity(self.folders().len());
        for (index, folder) in self.folders().iter().enumerate() {
            if self.absolute || index > 0 {
                current.push('/');
            }
            current.push_str(&folder.to_lowercase());
            ancestors.push(current.clone());
        }
        ancestors
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
        assert_eq!(parts.folders(), ["share", "Projects", "Budget_2019"]);
        assert_eq!(parts.ancestors(), ["/share", "/share/projects", "/share/projects/budget_2019"]);
        let root = PathParts::new("/");
        assert_eq!(root.name, "");
        assert!(root.ancestors().is_empty());
        let relative = PathParts::new("a//b/c/");
        assert_eq!(relative.name, "c");
        assert_eq!(relative.ancestors(), ["a", "a/b"]);
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
