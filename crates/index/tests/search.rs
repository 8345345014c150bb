//! End-to-end tests: write file documents to a temporary index and search them.

use std::collections::BTreeSet;
use std::path::Path;

use esker_index::{FileDoc, FileIndex, Hit, IndexError, parse_query};

const BUDGET_BUNDLE: &str = "0192f3a0-1111-7000-8000-000000000001";
const BUDGET_2020_BUNDLE: &str = "0192f3a0-2222-7000-8000-000000000002";
const MEMORY: usize = 15_000_000;

struct Sample {
    id: u64,
    path: &'static str,
    kind: &'static str,
    size: u64,
    mtime: i64,
    tags: Vec<String>,
    description: &'static str,
    state: &'static str,
    run: u64,
    bundle: &'static str,
    store: &'static str,
    host: &'static str,
}

fn sample(id: u64, path: &'static str, size: u64, mtime: i64) -> Sample {
    Sample {
        id,
        path,
        kind: "file",
        size,
        mtime,
        tags: Vec::new(),
        description: "",
        state: "archived",
        run: 1,
        bundle: "",
        store: "glacier",
        host: "nas1",
    }
}

fn tags(names: &[&str]) -> Vec<String> {
    names.iter().map(|name| name.to_string()).collect()
}

fn samples() -> Vec<Sample> {
    vec![
        Sample {
            tags: tags(&["finance"]),
            description: "quarterly numbers",
            bundle: BUDGET_BUNDLE,
            ..sample(1, "/share/Projects/Budget_2019/Q3-forecast.xlsx", 2_500_000, 1_560_556_800) // 2019-06-15
        },
        Sample {
            bundle: BUDGET_BUNDLE,
            ..sample(2, "/share/Projects/Budget_2019/notes.txt", 1_200, 1_547_078_400) // 2019-01-10
        },
        Sample {
            tags: tags(&["Finance", "Draft"]),
            run: 2,
            bundle: BUDGET_2020_BUNDLE,
            ..sample(3, "/share/Projects/Budget_2020/Budget2020-final.xlsx", 3_000_000, 1_580_515_200) // 2020-02-01
        },
        Sample {
            tags: tags(&["personal"]),
            description: "curriculum vitae",
            ..sample(4, "/share/Home/alice/Résumé.pdf", 80_000, 1_520_035_200) // 2018-03-03
        },
        Sample {
            state: "skipped",
            ..sample(5, "/share/Home/bob/src/XMLHttpRequest.js", 5_000, 1_625_616_000) // 2021-07-07
        },
        Sample { state: "changed", ..sample(6, "/share/Home/bob/src/htmlParser.py", 0, -100) },
        Sample {
            tags: tags(&["legal"]),
            store: "local",
            host: "NAS2",
            ..sample(7, "/share/Archive/old/report-v2final.docx", 15_000_000_000, 1_430_784_000) // 2015-05-05
        },
        Sample {
            kind: "dir",
            ..sample(8, "/share/Archive", 4_096, 1_640_995_200) // 2022-01-01
        },
        Sample {
            kind: "symlink",
            ..sample(9, "/share/Projects/link-to-budget", 20, 1_677_801_600) // 2023-03-03
        },
        Sample {
            tags: tags(&["vacation"]),
            description: "beach at sunset",
            ..sample(10, "/share/Photos/2019/IMG_0042.JPG", 4_000_000, 1_566_259_200) // 2019-08-20
        },
        Sample {
            ..sample(11, "/share/projects-misc/budget.txt", 100, 1_559_390_400) // 2019-06-01T12:00
        },
    ]
}

fn add_samples(index: &FileIndex) {
    let mut writer = index.writer(1, MEMORY).expect("writer");
    for sample in samples() {
        writer
            .add(&FileDoc {
                file_id: sample.id,
                path: sample.path,
                kind: sample.kind,
                size: sample.size,
                mtime: sample.mtime,
                tags: &sample.tags,
                description: sample.description,
                state: sample.state,
                run_id: sample.run,
                bundle: sample.bundle,
                store: sample.store,
                host: sample.host,
                ..Default::default()
            })
            .expect("add");
    }
    writer.commit(11).expect("commit");
    writer.close().expect("close");
}

fn sample_index() -> (tempfile::TempDir, FileIndex) {
    let dir = tempfile::tempdir().expect("temp dir");
    let index = FileIndex::open_or_create(&dir.path().join("index")).expect("create");
    add_samples(&index);
    (dir, index)
}

fn search(index: &FileIndex, query: &str, limit: Option<usize>) -> Vec<Hit> {
    let parsed = parse_query(query).unwrap_or_else(|error| panic!("{query}: {error}"));
    index.search(&parsed, limit).expect("search")
}

#[track_caller]
fn ids(index: &FileIndex, query: &str) -> BTreeSet<u64> {
    let hits = search(index, query, None);
    let parsed = parse_query(query).expect("parse");
    assert_eq!(index.count(&parsed).expect("count"), hits.len(), "count of {query}");
    hits.iter().map(|hit| hit.file_id).collect()
}

#[track_caller]
fn expect(index: &FileIndex, query: &str, expected: &[u64]) {
    let expected: BTreeSet<u64> = expected.iter().copied().collect();
    assert_eq!(ids(index, query), expected, "results of `{query}`");
}

#[test]
fn words_phrases_and_operators() {
    let (_dir, index) = sample_index();
    expect(&index, "forecast", &[1]);
    expect(&index, "budget", &[1, 2, 3, 9, 11]);
    expect(&index, "budget 2019", &[1, 2]);
    expect(&index, "budget 2019 xlsx", &[1]);
    expect(&index, "forecast OR notes", &[1, 2]);
    expect(&index, "xlsx (forecast OR final)", &[1, 3]);
    expect(&index, "\"q3 forecast\"", &[1]);
    expect(&index, "\"forecast q3\"", &[]);
    expect(&index, "\"budget forecast\"", &[]);
    expect(&index, "\"projects budget 2019\"", &[1, 2]);
    expect(&index, "budget -notes", &[1, 3, 9, 11]);
    expect(&index, "budget -(notes OR xlsx)", &[9, 11]);
    expect(&index, "nothinglikethis", &[]);
}

#[test]
fn path_tokenizer_matching() {
    let (_dir, index) = sample_index();
    expect(&index, "budget2019", &[1, 2]);
    expect(&index, "Budget_2019", &[1, 2]);
    expect(&index, "Q3-forecast", &[1]);
    expect(&index, "q3", &[1]);
    expect(&index, "XMLHttpRequest", &[5]);
    expect(&index, "http request", &[5]);
    expect(&index, "html parser", &[6]);
    expect(&index, "v2final", &[7]);
    expect(&index, "final", &[3, 7]);
    expect(&index, "img 42", &[]);
    expect(&index, "img 0042", &[10]);
    expect(&index, "resume", &[4]);
    expect(&index, "Résumé", &[4]);
    expect(&index, "RESUME", &[4]);
    expect(&index, "budg*", &[1, 2, 3, 9, 11]);
    expect(&index, "fore*", &[1]);
    expect(&index, "q3-fore*", &[1]);
    expect(&index, "name:budg*", &[3, 9, 11]);
}

#[test]
fn tags_and_descriptions_are_words() {
    let (_dir, index) = sample_index();
    expect(&index, "vacation", &[10]);
    expect(&index, "sunset", &[10]);
    expect(&index, "\"curriculum vitae\"", &[4]);
    expect(&index, "quarterly forecast", &[1]);
}

#[test]
fn field_filters() {
    let (_dir, index) = sample_index();
    expect(&index, "tag:finance", &[1, 3]);
    expect(&index, "tag:FINANCE", &[1, 3]);
    expect(&index, "tag:draft", &[3]);
    expect(&index, "-tag:finance -tag:draft", &[2, 4, 5, 6, 7, 8, 9, 10, 11]);
    expect(&index, "ext:xlsx", &[1, 3]);
    expect(&index, "ext:.PDF", &[4]);
    expect(&index, "ext:jpg", &[10]);
    expect(&index, "name:budget", &[3, 9, 11]);
    expect(&index, "name:\"budget 2020\"", &[3]);
    expect(&index, "kind:dir", &[8]);
    expect(&index, "kind:symlink", &[9]);
    expect(&index, "state:skipped", &[5]);
    expect(&index, "state:changed", &[6]);
    expect(&index, "run:2", &[3]);
    expect(&index, &format!("bundle:{BUDGET_BUNDLE}"), &[1, 2]);
    expect(&index, "bundle:0192F3A0", &[1, 2, 3]);
    expect(&index, "bundle:0192f3a0-2222", &[3]);
    expect(&index, "store:local", &[7]);
    expect(&index, "host:nas2", &[7]);
    expect(&index, "host:NAS1 kind:file ext:xlsx -tag:draft", &[1]);
    // One filter's values never answer another's (they share one field of the index).
    expect(&index, "store:nas1", &[]);
    expect(&index, "host:glacier", &[]);
    expect(&index, "tag:xlsx", &[]);
    expect(&index, "kind:skipped", &[]);
    expect(&index, "bundle:glacier", &[]);
}

#[test]
fn folder_filters() {
    let (_dir, index) = sample_index();
    expect(&index, "in:/share/Projects", &[1, 2, 3, 9]);
    expect(&index, "in:/share/projects/", &[1, 2, 3, 9]);
    expect(&index, "in:/SHARE/PROJECTS/budget_2019", &[1, 2]);
    expect(&index, "path:/share/Home", &[4, 5, 6]);
    expect(&index, "in:/share/Archive", &[7]);
    expect(&index, "in:/share/Proj", &[]);
    expect(&index, "in:/", &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    expect(&index, "in:Budget_2019", &[1, 2]);
    expect(&index, "in:src", &[5, 6]);
    expect(&index, "in:\"projects-misc\"", &[11]);
    expect(&index, "budget -in:/share/projects", &[11]);
}

#[test]
fn size_and_date_filters() {
    let (_dir, index) = sample_index();
    expect(&index, "size:>10MB", &[7]);
    expect(&index, "size:0", &[6]);
    expect(&index, "size:=0", &[6]);
    expect(&index, "size:<1k", &[6, 9, 11]);
    expect(&index, "size:<=100", &[6, 9, 11]);
    expect(&index, "size:1k..100k", &[2, 4, 5, 8]);
    expect(&index, "size:>=2.5MB", &[1, 3, 7, 10]);
    expect(&index, "size:>=1GiB", &[7]);
    expect(&index, "modified:2019", &[1, 2, 10, 11]);
    expect(&index, "modified:<2019-01-01", &[4, 6, 7]);
    expect(&index, "modified:2019-06", &[1, 11]);
    expect(&index, "modified:2019-06-01", &[11]);
    expect(&index, "modified:2019-06-01T12:00", &[11]);
    expect(&index, "modified:2019-06-01T12:01", &[]);
    expect(&index, "modified:2019-01-01..2019-06-30", &[1, 2, 11]);
    expect(&index, "mtime:>=2021", &[5, 8, 9]);
    expect(&index, "modified:>2021-07-07", &[8, 9]);
    expect(&index, "modified:<1970", &[6]);
    expect(&index, "budget modified:2019 size:<1MB", &[2, 11]);
}

#[test]
fn ranking_order_and_limits() {
    let (_dir, index) = sample_index();
    // Pure filters come back in file id order with score 0.
    let hits = search(&index, "-kind:file", None);
    assert_eq!(hits, vec![Hit { file_id: 8, score: 0.0 }, Hit { file_id: 9, score: 0.0 }]);
    let ordered: Vec<u64> = search(&index, "in:/share", None).iter().map(|hit| hit.file_id).collect();
    assert_eq!(ordered, (1..=11).collect::<Vec<_>>());
    let first_two: Vec<u64> = search(&index, "in:/share", Some(2)).iter().map(|hit| hit.file_id).collect();
    assert_eq!(first_two, [1, 2]);

    // Scored queries: best first; a word in the file name ranks above one in a folder.
    let hits = search(&index, "budget", None);
    assert!(hits.windows(2).all(|pair| pair[0].score >= pair[1].score), "{hits:?}");
    assert!(hits.iter().all(|hit| hit.score > 0.0));
    assert!([3, 9, 11].contains(&hits[0].file_id), "{hits:?}");
    let top = search(&index, "budget", Some(2));
    assert_eq!(top, hits[..2]);
    assert!(search(&index, "budget", Some(0)).is_empty());
}

#[test]
fn last_file_id_survives_reopen() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("nested").join("index");
    let index = FileIndex::open_or_create(&path).expect("create");
    assert_eq!(index.last_file_id().expect("id"), 0);
    assert_eq!(index.num_docs().expect("docs"), 0);
    add_samples(&index);
    assert_eq!(index.last_file_id().expect("id"), 11);
    drop(index);

    let reopened = FileIndex::open(&path).expect("open").expect("exists");
    assert_eq!(reopened.last_file_id().expect("id"), 11);
    assert_eq!(reopened.num_docs().expect("docs"), 11);
    expect(&reopened, "forecast", &[1]);
    let again = FileIndex::open_or_create(&path).expect("open again");
    assert_eq!(again.num_docs().expect("docs"), 11);
}

#[test]
fn open_creates_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let missing = dir.path().join("missing");
    assert!(FileIndex::open(&missing).expect("open").is_none());
    assert!(!missing.exists());
    assert!(FileIndex::open(dir.path()).expect("open empty dir").is_none());
    assert_eq!(std::fs::read_dir(dir.path()).expect("list").count(), 0);
}

#[test]
fn delete_all_empties_the_index() {
    let (_dir, index) = sample_index();
    let mut writer = index.writer(1, MEMORY).expect("writer");
    writer.delete_all().expect("delete");
    writer.commit(0).expect("commit");
    assert_eq!(index.num_docs().expect("docs"), 0);
    assert_eq!(index.last_file_id().expect("id"), 0);
    expect(&index, "budget", &[]);
}

#[test]
fn second_writer_is_locked_out() {
    let (dir, index) = sample_index();
    let writer = index.writer(1, MEMORY).expect("first writer");
    let other = FileIndex::open(&dir.path().join("index")).expect("open").expect("exists");
    for candidate in [&index, &other] {
        match candidate.writer(1, MEMORY) {
            Err(IndexError::Locked { path }) => assert_eq!(path, dir.path().join("index")),
            Err(error) => panic!("expected Locked, got {error}"),
            Ok(_) => panic!("expected Locked, got a second writer"),
        }
    }
    drop(writer);
    assert!(index.writer(1, MEMORY).is_ok(), "lock is released on drop");
}

#[test]
fn other_readers_see_new_commits() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("index");
    let writer_side = FileIndex::open_or_create(&path).expect("create");
    let reader_side = FileIndex::open(&path).expect("open").expect("exists");
    assert_eq!(reader_side.num_docs().expect("docs"), 0);
    add_samples(&writer_side);
    assert_eq!(reader_side.num_docs().expect("docs"), 11);
    assert_eq!(reader_side.last_file_id().expect("id"), 11);
    expect(&reader_side, "forecast", &[1]);
}

#[test]
fn foreign_schema_is_rejected() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut builder = tantivy::schema::Schema::builder();
    builder.add_text_field("title", tantivy::schema::TEXT);
    tantivy::Index::create_in_dir(dir.path(), builder.build()).expect("foreign index");
    match FileIndex::open(dir.path()) {
        Err(error @ IndexError::SchemaMismatch { .. }) => {
            assert!(error.to_string().contains(&dir.path().display().to_string()));
        }
        Err(error) => panic!("expected SchemaMismatch, got {error}"),
        Ok(_) => panic!("expected SchemaMismatch"),
    }
}

#[test]
fn error_messages_name_the_index() {
    let path = Path::new("/nonexistent/esker-index");
    let error = IndexError::Locked { path: path.to_owned() };
    assert!(error.to_string().starts_with("index at /nonexistent/esker-index is locked"));
}

/// A writer that made two segments or more leaves one when closed with `close_merged`,
/// with every document and the commit payload; one that made one leaves it, and `close`
/// leaves them all.
#[test]
fn a_writer_that_made_many_segments_leaves_one() {
    let dir = tempfile::tempdir().expect("temp dir");
    let index = FileIndex::open_or_create(&dir.path().join("index")).expect("create");
    let add = |writer: &mut esker_index::IndexWriter, id: u64| {
        let path = format!("/share/segments/file{id}.txt");
        writer.add(&FileDoc { file_id: id, path: &path, kind: "file", ..Default::default() }).expect("add");
        writer.commit(id).expect("commit");
    };
    let mut writer = index.writer(1, MEMORY).expect("writer");
    for id in 1..=3 {
        add(&mut writer, id);
    }
    assert_eq!(index.segment_count().expect("segments"), 3, "a commit flushes a segment");
    writer.close_merged().expect("close");
    assert_eq!(index.segment_count().expect("segments"), 1);
    assert_eq!(index.last_file_id().expect("id"), 3);
    expect(&index, "segments", &[1, 2, 3]);

    let mut writer = index.writer(1, MEMORY).expect("writer");
    for id in 4..=5 {
        add(&mut writer, id);
    }
    writer.close_merged().expect("close");
    assert_eq!(index.segment_count().expect("segments"), 2, "its own two merged, the earlier one left");
    assert_eq!(index.last_file_id().expect("id"), 5);

    let mut writer = index.writer(1, MEMORY).expect("writer");
    add(&mut writer, 6);
    writer.close_merged().expect("close");
    assert_eq!(index.segment_count().expect("segments"), 3);

    let mut writer = index.writer(1, MEMORY).expect("writer");
    for id in 7..=8 {
        add(&mut writer, id);
    }
    writer.close().expect("close");
    assert_eq!(index.segment_count().expect("segments"), 5);
    expect(&index, "segments", &[1, 2, 3, 4, 5, 6, 7, 8]);
}
