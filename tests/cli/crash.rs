//! Kill esker at any point, rerun the same command: nothing lost, nothing cataloged twice,
//! no orphan objects.

use std::collections::BTreeMap;
use std::fs;
use std::time::Duration;

use crate::common::*;

const CAPS: [&str; 4] = ["--max-files", "7", "--jobs", "2"];

fn tree() -> Env {
    let env = Env::new();
    make_tree(&env.src, 6, 9, 2000);
    fs::create_dir_all(env.src.join("empty")).expect("mkdir");
    env
}

/// The catalog, the store and the index agree with the source tree.
fn assert_complete(env: &Env) {
    let source = snapshot(&env.src);
    let found = env.find(&format!("in:{}", env.src.display()));
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for file in &found {
        assert_eq!(file["state"], "archived", "{file}");
        *counts.entry(file["path"].as_str().expect("path").to_string()).or_default() += 1;
    }
    let expected: BTreeMap<String, usize> = source
        .keys()
        .map(|relative| (format!("{}/{}", env.src.display(), String::from_utf8_lossy(relative)), 1))
        .collect();
    assert_eq!(counts, expected, "every file exactly once");

    let bundles = env.bundles();
    let mut keys: Vec<String> = bundles.iter().map(|bundle| bundle["key"].as_str().expect("key").to_string()).collect();
    keys.sort();
    let mut on_disk: Vec<String> = fs::read_dir(env.store_dir().join("bundles"))
        .expect("bundles dir")
        .map(|item| format!("bundles/{}", item.expect("entry").file_name().to_string_lossy()))
        .collect();
    on_disk.sort();
    assert_eq!(on_disk, keys, "store and catalog hold the same bundles");
    assert_eq!(fs::read_dir(env.store_dir().join("manifests")).expect("manifests").count(), keys.len());
    assert_eq!(fs::read_dir(env.store_dir().join("tmp")).expect("tmp").count(), 0, "no temp files left");
    let runs = env.runs();
    assert_eq!(runs.len(), 1, "the rerun resumed the same run");
    assert_eq!(runs[0]["state"], "complete");
    assert_eq!(runs[0]["files_archived"].as_u64(), Some(source.len() as u64));

    let (_keep, copy) = env.extract_all();
    assert_eq!(snapshot(&copy), source);
}

/// `esker archive` of the tree with `failpoint` armed.
fn archive_at(env: &Env, failpoint: &str) -> std::process::Output {
    env.esker_failing_at(failpoint).arg("archive").arg(&env.src).args(CAPS).output().expect("run")
}

fn crash_at(env: &Env, failpoint: &str) {
    let output = archive_at(env, failpoint);
    assert!(!output.status.success(), "failpoint {failpoint} did not fire");
    assert!(stderr(&output).contains("failpoint"), "{}", stderr(&output));
}

#[test]
fn rerun_after_a_crash_at_each_point_completes_the_run() {
    for failpoint in ["member_written:10", "bundle_stored:3", "bundle_recorded:2", "bundle_recorded:8"] {
        let env = tree();
        crash_at(&env, failpoint);
        let output = env.archive(&CAPS);
        let text = String::from_utf8_lossy(&output.stdout);
        assert!(text.contains("resumed"), "{failpoint}: {text}");
        assert_complete(&env);
    }
}

#[test]
fn a_resumed_run_keeps_its_tags_and_says_so() {
    let env = tree();
    let output = env
        .esker_failing_at("bundle_recorded:2")
        .args(["archive", "-t", "first"])
        .arg(&env.src)
        .args(CAPS)
        .output()
        .expect("run");
    assert!(!output.status.success());
    let output = env.archive(&["-t", "second", "--max-files", "7", "--jobs", "2"]);
    assert!(stderr(&output).contains("tags and description it started with"), "{}", stderr(&output));
    assert_eq!(env.find("tag:first").len(), snapshot(&env.src).len());
    assert!(env.find("tag:second").is_empty());
}

#[test]
fn crash_after_the_run_before_indexing_is_caught_up_by_find() {
    let env = tree();
    crash_at(&env, "run_finished");
    assert_complete(&env);
}

/// A panic (a bug) on the main thread unwinds to `main`, which reports it and exits with 101:
/// the executable's unwinder works. Nothing is lost either.
#[test]
fn a_panic_exits_with_101_and_loses_nothing() {
    let env = tree();
    let output = archive_at(&env, "run_finished:panic");
    assert_eq!(output.status.code(), Some(101), "{}", stderr(&output));
    assert!(stderr(&output).contains("failpoint run_finished reached"), "{}", stderr(&output));
    assert_complete(&env);
}

/// The executable is position-independent, as rustc builds it by default, so ASLR covers
/// its code and data too.
#[cfg(target_os = "linux")]
#[test]
fn the_executable_is_position_independent() {
    let binary = assert_cmd::cargo::cargo_bin("esker");
    let output = std::process::Command::new("readelf").arg("-h").arg(&binary).output().expect("readelf (binutils)");
    assert!(output.status.success(), "readelf -h {}", binary.display());
    let header = String::from_utf8_lossy(&output.stdout);
    assert!(header.contains("DYN (Position-Independent Executable file)"), "{header}");
}

fn bundle_files(env: &Env) -> usize {
    fs::read_dir(env.store_dir().join("bundles")).map(|entries| entries.count()).unwrap_or(0)
}

#[test]
fn repeated_sigkill_then_rerun_loses_and_duplicates_nothing() {
    // Enough bundles that each run is killed mid-way: 1,200 files, 5 per bundle.
    let env = Env::new();
    make_tree(&env.src, 40, 30, 200);
    let caps = ["--max-files", "5", "--jobs", "2"];
    for step in 1..=3 {
        let target = step * 25;
        let mut child = env
            .esker_process()
            .arg("archive")
            .arg(&env.src)
            .args(caps)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn");
        // Kill once this attempt has stored some bundles, whatever the machine's speed.
        let deadline = std::time::Instant::now() + Duration::from_secs(120);
        while bundle_files(&env) < target && std::time::Instant::now() < deadline {
            if child.try_wait().expect("wait").is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        let finished_early = child.try_wait().expect("wait").is_some();
        assert!(!finished_early, "the run finished before it could be killed; make the tree bigger");
        child.kill().expect("kill");
        child.wait().expect("wait");
    }
    let output = env.archive(&caps);
    assert!(String::from_utf8_lossy(&output.stdout).contains("resumed"));
    assert_complete(&env);
}

#[test]
fn another_hosts_interrupted_run_is_neither_resumed_nor_swept() {
    let env = tree();
    crash_at(&env, "member_written:10");
    let unfinished = || fs::read_dir(env.store_dir().join("tmp")).expect("tmp").count();
    assert!(unfinished() >= 1, "the crash left an unfinished upload");
    // On a shared catalog, that run could be another host's, still running.
    env.catalog_sql("UPDATE runs SET host = 'elsewhere'", "UPDATE runs SET host = 'elsewhere'");
    let output = env.archive(&CAPS);
    assert!(!String::from_utf8_lossy(&output.stdout).contains("resumed"));
    assert!(unfinished() >= 1, "another host's upload was aborted");
    let runs = env.runs();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0]["host"], "elsewhere");
    assert_eq!(runs[0]["state"], "running");
    assert_eq!(runs[1]["state"], "complete");
}
