//! Large byte buffers kept for reuse.
//!
//! An archive makes a tar writer per bundle and a chunked file per stored object, each with
//! 1 MiB buffers. A new buffer is fresh memory: the kernel maps and zeroes each of its pages
//! when it is first touched (3 µs a page on the machine of BENCHMARKS.md's eighth round,
//! about 55,000 page faults for the tar buffers of a 200,000-file archive alone). A pool
//! hands back the buffers of finished ones instead.

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

    /// Keeps `buffer` for a later [`take`](Self::take); one of another size (an empty
    /// placeholder) is dropped.
    pub(crate) fn give(&self, buffer: Vec<u8>) {
        if buffer.len() != self.size {
            return;
        }
        if let Ok(mut spare) = self.spare.lock() {
            spare.push(buffer);
        }
    }
}
