//! Archiving into S3 (moto): keys, sizes, classes, checksums, manifests, cold reads refused,
//! a run killed mid-upload leaving no orphans, and transient failures retried.

use std::collections::BTreeMap;
use std::fs;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use crate::common::*;

fn s3_env(check: &S3Check, endpoint: &str, extra: &str) -> Env {
    let env = Env::new();
    fs::create_dir_all(&env.home).expect("mkdir home");
    write(&env.home.join("config.toml"), check.store_config(endpoint, extra).as_bytes());
    env
}

/// Every file of the source is cataloged exactly once, archived, in the S3 store.
fn assert_all_archived_once(env: &Env) {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for found in env.find(&format!("in:{}", env.src.display())) {
        assert_eq!(found["state"], "archived", "{found}");
        assert_eq!(found["store"], "cold");
        *counts.entry(found["path"].as_str().expect("path").to_string()).or_default() += 1;
    }
    let expected: BTreeMap<String, usize> = snapshot(&env.src)
        .keys()
        .map(|relative| (format!("{}/{}", env.src.display(), String::from_utf8_lossy(relative)), 1))
        .collect();
    assert_eq!(counts, expected);
}

#[test]
fn archive_into_deep_archive_stores_verified_bundles_and_hot_manifests() {
    let check = S3Check::new();
    let env = s3_env(&check, &s3_endpoint(), "");
    make_tree(&env.src, 10, 200, 300);
    write(&env.src.join("video/raw.bin"), &content(77, 12 * 1024 * 1024));
    let summary = env.archive_json(&["--store", "cold", "--max-files", "250"]);
    assert_eq!(summary["files_archived"], 2001);

    let bundles = env.bundles();
    let objects: BTreeMap<String, (i64, String)> =
        check.objects("archive/bundles/").into_iter().map(|(key, size, class)| (key, (size, class))).collect();
    assert_eq!(objects.len(), bundles.len());
    for bundle in &bundles {
        let key = bundle["key"].as_str().expect("key");
        assert!(key.starts_with("archive/bundles/") && key.ends_with(".tar"), "{key}");
        assert_eq!(bundle["state"], "stored");
        assert_eq!(bundle["storage_class"], "DEEP_ARCHIVE");
        let (size, class) = &objects[key];
        assert_eq!(Some(*size as u64), bundle["bytes"].as_u64());
        assert_eq!(class, "DEEP_ARCHIVE");
    }
    let manifests = check.objects("archive/manifests/");
    assert_eq!(manifests.len(), bundles.len());
    assert!(manifests.iter().all(|(key, _, class)| class == "STANDARD" && key.ends_with(".jsonl.zst")));

    // A cold bundle cannot be read before a restore.
    let first = bundles[0]["key"].as_str().expect("key");
    assert_eq!(check.get(first).expect_err("cold read"), "InvalidObjectState");

    // After a restore, every bundle's bytes match the recorded BLAKE3 and GNU tar
    // rebuilds the tree.
    let out = tempfile::tempdir().expect("tempdir");
    for bundle in &bundles {
        let bytes = check.restore_and_get(bundle["key"].as_str().expect("key"));
        assert_eq!(Some(blake3::hash(&bytes).to_hex().as_str()), bundle["blake3"].as_str());
        let path = out.path().join("bundle.tar");
        fs::write(&path, &bytes).expect("write");
        gnu_tar(&["-xf", path.to_str().expect("utf8"), "-C", out.path().to_str().expect("utf8")]);
    }
    fs::remove_file(out.path().join("bundle.tar")).expect("remove");
    let copy = out.path().join(env.src.strip_prefix("/").expect("absolute"));
    assert_eq!(snapshot(&copy), snapshot(&env.src));
    assert_all_archived_once(&env);
    assert_eq!(check.unfinished_uploads(), 0);
}

#[test]
fn a_run_killed_mid_upload_leaves_no_orphan_uploads_after_the_rerun() {
    let check = S3Check::new();
    let env = s3_env(&check, &s3_endpoint(), "upload_concurrency = 2");
    for index in 0..3 {
        write(&env.src.join(format!("big{index}.bin")), &content(index, 11 * 1024 * 1024));
    }
    make_tree(&env.src, 2, 20, 100);
    let output = env
        .esker_failing_at("part_uploaded:2")
        .args(["archive", "--store", "cold", "--max-size", "10MiB"])
        .arg(&env.src)
        .output()
        .expect("run");
    assert!(!output.status.success());
    assert!(stderr(&output).contains("failpoint part_uploaded"), "{}", stderr(&output));
    assert!(check.unfinished_uploads() >= 1, "the kill left an upload behind");

    let output =
        env.esker().args(["archive", "--store", "cold", "--max-size", "10MiB"]).arg(&env.src).output().expect("run");
    assert_success(&output);
    assert!(String::from_utf8_lossy(&output.stdout).contains("resumed"));
    assert_eq!(check.unfinished_uploads(), 0, "orphan multipart uploads remain");
    assert_all_archived_once(&env);
    let keys: Vec<String> = check.objects("archive/bundles/").into_iter().map(|(key, _, _)| key).collect();
    let mut cataloged: Vec<String> =
        env.bundles().iter().map(|bundle| bundle["key"].as_str().expect("key").to_string()).collect();
    cataloged.sort();
    assert_eq!(keys, cataloged, "no object outside the catalog");
}

struct Proxy {
    child: Child,
    port: u16,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn flaky_proxy(fail_every: u32, status: &std::path::Path) -> Proxy {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/fixtures/flaky_proxy.py");
    let mut child = Command::new("python3")
        .arg(script)
        .args(["--upstream", &s3_endpoint(), "--listen-port", "0", "--fail-every", &fail_every.to_string()])
        .arg("--status-file")
        .arg(status)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start proxy");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("read port");
    let port = line.trim().strip_prefix("PORT=").and_then(|port| port.parse().ok()).expect("PORT=n");
    Proxy { child, port }
}

#[test]
fn transient_failures_are_retried_to_a_complete_archive() {
    let check = S3Check::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let status = dir.path().join("failures");
    let proxy = flaky_proxy(4, &status);
    let env = s3_env(&check, &format!("http://127.0.0.1:{}", proxy.port), "");
    make_tree(&env.src, 6, 50, 200);
    write(&env.src.join("big.bin"), &content(5, 11 * 1024 * 1024));
    env.archive(&["--store", "cold", "--max-files", "40"]);
    let injected: u32 = fs::read_to_string(&status).expect("status file").trim().parse().expect("count");
    assert!(injected >= 3, "the proxy failed only {injected} requests");
    assert_all_archived_once(&env);
    assert_eq!(check.unfinished_uploads(), 0);
    let runs = env.runs();
    assert_eq!(runs[0]["state"], "complete");
}

#[test]
fn dry_run_against_s3_estimates_the_upload_without_touching_the_network() {
    let env = Env::new();
    fs::create_dir_all(&env.home).expect("mkdir");
    // An endpoint nobody listens on: a dry run must not need it.
    let config = "[stores.cold]\nkind = \"s3\"\nbucket = \"never-contacted\"\nendpoint_url = \"http://127.0.0.1:9\"\n";
    write(&env.home.join("config.toml"), config.as_bytes());
    make_tree(&env.src, 5, 100, 1000);
    let before = listing(&env.home);
    let summary = env.archive_json(&["--store", "cold", "--dry-run", "--max-files", "100"]);
    assert_eq!(listing(&env.home), before);
    let estimate = &summary["upload_estimate"];
    assert_eq!(estimate["storage_class"], "DEEP_ARCHIVE");
    assert_eq!(estimate["bundles"]["objects"], 5);
    assert_eq!(estimate["bundles"]["requests"], 5);
    assert_eq!(estimate["bundles"]["minimum_days"], 180);
    assert_eq!(estimate["manifests"]["objects"], 5);
    assert_eq!(estimate["one_object_per_file"]["objects"], 500);
    assert_eq!(estimate["one_object_per_file"]["requests"], 500);
    // 500 PUTs at $0.05 per 1,000.
    assert!((estimate["one_object_per_file"]["request_cost_usd"].as_f64().expect("cost") - 0.025).abs() < 1e-9);
    assert!(estimate["pricing"].as_str().expect("pricing").contains("us-east-1"));

    // A pricing file of one's own replaces the built-in table.
    let mut table: toml::Table = toml::from_str(esker::cost::BUILT_IN).expect("table");
    table.insert("region".into(), "eu-test-1".into());
    table["classes"]["DEEP_ARCHIVE"].as_table_mut().expect("class").insert("put_per_1000".into(), 1.0.into());
    write(&env.home.join("prices.toml"), toml::to_string(&table).expect("toml").as_bytes());
    write(&env.home.join("config.toml"), format!("{config}[pricing]\nfile = \"prices.toml\"\n").as_bytes());
    let summary = env.archive_json(&["--store", "cold", "--dry-run", "--max-files", "100"]);
    let estimate = &summary["upload_estimate"];
    assert!(estimate["pricing"].as_str().expect("pricing").contains("eu-test-1"));
    assert!((estimate["one_object_per_file"]["request_cost_usd"].as_f64().expect("cost") - 0.5).abs() < 1e-9);
    let output = env.esker().args(["archive", "--store", "cold", "--dry-run"]).arg(&env.src).output().expect("run");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("upload estimate") && text.contains("one object per file instead"), "{text}");
}

#[test]
fn retrieval_from_deep_archive_restores_downloads_and_verifies() {
    let check = S3Check::new();
    let env = s3_env(&check, &s3_endpoint(), "");
    make_tree(&env.src, 4, 30, 2000);
    write(&env.src.join("dir000/big.bin"), &content(3, 7 * 1024 * 1024));
    env.archive(&["--store", "cold", "--max-files", "40"]);
    let out = env.dir.path().join("out");
    let query = format!("in:{}/dir000", env.src.display());
    // The tier must exist for the class.
    let output = env
        .esker()
        .args(["retrieve", &query, "--to", out.to_str().expect("utf8"), "--tier", "expedited"])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("offered: bulk, standard"), "{}", stderr(&output));
    // Before a restore, the bundles cannot be read at all.
    let bundle_key = env.bundles()[0]["key"].as_str().expect("key").to_string();
    assert_eq!(check.get(&bundle_key).expect_err("cold"), "InvalidObjectState");

    let output =
        env.esker().args(["retrieve", &query, "--to", out.to_str().expect("utf8"), "--json"]).output().expect("run");
    assert_success(&output);
    let outcome: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(outcome["outcome"], "started");
    // moto completes restores at once, so the first pass already downloads.
    let jobs = json_lines(&env.run(&["jobs", "--json"]).stdout);
    assert!(!jobs.is_empty());
    assert!(jobs.iter().all(|job| job["state"] == "done" && job["tier"] == "bulk"), "{jobs:?}");
    let copy = out.join(env.src.strip_prefix("/").expect("absolute")).join("dir000");
    assert_eq!(snapshot(&copy), snapshot(&env.src.join("dir000")));
    // Only the needed ranges came down, not whole bundles.
    let downloaded = outcome["report"]["bytes_downloaded"].as_u64().expect("bytes");
    let wanted: u64 = snapshot(&env.src.join("dir000")).values().map(|entry| entry.1.len() as u64).sum();
    assert!(downloaded >= wanted && downloaded < wanted + 256 * 1024, "{downloaded} vs {wanted}");
}

#[test]
fn retrieval_estimate_matches_a_hand_computation() {
    let check = S3Check::new();
    let env = s3_env(&check, &s3_endpoint(), "");
    // Two folders in two bundles; ask for one file from each.
    write(&env.src.join("a/one.dat"), &content(1, 100_000));
    write(&env.src.join("a/two.dat"), &content(2, 50_000));
    write(&env.src.join("b/three.dat"), &content(3, 70_000));
    write(&env.src.join("c/four.dat"), &content(4, 10));
    env.archive(&["--store", "cold", "--max-files", "2"]);
    let output = env
        .esker()
        .args(["retrieve", "name:one OR name:three", "--dry-run", "--json", "--days", "10"])
        .output()
        .expect("run");
    assert_success(&output);
    let estimate: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    let bundles = env.bundles();
    let size_of = |needle: &str| -> u64 {
        let found = env.find(&format!("name:{needle}"));
        let uuid = found[0]["bundle"].as_str().expect("bundle").to_string();
        bundles.iter().find(|bundle| bundle["id"] == uuid.as_str()).expect("bundle")["bytes"].as_u64().expect("bytes")
    };
    let restored = (size_of("one") + size_of("three")) as f64;
    let gb = |bytes: f64| bytes / (1u64 << 30) as f64;
    assert_eq!(estimate["files"], 2);
    assert_eq!(estimate["bytes"], 170_000);
    assert_eq!(estimate["bundles"], 2);
    assert_eq!(estimate["bytes_restored"].as_f64(), Some(restored));
    assert_eq!(estimate["bytes_downloaded"], 170_000);
    assert_eq!(estimate["restore_requests"], 2);
    assert_eq!(estimate["download_requests"], 2);
    assert_eq!(estimate["requests"], 4);
    // Deep Archive bulk: $0.0025/GB + $0.025 per 1,000 restores; GETs $0.0004 per 1,000;
    // egress $0.09/GB; restored copies as STANDARD ($0.023/GB-month) for 10 days.
    let tiers = estimate["tiers"].as_array().expect("tiers");
    let bulk = tiers.iter().find(|tier| tier["tier"] == "bulk").expect("bulk");
    let expected_bulk = gb(restored) * 0.0025
        + 2.0 / 1000.0 * 0.025
        + 2.0 / 1000.0 * 0.0004
        + gb(170_000.0) * 0.09
        + gb(restored) * 0.023 * 10.0 / 30.0;
    assert!((bulk["cost_usd"].as_f64().expect("cost") - expected_bulk).abs() < 1e-12, "{bulk}");
    assert_eq!(bulk["hours"], 48.0);
    let standard = tiers.iter().find(|tier| tier["tier"] == "standard").expect("standard");
    let expected_standard = gb(restored) * 0.02
        + 2.0 / 1000.0 * 0.10
        + 2.0 / 1000.0 * 0.0004
        + gb(170_000.0) * 0.09
        + gb(restored) * 0.023 * 10.0 / 30.0;
    assert!((standard["cost_usd"].as_f64().expect("cost") - expected_standard).abs() < 1e-12, "{standard}");
    assert_eq!(standard["hours"], 12.0);
    assert_eq!(tiers.len(), 2, "Deep Archive offers no expedited tier");
    // A dry run requests nothing.
    assert!(json_lines(&env.run(&["jobs", "--json"]).stdout).is_empty());
}

/// A server that answers every request `403 Forbidden` without a body, as S3 answers a
/// HEAD its credentials may not make. Returns its address.
fn forbidding_server() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = listener.local_addr().expect("address");
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            use std::io::{Read, Write};
            let mut stream = stream;
            let mut request = Vec::new();
            let mut buffer = [0u8; 4096];
            while !request.windows(4).any(|window| window == b"\r\n\r\n") {
                match stream.read(&mut buffer) {
                    Ok(0) | Err(_) => break,
                    Ok(read) => request.extend_from_slice(&buffer[..read]),
                }
            }
            let _ = stream.write_all(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        }
    });
    format!("http://{address}")
}

#[test]
fn a_forbidden_answer_without_a_body_is_named_not_an_unhandled_error() {
    let env = Env::new();
    fs::create_dir_all(&env.home).expect("mkdir");
    let config = format!(
        "store = \"s3\"\n[stores.s3]\nkind = \"s3\"\nbucket = \"locked\"\nendpoint_url = \"{}\"\nforce_path_style = true\nregion = \"us-east-1\"\nmax_attempts = 1\n",
        forbidding_server()
    );
    write(&env.home.join("config.toml"), config.as_bytes());
    write(&env.src.join("a.txt"), b"x");
    let output = env.esker().arg("archive").arg(&env.src).output().expect("run");
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let message = stderr(&output);
    assert!(message.contains("HTTP 403: access denied") && !message.contains("unhandled"), "{message}");
    assert_eq!(message.matches("HTTP 403").count(), 1, "each error once: {message}");
}
