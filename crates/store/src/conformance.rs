//! The conformance suite every object store passes (feature `conformance`): what it confirms
//! is exactly what was written, readable by range (after a restore where the class is cold),
//! listable by prefix, removable, and unfinished uploads can be found and discarded. A new
//! backend runs [`object_store`] against a real server of its kind; esker's own tests run it
//! against a local directory and moto. Vaults, which are listed by inventory jobs and read
//! through retrieval jobs, share [`write_object`] and have their own suite beside it.

use std::io::Write;

use sha2::Digest;

use crate::{ObjectChecksum, RestoreState, RestoreTier, Store, StoreErrorKind, WriteOptions, tree_hash};

const MIB: usize = 1024 * 1024;

/// Deterministic bytes that do not compress (xorshift).
pub fn content(seed: u64, length: usize) -> Vec<u8> {
    let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    (0..length)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

/// Options for a new object of `size` bytes in run 1.
pub fn options(size: usize) -> WriteOptions {
    WriteOptions { size_hint: size as u64, run: Some(1), resume: false, confirmed: None }
}

/// Writes an object in odd-sized pieces, as the tar writer does, and checks what the store
/// confirmed; returns the key to read it by (a vault names it itself).
pub fn write_object(store: &dyn Store, key: &str, data: &[u8]) -> String {
    let capabilities = store.capabilities();
    let mut writer = store.create(key, options(data.len())).expect("create");
    for chunk in data.chunks(777_777) {
        writer.write_all(chunk).expect("write");
    }
    let object = writer.finish(data.len() as u64).expect("finish");
    if capabilities.names_objects {
        assert!(!object.key.contains('/') && object.key != key, "the store names its objects: {}", object.key);
    } else {
        assert_eq!(object.key, key);
    }
    if capabilities.checksum == ObjectChecksum::TreeHash {
        assert_eq!(object.checksum.as_deref(), Some(hex::encode(tree_hash::tree_hash(data)).as_str()));
    }
    assert_eq!(object.size, data.len() as u64);
    object.key
}

/// The suite for an object store whose multipart parts are 5 MiB. `cold` says whether new
/// objects need a restore before reading.
pub fn object_store(store: &dyn Store, cold: bool) {
    store.prepare().expect("prepare");
    let key = store.key("bundles/conformance-multi.tar");
    assert!(store.head(&key).expect("head").is_none());

    // Several parts' worth, then a small one-shot object.
    let big = content(1, 12 * MIB + 123);
    write_object(store, &key, &big);
    let small_key = store.key("bundles/conformance-small.tar");
    write_object(store, &small_key, b"tiny bundle");
    let info = store.head(&key).expect("head").expect("exists");
    assert_eq!(info.size, big.len() as u64);
    check_reported_checksum(store, info.checksum.as_deref(), &big);
    restore_and_read(store, &key, &big, cold);

    // Small objects in one request.
    let manifest = store.key("manifests/conformance.jsonl.zst");
    let stored = store.put_small(&manifest, b"{\"manifest\":1}\n", Some(1)).expect("put small");
    assert_eq!(stored.size, 15);
    let listed: Vec<String> =
        store.list(&store.key("bundles/conformance")).expect("list").into_iter().map(|o| o.key).collect();
    assert_eq!(listed, vec![key.clone(), small_key.clone()]);
    let manifests = store.list(&store.key("manifests/")).expect("list");
    assert_eq!(manifests.len(), 1);
    if cold {
        let bundles = store.list(&store.key("bundles/conformance")).expect("list");
        assert!(bundles.iter().any(|o| o.restore != RestoreState::Online), "a listing shows cold objects: {bundles:?}");
    }
    unfinished_uploads(store);

    // Deleting is idempotent.
    store.delete(&small_key).expect("delete");
    store.delete(&small_key).expect("delete again");
    assert!(store.head(&small_key).expect("head").is_none());
    assert!(matches!(store.get_range(&small_key, 0..1), Err(error) if error.kind == StoreErrorKind::NotFound));
}

/// A store that keeps SHA-256 checksums reports the composite of the 5 MiB parts sent.
fn check_reported_checksum(store: &dyn Store, reported: Option<&str>, data: &[u8]) {
    let keeps_sha256 = store.capabilities().checksum == ObjectChecksum::Sha256;
    assert_eq!(reported.is_some(), keeps_sha256, "{reported:?}");
    if let Some(checksum) = reported {
        let parts: Vec<[u8; 32]> = data.chunks(5 * MIB).map(|part| sha2::Sha256::digest(part).into()).collect();
        let expected = crate::composite_sha256(&parts);
        assert_eq!(checksum.split('-').next(), expected.split('-').next(), "{checksum} vs {expected}");
    }
}

/// Cold objects refuse reads until restored; then ranges across a part boundary, at the
/// start and at the end read back exactly.
fn restore_and_read(store: &dyn Store, key: &str, data: &[u8], cold: bool) {
    let info = store.head(key).expect("head").expect("exists");
    if cold {
        assert_eq!(info.restore, RestoreState::Archived);
        let error = store.get_range(key, 0..10).expect_err("read before restore");
        assert_eq!(error.kind, StoreErrorKind::NotRestored, "{error}");
        let state = store.request_restore(key, 1, RestoreTier::Bulk).expect("restore");
        assert!(matches!(state, RestoreState::Restored { .. } | RestoreState::Restoring), "{state:?}");
        store.request_restore(key, 1, RestoreTier::Bulk).expect("a second request is not an error");
    } else {
        assert_eq!(info.restore, RestoreState::Online);
        assert_eq!(store.request_restore(key, 1, RestoreTier::Bulk).expect("restore"), RestoreState::Online);
    }
    let boundary = 5 * MIB as u64;
    assert_eq!(
        store.get_range(key, boundary - 100..boundary + 100).expect("range"),
        &data[5 * MIB - 100..5 * MIB + 100]
    );
    assert_eq!(store.get_range(key, 0..512).expect("range"), &data[..512]);
    let end = data.len() as u64;
    assert_eq!(store.get_range(key, end - 7..end).expect("range"), &data[data.len() - 7..]);
}

/// A wrong size leaves nothing under the key; an upload abandoned mid-way (a crash) is
/// found and discarded; an explicit abort leaves nothing either.
fn unfinished_uploads(store: &dyn Store) {
    let bad_key = store.key("bundles/conformance-bad.tar");
    let mut writer = store.create(&bad_key, options(12)).expect("create");
    writer.write_all(b"twelve bytes").expect("write");
    assert!(writer.finish(99).is_err());
    assert!(store.head(&bad_key).expect("head").is_none());

    let lost_key = store.key("bundles/conformance-lost.tar");
    let mut writer = store.create(&lost_key, options(6 * MIB)).expect("create");
    writer.write_all(&content(2, 6 * MIB)).expect("write");
    std::mem::forget(writer);
    let unfinished = store.unfinished_uploads(&store.key("bundles/")).expect("unfinished");
    assert_eq!(unfinished.iter().filter(|upload| upload.key == lost_key).count(), 1, "{unfinished:?}");
    store.discard_unfinished(&lost_key).expect("discard");
    assert!(store.unfinished_uploads(&store.key("bundles/")).expect("unfinished").is_empty());
    assert!(store.head(&lost_key).expect("head").is_none());

    let aborted_key = store.key("bundles/conformance-aborted.tar");
    let mut writer = store.create(&aborted_key, options(6 * MIB)).expect("create");
    writer.write_all(&content(3, 6 * MIB)).expect("write");
    writer.abort();
    assert!(store.unfinished_uploads(&store.key("bundles/")).expect("unfinished").is_empty());
}
