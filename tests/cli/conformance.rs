//! One conformance suite for every store: the same checks against the local store, S3 and a
//! Glacier vault (moto, with scripts/fixtures/moto_glacier.py). A store passes when what it
//! confirms is exactly what was written, readable by range (after a restore where needed),
//! removable, and when unfinished uploads can be found and discarded. Object stores are also
//! listable by prefix; a vault is listed by an inventory job instead (see glacier.rs).

use std::io::Write;

use sha2::Digest;

use esker_store::{
    GlacierStore, LocalStore, RestoreState, RestoreTier, S3Store, Store, StoreErrorKind, WriteOptions, tree_hash,
};

use crate::common::*;

const MIB: usize = 1024 * 1024;

fn options(size: usize) -> WriteOptions {
    WriteOptions { size_hint: size as u64, run: Some(1), resume: false, confirmed: None }
}

/// Writes an object; the key to read it by (a vault names it itself).
fn write_object(store: &dyn Store, key: &str, data: &[u8]) -> String {
    let mut writer = store.create(key, options(data.len())).expect("create");
    // Odd-sized writes, as the tar writer makes them.
    for chunk in data.chunks(777_777) {
        writer.write_all(chunk).expect("write");
    }
    let object = writer.finish(data.len() as u64).expect("finish");
    if store.kind() == "glacier" {
        assert!(!object.key.contains('/') && object.key != key, "a vault names its archives: {}", object.key);
        assert_eq!(object.checksum.as_deref(), Some(hex::encode(tree_hash::tree_hash(data)).as_str()));
    } else {
        assert_eq!(object.key, key);
    }
    assert_eq!(object.size, data.len() as u64);
    object.key
}

/// The suite. `cold` says whether new objects need a restore before reading.
fn conformance(store: &dyn Store, cold: bool) {
    store.prepare().expect("prepare");
    let key = store.key("bundles/conformance-multi.tar");
    assert!(store.head(&key).expect("head").is_none());

    // Several parts' worth (S3 parts are 5 MiB here), then a small one-shot object.
    let big = content(1, 12 * MIB + 123);
    write_object(store, &key, &big);
    let small_key = store.key("bundles/conformance-small.tar");
    write_object(store, &small_key, b"tiny bundle");
    let info = store.head(&key).expect("head").expect("exists");
    assert_eq!(info.size, big.len() as u64);
    // S3 keeps and reports the composite SHA-256 of the parts esker sent.
    assert_eq!(info.checksum.is_some(), store.kind() == "s3", "{info:?}");
    if let Some(checksum) = &info.checksum {
        let parts: Vec<[u8; 32]> = big.chunks(5 * MIB).map(|part| sha2::Sha256::digest(part).into()).collect();
        let expected = esker_store::composite_sha256(&parts);
        assert_eq!(checksum.split('-').next(), expected.split('-').next(), "{checksum} vs {expected}");
    }

    // Cold objects refuse reads until restored.
    if cold {
        assert_eq!(info.restore, RestoreState::Archived);
        let error = store.get_range(&key, 0..10).expect_err("read before restore");
        assert_eq!(error.kind, StoreErrorKind::NotRestored, "{error}");
        let state = store.request_restore(&key, 1, RestoreTier::Bulk).expect("restore");
        assert!(matches!(state, RestoreState::Restored { .. } | RestoreState::Restoring), "{state:?}");
        store.request_restore(&key, 1, RestoreTier::Bulk).expect("a second request is not an error");
    } else {
        assert_eq!(info.restore, RestoreState::Online);
        assert_eq!(store.request_restore(&key, 1, RestoreTier::Bulk).expect("restore"), RestoreState::Online);
    }
    // Ranges across a part boundary, at the start and at the end.
    let boundary = 5 * MIB as u64;
    assert_eq!(
        store.get_range(&key, boundary - 100..boundary + 100).expect("range"),
        &big[5 * MIB - 100..5 * MIB + 100]
    );
    assert_eq!(store.get_range(&key, 0..512).expect("range"), &big[..512]);
    let end = big.len() as u64;
    assert_eq!(store.get_range(&key, end - 7..end).expect("range"), &big[big.len() - 7..]);

    // Small objects in one request.
    let manifest = store.key("manifests/conformance.jsonl.zst");
    let stored = store.put_small(&manifest, b"{\"manifest\":1}\n", Some(1)).expect("put small");
    assert_eq!(stored.size, 15);
    let listed: Vec<String> =
        store.list(&store.key("bundles/conformance")).expect("list").into_iter().map(|o| o.key).collect();
    assert_eq!(listed, vec![key.clone(), small_key.clone()]);
    assert_eq!(store.list(&store.key("manifests/")).expect("list").len(), 1);

    // A wrong size is refused and leaves nothing under the key.
    let bad_key = store.key("bundles/conformance-bad.tar");
    let mut writer = store.create(&bad_key, options(12)).expect("create");
    writer.write_all(b"twelve bytes").expect("write");
    assert!(writer.finish(99).is_err());
    assert!(store.head(&bad_key).expect("head").is_none());

    // An upload abandoned mid-way (a crash) is found and discarded.
    let lost_key = store.key("bundles/conformance-lost.tar");
    let mut writer = store.create(&lost_key, options(6 * MIB)).expect("create");
    writer.write_all(&content(2, 6 * MIB)).expect("write");
    std::mem::forget(writer);
    let unfinished = store.unfinished_uploads(&store.key("bundles/")).expect("unfinished");
    assert_eq!(unfinished.iter().filter(|upload| upload.key == lost_key).count(), 1, "{unfinished:?}");
    store.discard_unfinished(&lost_key).expect("discard");
    assert!(store.unfinished_uploads(&store.key("bundles/")).expect("unfinished").is_empty());
    assert!(store.head(&lost_key).expect("head").is_none());

    // An explicit abort leaves nothing either.
    let aborted_key = store.key("bundles/conformance-aborted.tar");
    let mut writer = store.create(&aborted_key, options(6 * MIB)).expect("create");
    writer.write_all(&content(3, 6 * MIB)).expect("write");
    writer.abort();
    assert!(store.unfinished_uploads(&store.key("bundles/")).expect("unfinished").is_empty());

    // Deleting is idempotent.
    store.delete(&small_key).expect("delete");
    store.delete(&small_key).expect("delete again");
    assert!(store.head(&small_key).expect("head").is_none());
    assert!(matches!(store.get_range(&small_key, 0..1), Err(error) if error.kind == StoreErrorKind::NotFound));
}

#[test]
fn local_store_conforms() {
    let dir = tempfile::tempdir().expect("tempdir");
    conformance(&LocalStore::new("local", &dir.path().join("store")), false);
}

#[test]
fn s3_store_conforms_in_deep_archive() {
    let check = S3Check::new();
    let store = S3Store::new("cold", &check.settings("DEEP_ARCHIVE")).expect("store");
    conformance(&store, true);
    assert_eq!(check.unfinished_uploads(), 0);
    let classes: Vec<String> = check.objects("conformance/bundles/").into_iter().map(|(_, _, class)| class).collect();
    assert!(classes.iter().all(|class| class == "DEEP_ARCHIVE"), "{classes:?}");
    let manifests = check.objects("conformance/manifests/");
    assert!(manifests.iter().all(|(_, _, class)| class == "STANDARD"), "{manifests:?}");
}

#[test]
fn s3_store_conforms_in_standard() {
    let check = S3Check::new();
    let store = S3Store::new("hot", &check.settings("STANDARD")).expect("store");
    conformance(&store, false);
}

#[test]
fn s3_errors_name_the_bucket() {
    let check = S3Check::new();
    let mut settings = check.settings("STANDARD");
    settings.bucket = "no-such-bucket-for-esker".into();
    let store = S3Store::new("missing", &settings).expect("store");
    let error = store.prepare().expect_err("missing bucket");
    assert_eq!(error.kind, StoreErrorKind::NotFound, "{error}");
    assert!(error.message.contains("no-such-bucket-for-esker"), "{error}");
}

/// The suite for a vault: archives are named by the vault, read through archive-retrieval
/// jobs over MiB-aligned ranges, checked with tree hashes, and never listed directly.
#[test]
fn glacier_store_conforms() {
    let check = GlacierCheck::new();
    let store = GlacierStore::new("vault", &check.settings()).expect("store");
    store.prepare().expect("prepare");

    // 1 MiB parts, multipart from 2 MiB: 13 parts, three in flight; then one-request archives.
    let big = content(1, 12 * MIB + 123);
    let key = write_object(&store, &store.key("bundles/conformance-multi.tar"), &big);
    assert_eq!(check.stat("part_uploads"), 13);
    assert_eq!(check.stat("uploads_completed"), 1);
    let small = write_object(&store, &store.key("bundles/conformance-small.tar"), b"tiny bundle");
    let twin = write_object(&store, &store.key("bundles/conformance-twin.tar"), b"tiny bundle");
    assert_ne!(small, twin, "identical bodies are different archives");
    assert_eq!(check.stat("archive_uploads"), 2);

    // No per-archive lookup, no listing, no direct reads: each error says what to do.
    let head = store.head(&key).expect_err("no head on a vault");
    assert!(head.message.contains("inventory"), "{head}");
    assert!(store.list("bundles/").expect_err("no listing").message.contains("inventory"));
    assert_eq!(store.get_range(&key, 0..10).expect_err("read before restore").kind, StoreErrorKind::NotRestored);

    // A range across a part boundary: the job retrieves the MiB-aligned bytes around it only.
    let boundary = 5 * MIB as u64;
    let size = big.len() as u64;
    let started = store.start_restore(&key, boundary - 100..boundary + 100, size, 1, RestoreTier::Bulk).expect("start");
    let job = started.job.expect("a retrieval job");
    assert_eq!(job.range, 4 * MIB as u64..6 * MIB as u64);
    assert_eq!(check.stat("bytes_retrieved"), 2 * MIB as u64);
    assert!(matches!(store.restore_state(&key, Some(&job)).expect("state"), Some(RestoreState::Restored { .. })));
    assert_eq!(
        store.read_restored(&key, Some(&job), boundary - 100..boundary + 100).expect("read"),
        &big[5 * MIB - 100..5 * MIB + 100]
    );
    assert!(store.read_restored(&key, Some(&job), 0..10).is_err(), "outside the job's range");
    // Asking again for bytes the job covers reuses it.
    let again = store.start_restore(&key, boundary..boundary + 1, size, 1, RestoreTier::Bulk).expect("again");
    assert_eq!(again.job.as_ref().map(|job| &job.id), Some(&job.id));
    assert_eq!(check.stat("archive_jobs"), 1);

    // The whole archive: the start, the end, and a read the vault checks with a tree hash.
    let whole = store.start_restore(&key, 0..size, size, 1, RestoreTier::Standard).expect("whole").job.expect("job");
    assert_eq!(whole.range, 0..size);
    assert_eq!(store.read_restored(&key, Some(&whole), 0..512).expect("start"), &big[..512]);
    assert_eq!(store.read_restored(&key, Some(&whole), size - 7..size).expect("end"), &big[big.len() - 7..]);
    // A download garbled in transit fails its tree-hash check.
    check.control("POST", "garble");
    let garbled = store.read_restored(&key, Some(&whole), 0..512).expect_err("garbled output");
    assert!(garbled.message.contains("tree hash mismatch"), "{garbled}");
    assert_eq!(store.read_restored(&key, Some(&whole), 0..512).expect("clean again"), &big[..512]);

    // A job in progress is Restoring until the vault finishes it.
    check.control("POST", "hold");
    let held = store.start_restore(&twin, 0..11, 11, 1, RestoreTier::Expedited).expect("start").job.expect("job");
    assert_eq!(store.restore_state(&twin, Some(&held)).expect("state"), Some(RestoreState::Restoring));
    check.control("POST", "release");
    assert!(matches!(store.restore_state(&twin, Some(&held)).expect("state"), Some(RestoreState::Restored { .. })));
    assert_eq!(store.read_restored(&twin, Some(&held), 0..11).expect("read"), b"tiny bundle");
    // Nothing to read (folders, symlinks): no job at all.
    assert_eq!(store.start_restore(&twin, 0..0, 11, 1, RestoreTier::Bulk).expect("empty").job, None);

    // Manifests are small archives too.
    let stored = store.put_small("manifests/conformance.jsonl.zst", b"{\"manifest\":1}\n", Some(1)).expect("put");
    assert_eq!(stored.size, 15);
    assert!(!stored.key.contains('/'));

    // A wrong size is refused before anything is completed.
    let archives = check.stat("archive_uploads") + check.stat("uploads_completed");
    let mut writer = store.create("bundles/conformance-bad.tar", options(12)).expect("create");
    writer.write_all(b"twelve bytes").expect("write");
    assert!(writer.finish(99).is_err());
    assert_eq!(check.stat("archive_uploads") + check.stat("uploads_completed"), archives);

    // An upload abandoned mid-way (a crash) is found by its description and discarded.
    let lost_key = "bundles/conformance-lost.tar";
    let mut writer = store.create(lost_key, options(6 * MIB)).expect("create");
    writer.write_all(&content(2, 6 * MIB)).expect("write");
    std::mem::forget(writer);
    let unfinished = store.unfinished_uploads("bundles/").expect("unfinished");
    assert_eq!(unfinished.iter().filter(|upload| upload.key == lost_key).count(), 1, "{unfinished:?}");
    store.discard_unfinished(lost_key).expect("discard");
    assert!(store.unfinished_uploads("bundles/").expect("unfinished").is_empty());
    assert!(check.uploads().is_empty());

    // An explicit abort leaves nothing either.
    let mut writer = store.create("bundles/conformance-aborted.tar", options(6 * MIB)).expect("create");
    writer.write_all(&content(3, 6 * MIB)).expect("write");
    writer.abort();
    assert!(check.uploads().is_empty());

    // Deleting is idempotent; a deleted archive can't be retrieved; names address nothing.
    store.delete(&small).expect("delete");
    store.delete(&small).expect("delete again");
    store.delete("bundles/conformance-small.tar").expect("a name is not an archive");
    let error = store.start_restore(&small, 0..11, 11, 1, RestoreTier::Bulk).expect_err("deleted");
    assert_eq!(error.kind, StoreErrorKind::NotFound, "{error}");
}
