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

/// A scratch directory with a home and a source tree inside. With
/// `ESKER_TEST_BACKEND=postgres` the catalog is a fresh PostgreSQL database instead of the
/// home's SQLite file (scripts/test.sh runs the suite both ways).
/// Whether this build has failpoints (the `failpoints` feature).
const FAILPOINTS_BUILT: bool = cfg!(feature = "failpoints");

pub struct Env {
    pub dir: TempDir,
    pub home: PathBuf,
    pub src: PathBuf,
    pub catalog_url: Option<String>,
}

/// Whether this test run puts catalogs on PostgreSQL.
/// A run asked for PostgreSQL on a build without the `postgres` feature fails loudly rather
/// than testing SQLite under a PostgreSQL label.
pub fn on_postgres() -> bool {
    let wanted = std::env::var("ESKER_TEST_BACKEND").is_ok_and(|backend| backend == "postgres");
    assert!(
        !wanted || cfg!(feature = "postgres"),
        "ESKER_TEST_BACKEND=postgres needs a build with --features postgres"
    );
    wanted
}

/// A new, empty PostgreSQL database on the test cluster; its URL.
#[cfg(feature = "postgres")]
pub fn fresh_postgres_database() -> String {
    use diesel::{Connection, RunQueryDsl};
    let admin = std::env::var("ESKER_TEST_PG_URL").unwrap_or_else(|_| {
        panic!(
            "PostgreSQL tests need a cluster: run scripts/test.sh, or eval \"$(scripts/fixtures/postgres.sh start)\""
        )
    });
    let name = format!("esker_{}", uuid::Uuid::now_v7().simple());
    let mut connection = diesel::pg::PgConnection::establish(&admin).expect("connect to the test cluster");
    diesel::sql_query(format!("CREATE DATABASE {name}")).execute(&mut connection).expect("create database");
    let base = admin.rsplit_once('/').map(|(base, _)| base).expect("database in URL");
    format!("{base}/{name}")
}

#[cfg(feature = "postgres")]
fn postgres_database() -> String {
    fresh_postgres_database()
}

#[cfg(not(feature = "postgres"))]
fn postgres_database() -> String {
    unreachable!("on_postgres() is false without the postgres feature")
}

impl Env {
    pub fn new() -> Env {
        let dir = tempfile::tempdir().expect("tempdir");
        let home = dir.path().join("home");
        let src = dir.path().join("src");
        fs::create_dir(&src).expect("mkdir src");
        let catalog_url = on_postgres().then(postgres_database);
        Env { dir, home, src, catalog_url }
    }

    /// Points a hand-made command at this env's catalog.
    pub fn with_catalog<'a>(&self, command: &'a mut std::process::Command) -> &'a mut std::process::Command {
        match &self.catalog_url {
            Some(url) => command.env("ESKER_CATALOG_URL", url),
            None => command.env_remove("ESKER_CATALOG_URL"),
        }
    }

    /// Runs raw SQL against the catalog (tests that tamper with it), in the backend's dialect.
    pub fn catalog_sql(&self, sqlite: &str, postgres: &str) {
        use diesel::{Connection, RunQueryDsl};
        match &self.catalog_url {
            #[cfg(feature = "postgres")]
            Some(url) => {
                let mut connection = diesel::pg::PgConnection::establish(url).expect("connect");
                diesel::sql_query(postgres).execute(&mut connection).expect("sql");
            }
            #[cfg(not(feature = "postgres"))]
            Some(_) => unreachable!("no PostgreSQL catalog without the postgres feature: {postgres}"),
            None => {
                let path = self.home.join("catalog.db");
                let mut connection =
                    diesel::sqlite::SqliteConnection::establish(path.to_str().expect("utf8")).expect("open");
                diesel::sql_query(sqlite).execute(&mut connection).expect("sql");
            }
        }
    }

    /// `esker --home HOME` with a clean environment.
    pub fn esker(&self) -> Command {
        self.esker_in(&self.home)
    }

    /// `esker --home HOME` for another home, on this env's catalog (when it is not the
    /// home's own SQLite file) and with the same clean environment.
    pub fn esker_in(&self, home: &Path) -> Command {
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
            .arg(home);
        match &self.catalog_url {
            Some(url) => command.env("ESKER_CATALOG_URL", url),
            None => command.env_remove("ESKER_CATALOG_URL"),
        };
        command
    }

    /// `esker --home HOME` as a plain process (to spawn, wait on or kill), on this env's
    /// catalog and without the system config.
    pub fn esker_process(&self) -> std::process::Command {
        let mut command = std::process::Command::new(assert_cmd::cargo::cargo_bin("esker"));
        self.with_catalog(&mut command);
        command.env("ESKER_SYSTEM_CONFIG", "/nonexistent").arg("--home").arg(&self.home);
        command
    }

    /// `esker` with failpoint `point` (`NAME[:N][:panic]`) armed. Failpoints exist only in
    /// builds with the `failpoints` feature, which `scripts/test.sh` turns on.
    pub fn esker_failing_at(&self, point: &str) -> Command {
        if !FAILPOINTS_BUILT {
            panic!(
                "this test arms ESKER_FAILPOINT at {point}: run it with `--features failpoints` (scripts/test.sh does)"
            );
        }
        let mut command = self.esker();
        command.env("ESKER_FAILPOINT", point);
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

    /// `archive` of a tree where some files are skipped: exit 3, the summary as JSON.
    pub fn archive_partial_json(&self, args: &[&str]) -> Value {
        let output = self.esker().arg("archive").arg(&self.src).arg("--json").args(args).output().expect("run esker");
        assert_eq!(output.status.code(), Some(3), "finished with items skipped: {}", stderr(&output));
        serde_json::from_slice(&output.stdout).expect("summary json")
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

/// Waits until `condition` holds, checking every 20 ms; fails the test after 60 s, naming
/// `what` it waited for.
pub fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !condition() {
        assert!(std::time::Instant::now() < deadline, "waited 60 s for {what}");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Waits until the wall clock is in a later second than `since`, so that a file written
/// now has a later mtime in whole seconds.
pub fn wait_for_the_next_second(since: std::time::SystemTime) {
    let seconds = |time: std::time::SystemTime| time.duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs();
    wait_until("the next second", || seconds(std::time::SystemTime::now()) > seconds(since));
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

pub use esker_store::conformance::content;

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
    nix::unistd::Uid::effective().is_root()
}

/// The moto endpoint `scripts/test.sh` starts. S3 tests fail loudly without it.
pub fn s3_endpoint() -> String {
    std::env::var("ESKER_TEST_S3_ENDPOINT").unwrap_or_else(|_| {
        panic!("S3 tests need moto: run scripts/test.sh, or eval \"$(scripts/fixtures/moto.sh start)\" first")
    })
}

/// SDK settings for the test clients that check moto directly: its endpoint, fixed test
/// credentials, rustls on ring (as esker itself).
fn moto_sdk_config(endpoint: &str) -> aws_config::SdkConfig {
    aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(aws_sdk_s3::config::SharedCredentialsProvider::new(aws_sdk_s3::config::Credentials::new(
            "testing", "testing", None, None, "test",
        )))
        .http_client(
            aws_smithy_http_client::Builder::new()
                .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
                    aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
                ))
                .build_https(),
        )
        .build()
}

/// A client for checking what esker wrote, straight from the server.
pub struct S3Check {
    pub runtime: tokio::runtime::Runtime,
    pub client: aws_sdk_s3::Client,
    pub bucket: String,
}

impl S3Check {
    /// Creates a fresh bucket on moto.
    pub fn new() -> S3Check {
        let endpoint = s3_endpoint();
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        let config = aws_sdk_s3::config::Builder::from(&moto_sdk_config(&endpoint)).force_path_style(true).build();
        let client = aws_sdk_s3::Client::from_conf(config);
        let bucket = format!("esker-{}", uuid::Uuid::now_v7());
        runtime.block_on(client.create_bucket().bucket(&bucket).send()).expect("create bucket");
        S3Check { runtime, client, bucket }
    }

    /// `(key, size, storage class)` of every object under `prefix`.
    pub fn objects(&self, prefix: &str) -> Vec<(String, i64, String)> {
        let output = self
            .runtime
            .block_on(self.client.list_objects_v2().bucket(&self.bucket).prefix(prefix).send())
            .expect("list");
        output
            .contents()
            .iter()
            .map(|object| {
                (
                    object.key().unwrap_or_default().to_string(),
                    object.size().unwrap_or_default(),
                    object.storage_class().map(|class| class.as_str().to_string()).unwrap_or_default(),
                )
            })
            .collect()
    }

    pub fn unfinished_uploads(&self) -> usize {
        let output =
            self.runtime.block_on(self.client.list_multipart_uploads().bucket(&self.bucket).send()).expect("list");
        output.uploads().len()
    }

    /// Restores (moto completes at once) and downloads an object.
    pub fn restore_and_get(&self, key: &str) -> Vec<u8> {
        use aws_sdk_s3::types::{GlacierJobParameters, RestoreRequest, Tier};
        let request = RestoreRequest::builder()
            .days(1)
            .glacier_job_parameters(GlacierJobParameters::builder().tier(Tier::Bulk).build().expect("params"))
            .build();
        self.runtime
            .block_on(self.client.restore_object().bucket(&self.bucket).key(key).restore_request(request).send())
            .expect("restore");
        self.get(key).expect("get after restore")
    }

    pub fn get(&self, key: &str) -> Result<Vec<u8>, String> {
        self.runtime.block_on(async {
            let output = self.client.get_object().bucket(&self.bucket).key(key).send().await.map_err(|error| {
                use aws_sdk_s3::error::ProvideErrorMetadata;
                error.code().unwrap_or("unknown").to_string()
            })?;
            Ok(output.body.collect().await.expect("body").into_bytes().to_vec())
        })
    }

    /// Config for an esker store named `cold` in this bucket.
    pub fn store_config(&self, endpoint: &str, extra: &str) -> String {
        format!(
            "[stores.cold]\nkind = \"s3\"\nbucket = \"{}\"\nprefix = \"archive/\"\nregion = \"us-east-1\"\n\
             endpoint_url = \"{endpoint}\"\nforce_path_style = true\npart_size = \"5MiB\"\n{extra}\n",
            self.bucket
        )
    }

    pub fn settings(&self, storage_class: &str) -> esker::config::S3Settings {
        esker::config::S3Settings {
            bucket: self.bucket.clone(),
            prefix: "conformance/".into(),
            storage_class: storage_class.into(),
            manifest_storage_class: "STANDARD".into(),
            client: moto_client_settings(s3_endpoint()),
            force_path_style: true,
            part_size: 5 * 1024 * 1024,
        }
    }
}

/// How the stores under test reach moto: 3 parts in flight, 4 attempts per request.
fn moto_client_settings(endpoint: String) -> esker::config::AwsClientSettings {
    esker::config::AwsClientSettings {
        region: Some("us-east-1".into()),
        profile: None,
        endpoint_url: Some(endpoint),
        upload_concurrency: 3,
        max_attempts: 4,
    }
}

/// A client for a vault on moto (through scripts/fixtures/moto_glacier.py): creates the
/// vault, reads what esker wrote straight from the server, and drives the extension's
/// control routes (request counts, holding jobs, garbling a download).
pub struct GlacierCheck {
    pub runtime: tokio::runtime::Runtime,
    pub client: aws_sdk_glacier::Client,
    pub vault: String,
    pub endpoint: String,
}

impl GlacierCheck {
    /// Creates a fresh vault on moto.
    pub fn new() -> GlacierCheck {
        let endpoint = s3_endpoint();
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        let client = aws_sdk_glacier::Client::new(&moto_sdk_config(&endpoint));
        let vault = format!("esker-{}", uuid::Uuid::now_v7().simple());
        runtime.block_on(client.create_vault().account_id("-").vault_name(&vault).send()).expect("create vault");
        GlacierCheck { runtime, client, vault, endpoint }
    }

    /// Store settings for this vault: 1 MiB parts, multipart from 2 MiB, 3 parts in flight.
    pub fn settings(&self) -> esker::config::GlacierSettings {
        esker::config::GlacierSettings {
            vault: self.vault.clone(),
            account_id: "-".into(),
            client: moto_client_settings(self.endpoint.clone()),
            part_size: 1024 * 1024,
            multipart_threshold: 2 * 1024 * 1024,
        }
    }

    /// Config for an esker store named `vault` on this vault.
    pub fn store_config(&self, extra: &str) -> String {
        format!(
            "[stores.vault]\nkind = \"glacier\"\nvault = \"{}\"\nregion = \"us-east-1\"\nendpoint_url = \"{}\"\n\
             part_size = \"1MiB\"\nmultipart_threshold = \"2MiB\"\n{extra}\n",
            self.vault, self.endpoint
        )
    }

    /// A request to the extension's control routes; the JSON answer.
    pub fn control(&self, method: &str, action: &str) -> Value {
        use std::io::{Read, Write};
        let address = self.endpoint.trim_start_matches("http://").to_string();
        let mut stream = std::net::TcpStream::connect(&address).expect("connect to moto");
        write!(
            stream,
            "{method} /_esker_glacier/vaults/{}/{action} HTTP/1.1\r\nHost: {address}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            self.vault
        )
        .expect("send");
        let mut answer = String::new();
        stream.read_to_string(&mut answer).expect("read");
        assert!(answer.starts_with("HTTP/1.1 200"), "control {action}: {answer}");
        let body = answer.split("\r\n\r\n").nth(1).unwrap_or("{}");
        serde_json::from_str(body).expect("json")
    }

    /// How many requests of a kind the vault served (see moto_glacier.py).
    pub fn stat(&self, name: &str) -> u64 {
        self.control("GET", "stats")[name].as_u64().unwrap_or(0)
    }

    /// Unfinished multipart uploads: (upload id, description).
    pub fn uploads(&self) -> Vec<(String, String)> {
        let output = self
            .runtime
            .block_on(self.client.list_multipart_uploads().account_id("-").vault_name(&self.vault).send())
            .expect("list uploads");
        output
            .uploads_list()
            .iter()
            .map(|upload| {
                (
                    upload.multipart_upload_id().unwrap_or_default().to_string(),
                    upload.archive_description().unwrap_or_default().to_string(),
                )
            })
            .collect()
    }

    /// The parts an upload holds: (range text, tree hash).
    pub fn parts(&self, upload_id: &str) -> Vec<(String, String)> {
        let output = self
            .runtime
            .block_on(self.client.list_parts().account_id("-").vault_name(&self.vault).upload_id(upload_id).send())
            .expect("list parts");
        output
            .parts()
            .iter()
            .map(|part| {
                (
                    part.range_in_bytes().unwrap_or_default().to_string(),
                    part.sha256_tree_hash().unwrap_or_default().to_string(),
                )
            })
            .collect()
    }

    /// A whole archive, through an archive-retrieval job (moto's jobs complete at once).
    pub fn download(&self, archive_id: &str) -> Vec<u8> {
        self.runtime.block_on(async {
            let parameters = aws_sdk_glacier::types::JobParameters::builder()
                .r#type("archive-retrieval")
                .archive_id(archive_id)
                .build();
            let job = self
                .client
                .initiate_job()
                .account_id("-")
                .vault_name(&self.vault)
                .job_parameters(parameters)
                .send()
                .await
                .expect("initiate job");
            let output = self
                .client
                .get_job_output()
                .account_id("-")
                .vault_name(&self.vault)
                .job_id(job.job_id().expect("job id"))
                .send()
                .await
                .expect("job output");
            output.body.collect().await.expect("body").into_bytes().to_vec()
        })
    }

    pub fn delete_archive(&self, archive_id: &str) {
        self.runtime
            .block_on(
                self.client.delete_archive().account_id("-").vault_name(&self.vault).archive_id(archive_id).send(),
            )
            .expect("delete archive");
    }

    /// Uploads an archive esker did not write; its id.
    pub fn upload_foreign(&self, body: &[u8], description: &str) -> String {
        let checksum = hex::encode(esker_store::tree_hash::tree_hash(body));
        let output = self
            .runtime
            .block_on(
                self.client
                    .upload_archive()
                    .account_id("-")
                    .vault_name(&self.vault)
                    .archive_description(description)
                    .checksum(checksum)
                    .body(aws_sdk_glacier::primitives::ByteStream::from(body.to_vec()))
                    .send(),
            )
            .expect("upload archive");
        output.archive_id().expect("archive id").to_string()
    }
}
