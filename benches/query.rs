//! Queries in-process, as a long-running server answers them: the query parsed, the index
//! searched, the matching rows read from the catalog. The catalog and index come from a
//! real `esker archive` run of a generated tree of 50,000 empty files.
//!
//! `cargo bench --bench query` (or `scripts/bench.sh micro`). Whole-process `esker find`
//! is measured by `scripts/bench.sh catalog`.

use std::hint::black_box;
use std::path::Path;
use std::process::Command;

use criterion::{Criterion, criterion_group, criterion_main};
use esker::search::Finder;
use esker_catalog::CatalogLocation;

const FOLDERS: usize = 250;
const FILES_PER_FOLDER: usize = 200;

/// Folders of projects and photos with names as people give them.
fn make_tree(root: &Path) {
    for folder in 0..FOLDERS {
        let dir = match folder % 3 {
            0 => root.join(format!("projects/client_{:03}/reports", folder)),
            1 => root.join(format!("photos/{}/trip_{folder:03}", 2010 + folder % 12)),
            _ => root.join(format!("research/dataset_{folder:03}/raw")),
        };
        std::fs::create_dir_all(&dir).expect("mkdir");
        for file in 0..FILES_PER_FOLDER {
            let name = match folder % 3 {
                0 => format!("budget_{}_q{}_{file:04}.xlsx", 2015 + file % 10, 1 + file % 4),
                1 => format!("IMG_{:05}.JPG", folder * FILES_PER_FOLDER + file),
                _ => format!("sample-{file:04}.csv"),
            };
            std::fs::write(dir.join(name), b"").expect("write");
        }
    }
}

/// Archives a fresh tree with the release `esker` and returns the home it used.
fn archived_home() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let tree = dir.path().join("share");
    make_tree(&tree);
    let status = Command::new(env!("CARGO_BIN_EXE_esker"))
        .arg("--home")
        .arg(dir.path().join("home"))
        .args(["--quiet", "archive"])
        .arg(&tree)
        .env("ESKER_SYSTEM_CONFIG", dir.path().join("none.toml"))
        .status()
        .expect("run esker archive");
    assert!(status.success(), "esker archive failed");
    dir
}

fn queries(c: &mut Criterion) {
    let dir = archived_home();
    let home = dir.path().join("home");
    let location = CatalogLocation::Sqlite(home.join("catalog.db"));
    let index = home.join("index");
    let mut finder = Finder::at(&location, &index).expect("open finder");
    let cases = [
        ("one file by name", "IMG_12345"),
        ("words, 50 of 3,300", "budget 2019"),
        ("filters, 50 of 16,800", "ext:jpg in:photos"),
        ("no match", "quarterly zebra"),
    ];
    let mut group = c.benchmark_group("find in-process");
    for (name, text) in cases {
        let query = esker_index::parse_query(text).expect("query");
        group.bench_function(name, |b| {
            b.iter(|| black_box(finder.find(&query, Some(50), false).expect("find").matches.len()))
        });
    }
    group.bench_function("open, then one file by name", |b| {
        let query = esker_index::parse_query("IMG_12345").expect("query");
        b.iter(|| {
            let mut fresh = Finder::at(&location, &index).expect("open finder");
            black_box(fresh.find(&query, Some(50), false).expect("find").matches.len())
        })
    });
    group.finish();
}

criterion_group!(benches, queries);
criterion_main!(benches);
