//! The part queue shared by the multipart writers of S3 and Glacier vaults: part uploads in
//! flight on the store's runtime (at most a set number at once), the parts they confirmed,
//! and the emptied part buffers they gave back for reuse.

use std::collections::VecDeque;
use std::future::Future;

use tokio::runtime::Runtime;
use tokio::task::JoinHandle;

use super::error::{StoreError, StoreErrorKind};

/// What a part upload task returns: what the store confirmed for the part, and the part's
/// buffer when the request no longer holds it.
pub(super) type PartResult<T> = Result<(T, Option<Vec<u8>>), StoreError>;

pub(super) struct PartQueue<T> {
    part_size: usize,
    in_flight: VecDeque<JoinHandle<PartResult<T>>>,
    /// What each finished part confirmed, in the order they finished.
    pub(super) done: Vec<T>,
    /// Emptied part buffers ready for reuse.
    spare: Vec<Vec<u8>>,
}

impl<T: Send + 'static> PartQueue<T> {
    pub(super) fn new(part_size: usize) -> PartQueue<T> {
        PartQueue { part_size, in_flight: VecDeque::new(), done: Vec::new(), spare: Vec::new() }
    }

    /// A buffer for the next part: a spare one when there is one.
    pub(super) fn next_buffer(&mut self) -> Vec<u8> {
        match self.spare.pop() {
            Some(mut buffer) => {
                buffer.clear();
                buffer
            }
            None => Vec::with_capacity(self.part_size),
        }
    }

    /// Keeps `buffer` for a later part if it can hold one.
    pub(super) fn recycle(&mut self, buffer: Vec<u8>) {
        if buffer.capacity() >= self.part_size {
            self.spare.push(buffer);
        }
    }

    /// Waits until fewer than `limit` parts are in flight.
    pub(super) fn wait_for_room(&mut self, runtime: &Runtime, limit: usize) -> Result<(), StoreError> {
        while self.in_flight.len() >= limit.max(1) {
            self.collect_one(runtime)?;
        }
        Ok(())
    }

    /// Starts a part upload on `runtime`.
    pub(super) fn spawn(&mut self, runtime: &Runtime, upload: impl Future<Output = PartResult<T>> + Send + 'static) {
        self.in_flight.push_back(runtime.spawn(upload));
    }

    /// Waits for every part in flight.
    pub(super) fn drain(&mut self, runtime: &Runtime) -> Result<(), StoreError> {
        while !self.in_flight.is_empty() {
            self.collect_one(runtime)?;
        }
        Ok(())
    }

    /// Stops the part uploads in flight.
    pub(super) fn abort(&mut self) {
        for handle in self.in_flight.drain(..) {
            handle.abort();
        }
    }

    /// Waits for the oldest part in flight.
    fn collect_one(&mut self, runtime: &Runtime) -> Result<(), StoreError> {
        let Some(handle) = self.in_flight.pop_front() else { return Ok(()) };
        let result = runtime
            .block_on(handle)
            .map_err(|error| StoreError::new(StoreErrorKind::Other, format!("part upload task failed: {error}")))?;
        let (confirmed, buffer) = result?;
        self.done.push(confirmed);
        if let Some(buffer) = buffer {
            self.recycle(buffer);
        }
        esker_model::failpoint::hit("part_uploaded");
        Ok(())
    }
}
