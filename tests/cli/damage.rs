//! Damaged and shared state: a broken index is named and rebuilt, a catalog and index
//! that a user may only read serve that user's searches.

use std::fs;
use std::os::unix::fs::PermissionsExt;

use crate::common::*;

fn sample(env: &Env) {
    for index in 0..30 {
        write(&env.src.join(format!("reports/report_{index}.txt")), format!("report {index}").as_bytes());
    }
    env.archive(&[]);
}

#[test]
fn a_damaged_index_is_an_integrity_error_that_reindex_repairs() {
    let env = Env::new();
    sample(&env);
    write(&env.home.join("index/meta.json"), b"{not json");
    let output = env.run(&["find", "report_7"]);
    assert_eq!(output.status.code(), Some(4), "{}", stderr(&output));
    assert!(stderr(&output).contains("damaged") && stderr(&output).contains("esker reindex"), "{}", stderr(&output));

    // An archive still completes its run, and says the index needs rebuilding.
    write(&env.src.join("reports/late.txt"), b"late");
    let output = env.esker().arg("archive").arg(&env.src).output().expect("run");
    assert_eq!(output.status.code(), Some(4), "{}", stderr(&output));
    assert!(stderr(&output).contains("run 2 is complete"), "{}", stderr(&output));
    assert_eq!(env.runs().iter().filter(|run| run["state"] == "complete").count(), 2);

    assert_success(&env.run(&["reindex"]));
    assert_eq!(env.find("report_7").len(), 1);
    assert_eq!(env.find("late").len(), 1);

    // Segment files gone: the same.
    for entry in fs::read_dir(env.home.join("index")).expect("index") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|extension| extension == "idx") {
            fs::remove_file(path).expect("remove");
        }
    }
    assert_eq!(env.run(&["find", "report_7"]).status.code(), Some(4));
    assert_success(&env.run(&["reindex"]));
    assert_eq!(env.find("report_7").len(), 1);
}

#[test]
fn another_user_may_search_a_catalog_and_index_they_can_only_read() {
    if !is_root() {
        eprintln!("SKIPPED another_user_may_search_a_catalog_and_index_they_can_only_read: it needs root");
        return;
    }
    let env = Env::new();
    if env.catalog_url.is_some() {
        eprintln!("SKIPPED another_user_may_search_a_catalog_and_index_they_can_only_read: a SQLite catalog test");
        return;
    }
    sample(&env);
    for entry in fs::read_dir(env.home.join("index")).expect("index") {
        let entry = entry.expect("entry");
        let mode = entry.metadata().expect("stat").permissions().mode() & 0o777;
        assert_eq!(mode & 0o044, 0o044, "{} is {mode:o}: others cannot search", entry.path().display());
    }
    fs::set_permissions(env.dir.path(), fs::Permissions::from_mode(0o755)).expect("chmod");
    let binary = env.dir.path().join("esker");
    fs::copy(assert_cmd::cargo::cargo_bin("esker"), &binary).expect("copy binary");
    let before = listing(&env.home);
    for args in [&["find", "report_7"][..], &["runs"], &["bundles"], &["jobs"], &["catalog", "status"]] {
        let output = std::process::Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .arg(&binary)
            .env("ESKER_SYSTEM_CONFIG", "/nonexistent")
            .env_remove("ESKER_CATALOG_URL")
            .arg("--home")
            .arg(&env.home)
            .args(args)
            .output()
            .expect("run");
        assert_success(&output);
        if args[0] == "find" {
            assert!(String::from_utf8_lossy(&output.stdout).contains("report_7.txt"));
        }
    }
    assert_eq!(listing(&env.home), before, "a reader changed the home");
}

#[test]
fn catalog_check_finds_damaged_pages_and_names_the_file() {
    let env = Env::new();
    sample(&env);
    if env.catalog_url.is_some() {
        let output = env.run(&["catalog", "check", "--json"]);
        assert_success(&output);
        let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
        assert!(report["rows_read"].as_u64() > Some(30), "{report}");
        return;
    }
    let output = env.run(&["catalog", "check"]);
    assert_success(&output);
    assert!(String::from_utf8_lossy(&output.stdout).contains("no problems found"));
    // Pages after the first (the header) overwritten, as a failing disk would.
    let catalog = env.home.join("catalog.db");
    let mut bytes = fs::read(&catalog).expect("read catalog");
    for page in (2..bytes.len() / 4096).step_by(2) {
        bytes[page * 4096 + 8..page * 4096 + 400].fill(0xa5);
    }
    fs::write(&catalog, &bytes).expect("damage catalog");
    let output = env.run(&["catalog", "check"]);
    assert_eq!(output.status.code(), Some(4), "{}", stderr(&output));
    assert!(stderr(&output).contains("catalog.db"), "{}", stderr(&output));
    assert_eq!(env.run(&["runs"]).status.code(), Some(4), "a damaged catalog is never an empty one");
}

/// Runs `esker retrieve` of the whole tree into `out`, failing the test if it hangs.
fn retrieve_within_a_minute(env: &Env, out: &std::path::Path) -> std::process::Output {
    let query = format!("in:{}", env.src.display());
    let mut child = env
        .esker_process()
        .args(["retrieve", &query, "--to", out.to_str().expect("utf8"), "--yes"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn retrieve");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while child.try_wait().expect("wait").is_none() {
        if std::time::Instant::now() > deadline {
            child.kill().expect("kill");
            panic!("retrieve hung");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.wait_with_output().expect("output")
}

#[test]
fn a_bundle_replaced_by_a_folder_a_fifo_or_a_truncated_file_is_named_and_exits_4() {
    let env = Env::new();
    write(&env.src.join("first.txt"), b"first file");
    write(&env.src.join("second.txt"), &content(7, 20_000));
    env.archive(&[]);
    let object = env.store_dir().join(env.bundles()[0]["key"].as_str().expect("key"));
    let saved = fs::read(&object).expect("read bundle");
    fs::remove_file(&object).expect("remove");

    fs::create_dir(&object).expect("mkdir");
    let output = retrieve_within_a_minute(&env, &env.dir.path().join("out1"));
    assert_eq!(output.status.code(), Some(4), "{}", stderr(&output));
    assert!(stderr(&output).contains("is a folder, not a stored object"), "{}", stderr(&output));
    fs::remove_dir(&object).expect("rmdir");

    nix::unistd::mkfifo(&object, nix::sys::stat::Mode::from_bits_truncate(0o644)).expect("mkfifo");
    let output = retrieve_within_a_minute(&env, &env.dir.path().join("out2"));
    assert_eq!(output.status.code(), Some(4), "{}", stderr(&output));
    assert!(stderr(&output).contains("is a FIFO"), "{}", stderr(&output));
    fs::remove_file(&object).expect("rm fifo");

    fs::write(&object, &saved[..saved.len() / 2]).expect("truncate");
    let output = retrieve_within_a_minute(&env, &env.dir.path().join("out3"));
    assert_eq!(output.status.code(), Some(4), "{}", stderr(&output));
    let message = stderr(&output);
    assert!(message.contains("second.txt: the store returned") && message.contains("of its 20000 bytes"), "{message}");
    assert_eq!(message.matches("second.txt: the store returned").count(), 1, "each error once: {message}");
}
