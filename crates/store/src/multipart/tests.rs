//! The writer's own decisions, over a backend that keeps the parts in memory: when it goes
//! multipart, how it cuts parts, what it checks and what it leaves behind on failure. The
//! requests themselves are exercised against moto by the conformance suite.

use std::sync::{Arc, Mutex};

use super::*;

#[derive(Default)]
struct Recorded {
    whole: Option<Vec<u8>>,
    started: u32,
    parts: Vec<(u64, u64, Vec<u8>)>,
    completed: Option<(Vec<u64>, u64)>,
    aborted: u32,
}

struct MemoryBackend {
    runtime: Arc<Runtime>,
    threshold: u64,
    keeps: bool,
    /// A part upload at this offset fails with this kind.
    fail_at: Option<(u64, StoreErrorKind)>,
    log: Arc<Mutex<Recorded>>,
}

impl MultipartBackend for MemoryBackend {
    type Part = u64;
    fn url(&self) -> String {
        "memory".into()
    }
    fn runtime(&self) -> &Runtime {
        &self.runtime
    }
    fn concurrency(&self) -> usize {
        2
    }
    fn threshold(&self) -> u64 {
        self.threshold
    }
    fn put_whole(&mut self, body: Vec<u8>) -> Result<StoredObject, StoreError> {
        let size = body.len() as u64;
        self.log.lock().expect("log").whole = Some(body);
        Ok(StoredObject { key: "k".into(), size, checksum: None })
    }
    fn start(&mut self, _part_size: u64) -> Result<String, StoreError> {
        self.log.lock().expect("log").started += 1;
        Ok("upload".into())
    }
    fn part(&mut self, _upload_id: &str, number: u64, offset: u64, bytes: Vec<u8>) -> PartPlan<u64> {
        let log = self.log.clone();
        let fail = self.fail_at.filter(|(at, _)| *at == offset).map(|(_, kind)| kind);
        PartPlan::Upload(Box::pin(async move {
            if let Some(kind) = fail {
                return Err(StoreError::new(kind, format!("part at {offset} refused")));
            }
            log.lock().expect("log").parts.push((number, offset, bytes.clone()));
            Ok((offset, Some(bytes)))
        }))
    }
    fn complete(&mut self, _upload_id: &str, parts: Vec<u64>, size: u64) -> Result<StoredObject, StoreError> {
        self.log.lock().expect("log").completed = Some((parts, size));
        Ok(StoredObject { key: "k".into(), size, checksum: None })
    }
    fn abort(&mut self, _upload_id: &str) -> Result<(), StoreError> {
        self.log.lock().expect("log").aborted += 1;
        Ok(())
    }
    fn keeps_interrupted(&self) -> bool {
        self.keeps
    }
}

fn writer(threshold: u64, part_size: u64) -> (Box<MultipartWriter<MemoryBackend>>, Arc<Mutex<Recorded>>) {
    let runtime = Arc::new(tokio::runtime::Builder::new_current_thread().build().expect("runtime"));
    let log = Arc::new(Mutex::new(Recorded::default()));
    let backend = MemoryBackend { runtime, threshold, keeps: false, fail_at: None, log: log.clone() };
    (Box::new(MultipartWriter::new(backend, part_size)), log)
}

fn data(size: usize) -> Vec<u8> {
    (0..size).map(|index| (index % 251) as u8).collect()
}

#[test]
fn parts_are_powers_of_two_mib_that_fit_the_part_limit() {
    assert_eq!(part_size_for(500 * MIB, 16 * MIB), 16 * MIB, "the configured size when it fits");
    assert_eq!(part_size_for(500 * MIB, 5 * MIB), 5 * MIB, "a configured size need not be a power of two");
    let size = 200_000_000_000;
    let part = part_size_for(size, 16 * MIB);
    assert!(part.is_power_of_two() && part.is_multiple_of(MIB), "{part}");
    assert!(size.div_ceil(part) <= PLANNED_PARTS, "{part}");
    assert_eq!(part_size_for(u64::MAX / 4, MIB), MAX_PART, "never above what both APIs accept");
    assert_eq!(part_size_for(0, MIB), MIB);
}

#[test]
fn a_small_object_goes_up_in_one_request() {
    let (mut writer, log) = writer(100, 10);
    writer.write_all(&data(99)).expect("ok");
    writer.finish(99).expect("ok");
    let log = log.lock().expect("log");
    assert_eq!(log.whole.as_deref(), Some(data(99).as_slice()));
    assert_eq!((log.started, log.parts.len()), (0, 0));
}

#[test]
fn a_large_object_is_cut_into_parts_of_one_size_in_order() {
    let (mut writer, log) = writer(20, 10);
    let bytes = data(47);
    for chunk in bytes.chunks(7) {
        writer.write_all(chunk).expect("ok");
    }
    writer.finish(47).expect("ok");
    let log = log.lock().expect("log");
    assert_eq!(log.started, 1);
    let mut parts = log.parts.clone();
    parts.sort();
    let sizes: Vec<(u64, u64, usize)> = parts.iter().map(|(n, o, b)| (*n, *o, b.len())).collect();
    assert_eq!(sizes, vec![(0, 0, 10), (1, 10, 10), (2, 20, 10), (3, 30, 10), (4, 40, 7)]);
    assert_eq!(parts.iter().flat_map(|(_, _, b)| b.clone()).collect::<Vec<u8>>(), bytes);
    assert_eq!(log.completed, Some((vec![0, 10, 20, 30, 40], 47)), "parts complete in offset order");
    assert_eq!(log.aborted, 0);
}

#[test]
fn a_size_other_than_promised_fails_and_aborts_the_upload() {
    let (mut writer, log) = writer(10, 10);
    writer.write_all(&data(25)).expect("ok");
    let error = writer.finish(26).expect_err("size mismatch");
    assert!(error.message.contains("wrote 25 bytes, expected 26"), "{error}");
    let log = log.lock().expect("log");
    assert_eq!((log.completed.is_some(), log.aborted), (false, 1));
}

#[test]
fn an_interrupted_upload_is_kept_only_where_the_store_continues_uploads() {
    for keeps in [false, true] {
        let (mut writer, log) = writer(10, 10);
        writer.backend.keeps = keeps;
        writer.backend.fail_at = Some((10, StoreErrorKind::Timeout));
        // The failure shows up in a later write or in finish, whichever waits for it first.
        let _ = writer.write_all(&data(35));
        let error = writer.finish(35).expect_err("a part failed");
        assert_eq!(error.kind, StoreErrorKind::Timeout);
        assert_eq!(log.lock().expect("log").aborted, u32::from(!keeps), "keeps = {keeps}");
    }
}

#[test]
fn a_refused_part_aborts_even_where_uploads_continue() {
    let (mut writer, log) = writer(10, 10);
    writer.backend.keeps = true;
    writer.backend.fail_at = Some((0, StoreErrorKind::Unauthorized));
    writer.write_all(&data(10)).expect("ok");
    let error = writer.finish(10).expect_err("refused");
    assert_eq!(error.kind, StoreErrorKind::Unauthorized);
    assert_eq!(log.lock().expect("log").aborted, 1);
}

#[test]
fn a_dropped_writer_aborts_its_upload() {
    let (mut writer, log) = writer(10, 10);
    writer.write_all(&data(15)).expect("ok");
    drop(writer);
    assert_eq!(log.lock().expect("log").aborted, 1);
}
