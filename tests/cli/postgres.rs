//! PostgreSQL catalog: migrations both ways on both backends, several writers on one
//! catalog, and moving a catalog between SQLite and PostgreSQL.

use std::collections::BTreeMap;

use esker_catalog::{Catalog, CatalogLocation};

use crate::common::*;

#[test]
fn migrations_go_up_and_down_on_both_backends() {
    let dir = tempfile::tempdir().expect("tempdir");
    let locations = [
        CatalogLocation::Sqlite(dir.path().join("catalog.db")),
        CatalogLocation::Postgres(esker_catalog::ConnectionString::new(fresh_postgres_database())),
    ];
    // Every migration in the tree, for both backends alike.
    let count = |backend: &str| {
        let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("crates/catalog/migrations").join(backend);
        std::fs::read_dir(folder)
            .expect("migrations")
            .filter(|entry| entry.as_ref().is_ok_and(|e| e.path().is_dir()))
            .count()
    };
    let migrations = count("sqlite");
    assert_eq!(migrations, count("postgres"), "both backends have the same migrations");
    assert!(migrations >= 5);
    for location in &locations {
        let mut catalog = Catalog::open(location).expect("open");
        let status = catalog.schema_status().expect("status");
        assert_eq!(status.applied.len(), migrations, "{location:?}");
        assert!(status.pending.is_empty());
        for _ in 0..migrations {
            catalog.revert_last().expect("revert");
        }
        let status = catalog.schema_status().expect("status");
        assert!(status.applied.is_empty(), "{location:?}: {status:?}");
        assert_eq!(status.pending.len(), migrations);
        assert_eq!(catalog.migrate().expect("migrate").len(), migrations);
        assert!(catalog.schema_status().expect("status").pending.is_empty());
    }
    // Two processes opening a fresh catalog at once both succeed (one migrates).
    let url = fresh_postgres_database();
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let location = CatalogLocation::Postgres(esker_catalog::ConnectionString::new(url.clone()));
            std::thread::spawn(move || Catalog::open(&location).map(|_| ()).map_err(|error| error.to_string()))
        })
        .collect();
    for handle in handles {
        handle.join().expect("thread").expect("open concurrently");
    }
}

#[test]
fn two_archive_processes_share_one_catalog_without_loss_or_duplicates() {
    let first = Env::new();
    let mut second = Env::new();
    let url = first.catalog_url.clone().unwrap_or_else(fresh_postgres_database);
    let mut first = first;
    first.catalog_url = Some(url.clone());
    second.catalog_url = Some(url);
    make_tree(&first.src, 10, 40, 300);
    make_tree(&second.src, 8, 50, 300);
    let spawn = |env: &Env| {
        let mut command = std::process::Command::new(assert_cmd::cargo::cargo_bin("esker"));
        env.with_catalog(&mut command);
        command
            .env("ESKER_SYSTEM_CONFIG", "/nonexistent")
            .arg("--home")
            .arg(&env.home)
            .args(["archive", "--max-files", "15", "--jobs", "2"])
            .arg(&env.src)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn")
    };
    let (one, two) = (spawn(&first), spawn(&second));
    for child in [one, two] {
        let output = child.wait_with_output().expect("wait");
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    }
    // Each home's own index catches up from the shared catalog and sees both trees.
    for viewer in [&first, &second] {
        for env in [&first, &second] {
            let mut counts: BTreeMap<String, usize> = BTreeMap::new();
            for found in viewer.find(&format!("in:{}", env.src.display())) {
                assert_eq!(found["state"], "archived");
                *counts.entry(found["path"].as_str().expect("path").to_string()).or_default() += 1;
            }
            let expected = snapshot(&env.src).len();
            assert_eq!(counts.len(), expected, "every file found");
            assert!(counts.values().all(|count| *count == 1), "no duplicates");
        }
    }
    let bundles = first.bundles();
    let mut ids: Vec<&str> = bundles.iter().map(|bundle| bundle["id"].as_str().expect("id")).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), bundles.len(), "bundle ids are unique");
    // Both trees hold some identical files: whichever run came second may reference the
    // other's stored copy instead of uploading it, but every file is archived once.
    let runs = first.runs();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs.iter().map(|run| run["files_archived"].as_u64().expect("count")).sum::<u64>(), 800);
    assert!(bundles.iter().map(|bundle| bundle["files"].as_u64().expect("files")).sum::<u64>() <= 800);
}

fn summary_of(env: &Env) -> (Vec<serde_json::Value>, Vec<serde_json::Value>, Vec<String>) {
    let strip = |mut values: Vec<serde_json::Value>| {
        for value in &mut values {
            if let Some(object) = value.as_object_mut() {
                object.remove("created_at");
                object.remove("stored_at");
            }
        }
        values
    };
    let mut found = env.find_paths(&format!("in:{}", env.src.display()));
    // Extended attributes and principal names moved too.
    found.extend(env.find_paths("xattr:user.project=apollo"));
    (strip(env.runs()), strip(env.bundles()), found)
}

#[test]
fn a_catalog_moves_between_sqlite_and_postgres_and_back() {
    let mut origin = Env::new();
    origin.catalog_url = None; // start on SQLite
    make_tree(&origin.src, 3, 7, 200);
    origin.archive(&["-t", "moved", "--max-files", "5"]);
    write(&origin.src.join("dir000/later.txt"), b"second run");
    let tagged = origin.src.join("dir000/later.txt");
    assert!(
        esker::acl::restore_xattrs(
            &tagged,
            &[esker::acl::Xattr { name: b"user.project".to_vec(), value: b"apollo".to_vec() }]
        )
        .is_empty()
    );
    origin.archive(&["--xattrs"]);
    let export = origin.dir.path().join("catalog.jsonl.zst");
    let output = origin.esker().args(["catalog", "export"]).arg(&export).output().expect("run");
    assert_success(&output);
    assert!(String::from_utf8_lossy(&output.stdout).contains("exported 2 runs"));

    // Into PostgreSQL, with the same store folder so retrieval works there too.
    let mut target = Env::new();
    target.catalog_url = Some(fresh_postgres_database());
    let config = format!("[stores.local]\nkind = \"local\"\npath = \"{}\"\n", origin.store_dir().display());
    std::fs::create_dir_all(&target.home).expect("mkdir");
    write(&target.home.join("config.toml"), config.as_bytes());
    target.src = origin.src.clone();
    let output = target.esker().args(["catalog", "import"]).arg(&export).output().expect("run");
    assert_success(&output);
    assert_eq!(summary_of(&target), summary_of(&origin));
    assert_eq!(target.find_paths("xattr:user.project=apollo"), [target.src_path("dir000/later.txt")]);
    let status = target.esker().args(["catalog", "status", "--json"]).output().expect("run");
    let status: serde_json::Value = serde_json::from_slice(&status.stdout).expect("json");
    assert_eq!(status["backend"], "postgres");
    // New writes after the import get fresh ids.
    write(&origin.src.join("dir001/after-import.txt"), b"third run");
    let summary = target.archive_json(&[]);
    assert_eq!(summary["files_archived"], 1);
    assert_eq!(summary["files_unchanged"], 22, "history survived the move");
    // An import refuses a catalog that is not empty.
    let output = target.esker().args(["catalog", "import"]).arg(&export).output().expect("run");
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("not empty"));

    // And back to SQLite.
    let back_file = target.dir.path().join("back.jsonl.zst");
    assert_success(&target.esker().args(["catalog", "export"]).arg(&back_file).output().expect("run"));
    let mut back = Env::new();
    back.catalog_url = None;
    back.src = origin.src.clone();
    assert_success(&back.esker().args(["catalog", "import"]).arg(&back_file).output().expect("run"));
    assert_eq!(summary_of(&back), summary_of(&target));
}

#[test]
fn very_long_folder_paths_are_cataloged_on_both_backends() {
    for postgres in [false, true] {
        let mut env = Env::new();
        env.catalog_url = postgres.then(fresh_postgres_database);
        // About 3.4 KB of folders: above what a PostgreSQL B-tree entry may hold.
        let mut deep = env.src.clone();
        for level in 0..14 {
            // Incompressible names (PostgreSQL compresses index entries).
            deep.push(format!("{level:02}{}", &hex::encode(content(level, 200))[..238]));
        }
        write(&deep.join("needle.txt"), b"deep down");
        assert!(deep.as_os_str().len() > 3300);
        env.archive(&[]);
        let found = env.find("name:needle");
        assert_eq!(found.len(), 1, "postgres: {postgres}");
        // And again: the folder rows are found by key, nothing is duplicated.
        let summary = env.archive_json(&[]);
        assert_eq!(summary["files_unchanged"], 1);
    }
}

/// The connection to a PostgreSQL catalog can be encrypted, with the server's certificate
/// checked: the system libpq's TLS. The fixture's
/// cluster has TLS on, with a self-signed certificate for 127.0.0.1.
#[test]
fn a_postgresql_catalog_is_reached_over_verified_tls() {
    let ca = std::env::var("ESKER_TEST_PG_CA")
        .expect("ESKER_TEST_PG_CA: the certificate of the test cluster (scripts/fixtures/postgres.sh start)");
    let url = fresh_postgres_database();
    let mut env = Env::new();
    make_tree(&env.src, 2, 3, 100);
    env.catalog_url = Some(format!("{url}?sslmode=verify-full&sslrootcert={ca}"));
    env.archive(&["-t", "encrypted"]);
    assert_eq!(env.find_paths("tag:encrypted").len(), snapshot(&env.src).len());

    // A server whose certificate no trusted authority signed is refused, before anything
    // is read or written, and the error names the catalog.
    let stranger = env.dir.path().join("stranger-ca.pem");
    let made = std::process::Command::new("openssl")
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=stranger"])
        .arg("-keyout")
        .arg(env.dir.path().join("stranger.key"))
        .arg("-out")
        .arg(&stranger)
        .output()
        .expect("openssl");
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    env.catalog_url = Some(format!("{url}?sslmode=verify-full&sslrootcert={}", stranger.display()));
    let output = env.run(&["find", "tag:encrypted"]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let message = stderr(&output);
    assert!(message.contains("certificate verify failed"), "{message}");
    assert!(message.contains("127.0.0.1"), "{message}");
}
