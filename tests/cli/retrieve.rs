//! Getting files back: estimates, guards, jobs, the poller, verification and safety.

use esker_store::{LocalStore, RestoreState, Store};
use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::common::*;

/// A home whose default store `cold` is a local directory simulating cold storage.
/// A home whose default store is a local store that acts cold: a restore takes `delay`
/// seconds and lasts `lifetime` seconds (default: the days asked).
pub(crate) fn cold_env(delay: u64, lifetime: Option<u64>) -> (Env, LocalStore) {
    let env = Env::new();
    fs::create_dir_all(&env.home).expect("mkdir");
    let lifetime_line = lifetime.map(|value| format!("cold_lifetime = \"{value}s\"\n")).unwrap_or_default();
    let folder = env.dir.path().join("cold");
    let config = format!(
        "store = \"cold\"\n[stores.cold]\nkind = \"local\"\npath = \"{}\"\ncold_delay = \"{delay}s\"\n{lifetime_line}",
        folder.display()
    );
    write(&env.home.join("config.toml"), config.as_bytes());
    let store = LocalStore::new("cold", &folder).with_cold(Some(delay), lifetime);
    (env, store)
}

/// Waits until the store's bundles, as it reports them, satisfy `wanted`.
pub(crate) fn wait_for_bundles(store: &LocalStore, what: &str, wanted: impl Fn(&[RestoreState]) -> bool) {
    wait_until(what, || {
        let objects = store.list("bundles/").expect("list the cold store");
        let head = |key: &str| store.head(key).expect("head").expect("listed").restore;
        let states: Vec<RestoreState> = objects.iter().map(|object| head(&object.key)).collect();
        wanted(&states)
    });
}

/// No restore is running any more, and at least one finished.
pub(crate) fn restored(states: &[RestoreState]) -> bool {
    !states.contains(&RestoreState::Restoring)
        && states.iter().any(|state| matches!(state, RestoreState::Restored { .. }))
}

fn sample_tree(env: &Env) {
    write(&env.src.join("keep/report.txt"), b"quarterly report\n");
    write(&env.src.join("keep/data.bin"), &content(1, 300_000));
    write(&env.src.join(format!("keep/{}/deep.txt", "d".repeat(150))), b"deep");
    write(&env.src.join(os(b"keep/caf\xe9.txt")), b"latin-1 name");
    std::os::unix::fs::symlink("report.txt", env.src.join("keep/link")).expect("symlink");
    fs::create_dir_all(env.src.join("keep/empty")).expect("mkdir");
    write(&env.src.join("other/unrelated.txt"), b"not asked for");
}

fn keep_query(env: &Env) -> String {
    format!("in:{}/keep", env.src.display())
}

pub(crate) fn restored_copy(out: &Path, env: &Env, relative: &str) -> PathBuf {
    out.join(env.src.strip_prefix("/").expect("absolute")).join(relative)
}

pub(crate) fn retrieve(env: &Env, args: &[&str]) -> std::process::Output {
    env.esker().arg("retrieve").args(args).output().expect("run")
}

pub(crate) fn poll(env: &Env) -> std::process::Output {
    env.esker().args(["poll", "--once"]).output().expect("run")
}

pub(crate) fn jobs(env: &Env) -> Vec<Value> {
    json_lines(&env.run(&["jobs", "--json"]).stdout)
}

#[test]
fn cold_local_store_restores_then_the_poller_brings_files_back_identically() {
    let (env, store) = cold_env(1, None);
    sample_tree(&env);
    env.archive(&[]);
    let out = env.dir.path().join("out");
    let query = keep_query(&env);
    let output = retrieve(&env, &[&query, "--to", out.to_str().expect("utf8")]);
    assert_success(&output);
    assert!(String::from_utf8_lossy(&output.stdout).contains("waiting for restores"));
    assert_eq!(jobs(&env)[0]["state"], "restoring");
    assert_success(&poll(&env));
    assert_eq!(jobs(&env)[0]["state"], "restoring", "not before the delay");
    wait_for_bundles(&store, "the restore", restored);
    let output = poll(&env);
    assert_success(&output);
    let job = &jobs(&env)[0];
    assert_eq!(job["state"], "done", "{job}");
    assert_eq!(job["files"], job["files_done"]);
    let copy = restored_copy(&out, &env, "keep");
    assert_eq!(snapshot(&copy), snapshot(&env.src.join("keep")));
    assert!(!restored_copy(&out, &env, "other").exists(), "only the selection comes back");
}

#[test]
fn a_hot_store_restores_at_once_and_a_second_run_refuses_to_overwrite_a_changed_file() {
    let env = Env::new();
    sample_tree(&env);
    env.archive(&[]);
    let out = env.dir.path().join("out");
    let query = keep_query(&env);
    assert_success(&retrieve(&env, &[&query, "--to", out.to_str().expect("utf8")]));
    assert_eq!(snapshot(&restored_copy(&out, &env, "keep")), snapshot(&env.src.join("keep")));

    // The same again: every file is there as archived, so nothing is downloaded.
    let output = retrieve(&env, &[&query, "--to", out.to_str().expect("utf8"), "--json"]);
    assert_success(&output);
    let report = json_lines(&output.stdout).pop().expect("a report")["report"].clone();
    assert_eq!(report["bytes_downloaded"], 0, "{report}");
    assert_eq!(report["files_done"], 6, "{report}");
    assert_eq!(report["files_present"], 5, "every file and the link; the folder gets its metadata again: {report}");

    // A file edited since is not replaced without --overwrite.
    fs::write(restored_copy(&out, &env, "keep/report.txt"), b"edited").expect("edit");
    let output = retrieve(&env, &[&query, "--to", out.to_str().expect("utf8")]);
    assert_eq!(output.status.code(), Some(3), "finished, with a file left alone");
    assert!(stderr(&output).contains("use --overwrite"), "{}", stderr(&output));
    assert_eq!(fs::read(restored_copy(&out, &env, "keep/report.txt")).expect("read"), b"edited");
    assert_success(&retrieve(&env, &[&query, "--to", out.to_str().expect("utf8"), "--overwrite"]));
    assert_eq!(fs::read(restored_copy(&out, &env, "keep/report.txt")).expect("read"), b"quarterly report\n");
}

#[test]
fn one_small_file_from_a_big_bundle_downloads_only_its_range() {
    let env = Env::new();
    write(&env.src.join("big1.bin"), &content(1, 3_000_000));
    write(&env.src.join("needle.txt"), b"the one file we want");
    write(&env.src.join("big2.bin"), &content(2, 3_000_000));
    env.archive(&[]);
    assert_eq!(env.bundles().len(), 1);
    let needle = env.find("needle");
    let id = needle[0]["file_id"].as_i64().expect("id").to_string();
    let out = env.dir.path().join("out");
    let output = retrieve(&env, &["--file", &id, "--to", out.to_str().expect("utf8"), "--json"]);
    assert_success(&output);
    let outcome: Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(outcome["outcome"], "started");
    assert_eq!(outcome["report"]["bytes_downloaded"], 20);
    assert_eq!(outcome["estimate"]["bytes_downloaded"], 20);
    assert_eq!(outcome["estimate"]["download_requests"], 1);
    assert_eq!(fs::read(restored_copy(&out, &env, "needle.txt")).expect("read"), b"the one file we want");
}

#[test]
fn guards_stop_large_or_unbounded_retrievals_until_confirmed() {
    let env = Env::new();
    sample_tree(&env);
    env.archive(&[]);
    let out = env.dir.path().join("out");
    let to = out.to_str().expect("utf8");
    // No selector: everything.
    let output = retrieve(&env, &["--to", to]);
    assert_eq!(output.status.code(), Some(5));
    assert!(stderr(&output).contains("retrieves everything"), "{}", stderr(&output));
    assert!(String::from_utf8_lossy(&output.stdout).contains("TIER"), "the estimate is shown");
    assert!(!out.exists(), "nothing was written");
    assert!(jobs(&env).is_empty(), "nothing was requested");
    // A query that happens to match every stored file.
    let all = format!("in:{}", env.src.display());
    let output = retrieve(&env, &[&all, "--to", to]);
    assert_eq!(output.status.code(), Some(5));
    assert!(stderr(&output).contains("every stored file"));
    // A byte limit.
    write(&env.home.join("config.toml"), b"[retrieve]\nmax_bytes = \"1KiB\"\n");
    let query = keep_query(&env);
    let output = retrieve(&env, &[&query, "--to", to]);
    assert_eq!(output.status.code(), Some(5));
    assert!(stderr(&output).contains("retrieve.max_bytes"), "{}", stderr(&output));
    assert!(jobs(&env).is_empty());
    // --yes goes ahead.
    assert_success(&retrieve(&env, &[&query, "--to", to, "--yes"]));
    assert_eq!(jobs(&env).len(), 1);
    // Nothing matched: exit 1.
    let output = retrieve(&env, &["nosuchfile", "--to", to]);
    assert_eq!(output.status.code(), Some(1));
    // Bad input: no --to, bad tier.
    assert_eq!(retrieve(&env, &[&query]).status.code(), Some(2));
    assert_eq!(retrieve(&env, &[&query, "--to", to, "--tier", "fastest"]).status.code(), Some(2));
}

#[test]
fn a_second_retrieval_reuses_a_restore_in_progress() {
    let (env, _store) = cold_env(30, None);
    sample_tree(&env);
    env.archive(&[]);
    let to = env.dir.path().join("out");
    let query = keep_query(&env);
    assert_success(&retrieve(&env, &[&query, "--to", to.to_str().expect("utf8")]));
    let marker_dir = env.dir.path().join("cold/restores");
    let markers: Vec<PathBuf> =
        fs::read_dir(&marker_dir).expect("markers").map(|item| item.expect("entry").path()).collect();
    assert_eq!(markers.len(), 1);
    let first_request = fs::read_to_string(&markers[0]).expect("marker");
    // A second request would write a later time into the marker.
    let requested_ms: u128 = first_request.split_whitespace().next().expect("time").parse().expect("ms");
    let now_ms = || std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_millis();
    wait_until("a later millisecond", || now_ms() > requested_ms);
    let output = retrieve(&env, &[&query, "--to", to.to_str().expect("utf8"), "--json"]);
    assert_success(&output);
    let outcome: Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(outcome["restores_reused"], 1);
    assert_eq!(fs::read_to_string(&markers[0]).expect("marker"), first_request, "no second restore request");
    assert_eq!(jobs(&env).len(), 2);
}

#[test]
fn an_expired_copy_is_restored_again_before_download() {
    let (env, store) = cold_env(1, Some(2));
    sample_tree(&env);
    env.archive(&[]);
    let out = env.dir.path().join("out");
    let query = keep_query(&env);
    assert_success(&retrieve(&env, &[&query, "--to", out.to_str().expect("utf8")]));
    // Ready after 1 s, gone after 3 s: the poller comes too late.
    wait_for_bundles(&store, "the restored copy to expire", |states| {
        states.iter().all(|state| *state == RestoreState::Archived)
    });
    let output = poll(&env);
    assert_success(&output);
    assert!(stderr(&output).contains("expired"), "{}", stderr(&output));
    assert_eq!(jobs(&env)[0]["state"], "restoring");
    // Ready again 1 s after the new request, readable for 2 s.
    wait_for_bundles(&store, "the second restore", restored);
    assert_success(&poll(&env));
    assert_eq!(jobs(&env)[0]["state"], "done");
    assert_eq!(snapshot(&restored_copy(&out, &env, "keep")), snapshot(&env.src.join("keep")));
}

#[test]
fn a_poller_killed_mid_download_is_finished_by_the_next_one() {
    let (env, store) = cold_env(1, None);
    make_tree(&env.src, 3, 10, 5000);
    env.archive(&["--max-files", "10"]);
    let out = env.dir.path().join("out");
    let query = format!("in:{}/dir000 OR in:{}/dir001", env.src.display(), env.src.display());
    assert_success(&retrieve(&env, &[&query, "--to", out.to_str().expect("utf8")]));
    wait_for_bundles(&store, "the restores", restored);
    let output = env.esker_failing_at("file_restored:4").args(["poll", "--once"]).output().expect("run");
    assert!(!output.status.success());
    let states: Vec<Value> = jobs(&env).iter().map(|job| job["state"].clone()).collect();
    assert!(states.iter().any(|state| state == "downloading"), "{states:?}");
    let output = poll(&env);
    assert_success(&output);
    assert!(jobs(&env).iter().all(|job| job["state"] == "done"), "{:?}", jobs(&env));
    for folder in ["dir000", "dir001"] {
        assert_eq!(snapshot(&restored_copy(&out, &env, folder)), snapshot(&env.src.join(folder)));
    }
    let leftovers: Vec<String> =
        listing(&out).keys().map(|path| path.display().to_string()).filter(|path| path.contains(".esker-")).collect();
    assert!(leftovers.is_empty(), "temp files left: {leftovers:?}");
}

#[test]
fn a_corrupted_bundle_fails_the_file_loudly_and_leaves_nothing_that_looks_good() {
    let env = Env::new();
    write(&env.src.join("good.txt"), b"fine content");
    write(&env.src.join("victim.txt"), b"this will be damaged in the store");
    write(&env.src.join("bystander.txt"), b"not selected");
    env.archive(&[]);
    let victim = &env.find("victim")[0];
    let bundle = &env.bundles()[0];
    let object = env.store_dir().join(bundle["key"].as_str().expect("key"));
    let mut bytes = fs::read(&object).expect("read bundle");
    let offset = victim["data_offset"].as_u64().expect("offset") as usize;
    bytes[offset + 3] ^= 0xff;
    fs::write(&object, &bytes).expect("corrupt");

    let out = env.dir.path().join("out");
    let output = retrieve(&env, &["name:victim OR name:good", "--to", out.to_str().expect("utf8")]);
    assert_eq!(output.status.code(), Some(4), "a checksum mismatch is an integrity problem");
    assert!(stderr(&output).contains("checksum mismatch"), "{}", stderr(&output));
    assert!(!restored_copy(&out, &env, "victim.txt").exists(), "a damaged file was written");
    assert_eq!(fs::read(restored_copy(&out, &env, "good.txt")).expect("good"), b"fine content");
    let names: Vec<String> = listing(&out).keys().map(|path| path.display().to_string()).collect();
    assert!(names.iter().all(|name| !name.contains(".esker-")), "{names:?}");
    let job = &jobs(&env)[0];
    assert_eq!(job["state"], "failed");
    assert_eq!(job["files_failed"], 1);
}

#[test]
fn paths_cannot_escape_the_destination() {
    let env = Env::new();
    write(&env.src.join("inner/file.txt"), b"payload");
    write(&env.src.join("second/file2.txt"), b"payload 2");
    write(&env.src.join("bystander.txt"), b"not selected");
    env.archive(&[]);
    // A tampered catalog row pointing above the destination.
    let escape = format!("{}/inner/../../../../escaped", env.src.display());
    env.catalog_sql(
        &format!("UPDATE dirs SET path = CAST('{escape}' AS BLOB), path_text = '{escape}' WHERE path_text LIKE '%/inner'"),
        &format!(
            "UPDATE dirs SET path = convert_to('{escape}', 'UTF8'), path_text = '{escape}' WHERE path_text LIKE '%/inner'"
        ),
    );
    let out = env.dir.path().join("out");
    let output = retrieve(&env, &["name:file", "--to", out.to_str().expect("utf8")]);
    assert_eq!(output.status.code(), Some(3));
    assert!(stderr(&output).contains("refusing unsafe path"), "{}", stderr(&output));
    assert!(!env.dir.path().join("escaped").exists());

    // A symlinked folder inside the destination is not written through.
    let out2 = env.dir.path().join("out2");
    let elsewhere = env.dir.path().join("elsewhere");
    fs::create_dir_all(&elsewhere).expect("mkdir");
    fs::create_dir_all(&out2).expect("mkdir");
    std::os::unix::fs::symlink(
        &elsewhere,
        out2.join(env.src.strip_prefix("/").expect("abs").iter().next().expect("first")),
    )
    .expect("symlink");
    let output = retrieve(&env, &["name:file2", "--to", out2.to_str().expect("utf8")]);
    assert_eq!(output.status.code(), Some(3));
    assert!(stderr(&output).contains("symlinked folder"), "{}", stderr(&output));
    assert!(listing(&elsewhere).is_empty(), "wrote through a symlink");
}

#[test]
fn two_pollers_at_once_never_work_the_same_job() {
    let (env, store) = cold_env(1, None);
    make_tree(&env.src, 12, 8, 20_000);
    write(&env.src.join("bystander.txt"), b"not selected");
    env.archive(&["--max-files", "8"]);
    let out = env.dir.path().join("out");
    let query = format!("in:{} -name:bystander", env.src.display());
    assert_success(&retrieve(&env, &[&query, "--to", out.to_str().expect("utf8")]));
    assert_eq!(jobs(&env).len(), 12);
    wait_for_bundles(&store, "the restores", restored);
    let pollers: Vec<_> = (0..2)
        .map(|_| {
            env.esker_process()
                .args(["poll", "--once", "--json"])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("spawn poller")
        })
        .collect();
    let mut done = 0;
    for poller in pollers {
        let output = poller.wait_with_output().expect("wait");
        // A file written twice would fail with "exists"; a failed file fails the poller.
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        let report: Value = serde_json::from_slice(&output.stdout).expect("report");
        done += report["jobs_done"].as_u64().expect("count");
    }
    assert_eq!(done, 12, "each job finished by exactly one poller");
    assert!(jobs(&env).iter().all(|job| job["state"] == "done" && job["files_failed"] == 0));
    for folder in 0..12 {
        let name = format!("dir{folder:03}");
        assert_eq!(snapshot(&restored_copy(&out, &env, &name)), snapshot(&env.src.join(&name)));
    }
}
