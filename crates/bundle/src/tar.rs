//! POSIX (pax) tar writer that reports the byte offset of every member's header and data.
//!
//! Members use the ustar layout; a pax extended header (`x`) is added only when a field does
//! not fit ustar (long or non-UTF-8 long paths, long link targets, sizes >= 8 GiB, large ids,
//! times out of range), so GNU tar and any POSIX tar extract the result.

use std::io::{self, Write};

use esker_model::buffers::Chunk;

pub const BLOCK: u64 = 512;

/// What a member is; the tar typeflag follows from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberKind<'a> {
    Regular,
    Symlink { target: &'a [u8] },
    Directory,
}

/// The metadata written into one member's header.
#[derive(Debug, Clone)]
pub struct MemberHeader<'a> {
    /// Member path, relative, `/`-separated, raw bytes (no trailing slash for directories).
    pub path: &'a [u8],
    pub kind: MemberKind<'a>,
    pub size: u64,
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    /// Seconds since the epoch (may be negative).
    pub mtime: i64,
    /// Extended attributes, written as `SCHILY.xattr.NAME` pax records (GNU tar `--xattrs`).
    pub xattrs: &'a [esker_model::Xattr],
}

/// Where a member landed in the archive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemberOffsets {
    /// Offset of the member's first header block (its pax header when it has one).
    pub header: u64,
    /// Offset of the first byte of the member's data.
    pub data: u64,
}

/// Streams a tar archive into `W`, hashing every byte with BLAKE3 and counting offsets.
///
/// Bytes collect in a [`Chunk`] that goes through BLAKE3 and to `W` when full (and at the
/// end), with [`TarSink::write_chunk`]: a sink may keep the chunk itself and leave another
/// in its place. Member data can be read straight into the chunk
/// ([`data_space`](Self::data_space), [`commit_data`](Self::commit_data)), which saves a
/// copy of every byte. After an error from the sink the archive is lost: abort it.
pub struct TarWriter<W: TarSink> {
    inner: W,
    position: u64,
    blake3: blake3::Hasher,
    /// Data bytes still owed by the current member.
    pending: u64,
    /// Padding owed after the current member's data.
    padding: u64,
    /// Bytes waiting for the sink; a reused chunk holds an earlier bundle's bytes past
    /// `filled`, which are never passed on.
    buffer: Chunk,
    /// Bytes of `buffer` in use.
    filled: usize,
}

/// Where a [`TarWriter`] passes its bytes on, a [`Chunk`] at a time.
pub trait TarSink: Write {
    /// Takes the first `length` bytes of `chunk`. The default writes them through
    /// [`Write`]; a sink may instead keep `chunk` itself and leave another in its place.
    fn write_chunk(&mut self, chunk: &mut Chunk, length: usize) -> io::Result<()> {
        self.write_all(&chunk[..length])
    }
}

impl TarSink for Vec<u8> {}

impl TarSink for io::Sink {}

/// The finished archive: the sink back, total length and BLAKE3 of all bytes written
/// (what `b3sum` prints for the stored bundle).
pub struct TarFinished<W> {
    pub inner: W,
    pub length: u64,
    pub blake3: [u8; 32],
}

impl<W: TarSink> TarWriter<W> {
    pub fn new(inner: W) -> Self {
        Self {
            inner,
            position: 0,
            blake3: blake3::Hasher::new(),
            pending: 0,
            padding: 0,
            buffer: Chunk::take(),
            filled: 0,
        }
    }

    pub fn position(&self) -> u64 {
        self.position
    }

    /// Hashes the buffered bytes and passes them on.
    fn flush_buffer(&mut self) -> io::Result<()> {
        // Counted as passed on before the sink is called: after a failed write the chunk in
        // place may be another (a spare from the pool), whose bytes are nobody's to pass on.
        let length = std::mem::take(&mut self.filled);
        if length > 0 {
            self.blake3.update(&self.buffer[..length]);
            self.inner.write_chunk(&mut self.buffer, length)?;
        }
        Ok(())
    }

    fn emit(&mut self, mut bytes: &[u8]) -> io::Result<()> {
        self.position += bytes.len() as u64;
        while !bytes.is_empty() {
            if self.filled == self.buffer.len() {
                self.flush_buffer()?;
            }
            let take = bytes.len().min(self.buffer.len() - self.filled);
            self.buffer[self.filled..self.filled + take].copy_from_slice(&bytes[..take]);
            self.filled += take;
            bytes = &bytes[take..];
        }
        Ok(())
    }

    /// Writes the header(s) of a new member. The caller then writes exactly `header.size`
    /// bytes with [`write_data`](Self::write_data) (nothing for symlinks and directories).
    pub fn begin_member(&mut self, header: &MemberHeader<'_>) -> io::Result<MemberOffsets> {
        if self.pending != 0 {
            return Err(io::Error::other("tar member started before the previous one was complete"));
        }
        let start = self.position;
        let size = match header.kind {
            MemberKind::Regular => header.size,
            _ => 0,
        };
        let mut path = header.path.to_vec();
        if matches!(header.kind, MemberKind::Directory) && !path.ends_with(b"/") {
            path.push(b'/');
        }
        let link: &[u8] = match header.kind {
            MemberKind::Symlink { target } => target,
            _ => b"",
        };

        let split = split_ustar_path(&path);
        let records = pax_records(header, &path, split.is_none(), link, size);
        if !records.is_empty() {
            self.emit_pax(&records, &path, header.mtime)?;
        }

        let (prefix, name) = split.unwrap_or_else(|| {
            // Fallback name for readers that ignore pax: the last 100 bytes of the path.
            let cut = path.len().saturating_sub(100);
            (&b""[..], &path[cut..])
        });
        let typeflag = match header.kind {
            MemberKind::Regular => b'0',
            MemberKind::Symlink { .. } => b'2',
            MemberKind::Directory => b'5',
        };
        let link_field = if link.len() > 100 { &link[..100] } else { link };
        let block = ustar_block(
            (prefix, name),
            typeflag,
            size.min(OCTAL_11 - 1),
            header.mode & 0o7777,
            header.uid.min(OCTAL_7 - 1),
            header.gid.min(OCTAL_7 - 1),
            (header.mtime.max(0) as u64).min(OCTAL_11 - 1),
            link_field,
        );
        self.emit(&block)?;
        self.pending = size;
        self.padding = padding_for(size);
        if size == 0 {
            self.padding = 0;
        }
        Ok(MemberOffsets { header: start, data: self.position })
    }

    /// Writes a pax extended header member holding `records`, for the member at `path`.
    fn emit_pax(&mut self, records: &[u8], path: &[u8], mtime: i64) -> io::Result<()> {
        let mut pax_name = b"PaxHeaders/".to_vec();
        let base = path.rsplit(|&b| b == b'/').find(|part| !part.is_empty()).unwrap_or(b"member");
        pax_name.extend_from_slice(&base[..base.len().min(80)]);
        let block = ustar_block((b"", &pax_name), b'x', records.len() as u64, 0o644, 0, 0, mtime.max(0) as u64, b"");
        self.emit(&block)?;
        self.emit(records)?;
        let pad = padding_for(records.len() as u64);
        self.emit(&ZEROS[..pad as usize])
    }

    /// Writes member data; never more than the header announced.
    pub fn write_data(&mut self, data: &[u8]) -> io::Result<()> {
        if data.len() as u64 > self.pending {
            return Err(io::Error::other("more tar member data than its header announced"));
        }
        self.emit(data)?;
        self.data_written(data.len());
        self.pad_if_complete()
    }

    /// Where the next bytes of member data go: a non-empty slice of the writer's buffer, at
    /// most [`remaining`](Self::remaining) bytes long (empty only when nothing remains). Fill
    /// a prefix of it, then call [`commit_data`](Self::commit_data) with its length.
    pub fn data_space(&mut self) -> io::Result<&mut [u8]> {
        if self.filled == self.buffer.len() {
            self.flush_buffer()?;
        }
        let length = (self.buffer.len() - self.filled).min(usize::try_from(self.pending).unwrap_or(usize::MAX));
        Ok(&mut self.buffer[self.filled..self.filled + length])
    }

    /// Counts the first `length` bytes of the last [`data_space`](Self::data_space) as data.
    pub fn commit_data(&mut self, length: usize) -> io::Result<()> {
        if length as u64 > self.pending || self.filled + length > self.buffer.len() {
            return Err(io::Error::other("more tar member data than its header announced"));
        }
        self.filled += length;
        self.position += length as u64;
        self.data_written(length);
        self.pad_if_complete()
    }

    fn data_written(&mut self, length: usize) {
        self.pending -= length as u64;
    }

    fn pad_if_complete(&mut self) -> io::Result<()> {
        if self.pending == 0 && self.padding > 0 {
            let pad = self.padding;
            self.padding = 0;
            self.emit(&ZEROS[..pad as usize])?;
        }
        Ok(())
    }

    /// Bytes of data the current member still needs.
    pub fn remaining(&self) -> u64 {
        self.pending
    }

    /// Fills the rest of the current member with zeros (used when a file shrank while read).
    pub fn zero_fill(&mut self) -> io::Result<()> {
        while self.pending > 0 {
            let chunk = self.pending.min(ZEROS.len() as u64) as usize;
            self.write_data(&ZEROS[..chunk])?;
        }
        Ok(())
    }

    /// Convenience: a complete member from an in-memory buffer.
    pub fn append(&mut self, header: &MemberHeader<'_>, data: &[u8]) -> io::Result<MemberOffsets> {
        let offsets = self.begin_member(&MemberHeader { size: data.len() as u64, ..header.clone() })?;
        if !data.is_empty() {
            self.write_data(data)?;
        }
        Ok(offsets)
    }

    /// Gives back the sink without finishing the archive (to abort it); buffered bytes are
    /// dropped.
    pub fn into_inner(self) -> W {
        self.inner
    }

    /// Writes the end-of-archive marker and returns the sink, the length and the BLAKE3.
    pub fn finish(mut self) -> io::Result<TarFinished<W>> {
        if self.pending != 0 {
            return Err(io::Error::other("tar archive finished inside a member"));
        }
        self.emit(&ZEROS[..1024])?;
        self.flush_buffer()?;
        self.inner.flush()?;
        Ok(TarFinished { inner: self.inner, length: self.position, blake3: self.blake3.finalize().into() })
    }
}

const OCTAL_11: u64 = 0o77777777777 + 1; // 8 GiB
const OCTAL_7: u64 = 0o7777777 + 1;
/// Zeros for tar padding and end blocks, and for hashing the padding of a file that shrank
/// while it was packed (`pack.rs`).
pub(super) static ZEROS: [u8; 64 * 1024] = [0; 64 * 1024];

/// The pax records a member needs: whatever its ustar header cannot hold (a long or
/// non-UTF-8 path, a long link target, a large size, uid, gid or mtime) and its xattrs.
fn pax_records(header: &MemberHeader<'_>, path: &[u8], long_path: bool, link: &[u8], size: u64) -> Vec<u8> {
    let mut records = Vec::new();
    // Non-UTF-8 names go into pax records as raw bytes. POSIX would flag them with
    // `hdrcharset=BINARY`, but GNU tar warns about that keyword on every member; it stores
    // the raw bytes either way, so they are written unflagged.
    if long_path {
        pax_record(&mut records, b"path", path);
    }
    if link.len() > 100 {
        pax_record(&mut records, b"linkpath", link);
    }
    if size >= OCTAL_11 {
        pax_record(&mut records, b"size", size.to_string().as_bytes());
    }
    if header.uid >= OCTAL_7 {
        pax_record(&mut records, b"uid", header.uid.to_string().as_bytes());
    }
    if header.gid >= OCTAL_7 {
        pax_record(&mut records, b"gid", header.gid.to_string().as_bytes());
    }
    if header.mtime < 0 || header.mtime as u64 >= OCTAL_11 {
        pax_record(&mut records, b"mtime", header.mtime.to_string().as_bytes());
    }
    for xattr in header.xattrs {
        let mut key = b"SCHILY.xattr.".to_vec();
        key.extend_from_slice(&xattr.name);
        pax_record(&mut records, &key, &xattr.value);
    }
    records
}

fn padding_for(size: u64) -> u64 {
    (BLOCK - size % BLOCK) % BLOCK
}

/// Splits a path into ustar's (prefix, name) fields, or None when it does not fit.
fn split_ustar_path(path: &[u8]) -> Option<(&[u8], &[u8])> {
    if path.len() <= 100 {
        return Some((b"", path));
    }
    if path.len() > 256 {
        return None;
    }
    // The name part may end with '/' (directories); the split '/' itself is dropped.
    let search_end = path.len().saturating_sub(1);
    let mut best = None;
    for (index, &byte) in path[..search_end].iter().enumerate() {
        if byte == b'/' && index <= 155 && path.len() - index - 1 <= 100 && index > 0 {
            best = Some(index);
            break;
        }
    }
    best.map(|index| (&path[..index], &path[index + 1..]))
}

fn pax_record(out: &mut Vec<u8>, key: &[u8], value: &[u8]) {
    // "%d %s=%s\n" where %d counts the whole record including its own digits.
    let body = key.len() + value.len() + 3; // space, '=', newline
    let mut length = body + 1;
    while body + length.to_string().len() > length {
        length += 1;
    }
    let length = body + length.to_string().len();
    out.extend_from_slice(length.to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(key);
    out.push(b'=');
    out.extend_from_slice(value);
    out.push(b'\n');
}

#[allow(clippy::too_many_arguments)]
fn ustar_block(
    (prefix, name): (&[u8], &[u8]),
    typeflag: u8,
    size: u64,
    mode: u32,
    uid: u64,
    gid: u64,
    mtime: u64,
    link: &[u8],
) -> [u8; 512] {
    let mut block = [0u8; 512];
    block[..name.len()].copy_from_slice(name);
    octal(&mut block[100..108], u64::from(mode));
    octal(&mut block[108..116], uid);
    octal(&mut block[116..124], gid);
    octal(&mut block[124..136], size);
    octal(&mut block[136..148], mtime);
    block[156] = typeflag;
    block[157..157 + link.len()].copy_from_slice(link);
    block[257..263].copy_from_slice(b"ustar\0");
    block[263..265].copy_from_slice(b"00");
    block[345..345 + prefix.len()].copy_from_slice(prefix);
    block[148..156].fill(b' ');
    let sum: u32 = block.iter().map(|&b| u32::from(b)).sum();
    octal(&mut block[148..155], u64::from(sum));
    block[155] = b' ';
    block
}

/// Zero-padded octal with a trailing NUL, as ustar numeric fields want.
/// Only the low digits are written when the value needs more (callers check the range).
fn octal(field: &mut [u8], value: u64) {
    let (digits, nul) = field.split_at_mut(field.len() - 1);
    let mut rest = value;
    for digit in digits.iter_mut().rev() {
        *digit = b'0' + (rest & 7) as u8;
        rest >>= 3;
    }
    nul[0] = 0;
}

#[cfg(test)]
mod tests;
