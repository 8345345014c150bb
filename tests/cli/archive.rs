//! Archiving end to end: GNU tar compatibility, caps, folders, manifests, options.

use std::collections::{BTreeSet, HashMap};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, SystemTime};

use crate::common::*;

#[test]
fn gnu_tar_restores_the_tree_byte_identically() {
    let env = Env::new();
    make_tree(&env.src, 4, 6, 3000);
    write(&env.src.join("top.txt"), b"top level\n");
    write(&env.src.join("big.bin"), &content(9, 300_000));
    fs::create_dir_all(env.src.join("empty/nested-empty")).expect("mkdir");
    std::os::unix::fs::symlink("dir000/sub/file000.dat", env.src.join("link")).expect("symlink");
    std::os::unix::fs::symlink("/nonexistent/target", env.src.join("dangling")).expect("symlink");
    fs::set_permissions(env.src.join("top.txt"), fs::Permissions::from_mode(0o640)).expect("chmod");

    let summary = env.archive_json(&["--max-files", "5", "--max-size", "100KiB"]);
    // 24 files + top + big + nested-empty + two symlinks
    assert_eq!(summary["files_archived"], 29);
    assert_eq!(summary["skipped"].as_object().map(|map| map.len()), Some(0));
    let (_keep, copy) = env.extract_all();
    assert_eq!(snapshot(&copy), snapshot(&env.src));
}

#[test]
fn bundles_respect_caps_and_a_big_file_gets_its_own() {
    let env = Env::new();
    for index in 0..40 {
        write(&env.src.join(format!("f{index:02}.dat")), &content(index, 1000));
    }
    write(&env.src.join("huge.bin"), &content(99, 50_000));
    env.archive(&["--max-files", "7", "--max-size", "10KiB"]);
    let bundles = env.bundles();
    let mut total = 0;
    for bundle in &bundles {
        let files = bundle["files"].as_u64().expect("files");
        let data = bundle["data_bytes"].as_u64().expect("bytes");
        assert!(files <= 7, "bundle over the file cap: {bundle}");
        assert!(data <= 10 * 1024 || files == 1, "bundle over the size cap: {bundle}");
        assert_eq!(bundle["state"], "stored");
        assert_eq!(bundle["blake3"].as_str().map(str::len), Some(64));
        assert!(bundle["sha256"].is_null(), "new bundles record BLAKE3, not SHA-256: {bundle}");
        total += files;
    }
    assert_eq!(total, 41);
    assert!(bundles.iter().any(|bundle| bundle["files"] == 1 && bundle["data_bytes"] == 50_000));
}

#[test]
fn folders_stay_together_and_group_depth_separates_units() {
    let env = Env::new();
    for folder in ["a", "b", "c"] {
        for file in 0..3 {
            write(&env.src.join(folder).join(format!("{file}.txt")), folder.as_bytes());
        }
    }
    env.archive(&["--max-files", "4"]);
    let mut bundle_of: HashMap<String, BTreeSet<String>> = HashMap::new();
    for found in env.find("kind:file") {
        let path = found["path"].as_str().expect("path").to_string();
        let folder = path.rsplit_once('/').map(|(folder, _)| folder.to_string()).expect("folder");
        bundle_of.entry(folder).or_default().insert(found["bundle"].as_str().expect("bundle").to_string());
    }
    assert_eq!(bundle_of.len(), 3);
    assert!(bundle_of.values().all(|bundles| bundles.len() == 1), "a folder was split: {bundle_of:?}");

    let grouped = Env::new();
    for (folder, files) in [("p1/x", 2), ("p1/y", 2), ("p2/z", 2)] {
        for file in 0..files {
            write(&grouped.src.join(folder).join(format!("{file}.txt")), b"data");
        }
    }
    grouped.archive(&["--group-depth", "1"]);
    let mut projects_per_bundle: HashMap<String, BTreeSet<String>> = HashMap::new();
    for found in grouped.find("kind:file") {
        let path = found["path"].as_str().expect("path");
        let project = if path.contains("/p1/") { "p1" } else { "p2" };
        projects_per_bundle.entry(found["bundle"].as_str().expect("bundle").into()).or_default().insert(project.into());
    }
    assert_eq!(projects_per_bundle.len(), 2);
    assert!(projects_per_bundle.values().all(|projects| projects.len() == 1));
}

#[test]
fn manifest_is_the_last_member_and_matches_the_catalog() {
    let env = Env::new();
    make_tree(&env.src, 2, 5, 700);
    env.archive(&["--max-files", "4"]);
    let by_path: HashMap<String, serde_json::Value> = env
        .find("kind:file")
        .into_iter()
        .map(|found| (found["path"].as_str().expect("path").to_string(), found))
        .collect();
    let mut seen = 0;
    for bundle in env.bundles() {
        let key = bundle["key"].as_str().expect("key");
        let tar_path = env.store_dir().join(key);
        let members = String::from_utf8(gnu_tar(&["-tf", tar_path.to_str().expect("utf8")])).expect("utf8");
        assert_eq!(members.lines().last(), Some(".esker/manifest.jsonl"));
        let manifest = gnu_tar(&["-xOf", tar_path.to_str().expect("utf8"), ".esker/manifest.jsonl"]);
        let lines = json_lines(&manifest);
        assert_eq!(lines[0]["bundle"], bundle["id"]);
        assert_eq!(lines[0]["files"].as_u64(), Some(lines.len() as u64 - 1));
        assert_eq!(lines.len() as u64 - 1, bundle["files"].as_u64().expect("files"));
        let bytes = fs::read(&tar_path).expect("read bundle");
        for line in &lines[1..] {
            let path = line["path"].as_str().expect("path");
            let found = &by_path[path];
            assert_eq!(found["blake3"], line["blake3"]);
            assert_eq!(found["data_offset"], line["data_offset"]);
            assert_eq!(found["header_offset"], line["header_offset"]);
            let start = line["data_offset"].as_u64().expect("offset") as usize;
            let size = line["size"].as_u64().expect("size") as usize;
            let original = fs::read(path).expect("read original");
            assert_eq!(&bytes[start..start + size], original.as_slice(), "{path}");
            assert_eq!(line["blake3"].as_str(), Some(blake3::hash(&original).to_hex().as_str()));
            seen += 1;
        }
        // The hot copy of the manifest is the same document.
        let copy =
            fs::read(env.store_dir().join(bundle["manifest_key"].as_str().expect("manifest key"))).expect("copy");
        assert_eq!(zstd::decode_all(copy.as_slice()).expect("zstd"), manifest);
    }
    assert_eq!(seen, 10);
}

#[test]
fn tags_description_runs_and_bundles_are_listed() {
    let env = Env::new();
    write(&env.src.join("report.txt"), b"r");
    let summary = env.archive_json(&["-t", "finance, 2019", "--tag", "audit", "-d", "Quarterly closing numbers"]);
    for field in
        ["files_archived", "bytes_archived", "bundles", "skipped", "elapsed_seconds", "bytes_per_second", "run"]
    {
        assert!(summary.get(field).is_some(), "summary lacks {field}: {summary}");
    }
    let found = env.find("tag:audit");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["tags"], serde_json::json!(["finance", "2019", "audit"]));
    assert_eq!(found[0]["description"], "Quarterly closing numbers");
    for field in ["file_id", "path", "size", "mtime", "tags", "description", "bundle", "store", "state"] {
        assert!(found[0].get(field).is_some(), "find --json lacks {field}");
    }
    assert_eq!(env.find_paths("closing").len(), 1);
    assert_eq!(env.find_paths("tag:FINANCE").len(), 1);
    let runs = env.runs();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0]["state"], "complete");
    assert_eq!(runs[0]["files_archived"], 1);
    let bundles = env.bundles();
    for field in ["id", "store", "key", "files", "bytes", "state", "blake3", "sha256"] {
        assert!(bundles[0].get(field).is_some(), "bundles --json lacks {field}");
    }
    // The bundle's recorded BLAKE3 is the object's.
    let object = fs::read(env.store_dir().join(bundles[0]["key"].as_str().expect("key"))).expect("read");
    assert_eq!(bundles[0]["blake3"].as_str(), Some(blake3::hash(&object).to_hex().as_str()));
    assert_eq!(bundles[0]["bytes"].as_u64(), Some(object.len() as u64));
}

#[test]
fn exclude_and_atime_filters_leave_files_out() {
    let env = Env::new();
    write(&env.src.join("keep.txt"), b"k");
    write(&env.src.join("scratch.tmp"), b"t");
    write(&env.src.join("cache/blob"), b"c");
    write(&env.src.join("build/out/obj.o"), b"o");
    let old = env.src.join("old.txt");
    write(&old, b"o");
    let long_ago = SystemTime::now() - Duration::from_secs(400 * 86_400);
    fs::File::options()
        .write(true)
        .open(&old)
        .expect("open")
        .set_times(fs::FileTimes::new().set_accessed(long_ago))
        .expect("set atime");
    let cache = format!("{}/cache", env.src.display());
    let summary =
        env.archive_json(&["--exclude", "*.tmp", "--exclude", &cache, "--exclude", "out/*.o", "--atime-older", "365"]);
    assert_eq!(summary["files_archived"], 1);
    assert_eq!(summary["excluded"], 3, "{summary}");
    assert_eq!(summary["filtered_by_atime"], 1);
    assert_eq!(env.find_paths("kind:file"), vec![old.display().to_string()]);

    let newer = Env::new();
    write(&newer.src.join("fresh.txt"), b"f");
    let stale = newer.src.join("stale.txt");
    write(&stale, b"s");
    fs::File::options()
        .write(true)
        .open(&stale)
        .expect("open")
        .set_times(fs::FileTimes::new().set_accessed(long_ago))
        .expect("set atime");
    newer.archive(&["--atime-newer", "30"]);
    assert_eq!(newer.find_paths("kind:file"), vec![newer.src_path("fresh.txt")]);
    // Reading files for the archive did not update their access time.
    let atime = fs::metadata(&stale).expect("stat").accessed().expect("atime");
    assert!(atime < SystemTime::now() - Duration::from_secs(300 * 86_400));
}

#[test]
fn dry_run_writes_nothing() {
    let env = Env::new();
    make_tree(&env.src, 3, 4, 100);
    let output =
        env.esker().arg("archive").arg(&env.src).args(["--dry-run", "--max-files", "5"]).output().expect("run");
    assert_success(&output);
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("would archive 12 files"), "{text}");
    assert!(text.contains("in 3 bundles"), "{text}");
    assert!(!env.home.exists(), "a dry run created the home");

    // With an existing home, nothing in it changes.
    env.archive(&[]);
    write(&env.src.join("new.txt"), b"new");
    let before = listing(&env.home);
    let output = env.esker().arg("archive").arg(&env.src).args(["--dry-run", "--json"]).output().expect("run");
    assert_success(&output);
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(summary["dry_run"], true);
    // Incremental: only the new file would be packed; the rest is unchanged.
    assert_eq!(summary["files_planned"], 1);
    assert_eq!(summary["files_unchanged"], 12);
    assert_eq!(listing(&env.home), before);
}

#[test]
fn reindex_rebuilds_the_index_from_the_catalog() {
    let env = Env::new();
    write(&env.src.join("alpha/ThesisDraft_v2.docx"), b"t");
    env.archive(&[]);
    fs::remove_dir_all(env.home.join("index")).expect("remove index");
    let output = env.run(&["reindex"]);
    assert_success(&output);
    assert!(String::from_utf8_lossy(&output.stdout).contains("indexed 1 file ("));
    assert_eq!(env.find_paths("thesis draft").len(), 1);
    // An incremental reindex adds only what is new.
    write(&env.src.join("alpha/second.txt"), b"s");
    let output = env.esker().arg("archive").arg(&env.src).arg("--quiet").output().expect("run");
    assert_success(&output);
    let output = env.run(&["reindex", "--incremental"]);
    assert_success(&output);
    assert!(String::from_utf8_lossy(&output.stdout).contains("indexed 0 files"), "archive indexed it already");
    fs::remove_dir_all(env.home.join("index")).expect("remove index");
    let output = env.run(&["reindex", "--incremental"]);
    // Three rows: the first run's version, the second run's unchanged version, the new file.
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("indexed 3 files"), "a missing index is built up: {text}");
    // find also catches up by itself when the index lags behind the catalog.
    fs::remove_dir_all(env.home.join("index")).expect("remove index");
    assert_eq!(env.find_paths("v2").len(), 1);
}

#[test]
fn an_index_of_the_earlier_format_is_rebuilt_by_the_next_find() {
    let env = Env::new();
    write(&env.src.join("Alpha/Beta/notes.txt"), b"n");
    env.archive(&[]);
    // Before this format, ancestors and folder names were raw values, one per folder.
    let meta = env.home.join("index/meta.json");
    let text = fs::read_to_string(&meta).expect("read meta.json");
    assert!(text.contains("esker_ancestors") && text.contains("esker_folders"), "{text}");
    let earlier = text.replace("\"esker_ancestors\"", "\"raw\"").replace("\"esker_folders\"", "\"raw\"");
    fs::write(&meta, earlier).expect("write meta.json");
    let below = format!("in:{}", env.src.join("alpha").display());
    let notes = [env.src.join("Alpha/Beta/notes.txt").display().to_string()];
    assert_eq!(env.find_paths(&below), notes, "found below Alpha after the rebuild");
    assert_eq!(env.find_paths("in:beta"), notes, "found in a folder named Beta");
    let text = fs::read_to_string(&meta).expect("read meta.json");
    assert!(text.contains("esker_ancestors"), "rebuilt in the current format: {text}");
}

#[test]
fn an_index_with_terms_for_sizes_is_rebuilt_and_size_filters_still_work() {
    let env = Env::new();
    write(&env.src.join("big.dat"), &[b'b'; 5000]);
    write(&env.src.join("small.dat"), b"s");
    env.archive(&[]);
    // Before the eleventh round of issue 8, sizes and times were also indexed as terms, with
    // field norms, and each file id was stored.
    let meta = env.home.join("index/meta.json");
    let mut parsed: serde_json::Value = serde_json::from_str(&fs::read_to_string(&meta).expect("read")).expect("json");
    for field in parsed["schema"].as_array_mut().expect("schema") {
        if field["name"] == "size" || field["name"] == "mtime" {
            field["options"]["indexed"] = true.into();
            field["options"]["fieldnorms"] = true.into();
        }
    }
    fs::write(&meta, serde_json::to_string(&parsed).expect("json")).expect("write meta.json");
    let big = [env.src.join("big.dat").display().to_string()];
    assert_eq!(env.find_paths("size:>4k"), big, "found by size after the rebuild");
    let text = fs::read_to_string(&meta).expect("read meta.json");
    let rebuilt: serde_json::Value = serde_json::from_str(&text).expect("json");
    let size =
        rebuilt["schema"].as_array().expect("schema").iter().find(|field| field["name"] == "size").expect("size");
    assert_eq!(size["options"]["indexed"], false, "rebuilt in the current format: {text}");
}

#[test]
fn configured_stores_are_used_and_shown() {
    let env = Env::new();
    let cold = env.dir.path().join("cold");
    fs::create_dir_all(&env.home).expect("mkdir home");
    write(
        &env.home.join("config.toml"),
        format!("store = \"nas\"\ncolour = \"blue\"\n[archive]\nmax_files = 2\n[stores.nas]\nkind = \"local\"\npath = \"{}\"\n", cold.display())
            .as_bytes(),
    );
    for index in 0..5 {
        write(&env.src.join(format!("{index}.txt")), b"x");
    }
    let output = env.archive(&[]);
    assert!(stderr(&output).contains("unknown config key `colour`"), "{}", stderr(&output));
    let bundles = env.bundles();
    assert_eq!(bundles.len(), 3, "max_files from the config file applies");
    assert!(bundles.iter().all(|bundle| bundle["store"] == "nas"));
    assert_eq!(fs::read_dir(cold.join("bundles")).expect("cold bundles").count(), 3);
    assert!(!env.home.join("store/bundles").exists());

    // The implicit local store is still there; flags beat the config.
    let output =
        env.esker().arg("archive").arg(&env.src).args(["--store", "local", "--max-files", "10"]).output().expect("run");
    assert_success(&output);
    assert_eq!(fs::read_dir(env.home.join("store/bundles")).expect("local bundles").count(), 1);

    let output = env.run(&["config", "show", "--json"]);
    assert_success(&output);
    let settings: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(settings["default_store"], "nas");
    assert_eq!(settings["stores"]["nas"]["kind"], "local");
    assert_eq!(settings["archive"]["max_files"], 2);
    // A bad default store only matters to commands that write.
    let output = env.esker().env("ESKER_STORE", "nowhere").args(["runs"]).output().expect("run");
    assert_success(&output);
    let output = env.esker().env("ESKER_STORE", "nowhere").arg("archive").arg(&env.src).output().expect("run");
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("unknown store `nowhere`"));

    let output = env.esker().env("ESKER_MAX_FILES", "7").args(["config", "show"]).output().expect("run");
    assert_success(&output);
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("max_files = 7"), "{text}");
    assert!(text.contains("[stores.nas]"), "{text}");
}
