//! The store conformance suite (esker_store::conformance, feature `conformance`) against
//! the local store and S3 (moto), and the vault suite against moto's Glacier API with
//! scripts/fixtures/moto_glacier.py: archives are named by the vault, read through
//! archive-retrieval jobs over MiB-aligned ranges, checked with tree hashes, and listed by
//! an inventory job instead of by prefix (see crates/store/src/glacier).

use std::io::Write;

use esker_store::conformance::{object_store as conformance, options, write_object};
use esker_store::{GlacierStore, LocalStore, RestoreState, RestoreTier, S3Store, Store, StoreErrorKind};

use crate::common::*;

const MIB: usize = 1024 * 1024;

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
