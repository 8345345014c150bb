//! The bundle manifest: `.esker/manifest.jsonl`, the last member of every bundle, one JSON
//! object per line (a header line, then one line per stored entry). A zstd copy is also kept
//! as a separate small object so the catalog can be rebuilt without thawing bundles.

use serde::Serialize;

/// Name of the manifest member inside a bundle.
pub const MANIFEST_MEMBER: &str = ".esker/manifest.jsonl";

/// First line of a manifest.
#[derive(Debug, Serialize)]
pub struct ManifestHeader<'a> {
    pub esker_manifest: u32,
    pub bundle: String,
    pub run: i64,
    pub host: &'a str,
    pub created_ns: i64,
    pub tags: &'a [String],
    pub description: &'a str,
    pub files: usize,
}

/// One stored entry.
#[derive(Debug, Serialize)]
pub struct ManifestLine {
    /// Absolute path (lossy UTF-8 when the name is not UTF-8; see `path_hex`).
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path_hex: Option<String>,
    /// Member name inside the tar.
    pub member: String,
    pub kind: &'static str,
    pub size: u64,
    /// Permission bits in octal, as `find --json` shows them ("0644").
    pub mode: String,
    pub uid: u32,
    pub gid: u32,
    pub mtime_ns: i64,
    pub atime_ns: i64,
    pub ctime_ns: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blake3: Option<String>,
    pub header_offset: u64,
    pub data_offset: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link_target: Option<String>,
    /// archived, changed (stored as first seen), failed (data incomplete: do not use).
    pub state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Text and hex forms of raw path bytes for JSON: hex only when the bytes are not UTF-8.
pub fn text_and_hex(bytes: &[u8]) -> (String, Option<String>) {
    match std::str::from_utf8(bytes) {
        Ok(text) => (text.to_string(), None),
        Err(_) => (String::from_utf8_lossy(bytes).into_owned(), Some(hex::encode(bytes))),
    }
}

/// Permission bits (with setuid/setgid/sticky) as four octal digits.
pub fn mode_text(mode: u32) -> String {
    format!("{:04o}", mode & 0o7777)
}
