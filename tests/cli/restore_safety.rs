//! Restores as root into folders other users can write, and restores after a kill: exact
//! metadata, nothing outside `--to` touched, temp files private, reruns that finish.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use rustix::fs::{AtFlags, CWD, Timespec, Timestamps};

use crate::common::*;
use crate::retrieve::{cold_env, jobs, poll, restored, restored_copy, retrieve, wait_for_bundles};

/// Sets a path's mtime (not following a symlink) to `seconds` + `nanoseconds`.
fn set_mtime(path: &Path, seconds: i64, nanoseconds: i64) {
    let time = Timespec { tv_sec: seconds, tv_nsec: nanoseconds as _ };
    let times = Timestamps { last_access: time, last_modification: time };
    rustix::fs::utimensat(CWD, path, &times, AtFlags::SYMLINK_NOFOLLOW).expect("utimensat");
}

fn lchown(path: &Path, uid: u32, gid: u32) {
    std::os::unix::fs::lchown(path, Some(uid), Some(gid)).expect("lchown");
}

/// What a restore must bring back exactly, of one entry.
fn metadata_of(path: &Path) -> (u32, u32, u32, i64, i64) {
    let metadata = fs::symlink_metadata(path).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    (metadata.mode(), metadata.uid(), metadata.gid(), metadata.mtime(), metadata.mtime_nsec())
}

fn out_arg(out: &Path) -> &str {
    out.to_str().expect("utf8")
}

fn part_files(root: &Path) -> Vec<std::path::PathBuf> {
    listing(root).into_keys().filter(|path| path.to_string_lossy().contains(".esker-")).collect()
}

/// `esker retrieve` of the whole source tree into `out`, run by `command` (a wrapper whose
/// last argument is the esker binary).
fn retrieve_everything_through(env: &Env, mut command: std::process::Command, out: &Path) -> std::process::Output {
    env.with_catalog(&mut command);
    let query = format!("in:{}", env.src.display());
    command
        .env("ESKER_SYSTEM_CONFIG", "/nonexistent")
        .arg("--home")
        .arg(&env.home)
        .args(["retrieve", &query, "--to", out_arg(out), "--yes"])
        .output()
        .expect("run esker retrieve")
}

fn skip_unless_root(test: &str) -> bool {
    if !is_root() {
        eprintln!("SKIPPED {test}: it needs root (scripts/test.sh runs as root in CI)");
    }
    !is_root()
}

#[test]
fn root_restores_setuid_bits_owners_old_mtimes_and_symlinks_exactly() {
    if skip_unless_root("root_restores_setuid_bits_owners_old_mtimes_and_symlinks_exactly") {
        return;
    }
    let env = Env::new();
    let tool = env.src.join("bin/tool");
    write(&tool, b"#!/bin/sh\necho hi\n");
    lchown(&tool, 1234, 1235);
    fs::set_permissions(&tool, fs::Permissions::from_mode(0o6755)).expect("chmod");
    set_mtime(&tool, 1_600_000_000, 123_456_789);
    let old = env.src.join("old.txt");
    write(&old, b"from 1960");
    set_mtime(&old, -315_619_200, 500_000_000);
    let link = env.src.join("link");
    std::os::unix::fs::symlink("old.txt", &link).expect("symlink");
    lchown(&link, 2345, 2346);
    set_mtime(&link, 1_000_000_000, 0);
    let drop_box = env.src.join("drop");
    fs::create_dir(&drop_box).expect("mkdir");
    lchown(&drop_box, 3456, 3457);
    fs::set_permissions(&drop_box, fs::Permissions::from_mode(0o1777)).expect("chmod");
    set_mtime(&drop_box, 1_200_000_000, 0);
    env.archive(&[]);

    let out = env.dir.path().join("out");
    let output = retrieve(&env, &[&format!("in:{}", env.src.display()), "--to", out_arg(&out), "--yes"]);
    assert_success(&output);
    for (name, original) in [("bin/tool", &tool), ("old.txt", &old), ("link", &link), ("drop", &drop_box)] {
        assert_eq!(metadata_of(&restored_copy(&out, &env, name)), metadata_of(original), "{name}");
    }
}

#[test]
fn an_ordinary_user_restores_modes_and_times_as_their_own_files() {
    if skip_unless_root("an_ordinary_user_restores_modes_and_times_as_their_own_files") {
        return;
    }
    let env = Env::new();
    let script = env.src.join("run.sh");
    write(&script, b"#!/bin/sh\n");
    fs::set_permissions(&script, fs::Permissions::from_mode(0o750)).expect("chmod");
    set_mtime(&script, -1, 250_000_000);
    env.archive(&[]);
    let out = env.dir.path().join("out");
    fs::create_dir(&out).expect("mkdir");
    for path in [env.dir.path(), env.home.as_path(), out.as_path()] {
        std::process::Command::new("chown").arg("-R").arg("65534:65534").arg(path).status().expect("chown");
    }
    let binary = env.dir.path().join("esker");
    fs::copy(assert_cmd::cargo::cargo_bin("esker"), &binary).expect("copy binary");
    let mut command = std::process::Command::new("setpriv");
    command.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"]).arg(&binary);
    assert_success(&retrieve_everything_through(&env, command, &out));
    let (mode, uid, gid, mtime, nanoseconds) = metadata_of(&restored_copy(&out, &env, "run.sh"));
    assert_eq!((mode & 0o7777, uid, gid, mtime, nanoseconds), (0o750, 65534, 65534, -1, 250_000_000));
}

#[test]
fn a_kill_while_writing_leaves_only_a_private_temp_file_and_the_rerun_finishes() {
    let env = Env::new();
    make_tree(&env.src, 2, 6, 3000);
    env.archive(&[]);
    let out = env.dir.path().join("out");
    let query = format!("in:{}", env.src.display());
    let output = env
        .esker_failing_at("restore_data_written:3")
        .args(["retrieve", &query, "--to", out_arg(&out), "--yes"])
        .output()
        .expect("run");
    assert!(!output.status.success(), "the failpoint did not fire: {}", stderr(&output));
    let parts = part_files(&out);
    assert_eq!(parts.len(), 1, "{parts:?}");
    let part = fs::symlink_metadata(out.join(&parts[0])).expect("lstat");
    assert_eq!(part.mode() & 0o777, 0o600, "a temp file is readable by others while filled");

    let output = poll(&env);
    assert_success(&output);
    assert!(jobs(&env).iter().all(|job| job["state"] == "done"), "{:?}", jobs(&env));
    assert_eq!(snapshot(&restored_copy(&out, &env, "")), snapshot(&env.src));
    assert!(part_files(&out).is_empty(), "temp files left: {:?}", part_files(&out));
}

#[test]
fn a_poller_killed_after_placing_a_file_counts_it_done_on_the_rerun() {
    let (env, store) = cold_env(1, None);
    make_tree(&env.src, 1, 8, 2000);
    env.archive(&[]);
    let out = env.dir.path().join("out");
    assert_success(&retrieve(&env, &[&format!("in:{}", env.src.display()), "--to", out_arg(&out), "--yes"]));
    wait_for_bundles(&store, "the restores", restored);
    let output = env.esker_failing_at("restore_file_placed:4").args(["poll", "--once"]).output().expect("run");
    assert!(!output.status.success(), "the failpoint did not fire: {}", stderr(&output));

    let output = env.esker().args(["poll", "--once", "--json"]).output().expect("run");
    assert_success(&output);
    let report = json_lines(&output.stdout).pop().expect("report");
    assert_eq!(report["files_failed"], 0, "{report}");
    assert_eq!(report["files_present"], 1, "the file placed before the kill: {report}");
    assert!(jobs(&env).iter().all(|job| job["state"] == "done"), "{:?}", jobs(&env));
    assert_eq!(snapshot(&restored_copy(&out, &env, "")), snapshot(&env.src));
    assert!(part_files(&out).is_empty(), "temp files left: {:?}", part_files(&out));
}

#[test]
fn a_file_that_changed_while_archived_is_restored_with_a_warning_and_exit_3() {
    let env = Env::new();
    write(&env.src.join("moving.log"), b"grew while read");
    write(&env.src.join("still.txt"), b"steady");
    env.archive(&[]);
    env.catalog_sql(
        "UPDATE files SET state = 'changed' WHERE name_text = 'moving.log'",
        "UPDATE files SET state = 'changed' WHERE name_text = 'moving.log'",
    );
    let out = env.dir.path().join("out");
    let output = retrieve(&env, &[&format!("in:{}", env.src.display()), "--to", out_arg(&out), "--yes"]);
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    assert!(stderr(&output).contains("moving.log: it changed while it was archived"), "{}", stderr(&output));
    assert!(String::from_utf8_lossy(&output.stdout).contains("1 file changed while archived"));
    assert_eq!(fs::read(restored_copy(&out, &env, "moving.log")).expect("read"), b"grew while read");
}

/// Swaps `folder` for a symlink to `victim` and back, as fast as it can, until stopped.
fn swap_with_symlink(folder: std::path::PathBuf, victim: std::path::PathBuf, stop: Arc<AtomicBool>) -> u64 {
    let aside = folder.with_extension("aside");
    let mut swaps = 0;
    while !stop.load(Ordering::Relaxed) {
        if fs::rename(&folder, &aside).is_ok() {
            if std::os::unix::fs::symlink(&victim, &folder).is_ok() {
                swaps += 1;
                std::thread::sleep(std::time::Duration::from_micros(200));
                let _ = fs::remove_file(&folder);
            }
            let _ = fs::rename(&aside, &folder);
        }
        std::thread::sleep(std::time::Duration::from_micros(200));
    }
    swaps
}

#[test]
fn a_symlink_swapping_attacker_cannot_make_a_restore_touch_anything_outside_the_destination() {
    let env = Env::new();
    make_tree(&env.src, 8, 60, 200);
    env.archive(&[]);
    let victim = env.dir.path().join("victim");
    fs::create_dir(&victim).expect("mkdir");
    write(&victim.join("secret"), b"root's file");
    fs::set_permissions(victim.join("secret"), fs::Permissions::from_mode(0o600)).expect("chmod");
    let before = (snapshot(&victim), metadata_of(&victim.join("secret")), metadata_of(&victim));

    // The destination is world-writable, like a shared scratch folder.
    let out = env.dir.path().join("out");
    fs::create_dir(&out).expect("mkdir");
    fs::set_permissions(&out, fs::Permissions::from_mode(0o777)).expect("chmod");
    for round in 0..8 {
        let folder = restored_copy(&out, &env, &format!("dir00{round}"));
        fs::create_dir_all(&folder).expect("mkdir");
        let stop = Arc::new(AtomicBool::new(false));
        // The folder the files go to, and the copy of the archived root above it.
        let attackers: Vec<_> = [folder, restored_copy(&out, &env, "")]
            .into_iter()
            .map(|target| {
                let (victim, stop) = (victim.clone(), Arc::clone(&stop));
                std::thread::spawn(move || swap_with_symlink(target, victim, stop))
            })
            .collect();
        let query = format!("in:{}/dir00{round}", env.src.display());
        let output = retrieve(&env, &[&query, "--to", out_arg(&out), "--overwrite", "--yes"]);
        stop.store(true, Ordering::Relaxed);
        let swaps: u64 = attackers.into_iter().map(|attacker| attacker.join().expect("attacker")).sum();
        assert!(swaps > 0, "the attacker never got to swap");
        assert!(matches!(output.status.code(), Some(0 | 3)), "{}", stderr(&output));
        let after = (snapshot(&victim), metadata_of(&victim.join("secret")), metadata_of(&victim));
        assert_eq!(after, before, "round {round}: the restore touched the victim folder: {}", stderr(&output));
    }
}

#[test]
fn a_restore_makes_no_path_based_call_inside_the_target_tree() {
    let strace = ["/usr/bin/strace", "/bin/strace"].into_iter().find(|path| Path::new(path).exists());
    let strace = strace.unwrap_or_else(|| panic!("this test needs strace: run scripts/test.sh, which installs it"));
    let env = Env::new();
    make_tree(&env.src, 3, 5, 1000);
    std::os::unix::fs::symlink("file000", env.src.join("dir000/link")).expect("symlink");
    fs::create_dir(env.src.join("empty")).expect("mkdir");
    env.archive(&[]);
    let out = env.dir.path().join("out");
    let log = env.dir.path().join("strace.log");
    let mut command = std::process::Command::new(strace);
    command.args(["-f", "-qq", "-e", "trace=%file", "-o"]).arg(&log).arg(assert_cmd::cargo::cargo_bin("esker"));
    assert_success(&retrieve_everything_through(&env, command, &out));
    assert_eq!(snapshot(&restored_copy(&out, &env, "")), snapshot(&env.src));
    let inside = format!("\"{}/", out.display());
    let trace = fs::read_to_string(&log).expect("strace log");
    let by_path: Vec<&str> = trace.lines().filter(|line| line.contains(&inside)).collect();
    assert!(by_path.is_empty(), "path-based calls inside the target tree:\n{}", by_path.join("\n"));
    assert!(trace.lines().any(|line| line.contains("renameat")), "the trace holds the restore's calls");
}

#[test]
fn a_modification_time_past_2262_is_reported_not_silently_clamped() {
    let env = Env::new();
    let future = env.src.join("future.txt");
    write(&future, b"from the 24th century");
    set_mtime(&future, 10_413_792_000, 0);
    write(&env.src.join("today.txt"), b"now");
    let output = env.esker().arg("archive").arg(&env.src).arg("--json").output().expect("run");
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(summary["files_time_clamped"], 1, "{summary}");
    assert!(summary["time_clamped_examples"][0].as_str().is_some_and(|path| path.ends_with("/future.txt")));
    assert_eq!(summary["files_archived"], 2, "{summary}");
}
