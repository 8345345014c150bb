//! Awkward files: specials, unreadable, odd names, long paths and link targets.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::common::*;

#[test]
fn special_files_are_recorded_with_a_reason_and_the_run_goes_on() {
    let env = Env::new();
    write(&env.src.join("ok.txt"), b"fine");
    let fifo = env.src.join("pipe");
    let status = std::process::Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
    assert!(status.success());
    let _socket = std::os::unix::net::UnixListener::bind(env.src.join("sock")).expect("socket");
    let summary = env.archive_partial_json(&[]);
    assert_eq!(summary["files_archived"], 1);
    assert_eq!(summary["skipped"]["special file"], 2);
    let skipped = env.find("state:skipped");
    assert_eq!(skipped.len(), 2);
    let reasons: Vec<&str> = skipped.iter().map(|found| found["reason"].as_str().expect("reason")).collect();
    assert!(reasons.contains(&"special file (fifo)"), "{reasons:?}");
    assert!(reasons.contains(&"special file (socket)"), "{reasons:?}");
    // Human summary names them.
    let env2 = Env::new();
    std::process::Command::new("mkfifo").arg(env2.src.join("p")).status().expect("mkfifo");
    let output = env2.run(&["archive", env2.src.to_str().expect("utf8")]);
    assert_eq!(output.status.code(), Some(3), "a skipped file makes the run partial");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("skipped 1: 1 special file"), "{text}");
    assert!(text.contains("/p: special file (fifo)"), "{text}");
}

#[test]
fn unreadable_files_and_folders_are_skipped_with_a_reason() {
    let env = Env::new();
    write(&env.src.join("public.txt"), b"open");
    write(&env.src.join("secret.txt"), b"closed");
    write(&env.src.join("locked/inside.txt"), b"hidden");
    fs::set_permissions(env.src.join("secret.txt"), fs::Permissions::from_mode(0o000)).expect("chmod");
    fs::set_permissions(env.src.join("locked"), fs::Permissions::from_mode(0o000)).expect("chmod");
    let mut command = if is_root() {
        // Root reads everything: run esker as `nobody` so permissions bite.
        fs::set_permissions(env.dir.path(), fs::Permissions::from_mode(0o777)).expect("chmod");
        fs::set_permissions(&env.src, fs::Permissions::from_mode(0o755)).expect("chmod");
        // A copy of the binary `nobody` can reach, wherever the checkout lives.
        let binary = env.dir.path().join("esker");
        fs::copy(assert_cmd::cargo::cargo_bin("esker"), &binary).expect("copy binary");
        fs::set_permissions(&binary, fs::Permissions::from_mode(0o755)).expect("chmod");
        let mut command = std::process::Command::new("setpriv");
        command.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"]);
        command.arg(&binary);
        command
    } else {
        std::process::Command::new(assert_cmd::cargo::cargo_bin("esker"))
    };
    env.with_catalog(&mut command);
    let output = command
        .env("ESKER_SYSTEM_CONFIG", "/nonexistent")
        .arg("--home")
        .arg(&env.home)
        .arg("archive")
        .arg(&env.src)
        .arg("--json")
        .output()
        .expect("run");
    fs::set_permissions(env.src.join("locked"), fs::Permissions::from_mode(0o755)).expect("chmod back");
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(summary["files_archived"], 1, "{summary}");
    assert_eq!(summary["skipped"]["unreadable"], 2, "{summary}");
    let examples = summary["skipped_examples"].as_array().expect("examples");
    assert!(examples.iter().any(|example| example["path"].as_str().is_some_and(|path| path.ends_with("/secret.txt"))
        && example["reason"] == "unreadable: permission denied"));
    assert!(examples.iter().any(|example| example["path"].as_str().is_some_and(|path| path.ends_with("/locked"))));
}

#[test]
fn odd_names_long_paths_and_long_links_survive_gnu_tar() {
    let env = Env::new();
    let names: Vec<Vec<u8>> = vec![
        b"new\nline.txt".to_vec(),
        b"latin1-\xe9t\xe9.txt".to_vec(),
        b"tab\there and spaces .txt".to_vec(),
        "ünïcødé-名前.txt".as_bytes().to_vec(),
        b"-starts-with-dash".to_vec(),
    ];
    for (index, name) in names.iter().enumerate() {
        write(&env.src.join(os(name)), &content(index as u64, 100));
    }
    // A path over 100 bytes that ustar can split, one over 256 that needs pax, and a long
    // non-UTF-8 one.
    let medium = env.src.join("m".repeat(90)).join("n".repeat(60));
    write(&medium.join("file.txt"), b"medium");
    let deep = env.src.join("d".repeat(200)).join("e".repeat(200));
    write(&deep.join("file.txt"), b"deep");
    let mut odd_deep = b"x\xff".repeat(80);
    odd_deep.extend_from_slice(b"/leaf\xfe.bin");
    write(&env.src.join(os(&odd_deep)), b"binary name");
    std::os::unix::fs::symlink("t".repeat(150), env.src.join("long-link")).expect("symlink");

    let summary = env.archive_json(&[]);
    assert_eq!(summary["files_archived"], 9, "{summary}");
    let (_keep, copy) = env.extract_all();
    assert_eq!(snapshot(&copy), snapshot(&env.src));

    // Non-UTF-8 names keep their bytes in the catalog (hex) and are still findable.
    let found = env.find("latin1");
    assert_eq!(found.len(), 1);
    let hex_path = found[0]["path_hex"].as_str().expect("path_hex");
    let raw = hex::decode(hex_path).expect("hex");
    assert!(raw.ends_with(b"latin1-\xe9t\xe9.txt"));
    assert!(Path::new(os(&raw)).exists());
    assert_eq!(env.find("name:line").len(), 1);
}

#[test]
fn a_single_file_root_and_several_roots_work() {
    let env = Env::new();
    write(&env.src.join("a/one.txt"), b"1");
    write(&env.src.join("b/two.txt"), b"2");
    let output = env
        .esker()
        .arg("archive")
        .arg(env.src.join("a/one.txt"))
        .arg(env.src.join("b"))
        .arg(env.src.join("b/two.txt"))
        .arg("--json")
        .output()
        .expect("run");
    assert_success(&output);
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(summary["files_archived"], 2, "nested root archived once: {summary}");
    assert!(stderr(&output).contains("lies inside"));
    assert_eq!(env.find_paths("kind:file"), vec![env.src_path("a/one.txt"), env.src_path("b/two.txt")]);
}
