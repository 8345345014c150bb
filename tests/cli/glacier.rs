//! Archiving into a Glacier vault (moto with scripts/fixtures/moto_glacier.py): one-request
//! and multipart uploads checked by tree hash, an interrupted multipart upload resumed with
//! only its missing parts, an inventory reconciled with the catalog, and ranged retrievals.

use std::fs;

use serde_json::Value;

use crate::common::*;

const MIB: usize = 1024 * 1024;

fn vault_env(check: &GlacierCheck, extra: &str) -> Env {
    let env = Env::new();
    fs::create_dir_all(&env.home).expect("mkdir home");
    let config = format!("store = \"vault\"\n{}", check.store_config(extra));
    write(&env.home.join("config.toml"), config.as_bytes());
    env
}

fn tree_hash_hex(bytes: &[u8]) -> String {
    hex::encode(esker_store::tree_hash::tree_hash(bytes))
}

fn stored_bundles(env: &Env) -> Vec<Value> {
    let bundles = env.bundles();
    assert!(bundles.iter().all(|bundle| bundle["state"] == "stored"), "{bundles:?}");
    bundles
}

/// Requests an inventory, lets the poller fetch it, and returns the reconciliation.
/// Runs the interrupted archive again, which resumes the run and its multipart upload, and
/// checks it ends with one bundle, uploaded once and byte-exact in the vault. Returns how
/// many parts the bundle has and how many this run sent.
fn resume_upload(env: &Env, check: &GlacierCheck) -> (u64, u64) {
    let sent_before = check.stat("part_uploads");
    let summary = env.archive_json(&[]);
    assert_eq!(summary["resumed"], true, "{summary}");
    let bundles = stored_bundles(env);
    assert_eq!(bundles.len(), 1);
    let total_parts = bundles[0]["bytes"].as_u64().expect("bytes").div_ceil(MIB as u64);
    let sent = check.stat("part_uploads") - sent_before;
    assert_eq!(check.stat("uploads_initiated"), 1, "no second upload of the bundle");
    assert!(check.uploads().is_empty());
    let bytes = check.download(bundles[0]["key"].as_str().expect("key"));
    assert_eq!(bundles[0]["tree_hash"].as_str(), Some(tree_hash_hex(&bytes).as_str()));
    (total_parts, sent)
}

fn inventory(env: &Env) -> Value {
    let requested = env.run(&["inventory", "request", "vault", "--json"]);
    assert_success(&requested);
    let poll = env.run(&["poll", "--once", "--json"]);
    assert_success(&poll);
    let report: Value = serde_json::from_slice(&poll.stdout).expect("poll json");
    assert_eq!(report["inventories_done"], 1, "{report}");
    let shown = env.run(&["inventory", "show", "vault", "--json"]);
    assert_success(&shown);
    serde_json::from_slice(&shown.stdout).expect("reconciliation json")
}

#[test]
fn small_and_large_bundles_go_up_in_one_request_or_in_parts_checked_by_tree_hash() {
    let check = GlacierCheck::new();
    let env = vault_env(&check, "");
    // A folder of small files (one bundle below the 2 MiB threshold) and a 5 MiB file (a
    // bundle of its own, five 1 MiB parts and a bit).
    make_tree(&env.src.join("docs"), 2, 10, 1000);
    write(&env.src.join("media/clip.bin"), &content(5, 5 * MIB + 3));
    let summary = env.archive_json(&["--max-size", "1MiB", "-t", "vaulted"]);
    assert_eq!(summary["bundles"], 2, "{summary}");

    let bundles = stored_bundles(&env);
    // Two bundles and two manifest copies: three single requests, one multipart upload.
    assert_eq!(check.stat("archive_uploads"), 3);
    assert_eq!(check.stat("uploads_completed"), 1);
    assert_eq!(check.stat("part_uploads"), 6);
    assert!(check.uploads().is_empty(), "no upload left open");
    let out = tempfile::tempdir().expect("tempdir");
    for bundle in &bundles {
        let archive_id = bundle["key"].as_str().expect("key");
        assert!(!archive_id.contains('/'), "the key is the vault's archive id: {archive_id}");
        assert_eq!(bundle["storage_class"], "GLACIER_VAULT");
        // The tree hash the vault confirmed is the tree hash of the bytes it holds, and
        // those bytes are a plain tar GNU tar extracts.
        let bytes = check.download(archive_id);
        assert_eq!(bundle["tree_hash"].as_str(), Some(tree_hash_hex(&bytes).as_str()));
        assert_eq!(bundle["bytes"].as_u64(), Some(bytes.len() as u64));
        let path = out.path().join("bundle.tar");
        fs::write(&path, &bytes).expect("write");
        gnu_tar(&["-xf", path.to_str().expect("utf8"), "-C", out.path().to_str().expect("utf8")]);
        fs::remove_file(&path).expect("remove");
    }
    let copy = out.path().join(env.src.strip_prefix("/").expect("absolute"));
    assert_eq!(snapshot(&copy), snapshot(&env.src));

    // The inventory matches the catalog exactly, and each archive's description names its
    // bundle and run.
    let reconciliation = inventory(&env);
    assert_eq!(reconciliation["matched"], 2, "{reconciliation}");
    assert_eq!(reconciliation["archives"], 4);
    for section in ["unknown", "missing", "mismatched"] {
        assert_eq!(reconciliation[section].as_array().map(Vec::len), Some(0), "{section}: {reconciliation}");
    }
}

#[test]
fn an_interrupted_multipart_upload_is_finished_with_only_its_missing_parts() {
    let check = GlacierCheck::new();
    let env = vault_env(&check, "upload_concurrency = 2");
    write(&env.src.join("big/one.bin"), &content(11, 7 * MIB + 5));
    write(&env.src.join("big/two.txt"), b"small neighbour");

    // Killed after the third part was confirmed (kill -9 semantics: nothing is cleaned up).
    let crashed = env.esker_failing_at("part_uploaded:3").arg("archive").arg(&env.src).output().expect("run");
    assert!(!crashed.status.success(), "the failpoint aborts the run");
    let uploads = check.uploads();
    assert_eq!(uploads.len(), 1, "{uploads:?}");
    let label: Value = serde_json::from_str(&uploads[0].1).expect("description is esker's label");
    assert_eq!(label["esker"], 1);
    assert!(label["key"].as_str().is_some_and(|key| key.starts_with("bundles/")), "{label}");
    assert_eq!(label["run"], 1);
    let held = check.parts(&uploads[0].0);
    assert!(held.len() >= 3, "{held:?}");

    // The same command again resumes the run and the upload: the parts the vault holds are
    // checked by tree hash and kept; only the others are sent.
    let (total_parts, sent_after) = resume_upload(&env, &check);
    assert_eq!(sent_after + held.len() as u64, total_parts, "sent {sent_after}, the vault held {}", held.len());
    assert_eq!(check.stat("uploads_completed"), 1);
    // The vault holds the bundle once, with its manifest copy, and nothing else.
    let reconciliation = inventory(&env);
    assert_eq!(reconciliation["archives"], 2, "{reconciliation}");
    assert_eq!(reconciliation["matched"], 1);
    assert_eq!(reconciliation["unknown"].as_array().map(Vec::len), Some(0), "{reconciliation}");
    let found = env.find(&format!("in:{}", env.src.display()));
    assert_eq!(found.len(), 2);
    assert!(found.iter().all(|file| file["state"] == "archived"));
}

#[test]
fn a_run_killed_after_the_vault_confirmed_a_bundle_does_not_upload_it_again() {
    let check = GlacierCheck::new();
    let env = vault_env(&check, "");
    write(&env.src.join("docs/report.txt"), b"quarterly report");
    write(&env.src.join("docs/data.bin"), &content(5, 200_000));

    // The vault completed the bundle's archive; the process dies before its manifest copy
    // and its files reach the catalog.
    let crashed = env.esker_failing_at("bundle_confirmed:1").arg("archive").arg(&env.src).output().expect("run");
    assert!(!crashed.status.success(), "the failpoint aborts the run");
    assert_eq!(check.stat("archive_uploads"), 1, "the bundle's archive, no manifest yet");

    let summary = env.archive_json(&[]);
    assert_eq!(summary["resumed"], true, "{summary}");
    assert_eq!(summary["files_archived"], 2, "{summary}");
    // Only the manifest copy went up on the rerun: the bundle was checked, not re-sent.
    assert_eq!(check.stat("archive_uploads"), 2);
    let bundles = stored_bundles(&env);
    assert_eq!(bundles.len(), 1);
    let bytes = check.download(bundles[0]["key"].as_str().expect("key"));
    assert_eq!(bundles[0]["tree_hash"].as_str(), Some(tree_hash_hex(&bytes).as_str()));
    let reconciliation = inventory(&env);
    assert_eq!(reconciliation["archives"], 2, "{reconciliation}");
    assert_eq!(reconciliation["unknown"].as_array().map(Vec::len), Some(0), "{reconciliation}");
    let out = env.dir.path().join("out");
    assert_success(&env.run(&["retrieve", "name:report", "--to", out.to_str().expect("utf8")]));
    let polled = env.run(&["poll", "--once"]);
    assert_success(&polled);
    let restored = out.join(env.src.strip_prefix("/").expect("absolute")).join("docs/report.txt");
    assert_eq!(fs::read(restored).expect("restored"), b"quarterly report");
}

#[test]
fn an_upload_interrupted_by_an_outage_is_kept_and_continued_by_the_next_run() {
    let check = GlacierCheck::new();
    let env = vault_env(&check, "upload_concurrency = 1\nmax_attempts = 2");
    write(&env.src.join("big/one.bin"), &content(12, 7 * MIB + 3));
    // The vault takes three parts, then answers 503 for longer than esker retries.
    check.control("POST", "unavailable-after-3");
    let output = env.esker().arg("archive").arg(&env.src).output().expect("run");
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    assert!(stderr(&output).contains("rerun"), "{}", stderr(&output));
    let uploads = check.uploads();
    assert_eq!(uploads.len(), 1, "the upload is kept, not aborted: {uploads:?}");
    assert_eq!(check.parts(&uploads[0].0).len(), 3);
    assert_eq!(check.stat("uploads_aborted"), 0);

    check.control("POST", "available");
    let (total_parts, sent) = resume_upload(&env, &check);
    assert_eq!(sent, total_parts - 3, "only the parts the vault lacked");
}

#[test]
fn a_retrieval_over_many_bundles_lists_the_vault_jobs_once() {
    let check = GlacierCheck::new();
    let env = vault_env(&check, "");
    for index in 0..6 {
        write(&env.src.join(format!("set/file{index}.txt")), format!("file number {index}").as_bytes());
    }
    env.archive(&["--max-files", "1"]);
    assert_eq!(stored_bundles(&env).len(), 6);
    let before = check.stat("job_listings");
    let out = env.dir.path().join("out");
    let started = env.run(&["retrieve", "in:set", "--to", out.to_str().expect("utf8"), "--yes"]);
    assert_success(&started);
    assert_eq!(check.stat("archive_jobs"), 6, "one job per bundle");
    assert_eq!(check.stat("job_listings") - before, 1, "the vault's jobs are listed once, not per bundle");
    // Asking again reuses the six jobs (the listing is read again, once, after new jobs).
    let again = env.run(&["retrieve", "in:set", "--to", env.dir.path().join("out2").to_str().expect("utf8"), "--yes"]);
    assert_success(&again);
    assert_eq!(check.stat("archive_jobs"), 6, "no second restore request");
    assert_success(&env.run(&["poll", "--once"]));
    for index in 0..6 {
        let copy = out.join(env.src.strip_prefix("/").expect("absolute")).join(format!("set/file{index}.txt"));
        assert_eq!(fs::read(copy).expect("restored"), format!("file number {index}").as_bytes());
    }
}

#[test]
fn an_inventory_reports_unknown_missing_and_matching_archives() {
    let check = GlacierCheck::new();
    let env = vault_env(&check, "");
    make_tree(&env.src, 3, 4, 2000);
    env.archive(&["--max-files", "4"]);
    let bundles = stored_bundles(&env);
    assert_eq!(bundles.len(), 3);

    // Before the vault finishes the job, show says so and exits 2.
    check.control("POST", "hold");
    assert_success(&env.run(&["inventory", "request", "vault"]));
    let early = env.run(&["inventory", "show", "vault"]);
    assert_eq!(early.status.code(), Some(2));
    assert!(stderr(&early).contains("no finished inventory"), "{}", stderr(&early));
    let waiting = env.run(&["poll", "--once", "--json"]);
    let report: Value = serde_json::from_slice(&waiting.stdout).expect("json");
    assert_eq!(report["inventories_waiting"], 1, "{report}");
    check.control("POST", "release");

    // One bundle's archive goes missing; an archive nobody cataloged appears.
    let lost = bundles[1]["key"].as_str().expect("key").to_string();
    check.delete_archive(&lost);
    let stranger = check.upload_foreign(b"holiday photos", "photos 2014");
    assert_success(&env.run(&["poll", "--once"]));
    let shown = env.run(&["inventory", "show", "vault", "--json"]);
    assert_eq!(shown.status.code(), Some(4), "a bundle missing from the vault is an integrity problem");
    let reconciliation: Value = serde_json::from_slice(&shown.stdout).expect("json");
    assert_eq!(reconciliation["matched"], 2, "{reconciliation}");
    let missing = reconciliation["missing"].as_array().expect("missing");
    assert_eq!(missing.len(), 1, "{reconciliation}");
    assert_eq!(missing[0]["bundle"], bundles[1]["id"]);
    assert_eq!(missing[0]["what"], "bundle");
    assert_eq!(missing[0]["archive_id"], lost.as_str());
    let unknown = reconciliation["unknown"].as_array().expect("unknown");
    assert_eq!(unknown.len(), 1, "{reconciliation}");
    assert_eq!(unknown[0]["archive_id"], stranger.as_str());
    assert_eq!(unknown[0]["description"], "photos 2014");
    assert_eq!(unknown[0]["bundle"], Value::Null);
    assert_eq!(reconciliation["mismatched"].as_array().map(Vec::len), Some(0));

    // The same for people.
    let text = env.run(&["inventory", "show", "vault"]);
    assert_eq!(text.status.code(), Some(4));
    let stdout = String::from_utf8_lossy(&text.stdout);
    assert!(stdout.contains("2 bundles match the catalog"), "{stdout}");
    assert!(stdout.contains("unknown to the catalog: 1") && stdout.contains("photos 2014"), "{stdout}");
    assert!(stdout.contains("missing from the vault: 1") && stdout.contains(&lost), "{stdout}");

    // Inventories are for vaults only.
    let wrong = env.run(&["inventory", "request", "local"]);
    assert_eq!(wrong.status.code(), Some(2));
    assert!(stderr(&wrong).contains("is a local store"), "{}", stderr(&wrong));
}

#[test]
fn one_file_of_a_large_bundle_comes_back_byte_exact_from_a_few_mib() {
    let check = GlacierCheck::new();
    let env = vault_env(&check, "upload_concurrency = 4");
    // Twelve 4 MiB files in one 48 MiB bundle; the one asked for sits in the middle.
    for index in 0..12 {
        write(&env.src.join(format!("set/part{index:02}.bin")), &content(100 + index, 4 * MIB));
    }
    write(&env.src.join("set/part06-notes.txt"), b"notes between the big files\n");
    env.archive(&[]);
    let bundles = stored_bundles(&env);
    assert_eq!(bundles.len(), 1);
    let bundle_bytes = bundles[0]["bytes"].as_u64().expect("bytes");
    assert!(bundle_bytes > 48 * MIB as u64);

    let query = "name:part06-notes";
    let dry = env.run(&["retrieve", query, "--dry-run", "--json"]);
    assert_success(&dry);
    let estimate: Value = serde_json::from_slice(&dry.stdout).expect("json");
    let tiers: Vec<&str> =
        estimate["tiers"].as_array().expect("tiers").iter().filter_map(|t| t["tier"].as_str()).collect();
    assert_eq!(tiers, ["bulk", "expedited", "standard"]);
    assert_eq!(estimate["bytes_restored"], MIB as u64, "only the MiB around the file: {estimate}");
    assert_eq!(estimate["restore_requests"], 1);

    // The job waits in the vault first.
    check.control("POST", "hold");
    let out = env.dir.path().join("out");
    let started = env.run(&["retrieve", query, "--to", out.to_str().expect("utf8"), "--tier", "standard", "--json"]);
    assert_success(&started);
    let jobs = json_lines(&env.run(&["jobs", "--json"]).stdout);
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0]["state"], "restoring", "{:?}", jobs[0]);
    let (start, end) = (jobs[0]["range_start"].as_u64().expect("start"), jobs[0]["range_end"].as_u64().expect("end"));
    assert_eq!(start % MIB as u64, 0);
    assert_eq!(end - start, MIB as u64, "one MiB retrieved out of {bundle_bytes} bytes");
    assert!(jobs[0]["backend_job_id"].as_str().is_some_and(|id| !id.is_empty()));
    assert_eq!(check.stat("bytes_retrieved"), MIB as u64);

    check.control("POST", "release");
    let polled = env.run(&["poll", "--once", "--json"]);
    assert_success(&polled);
    let report: Value = serde_json::from_slice(&polled.stdout).expect("json");
    assert_eq!(report["files_done"], 1, "{report}");
    let restored = out.join(env.src.strip_prefix("/").expect("absolute")).join("set/part06-notes.txt");
    assert_eq!(fs::read(&restored).expect("restored"), b"notes between the big files\n");
    // The download was the job's single MiB (tree-hash aligned, so checked), not the bundle.
    assert_eq!(check.stat("bytes_downloaded"), MIB as u64);
    println!(
        "one {}-byte file from a {bundle_bytes}-byte bundle: {} bytes retrieved, {} downloaded",
        28,
        check.stat("bytes_retrieved"),
        check.stat("bytes_downloaded")
    );

    // A whole big file straddling MiB boundaries comes back byte-exact as well.
    let out2 = env.dir.path().join("out2");
    assert_success(&env.run(&["retrieve", "name:part09", "--to", out2.to_str().expect("utf8")]));
    let copy = out2.join(env.src.strip_prefix("/").expect("absolute")).join("set/part09.bin");
    assert_eq!(fs::read(&copy).expect("restored"), content(109, 4 * MIB));
    assert_eq!(check.stat("bytes_retrieved"), MIB as u64 + 5 * MIB as u64, "the 5 MiB blocks the 4 MiB file spans");
}

#[test]
fn a_retrieval_of_only_empty_files_needs_no_job_and_finishes() {
    let check = GlacierCheck::new();
    let env = vault_env(&check, "");
    write(&env.src.join("empty/a.txt"), b"");
    write(&env.src.join("empty/b.txt"), b"");
    write(&env.src.join("full.txt"), b"some bytes");
    env.archive(&[]);
    let out = env.dir.path().join("out");
    let started = env.run(&["retrieve", "in:empty", "--to", out.to_str().expect("utf8"), "--json"]);
    assert_success(&started);
    let polled = env.run(&["poll", "--once", "--json"]);
    assert_success(&polled);
    let report: Value = serde_json::from_slice(&polled.stdout).expect("json");
    let jobs = json_lines(&env.run(&["jobs", "--json"]).stdout);
    assert!(jobs.iter().all(|job| job["state"] == "done"), "{jobs:?} {report}");
    let copy = out.join(env.src.strip_prefix("/").expect("absolute"));
    for name in ["empty/a.txt", "empty/b.txt"] {
        assert_eq!(fs::read(copy.join(name)).expect("restored"), b"");
    }
    assert_eq!(check.stat("bytes_retrieved"), 0, "no retrieval job for empty files");
}

#[test]
fn bad_vault_settings_are_refused_with_the_key_named() {
    let env = Env::new();
    fs::create_dir_all(&env.home).expect("mkdir");
    write(&env.src.join("f.txt"), b"x");
    let cases = [
        ("kind = \"glacier\"\n", "stores.v.vault"),
        ("kind = \"glacier\"\nvault = \"v\"\npart_size = \"3MiB\"\n", "stores.v.part_size"),
        ("kind = \"glacier\"\nvault = \"v\"\npart_size = \"8GiB\"\n", "power of two MiB"),
        ("kind = \"glacier\"\nvault = \"v\"\naccount_id = \"me\"\n", "stores.v.account_id"),
        ("kind = \"glacier\"\nvault = \"v\"\nmultipart_threshold = \"5GiB\"\n", "stores.v.multipart_threshold"),
        ("kind = \"glacier\"\nvault = \"no spaces\"\n", "stores.v.vault"),
        ("kind = \"tape\"\n", "local, s3, glacier"),
    ];
    for (store, needle) in cases {
        write(&env.home.join("config.toml"), format!("[stores.v]\n{store}").as_bytes());
        let output = env.esker().arg("archive").arg(&env.src).args(["--store", "v"]).output().expect("run");
        assert_eq!(output.status.code(), Some(2), "{store}");
        assert!(stderr(&output).contains(needle), "{store}: {}", stderr(&output));
    }
    // A vault that does not exist is named before anything is written.
    let check = GlacierCheck::new();
    let mut config = check.store_config("");
    config = config.replace(&check.vault, "no-such-vault-for-esker");
    write(&env.home.join("config.toml"), config.as_bytes());
    let output = env.esker().arg("archive").arg(&env.src).args(["--store", "vault"]).output().expect("run");
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("no-such-vault-for-esker"), "{}", stderr(&output));
    assert!(env.bundles().is_empty());
}
