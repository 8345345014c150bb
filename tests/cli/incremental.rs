//! Incremental runs, dedup, versions and sync status.

use std::fs;
use std::time::Duration;

use serde_json::Value;

use crate::common::*;

fn status(env: &Env) -> Vec<Value> {
    let output = env.esker().arg("status").arg(&env.src).arg("--json").output().expect("run");
    assert_success(&output);
    json_lines(&output.stdout)
}

fn state_of(env: &Env, unit: &str) -> String {
    let wanted = env.src_path(unit);
    status(env)
        .into_iter()
        .find(|row| row["unit"] == wanted.as_str())
        .map(|row| row["state"].as_str().expect("state").to_string())
        .unwrap_or_else(|| "absent".into())
}

fn bundle_count(env: &Env) -> usize {
    env.bundles().len()
}

#[test]
fn a_rerun_packs_only_new_and_changed_files_and_status_follows() {
    let env = Env::new();
    make_tree(&env.src, 3, 5, 1000);
    fs::create_dir_all(env.src.join("dir001/empty")).expect("mkdir");
    assert_eq!(state_of(&env, "dir000"), "new");
    env.archive(&[]);
    assert_eq!(state_of(&env, "dir000"), "synchronized");
    let before = bundle_count(&env);

    write(&env.src.join("dir000/sub/file000.dat"), b"changed content");
    write(&env.src.join("dir001/sub/added.txt"), b"a new file");
    fs::remove_file(env.src.join("dir002/sub/file004.dat")).expect("remove");
    assert_eq!(state_of(&env, "dir000"), "changed");
    assert_eq!(state_of(&env, "dir001"), "changed");
    assert_eq!(state_of(&env, "dir002"), "changed");

    let summary = env.archive_json(&[]);
    assert_eq!(summary["files_archived"], 2, "{summary}");
    assert_eq!(summary["files_unchanged"], 14, "the empty folder is unchanged too");
    assert_eq!(summary["files_deleted"], 1);
    assert_eq!(bundle_count(&env), before + 1, "one new bundle for the two files");
    for unit in ["dir000", "dir001", "dir002"] {
        assert_eq!(state_of(&env, unit), "synchronized", "{unit}");
    }
    // Everything is still complete: every current file restores byte-identically, and the
    // deleted file comes back as its last archived version (like find, which still shows it).
    let out = env.dir.path().join("out");
    let query = format!("in:{}", env.src.display());
    let output =
        env.esker().args(["retrieve", &query, "--to", out.to_str().expect("utf8"), "--yes"]).output().expect("run");
    assert_success(&output);
    let mut restored = snapshot(&out.join(env.src.strip_prefix("/").expect("abs")));
    let deleted = restored.remove(b"dir002/sub/file004.dat".as_slice()).expect("deleted file restored");
    assert_eq!(deleted.1, content(2 * 1000 + 4, 1004));
    assert_eq!(restored, snapshot(&env.src));
}

#[test]
fn duplicates_of_stored_content_upload_nothing_and_still_restore() {
    let env = Env::new();
    let payload = content(42, 200_000);
    write(&env.src.join("original/photo.raw"), &payload);
    write(&env.src.join("other/unrelated.txt"), b"x");
    env.archive(&[]);
    let before = bundle_count(&env);
    write(&env.src.join("copies/photo (1).raw"), &payload);
    let summary = env.archive_json(&[]);
    assert_eq!(summary["files_deduplicated"], 1, "{summary}");
    assert_eq!(summary["bytes_deduplicated"], 200_000);
    assert_eq!(summary["files_archived"], 0);
    assert_eq!(bundle_count(&env), before, "nothing uploaded");
    let copy = &env.find("name:photo in:copies")[0];
    let original = &env.find("name:photo in:original")[0];
    assert_eq!(copy["bundle"], original["bundle"]);
    assert_eq!(copy["data_offset"], original["data_offset"]);

    let out = env.dir.path().join("out");
    let output =
        env.esker().args(["retrieve", "in:copies", "--to", out.to_str().expect("utf8")]).output().expect("run");
    assert_success(&output);
    let restored = out.join(env.src.strip_prefix("/").expect("abs")).join("copies/photo (1).raw");
    assert_eq!(fs::read(restored).expect("read"), payload);
}

#[test]
fn versions_are_findable_and_retrievable_by_run_or_date() {
    let env = Env::new();
    let report = env.src.join("docs/report.txt");
    write(&report, b"first draft");
    write(&env.src.join("docs/notes.txt"), b"notes");
    env.archive(&[]);
    wait_for_the_next_second(std::time::SystemTime::now());
    let between = std::time::SystemTime::now();
    wait_for_the_next_second(between);
    write(&report, b"final version");
    env.archive(&[]);

    // find: the latest version by default, every version on request.
    let latest = env.find("name:report");
    assert_eq!(latest.len(), 1);
    assert_eq!(latest[0]["run"], 2);
    let output = env.run(&["find", "--json", "--all-versions", "--limit", "0", "name:report"]);
    let all = json_lines(&output.stdout);
    assert_eq!(all.len(), 2);

    let restore = |extra: &[&str], folder: &str| -> Vec<u8> {
        let out = env.dir.path().join(folder);
        let output = env
            .esker()
            .args(["retrieve", "name:report", "--to", out.to_str().expect("utf8")])
            .args(extra)
            .output()
            .expect("run");
        assert_success(&output);
        fs::read(out.join(env.src.strip_prefix("/").expect("abs")).join("docs/report.txt")).expect("read")
    };
    assert_eq!(restore(&[], "latest"), b"final version");
    assert_eq!(restore(&["--run", "1"], "by-run"), b"first draft");
    let seconds = between.duration_since(std::time::UNIX_EPOCH).expect("time").as_secs() as i64;
    let date = esker_model::time::format_rfc3339(seconds).trim_end_matches('Z').to_string();
    assert_eq!(restore(&["--before", &date], "by-date"), b"first draft");

    // Deleted files stay findable as their last archived version.
    fs::remove_file(&report).expect("remove");
    let summary = env.archive_json(&[]);
    assert_eq!(summary["files_deleted"], 1);
    let found = env.find("name:report");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["state"], "archived");
    assert_eq!(found[0]["run"], 2);
    let output = env.run(&["find", "--json", "--all-versions", "--limit", "0", "state:deleted"]);
    assert_eq!(json_lines(&output.stdout).len(), 1, "the deletion marker is a version of its own");
    assert_eq!(state_of(&env, "docs"), "synchronized");
}

#[test]
fn checksum_mode_ignores_touched_but_identical_files() {
    let env = Env::new();
    write(&env.src.join("a.txt"), b"same bytes");
    write(&env.src.join("b.txt"), b"other");
    env.archive(&[]);
    // Rewritten with the same bytes: a new mtime (and ctime).
    let rewritten = env.src.join("a.txt");
    let mtime = fs::metadata(&rewritten).expect("stat").modified().expect("mtime");
    write(&rewritten, b"same bytes");
    let file = fs::File::options().write(true).open(&rewritten).expect("open");
    file.set_modified(mtime + Duration::from_secs(2)).expect("set mtime");
    let summary = env.archive_json(&["--checksum", "--dry-run"]);
    assert_eq!(summary["files_planned"], 0, "{summary}");
    assert_eq!(summary["files_unchanged"], 2);
    // Without --checksum the rewritten file counts as changed, and as a file under 64 KiB
    // it is uploaded again rather than deduplicated.
    let summary = env.archive_json(&[]);
    assert_eq!(summary["files_unchanged"], 1, "{summary}");
    assert_eq!(summary["files_deduplicated"], 0);
    assert_eq!(summary["files_archived"], 1);
}

#[test]
fn only_files_of_64_kib_and_more_are_deduplicated() {
    let env = Env::new();
    let small = content(7, 65_535);
    let large = content(8, 65_536);
    write(&env.src.join("a/small.bin"), &small);
    write(&env.src.join("a/large.bin"), &large);
    env.archive(&[]);
    write(&env.src.join("b/small copy.bin"), &small);
    write(&env.src.join("b/large copy.bin"), &large);
    let summary = env.archive_json(&[]);
    assert_eq!(summary["files_deduplicated"], 1, "{summary}");
    assert_eq!(summary["bytes_deduplicated"], 65_536);
    assert_eq!(summary["files_archived"], 1);
    assert_eq!(summary["bytes_archived"], 65_535);
}

#[test]
fn an_interrupted_run_shows_partial_and_the_next_run_repairs_it() {
    let env = Env::new();
    make_tree(&env.src, 4, 6, 500);
    let output = env
        .esker_failing_at("bundle_recorded:2")
        .args(["archive", "--max-files", "6", "--jobs", "1"])
        .arg(&env.src)
        .output()
        .expect("run");
    assert!(!output.status.success());
    let states: Vec<String> =
        status(&env).iter().map(|row| row["state"].as_str().expect("state").to_string()).collect();
    assert!(states.iter().any(|state| state == "partial"), "{states:?}");
    assert!(states.iter().any(|state| state == "new"), "{states:?}");
    env.archive(&["--max-files", "6", "--jobs", "1"]);
    let states: Vec<String> =
        status(&env).iter().map(|row| row["state"].as_str().expect("state").to_string()).collect();
    assert_eq!(states, vec!["synchronized"; 4]);
}

#[test]
fn a_folder_gone_from_disk_shows_missing_and_is_marked_deleted() {
    let env = Env::new();
    write(&env.src.join("keep/a.txt"), b"a");
    write(&env.src.join("gone/b.txt"), b"b");
    write(&env.src.join("gone/deeper/c.txt"), b"c");
    env.archive(&[]);
    fs::remove_dir_all(env.src.join("gone")).expect("remove");
    assert_eq!(state_of(&env, "gone"), "missing");
    let output = env.esker().arg("status").arg(&env.src).arg("--csv").output().expect("run");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.starts_with("unit,state,local_files"), "{text}");
    assert!(text.contains(",missing,"), "{text}");
    let summary = env.archive_json(&[]);
    assert_eq!(summary["files_deleted"], 2);
    assert_eq!(env.find_paths("name:b OR name:c").len(), 2, "archived versions stay findable");
}

#[test]
fn excluded_or_unlistable_paths_are_not_marked_deleted() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new();
    write(&env.src.join("keep/a.txt"), b"a");
    write(&env.src.join("keep/scratch.tmp"), b"t");
    write(&env.src.join("cache/deep/blob"), b"c");
    write(&env.src.join("locked/inner/file"), b"l");
    env.archive(&[]);
    // Now exclude some of it, and make a folder unlistable (as nobody would see it; root
    // reads anyway, so only the exclusions apply when running as root).
    let cache = format!("{}/cache", env.src.display());
    if !is_root() {
        fs::set_permissions(env.src.join("locked"), fs::Permissions::from_mode(0o000)).expect("chmod");
    }
    let summary = env.archive_json(&["--exclude", "*.tmp", "--exclude", &cache]);
    if !is_root() {
        fs::set_permissions(env.src.join("locked"), fs::Permissions::from_mode(0o755)).expect("chmod back");
    }
    assert_eq!(summary["files_deleted"], 0, "{summary}");
    assert_eq!(summary["excluded"], 2);
}
