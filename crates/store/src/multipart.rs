//! The one multipart writer of S3 and Glacier vaults. It buffers what the tar writer sends,
//! decides between one request and a multipart upload, cuts the stream into parts of one
//! size, keeps at most `upload_concurrency` part uploads in flight, checks the size written
//! and completes, aborts or (for stores that resume) keeps the upload. What differs between
//! the two APIs — requests, checksums, what a part records — is a [`MultipartBackend`].

use std::future::Future;
use std::io::Write;
use std::pin::Pin;

use tokio::runtime::Runtime;

use super::api::{ObjectWriter, StoredObject};
use super::error::{StoreError, StoreErrorKind};
use super::parts::{PartQueue, PartResult};

const MIB: u64 = 1 << 20;
/// Both APIs take at most 10,000 parts per upload; esker plans for 9,000 so an object that
/// grows a little while it is packed still fits.
const PLANNED_PARTS: u64 = 9_000;
const MAX_PARTS: u64 = 10_000;
/// The largest part both APIs accept (S3 takes up to 5 GiB, a vault up to 4 GiB).
const MAX_PART: u64 = 4 * 1024 * MIB;

/// The part size for an object of about `size` bytes: the configured one, or the next power
/// of two MiB that keeps the upload within [`PLANNED_PARTS`] (at most 4 GiB). Vaults need a
/// power of two MiB; S3 takes any size, so one rule serves both.
pub fn part_size_for(size: u64, configured: u64) -> u64 {
    let needed = size.div_ceil(PLANNED_PARTS).max(MIB).next_power_of_two();
    configured.max(needed).min(MAX_PART)
}

/// A part upload running on the store's runtime.
pub(crate) type PartUpload<P> = Pin<Box<dyn Future<Output = PartResult<P>> + Send>>;

/// What a backend does with the next part.
pub(crate) enum PartPlan<P> {
    /// The store already holds these bytes (a resumed vault upload): nothing is sent; the
    /// buffer comes back for reuse.
    Held(P, Vec<u8>),
    /// Send it.
    Upload(PartUpload<P>),
}

/// The requests of one multipart API, for one object.
pub(crate) trait MultipartBackend: Send {
    /// What a confirmed part records for the completion request.
    type Part: Send + 'static;
    /// The object, for messages.
    fn url(&self) -> String;
    fn runtime(&self) -> &Runtime;
    /// How many part uploads may be in flight at once.
    fn concurrency(&self) -> usize;
    /// Objects smaller than this go up in one request.
    fn threshold(&self) -> u64;
    /// Stores the whole object in one request.
    fn put_whole(&mut self, body: Vec<u8>) -> Result<StoredObject, StoreError>;
    /// Starts a multipart upload with parts of `part_size`; returns its id.
    fn start(&mut self, part_size: u64) -> Result<String, StoreError>;
    /// Part `number` (from 0) at `offset` of the upload `upload_id`.
    fn part(&mut self, upload_id: &str, number: u64, offset: u64, bytes: Vec<u8>) -> PartPlan<Self::Part>;
    /// Completes the upload from its parts in order and confirms the object of `size` bytes.
    fn complete(&mut self, upload_id: &str, parts: Vec<Self::Part>, size: u64) -> Result<StoredObject, StoreError>;
    fn abort(&mut self, upload_id: &str) -> Result<(), StoreError>;
    /// Whether an upload interrupted by a passing failure is kept for the next run, which
    /// continues it (vaults), instead of being aborted.
    fn keeps_interrupted(&self) -> bool;
}

/// Streams one object through a [`MultipartBackend`]. Memory: the first `hold` bytes (the
/// larger of the one-request threshold and one part) until the writer knows which way the
/// object goes; after that one part being filled, at most `concurrency` parts in flight and
/// one spare, whatever the size of the object. Part buffers are reused, not reallocated.
pub(crate) struct MultipartWriter<B: MultipartBackend> {
    backend: B,
    part_size: u64,
    hold: u64,
    buffer: Vec<u8>,
    upload_id: Option<String>,
    /// Offset of the next part.
    next_offset: u64,
    /// Every confirmed part with its offset.
    parts: PartQueue<(u64, B::Part)>,
    failed: Option<StoreError>,
    finished: bool,
    sent: u64,
    held: u64,
}

impl<B: MultipartBackend> MultipartWriter<B> {
    pub(crate) fn new(backend: B, part_size: u64) -> MultipartWriter<B> {
        let part_size = part_size.max(1);
        let hold = backend.threshold().max(part_size).div_ceil(part_size) * part_size;
        MultipartWriter {
            backend,
            part_size,
            hold,
            buffer: Vec::new(),
            upload_id: None,
            next_offset: 0,
            parts: PartQueue::new(part_size as usize),
            failed: None,
            finished: false,
            sent: 0,
            held: 0,
        }
    }

    /// A writer that continues the interrupted upload `upload_id`, made with parts of
    /// `part_size`.
    pub(crate) fn resuming(backend: B, upload_id: String, part_size: u64) -> MultipartWriter<B> {
        let mut writer = MultipartWriter::new(backend, part_size);
        writer.hold = writer.part_size;
        writer.upload_id = Some(upload_id);
        writer
    }

    fn upload_id(&mut self) -> Result<String, StoreError> {
        if let Some(id) = &self.upload_id {
            return Ok(id.clone());
        }
        let id = self.backend.start(self.part_size)?;
        self.upload_id = Some(id.clone());
        Ok(id)
    }

    fn send_part(&mut self, bytes: Vec<u8>) -> Result<(), StoreError> {
        let offset = self.next_offset;
        let number = offset / self.part_size;
        if number >= MAX_PARTS {
            return Err(StoreError::new(
                StoreErrorKind::Other,
                format!(
                    "{}: more than {MAX_PARTS} parts of {} bytes; the object outgrew its planned size",
                    self.backend.url(),
                    self.part_size
                ),
            ));
        }
        let upload_id = self.upload_id()?;
        self.next_offset += bytes.len() as u64;
        match self.backend.part(&upload_id, number, offset, bytes) {
            PartPlan::Held(part, buffer) => {
                self.parts.done.push((offset, part));
                self.parts.recycle(buffer);
                self.held += 1;
            }
            PartPlan::Upload(upload) => {
                self.parts.wait_for_room(self.backend.runtime(), self.backend.concurrency())?;
                self.sent += 1;
                self.parts.spawn(self.backend.runtime(), async move {
                    let (part, buffer) = upload.await?;
                    Ok(((offset, part), buffer))
                });
            }
        }
        Ok(())
    }

    /// Sends every whole part in the buffer.
    fn send_full_parts(&mut self) -> Result<(), StoreError> {
        let part_size = self.part_size as usize;
        while self.buffer.len() >= part_size {
            let part = if self.buffer.len() == part_size {
                let next = self.parts.next_buffer();
                std::mem::replace(&mut self.buffer, next)
            } else {
                let rest = self.buffer.split_off(part_size);
                std::mem::replace(&mut self.buffer, rest)
            };
            self.send_part(part)?;
        }
        Ok(())
    }

    fn complete(&mut self, expected_size: u64) -> Result<StoredObject, StoreError> {
        let written = self.next_offset + self.buffer.len() as u64;
        if written != expected_size {
            return Err(StoreError::new(
                StoreErrorKind::Io,
                format!("{}: size mismatch (wrote {written} bytes, expected {expected_size})", self.backend.url()),
            ));
        }
        if self.upload_id.is_none() && written < self.backend.threshold() {
            let body = std::mem::take(&mut self.buffer);
            return self.backend.put_whole(body);
        }
        self.send_full_parts()?;
        if !self.buffer.is_empty() || self.next_offset == 0 {
            let last = std::mem::take(&mut self.buffer);
            self.send_part(last)?;
        }
        self.parts.drain(self.backend.runtime())?;
        let mut parts = std::mem::take(&mut self.parts.done);
        parts.sort_by_key(|(offset, _)| *offset);
        let upload_id = self.upload_id.clone().unwrap_or_default();
        let object = self.backend.complete(&upload_id, parts.into_iter().map(|(_, part)| part).collect(), written)?;
        tracing::debug!(
            "{}: completed upload {upload_id}: {} parts sent, {} already in the store",
            self.backend.url(),
            self.sent,
            self.held
        );
        self.upload_id = None;
        Ok(object)
    }

    fn abort_upload(&mut self) {
        self.parts.abort();
        if let Some(id) = self.upload_id.take()
            && let Err(error) = self.backend.abort(&id)
        {
            tracing::warn!("could not abort upload of {}: {error}", self.backend.url());
        }
    }

    /// Ends this writer after `error`: an interruption keeps the upload (and the parts the
    /// store confirmed) for the next run where the store continues uploads; anything else
    /// aborts it.
    fn give_up(&mut self, error: &StoreError) {
        if self.upload_id.is_some() && error.is_interruption() && self.backend.keeps_interrupted() {
            self.parts.abort();
            tracing::info!(
                "{}: upload kept for the next run ({} parts in the store): {error}",
                self.backend.url(),
                self.parts.done.len()
            );
            self.finished = true;
        } else {
            self.abort_upload();
        }
    }
}

/// An I/O error carrying the store error's kind, so the tar writer's caller can still tell
/// an interruption from a refusal.
fn carried(error: &StoreError) -> std::io::Error {
    std::io::Error::other(StoreError::new(error.kind, error.message.clone()))
}

impl<B: MultipartBackend> Write for MultipartWriter<B> {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        if let Some(error) = &self.failed {
            return Err(carried(error));
        }
        let limit = if self.upload_id.is_some() { self.part_size } else { self.hold } as usize;
        let taken = (limit - self.buffer.len().min(limit)).min(data.len());
        self.buffer.extend_from_slice(&data[..taken]);
        if self.buffer.len() >= limit
            && let Err(error) = self.send_full_parts()
        {
            let io_error = carried(&error);
            self.failed = Some(error);
            return Err(io_error);
        }
        Ok(taken)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<B: MultipartBackend> ObjectWriter for MultipartWriter<B> {
    fn finish(mut self: Box<Self>, expected_size: u64) -> Result<StoredObject, StoreError> {
        if let Some(error) = self.failed.take() {
            self.give_up(&error);
            return Err(error);
        }
        match self.complete(expected_size) {
            Ok(object) => {
                self.finished = true;
                Ok(object)
            }
            Err(error) => {
                self.give_up(&error);
                Err(error)
            }
        }
    }

    fn abort(mut self: Box<Self>) {
        match self.failed.take() {
            Some(error) => self.give_up(&error),
            None => self.abort_upload(),
        }
    }
}

impl<B: MultipartBackend> Drop for MultipartWriter<B> {
    fn drop(&mut self) {
        if !self.finished {
            self.abort_upload();
        }
    }
}

#[cfg(test)]
mod tests;
