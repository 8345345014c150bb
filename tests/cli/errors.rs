//! Bad input: a clear error, exit 2, the value named, and nothing written.

use std::fs;

use crate::common::*;

fn assert_rejected(env: &Env, args: &[&str], needle: &str) {
    let before = listing(env.dir.path());
    let output = env.esker().args(args).output().expect("run");
    assert_eq!(output.status.code(), Some(2), "{args:?}: {}", stderr(&output));
    let message = stderr(&output);
    assert!(message.starts_with("error: "), "{message}");
    assert!(message.contains(needle), "{args:?}: expected `{needle}` in {message}");
    assert!(output.stdout.is_empty());
    assert_eq!(listing(env.dir.path()), before, "{args:?} wrote something");
}

#[test]
fn bad_arguments_change_nothing() {
    let env = Env::new();
    write(&env.src.join("f.txt"), b"x");
    let src = env.src.to_str().expect("utf8").to_string();
    let missing = format!("{src}/does-not-exist");
    assert_rejected(&env, &["archive", &missing], "does-not-exist");
    assert_rejected(&env, &["archive", &src, "--max-size", "12XB"], "12XB");
    assert_rejected(&env, &["archive", &src, "--max-size", "0"], "--max-size");
    assert_rejected(&env, &["archive", &src, "--max-files", "0"], "--max-files");
    assert_rejected(&env, &["archive", &src, "--max-files", "many"], "many");
    assert_rejected(&env, &["archive", &src, "--store", "tape"], "unknown store `tape`");
    assert_rejected(&env, &["archive", &src, "--exclude", "[oops"], "[oops");
    assert_rejected(&env, &["archive", &src, "--jobs", "0"], "--jobs");
    assert_rejected(&env, &["find", "size:>>"], "size");
    assert!(!env.home.exists());

    // And once the home exists, a bad request still leaves it untouched.
    env.archive(&[]);
    assert_rejected(&env, &["archive", &missing], "does-not-exist");
    assert_rejected(&env, &["archive", &src, "--store", "tape"], "tape");
}

#[test]
fn out_of_range_counts_fractional_bytes_and_unknown_filter_values_are_usage_errors() {
    let env = Env::new();
    write(&env.src.join("f.txt"), b"x");
    let src = env.src.to_str().expect("utf8").to_string();
    assert_rejected(&env, &["archive", &src, "--jobs", "100000"], "from 1 to 256");
    assert_rejected(&env, &["archive", &src, "--jobs", "100000000"], "from 1 to 256");
    assert_rejected(&env, &["archive", &src, "--max-size", "0.5"], "whole number");
    assert_rejected(&env, &["archive", &src, "--max-size", "1.5B"], "whole number");
    let before = listing(env.dir.path());
    let output = env.esker().env("ESKER_JOBS", "100000000").args(["archive", &src]).output().expect("run");
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stderr(&output).contains("ESKER_JOBS"), "{}", stderr(&output));
    assert_eq!(listing(env.dir.path()), before);

    env.archive(&[]);
    assert_rejected(&env, &["find", "kind:bogus"], "expected one of: file, dir, symlink");
    assert_rejected(&env, &["find", "--", "f", "-state:bogus"], "expected one of: archived, changed");
    let deep = format!("{}f{}", "(".repeat(12_000), ")".repeat(12_000));
    assert_rejected(&env, &["find", &deep], "more than 64 deep");
    assert_rejected(&env, &["retrieve", "kind:bogus", "--to", "/nonexistent/out"], "kind:bogus");
}

#[test]
fn unusable_home_and_bad_config_are_clear_errors() {
    let env = Env::new();
    write(&env.src.join("f.txt"), b"x");
    let blocker = env.dir.path().join("blocker");
    fs::write(&blocker, b"a file, not a folder").expect("write");
    let output = assert_cmd::Command::cargo_bin("esker")
        .expect("binary")
        .env("ESKER_SYSTEM_CONFIG", "/nonexistent")
        .arg("--home")
        .arg(blocker.join("home"))
        .arg("archive")
        .arg(&env.src)
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("cannot use home directory"), "{}", stderr(&output));
    assert!(stderr(&output).contains("blocker/home"));

    fs::create_dir_all(&env.home).expect("mkdir");
    write(&env.home.join("config.toml"), b"store = [not toml");
    let output = env.run(&["archive", env.src.to_str().expect("utf8")]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("config.toml"), "{}", stderr(&output));
    assert!(!env.home.join("catalog.db").exists());

    write(&env.home.join("config.toml"), b"[archive]\nmax_files = 0\n");
    let output = env.run(&["archive", env.src.to_str().expect("utf8")]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("archive.max_files"), "{}", stderr(&output));

    write(&env.home.join("config.toml"), b"[stores.x]\nkind = \"floppy\"\n");
    let output = env.run(&["config", "show"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("floppy"));
}

/// A reader that stops early (`esker find | head`) ends the output quietly: exit 0, no
/// error, for text and for JSON lines alike.
#[test]
fn a_reader_that_goes_away_ends_the_output_quietly() {
    use std::io::Read;
    let env = Env::new();
    make_tree(&env.src, 20, 40, 10);
    env.archive(&[]);
    for json in [false, true] {
        let mut command = std::process::Command::new(assert_cmd::cargo::cargo_bin("esker"));
        env.with_catalog(&mut command);
        command.env("ESKER_SYSTEM_CONFIG", "/nonexistent").arg("--home").arg(&env.home);
        command.args(["find", "--limit", "0", "file"]);
        if json {
            command.arg("--json");
        }
        let mut child =
            command.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().expect("spawn");
        // Read a little, then close the pipe with far more output (800 matches) to come
        // than the pipe holds.
        let mut start = [0u8; 16];
        child.stdout.take().expect("stdout").read_exact(&mut start).expect("first bytes");
        let output = child.wait_with_output().expect("wait");
        assert_eq!(output.status.code(), Some(0), "json {json}: {}", stderr(&output));
        assert!(output.stderr.is_empty(), "json {json}: {}", stderr(&output));
    }
}

/// A build without the `postgres` feature names it when given a PostgreSQL catalog, and
/// writes nothing: no home, no store, no catalog file named after the URL.
#[cfg(not(feature = "postgres"))]
#[test]
fn a_postgres_catalog_on_a_build_without_postgres_names_the_feature() {
    let env = Env::new();
    write(&env.src.join("f.txt"), b"x");
    let before = listing(env.dir.path());
    let output = env
        .esker()
        .env("ESKER_CATALOG_URL", "postgres://esker:hunter2@127.0.0.1/esker")
        .arg("archive")
        .arg(&env.src)
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let message = stderr(&output);
    assert!(message.contains("--features postgres"), "{message}");
    assert!(!message.contains("hunter2"), "{message}");
    assert!(!env.home.exists());
    assert_eq!(listing(env.dir.path()), before);
}

/// The exit codes a script relies on are listed in `--help`, and a catalog that is not a
/// database any more is an integrity problem (4), not a usage error.
#[test]
fn help_lists_the_exit_codes_and_a_damaged_catalog_exits_4() {
    let env = Env::new();
    let help = env.run(&["--help"]);
    assert_success(&help);
    let text = String::from_utf8_lossy(&help.stdout);
    for line in ["0  success", "1  nothing matched", "3  finished, but some", "4  integrity", "5  stopped by a guard"] {
        assert!(text.contains(line), "{line} missing from --help: {text}");
    }
    if on_postgres() {
        return;
    }
    write(&env.src.join("f.txt"), b"x");
    env.archive(&[]);
    let catalog = env.home.join("catalog.db");
    let mut damaged = fs::read(&catalog).expect("read");
    damaged[..100].fill(b'#');
    fs::write(&catalog, damaged).expect("write");
    let output = env.run(&["find", "f"]);
    assert_eq!(output.status.code(), Some(4), "{}", stderr(&output));
    assert!(stderr(&output).contains("catalog.db"), "{}", stderr(&output));
}

/// A PostgreSQL password never shows, whatever form the connection string takes, and a
/// libpq keyword string is never taken for a SQLite path (no file named after it).
#[test]
fn catalog_passwords_never_show_in_any_form() {
    let env = Env::new();
    let forms = [
        "postgres://esker:hun@ter2@127.0.0.1:1/esker",
        "postgresql://esker@127.0.0.1:1/esker?sslmode=disable&password=hunter2",
        "host=127.0.0.1 port=1 user=esker password=hunter2 dbname=esker",
        "host=127.0.0.1 port=1 password='hunter2 with space' dbname=esker",
    ];
    for url in forms {
        for args in [&["config", "show"][..], &["catalog", "status"], &["find", "report"]] {
            let output =
                env.esker().current_dir(env.dir.path()).env("ESKER_CATALOG_URL", url).args(args).output().expect("run");
            let shown = format!("{}{}", String::from_utf8_lossy(&output.stdout), stderr(&output));
            assert!(!shown.contains("hunter2") && !shown.contains("ter2@"), "{args:?} with {url}: {shown}");
            if args[0] != "config" {
                assert_eq!(output.status.code(), Some(2), "{args:?} with {url}: {shown}");
            }
        }
    }
    let names: Vec<String> = listing(env.dir.path()).keys().map(|path| path.display().to_string()).collect();
    assert!(names.iter().all(|name| !name.contains("hunter2") && !name.contains("host=")), "{names:?}");
}

#[test]
fn an_unknown_catalog_scheme_names_the_forms_it_takes() {
    let env = Env::new();
    let output = env
        .esker()
        .env("ESKER_CATALOG_URL", "mysql://root:hunter2@db/esker")
        .args(["find", "x"])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(2));
    let message = stderr(&output);
    assert!(message.contains("libpq keyword string") && message.contains("sqlite://"), "{message}");
    assert!(!message.contains("hunter2"), "{message}");
}

/// A file name with terminal escapes and a newline is escaped in messages (as `ls -b`
/// does), so it can neither repaint the terminal nor forge a line; `--json` keeps it raw.
#[test]
fn control_characters_in_file_names_are_escaped_on_the_terminal() {
    let env = Env::new();
    let name = "evil\u{1b}[2J\nerror: forged.txt";
    write(&env.src.join(name), b"payload");
    env.archive(&[]);
    let out = env.dir.path().join("out");
    let copy = out.join(env.src.strip_prefix("/").expect("absolute")).join(name);
    write(&copy, b"something else");
    let query = format!("in:{}", env.src.display());
    let output =
        env.esker().args(["retrieve", &query, "--to", out.to_str().expect("utf8"), "--yes"]).output().expect("run");
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    let message = stderr(&output);
    assert!(!message.contains('\u{1b}') && message.contains("\\u{1b}[2J\\nerror: forged.txt"), "{message}");
    assert!(message.lines().all(|line| !line.starts_with("error: forged")), "{message}");
    let found = env.find("forged");
    assert_eq!(found[0]["path"].as_str().map(|path| path.ends_with(name)), Some(true), "{found:?}");
}
