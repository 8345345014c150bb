//! Query semantics through `esker find`: words, phrases, exclusions, filters, exit codes.

use std::fs;
use std::time::{Duration, UNIX_EPOCH};

use crate::common::*;

fn fixture() -> Env {
    let env = Env::new();
    let files: [(&str, usize, u64); 7] = [
        ("Projects/Budget_2019/Q3-forecast.xlsx", 20_000, 1_560_000_000), // 2019-06-08
        ("Projects/Budget_2019/annual report final.pdf", 3_000_000, 1_550_000_000), // 2019-02-12
        ("Projects/Budget_2020/report annual.pdf", 1_000, 1_590_000_000), // 2020-05-20
        ("Photos/HolidayTrip/IMG_0042.JPG", 12_000_000, 1_400_000_000),   // 2014
        ("Photos/HolidayTrip/notes.txt", 10, 1_600_000_000),
        ("Home/alice/Résumé.docx", 5_000, 1_500_000_000),
        ("Home/alice/drafts/résumé-old.docx", 4_000, 1_450_000_000),
    ];
    for (path, size, mtime) in files {
        let full = env.src.join(path);
        write(&full, &content(size as u64, size));
        fs::File::options()
            .write(true)
            .open(&full)
            .expect("open")
            .set_times(fs::FileTimes::new().set_modified(UNIX_EPOCH + Duration::from_secs(mtime)))
            .expect("set mtime");
    }
    env.archive(&["-t", "nas1", "-d", "Migrated from the old filer"]);
    env
}

fn names(env: &Env, query: &str) -> Vec<String> {
    env.find_paths(query).iter().map(|path| path.rsplit('/').next().unwrap_or_default().to_string()).collect()
}

#[test]
fn words_phrases_exclusions_and_filters() {
    let env = fixture();
    // Words are ANDed and match path components and name parts.
    assert_eq!(names(&env, "budget forecast"), ["Q3-forecast.xlsx"]);
    assert_eq!(names(&env, "budget2019 report"), ["annual report final.pdf"]);
    assert_eq!(names(&env, "holiday trip img"), ["IMG_0042.JPG"]);
    assert_eq!(names(&env, "resume"), ["Résumé.docx", "résumé-old.docx"]);
    // Phrase: adjacent words only.
    assert_eq!(names(&env, "\"annual report\""), ["annual report final.pdf"]);
    assert_eq!(names(&env, "annual report"), ["annual report final.pdf", "report annual.pdf"]);
    // Exclusion.
    assert_eq!(names(&env, "report -final"), ["report annual.pdf"]);
    assert_eq!(names(&env, "resume -drafts"), ["Résumé.docx"]);
    // OR and prefix.
    assert_eq!(names(&env, "forecast OR notes"), ["notes.txt", "Q3-forecast.xlsx"]);
    assert_eq!(names(&env, "forec*"), ["Q3-forecast.xlsx"]);
    // Tags and description words.
    assert_eq!(env.find_paths("tag:nas1").len(), 7);
    assert_eq!(env.find_paths("filer").len(), 7);
    // ext:, in:/path:, size:, modified:.
    assert_eq!(names(&env, "ext:pdf"), ["annual report final.pdf", "report annual.pdf"]);
    assert_eq!(names(&env, "ext:.JPG"), ["IMG_0042.JPG"]);
    let alice = format!("in:{}/Home/alice", env.src.display());
    assert_eq!(names(&env, &alice), ["Résumé.docx", "résumé-old.docx"]);
    let budget = format!("path:{}/Projects/Budget_2019/", env.src.display());
    assert_eq!(env.find_paths(&budget).len(), 2);
    assert_eq!(names(&env, "in:drafts"), ["résumé-old.docx"]);
    assert_eq!(names(&env, "size:>10MB"), ["IMG_0042.JPG"]);
    assert_eq!(names(&env, "size:<=10"), ["notes.txt"]);
    assert_eq!(names(&env, "size:1KB..5KB ext:docx"), ["Résumé.docx", "résumé-old.docx"]);
    assert_eq!(names(&env, "modified:2019"), ["Q3-forecast.xlsx", "annual report final.pdf"]);
    assert_eq!(names(&env, "modified:<2015-01-01"), ["IMG_0042.JPG"]);
    assert_eq!(names(&env, "modified:>=2020-01-01 ext:pdf"), ["report annual.pdf"]);
    assert_eq!(names(&env, "report -modified:2019"), ["report annual.pdf"]);
}

#[test]
fn exit_codes_limit_and_table_output() {
    let env = fixture();
    let output = env.run(&["find", "nosuchthing"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(output.stdout.is_empty());

    for bad in ["\"unclosed", "colour:red", "size:>12XB", "modified:2019-13-01", "(budget"] {
        let output = env.run(&["find", bad]);
        assert_eq!(output.status.code(), Some(2), "{bad}");
        assert!(stderr(&output).starts_with("error: invalid query"), "{bad}: {}", stderr(&output));
    }

    let output = env.run(&["find", "tag:nas1", "--limit", "3"]);
    assert_eq!(output.status.code(), Some(0));
    let text = String::from_utf8_lossy(&output.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "header + 3 rows: {text}");
    for column in ["SIZE", "MODIFIED", "BUNDLE", "PATH"] {
        assert!(lines[0].contains(column));
    }
    assert!(stderr(&output).contains("showing 3 of 7 matches"));
    // Flags may follow the query; a query may start with an exclusion after `--`.
    let output = env.run(&["find", "forecast", "--json"]);
    assert_eq!(json_lines(&output.stdout).len(), 1);
    let output = env.run(&["find", "--json", "--", "-photos", "-projects", "-home"]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(json_lines(&env.run(&["find", "--limit", "0", "report -final", "--json"]).stdout).len(), 1);
    // A bare `-word` is an unknown flag to the argument parser: a clear error, not a silent guess.
    let output = env.run(&["find", "report", "-final"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("--"), "{}", stderr(&output));
}

#[test]
fn find_on_a_fresh_home_matches_nothing() {
    let env = Env::new();
    let output = env.run(&["find", "anything"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("nothing archived yet"), "{}", stderr(&output));
    assert!(!env.home.exists());
}

#[test]
fn a_find_after_another_home_wrote_the_catalog_sees_the_new_files() {
    // Two homes share one catalog, each with an index of its own. An archive from the
    // first home changes the catalog without touching the second home's index: the next
    // find there must catch up.
    let env = Env::new();
    write(&env.src.join("alpha/first.txt"), b"1");
    env.archive(&[]);
    let other = env.dir.path().join("other-home");
    let catalog =
        env.catalog_url.clone().unwrap_or_else(|| format!("sqlite://{}", env.home.join("catalog.db").display()));
    let find = |query: &str| {
        env.esker_in(&other)
            .env("ESKER_CATALOG_URL", &catalog)
            .args(["find", "--json", query])
            .output()
            .expect("run esker")
    };
    assert_eq!(find("zebra").status.code(), Some(1));
    let output = find("first");
    assert_eq!(json_lines(&output.stdout).len(), 1, "{}", stderr(&output));

    write(&env.src.join("alpha/zebra.txt"), b"z");
    env.archive(&[]);
    let output = find("zebra");
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let found = json_lines(&output.stdout);
    assert_eq!(found.len(), 1);
    assert!(found[0]["path"].as_str().expect("path").ends_with("alpha/zebra.txt"));
}
