//! Shared helpers: a temp home, the esker binary, trees on disk, GNU tar extraction.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;
use serde_json::Value;
use tempfile::TempDir;

/// A scratch directory with a home and a source tree inside.
pub struct Env {
    pub dir: TempDir,
    pub home: PathBuf,
    pub src: PathBuf,
}

impl Env {
    pub fn new() -> Env {
        let dir = tempfile::tempdir().expect("tempdir");
        let home = dir.path().join("home");
        let src = dir.path().join("src");
        fs::create_dir(&src).expect("mkdir src");
        Env { dir, home, src }
    }

    /// `esker --home HOME` with a clean environment.
    pub fn esker(&self) -> Command {
        let mut command = Command::cargo_bin("esker").expect("binary");
        command
            .env_remove("ESKER_HOME")
            .env_remove("ESKER_STORE")
            .env_remove("ESKER_MAX_FILES")
            .env_remove("ESKER_MAX_SIZE")
            .env_remove("ESKER_JOBS")
            .env_remove("ESKER_FAILPOINT")
            .env("ESKER_SYSTEM_CONFIG", self.dir.path().join("no-system-config.toml"))
            .env("NO_COLOR", "1")
            .arg("--home")
            .arg(&self.home);
        command
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.esker().args(args).output().expect("run esker")
    }

    /// Runs `esker archive SRC ARGS...` and asserts success.
    pub fn archive(&self, args: &[&str]) -> Output {
        let output = self.esker().arg("archive").arg(&self.src).args(args).output().expect("run esker");
        assert_success(&output);
        output
    }

    pub fn archive_json(&self, args: &[&str]) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let output = self.archive(&all);
        serde_json::from_slice(&output.stdout).expect("summary json")
    }

    /// `find --json --limit 0 QUERY`: the matches, or empty on exit 1.
    pub fn find(&self, query: &str) -> Vec<Value> {
        let output = self.run(&["find", "--json", "--limit", "0", "--", query]);
        match output.status.code() {
            Some(0) => json_lines(&output.stdout),
            Some(1) => {
                assert!(output.stdout.is_empty());
                Vec::new()
            }
            _ => panic!("find {query:?} failed: {}", String::from_utf8_lossy(&output.stderr)),
        }
    }

    /// Paths matching a query, sorted.
    pub fn find_paths(&self, query: &str) -> Vec<String> {
        let mut paths: Vec<String> =
            self.find(query).iter().map(|found| found["path"].as_str().expect("path").to_string()).collect();
        paths.sort();
        paths
    }

    pub fn bundles(&self) -> Vec<Value> {
        let output = self.run(&["bundles", "--json"]);
        assert_success(&output);
        json_lines(&output.stdout)
    }

    pub fn runs(&self) -> Vec<Value> {
        let output = self.run(&["runs", "--json"]);
        assert_success(&output);
        json_lines(&output.stdout)
    }

    pub fn store_dir(&self) -> PathBuf {
        self.home.join("store")
    }

    /// Extracts every stored bundle with GNU tar into a fresh folder and returns the copy of
    /// the source tree inside it.
    pub fn extract_all(&self) -> (TempDir, PathBuf) {
        let out = tempfile::tempdir().expect("tempdir");
        for bundle in self.bundles() {
            assert_eq!(bundle["state"], "stored");
            let path = self.store_dir().join(bundle["key"].as_str().expect("key"));
            gnu_tar(&["-xf", path.to_str().expect("utf8"), "-C", out.path().to_str().expect("utf8")]);
        }
        let copy = out.path().join(self.src.strip_prefix("/").expect("absolute"));
        (out, copy)
    }

    /// Path of a file under the source tree, as find prints it.
    pub fn src_path(&self, relative: &str) -> String {
        format!("{}/{relative}", self.src.display())
    }
}

pub fn assert_success(output: &Output) {
    assert!(
        output.status.success(),
        "esker failed ({:?})\nstdout: {}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

pub fn json_lines(bytes: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(bytes).lines().map(|line| serde_json::from_str(line).expect("json line")).collect()
}

pub fn gnu_tar(args: &[&str]) -> Vec<u8> {
    let output = std::process::Command::new("tar").args(args).output().expect("run tar");
    assert!(output.status.success(), "tar {args:?} failed: {}", String::from_utf8_lossy(&output.stderr));
    output.stdout
}

pub fn write(path: &Path, bytes: &[u8]) {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).expect("mkdir");
    }
    fs::write(path, bytes).expect("write");
}

/// Deterministic pseudo-random content.
pub fn content(seed: u64, length: usize) -> Vec<u8> {
    let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    (0..length)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

/// A tree of `folders` × `files` small files under `root`.
pub fn make_tree(root: &Path, folders: usize, files: usize, size: usize) {
    for folder in 0..folders {
        for file in 0..files {
            let path = root.join(format!("dir{folder:03}/sub/file{file:03}.dat"));
            write(&path, &content((folder * 1000 + file) as u64, size + file));
        }
    }
}

/// What a tree holds: relative raw path → (kind, content or link target, mode, mtime).
pub type Snapshot = BTreeMap<Vec<u8>, (String, Vec<u8>, u32, i64)>;

pub fn snapshot(root: &Path) -> Snapshot {
    let mut out = BTreeMap::new();
    visit(root, root, &mut out);
    out
}

fn visit(root: &Path, dir: &Path, out: &mut Snapshot) {
    for item in fs::read_dir(dir).expect("read_dir") {
        let item = item.expect("entry");
        let path = item.path();
        let relative = path.strip_prefix(root).expect("prefix").as_os_str().as_bytes().to_vec();
        let metadata = fs::symlink_metadata(&path).expect("lstat");
        let file_type = metadata.file_type();
        if file_type.is_symlink() {
            let target = fs::read_link(&path).expect("readlink").into_os_string().as_bytes().to_vec();
            out.insert(relative, ("symlink".into(), target, 0, 0));
        } else if file_type.is_dir() {
            let empty = fs::read_dir(&path).expect("read_dir").next().is_none();
            if empty {
                out.insert(relative, ("empty-dir".into(), Vec::new(), metadata.permissions().mode() & 0o7777, 0));
            }
            visit(root, &path, out);
        } else if file_type.is_file() {
            out.insert(
                relative,
                (
                    "file".into(),
                    fs::read(&path).expect("read"),
                    metadata.permissions().mode() & 0o7777,
                    metadata.mtime(),
                ),
            );
        }
    }
}

/// Every file and its size/mtime below `root` (to prove nothing changed).
pub fn listing(root: &Path) -> BTreeMap<PathBuf, (u64, i64)> {
    let mut out = BTreeMap::new();
    if !root.exists() {
        return out;
    }
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for item in fs::read_dir(&dir).expect("read_dir") {
            let item = item.expect("entry");
            let metadata = item.metadata().expect("metadata");
            if metadata.is_dir() {
                stack.push(item.path());
            }
            out.insert(item.path(), (metadata.len(), metadata.mtime()));
        }
    }
    out
}

pub fn os(bytes: &[u8]) -> &OsStr {
    OsStr::from_bytes(bytes)
}

pub fn is_root() -> bool {
    // SAFETY-free: read our effective uid from /proc.
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with("Uid:"))
                .and_then(|line| line.split_whitespace().nth(2).map(str::to_string))
        })
        .is_some_and(|uid| uid == "0")
}
