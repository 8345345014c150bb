//! Large byte buffers kept for reuse.
//!
//! An archive makes a tar writer per bundle and a chunked file per stored object, each with
//! 1 MiB buffers. A new buffer is fresh memory: the kernel maps and zeroes each of its pages
//! when it is first touched, a page fault per page. A pool hands back the buffers of
//! finished ones instead.

use std::sync::Mutex;

/// Buffers of one size. It makes a buffer only when none is spare, so it never holds more
/// than were in use at once.
pub(crate) struct BufferPool {
    size: usize,
    spare: Mutex<Vec<Vec<u8>>>,
}

impl BufferPool {
    pub(crate) const fn new(size: usize) -> BufferPool {
        BufferPool { size, spare: Mutex::new(Vec::new()) }
    }

    /// A buffer of the pool's size: a spare one, still holding what it held, or a new one
    /// of zeros.
    pub(crate) fn take(&self) -> Vec<u8> {
        let spare = self.spare.lock().ok().and_then(|mut spare| spare.pop());
        spare.unwrap_or_else(|| vec![0; self.size])
    }

    /// Keeps `buffer` for a later [`take`](Self::take); one of another size is dropped.
    pub(crate) fn give(&self, buffer: Vec<u8>) {
        if buffer.len() != self.size {
            return;
        }
        if let Ok(mut spare) = self.spare.lock() {
            spare.push(buffer);
        }
    }
}

/// Bytes in a [`Chunk`]: what a tar writer collects before passing it on, and what the
/// local store writes at a time.
pub const CHUNK: usize = 1 << 20;
/// Alignment of a [`Chunk`]'s bytes in memory: `O_DIRECT` wants the logical block size
/// (512 or 4096 bytes); a page is enough for both.
pub const CHUNK_ALIGN: usize = 4096;

/// The buffers of dropped chunks, for the next ones.
static CHUNKS: BufferPool = BufferPool::new(CHUNK + CHUNK_ALIGN);

/// [`CHUNK`] bytes aligned to [`CHUNK_ALIGN`] in memory (it derefs to them), from a pool
/// and back to it when dropped. A tar writer fills one, and a sink that writes whole
/// chunks with `O_DIRECT` can take it as it is instead of copying its bytes (see
/// a store writer's `write_chunk`). A reused chunk holds earlier bytes: its
/// holder knows how many it filled since.
pub struct Chunk {
    bytes: Vec<u8>,
    start: usize,
}

impl Chunk {
    /// A spare chunk from the pool, or a new one.
    pub fn take() -> Chunk {
        let bytes = CHUNKS.take();
        let start = bytes.as_ptr().align_offset(CHUNK_ALIGN);
        Chunk { bytes, start }
    }
}

impl Drop for Chunk {
    fn drop(&mut self) {
        CHUNKS.give(std::mem::take(&mut self.bytes));
    }
}

impl std::ops::Deref for Chunk {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.bytes[self.start..self.start + CHUNK]
    }
}

impl std::ops::DerefMut for Chunk {
    fn deref_mut(&mut self) -> &mut [u8] {
        &mut self.bytes[self.start..self.start + CHUNK]
    }
}
