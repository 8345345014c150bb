//! The bundle manifest: `.esker/manifest.jsonl`, the last member of every bundle, one JSON
//! object per line (a header line, then one line per stored entry). A zstd copy is also kept
//! as a separate small object so the catalog can be rebuilt without thawing bundles.

use std::borrow::Cow;

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
pub struct ManifestLine<'a> {
    /// Absolute path (lossy UTF-8 when the name is not UTF-8; see `path_hex`).
    pub path: Cow<'a, str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path_hex: Option<String>,
    /// Member name inside the tar.
    pub member: Cow<'a, str>,
    pub kind: &'static str,
    pub size: u64,
    /// Permission bits in octal, as `find --json` shows them ("0644").
    pub mode: ModeText,
    pub uid: u32,
    pub gid: u32,
    pub mtime_ns: i64,
    pub atime_ns: i64,
    pub ctime_ns: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blake3: Option<DigestHex>,
    pub header_offset: u64,
    pub data_offset: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link_target: Option<Cow<'a, str>>,
    /// archived, changed (stored as first seen), failed (data incomplete: do not use).
    pub state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Short ASCII text made on the stack, written into JSON as a string: a manifest line and a
/// catalog row need a digest and a mode for every file.
#[derive(Debug, Clone, Copy)]
pub struct StackText<const N: usize>([u8; N]);

/// A BLAKE3 digest as 64 lowercase hex digits.
pub type DigestHex = StackText<64>;
/// Permission bits (with setuid/setgid/sticky) as four octal digits.
pub type ModeText = StackText<4>;

impl<const N: usize> StackText<N> {
    pub fn as_str(&self) -> &str {
        // Only ASCII digits and letters are written.
        debug_assert!(self.0.is_ascii());
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl<const N: usize> Serialize for StackText<N> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl DigestHex {
    pub fn new(digest: &[u8; 32]) -> DigestHex {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut text = [0; 64];
        for (pair, byte) in text.chunks_exact_mut(2).zip(digest) {
            pair[0] = DIGITS[usize::from(byte >> 4)];
            pair[1] = DIGITS[usize::from(byte & 0xf)];
        }
        StackText(text)
    }
}

impl ModeText {
    pub fn new(mode: u32) -> ModeText {
        let digit = |shift: u32| b'0' + ((mode >> shift) & 0o7) as u8;
        StackText([digit(9), digit(6), digit(3), digit(0)])
    }
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
    ModeText::new(mode).as_str().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_and_modes_are_written_as_before() {
        for digest in [[0u8; 32], [0xff; 32], *blake3::hash(b"esker").as_bytes()] {
            assert_eq!(DigestHex::new(&digest).as_str(), hex::encode(digest));
            assert_eq!(
                serde_json::to_string(&DigestHex::new(&digest)).expect("json"),
                format!("\"{}\"", hex::encode(digest))
            );
        }
        for mode in [0, 0o644, 0o755, 0o100644, 0o4755, 0o2775, 0o1777, 0o40700, u32::MAX] {
            assert_eq!(mode_text(mode), format!("{:04o}", mode & 0o7777), "{mode:o}");
            assert_eq!(
                serde_json::to_string(&ModeText::new(mode)).expect("json"),
                format!("\"{:04o}\"", mode & 0o7777)
            );
        }
    }
}
