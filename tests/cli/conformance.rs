//! One conformance suite for every store: the same checks against the local store and S3
//! (moto). A store passes when what it confirms is exactly what was written, readable by
//! range, listable, removable, and when unfinished uploads can be found and discarded.

use std::io::Write;

use sha2::Digest;

use esker::store::{LocalStore, RestoreState, RestoreTier, S3Store, Store, StoreErrorKind};

use crate::common::*;

const MIB: usize = 1024 * 1024;

fn write_object(store: &dyn Store, key: &str, data: &[u8]) {
    let mut writer = store.create(key, data.len() as u64).expect("create");
    // Odd-sized writes, as the tar writer makes them.
    for chunk in data.chunks(777_777) {
        writer.write_all(chunk).expect("write");
    }
    let object = writer.finish(data.len() as u64).expect("finish");
    assert_eq!(object.key, key);
    assert_eq!(object.size, data.len() as u64);
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
        let expected = esker::store::composite_sha256(&parts);
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
    let stored = store.put_small(&manifest, b"{\"manifest\":1}\n").expect("put small");
    assert_eq!(stored.size, 15);
    let listed: Vec<String> =
        store.list(&store.key("bundles/conformance")).expect("list").into_iter().map(|o| o.key).collect();
    assert_eq!(listed, vec![key.clone(), small_key.clone()]);
    assert_eq!(store.list(&store.key("manifests/")).expect("list").len(), 1);

    // A wrong size is refused and leaves nothing under the key.
    let bad_key = store.key("bundles/conformance-bad.tar");
    let mut writer = store.create(&bad_key, 12).expect("create");
    writer.write_all(b"twelve bytes").expect("write");
    assert!(writer.finish(99).is_err());
    assert!(store.head(&bad_key).expect("head").is_none());

    // An upload abandoned mid-way (a crash) is found and discarded.
    let lost_key = store.key("bundles/conformance-lost.tar");
    let mut writer = store.create(&lost_key, 6 * MIB as u64).expect("create");
    writer.write_all(&content(2, 6 * MIB)).expect("write");
    std::mem::forget(writer);
    let unfinished = store.unfinished_uploads(&store.key("bundles/")).expect("unfinished");
    assert_eq!(unfinished.iter().filter(|upload| upload.key == lost_key).count(), 1, "{unfinished:?}");
    store.discard_unfinished(&lost_key).expect("discard");
    assert!(store.unfinished_uploads(&store.key("bundles/")).expect("unfinished").is_empty());
    assert!(store.head(&lost_key).expect("head").is_none());

    // An explicit abort leaves nothing either.
    let aborted_key = store.key("bundles/conformance-aborted.tar");
    let mut writer = store.create(&aborted_key, 6 * MIB as u64).expect("create");
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
