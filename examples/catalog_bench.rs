//! Catalog ingest and index build at scale, without crawling or packing anything.
//!
//! ```text
//! cargo run --release --example catalog_bench -- --catalog URL --home DIR --files N [--per-bundle 1000]
//! ```
//!
//! Opens (creating and migrating) the catalog at `URL` (`sqlite:///path/catalog.db` or
//! `postgres://…`), which must hold no runs yet, creates one run, and then, for each of
//! `N / per-bundle` synthetic bundles (rounded up), does what `esker archive` does with the
//! catalog for a bundle: `insert_bundle` (the `uploading` row), then `record_stored_bundle`
//! with the bundle's file rows (one transaction). Only those catalog calls are timed; making
//! the rows is not. Then it builds the tantivy index in `DIR/index` with
//! `esker::search::catch_up`, as `esker archive` and `esker find` do, and times that.
//!
//! The rows look like a file share: `/srv/share/DEPT/CLIENT-PROJECT/YEAR/KIND_NNNNN/` folders
//! of 50-150 files each, file names after a dozen patterns (scans, photos, minutes, invoices,
//! versioned office documents, exports, logs…), sizes from empty to 256 MiB (mostly small),
//! modification times spread over 2008-2024. The same arguments always give the same rows.
//! Three words are planted for `esker find` measurements, and reported in the output:
//!
//! - `query_selective` (`kilimanjaro`): in exactly 10 file names, whatever N (when N >= 10);
//! - `query_broad` (`report`): in about 10 % of file names (`broad_files` says how many);
//! - `query_none` (`xylophone`): in no path, tag or description.
//!
//! Prints one JSON line on stdout: backend, files, ingest_seconds, ingest_files_per_second,
//! index_seconds, index_files_per_second, plus bundles, dirs, per_bundle and the query words
//! with their expected match counts. Progress goes to stderr.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;
use esker_catalog::{
    BundleState, Catalog, CatalogLocation, FileState, NewBundle, NewFile, NewRun, PendingFile, RunState, StoredBundle,
};

#[derive(Debug, Parser)]
#[command(about = "Synthetic catalog ingest and index build, timed")]
struct Args {
    /// Catalog URL: sqlite:///path/catalog.db or postgres://user@host:port/db (must hold no runs).
    #[arg(long, value_name = "URL")]
    catalog: String,
    /// esker home: the index is built in DIR/index (which must not exist yet).
    #[arg(long, value_name = "DIR")]
    home: PathBuf,
    /// File rows to catalog.
    #[arg(long, value_name = "N")]
    files: u64,
    /// File rows per bundle (esker archive's default --max-files is 1000).
    #[arg(long, value_name = "N", default_value_t = 1000)]
    per_bundle: u64,
    /// Also write the full path of every cataloged file to FILE, one a line (for
    /// `plocate-build --plaintext`, so plocate searches the same paths).
    #[arg(long, value_name = "FILE")]
    paths: Option<PathBuf>,
}

const ROOT: &str = "/srv/share";
const SELECTIVE_WORD: &str = "kilimanjaro";
const SELECTIVE_FILES: u64 = 10;
const BROAD_WORD: &str = "report";
const NO_HIT_WORD: &str = "xylophone";

const DEPTS: &[&str] = &[
    "finance",
    "hr",
    "engineering",
    "marketing",
    "legal",
    "sales",
    "operations",
    "research",
    "design",
    "it",
    "facilities",
    "procurement",
];
const CLIENTS: &[&str] = &[
    "Acme",
    "Globex",
    "Initech",
    "Umbrella",
    "Hooli",
    "Stark",
    "Wayne",
    "Wonka",
    "Tyrell",
    "Cyberdyne",
    "Soylent",
    "Vandelay",
    "Oscorp",
    "Aperture",
    "Nakatomi",
    "Gringotts",
];
const KINDS: &[&str] = &[
    "invoices",
    "contracts",
    "minutes",
    "scans",
    "photos",
    "drafts",
    "exports",
    "correspondence",
    "presentations",
    "data",
    "backups",
    "misc",
    "specs",
    "receipts",
    "timesheets",
];
const WORDS: &[&str] = &[
    "Budget",
    "Forecast",
    "Proposal",
    "Agenda",
    "Summary",
    "Plan",
    "Roadmap",
    "Review",
    "Audit",
    "Payroll",
    "Inventory",
    "Schedule",
    "Estimate",
    "Checklist",
    "Handbook",
    "Policy",
    "Memo",
    "Notes",
    "Quote",
    "Order",
    "Statement",
    "Ledger",
    "Survey",
    "Timeline",
    "Brief",
    "Analysis",
    "Overview",
    "Onboarding",
    "Migration",
    "Release",
];
const QUALIFIERS: &[&str] = &["draft", "final", "old", "copy", "signed", "approved", "v2", "rev", "internal", "client"];
const REPORT_KINDS: &[&str] = &["Quarterly", "Annual", "Monthly", "Status", "Incident", "Expense", "Progress", "Audit"];
const OFFICE_EXTS: &[&str] = &["docx", "xlsx", "pptx", "pdf", "doc", "xls", "odt"];

/// splitmix64: small, fast, deterministic.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9e37_79b9_7f4a_7c15)
    }
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in `low..=high`.
    fn range(&mut self, low: u64, high: u64) -> u64 {
        low + self.next() % (high - low + 1)
    }
    fn pick<'a>(&mut self, list: &[&'a str]) -> &'a str {
        list[(self.next() % list.len() as u64) as usize]
    }
    fn percent(&mut self) -> u64 {
        self.next() % 100
    }
}

/// One synthetic folder: its path and the facts its files share.
struct Folder {
    path: String,
    kind: &'static str,
    year: i64,
    uid: i64,
    files: u64,
}

fn folder(number: u64) -> Folder {
    let mut rng = Rng::new(0xf01d_e400 ^ number.wrapping_mul(0x1000_0000_01b3));
    let dept_index = rng.next() % DEPTS.len() as u64;
    let dept = DEPTS[dept_index as usize];
    let client = rng.pick(CLIENTS);
    let project = rng.range(1, 400);
    let year = rng.range(2008, 2024) as i64;
    let kind = rng.pick(KINDS);
    // A third of the folders sit one level deeper, under a month or a team member.
    let extra = match rng.percent() {
        0..=19 => format!("/{:02}", rng.range(1, 12)),
        20..=32 => format!("/{}", rng.pick(&["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi"])),
        _ => String::new(),
    };
    Folder {
        path: format!("{ROOT}/{dept}/{client}-{project:03}/{year}{extra}/{kind}_{number:05}"),
        kind,
        year,
        uid: 1000 + dept_index as i64 * 10 + rng.range(0, 9) as i64,
        files: rng.range(50, 150),
    }
}

/// A file name: a pattern that suits the folder's kind most of the time, with `index` (the
/// file's position in its folder) in it so names never repeat within a folder. `broad`
/// forces a name with the broad word; otherwise the name never contains it.
fn file_name(rng: &mut Rng, folder: &Folder, index: u64, broad: bool) -> String {
    let year = folder.year;
    let (month, day) = (rng.range(1, 12), rng.range(1, 28));
    if broad {
        return match rng.next() % 3 {
            0 => format!(
                "{}_Report_{year}-Q{}_{index:03}.{}",
                rng.pick(REPORT_KINDS),
                rng.range(1, 4),
                rng.pick(OFFICE_EXTS)
            ),
            1 => format!("{} Report {year}-{month:02}-{day:02} ({index}).pdf", rng.pick(REPORT_KINDS)),
            _ => format!("report-{}-{index:04}.{}", rng.pick(WORDS).to_lowercase(), rng.pick(&["pdf", "docx", "html"])),
        };
    }
    let pattern = match (folder.kind, rng.percent()) {
        ("photos", 0..=69) => 0,
        ("scans" | "receipts", 0..=69) => 1,
        ("minutes", 0..=69) => 2,
        ("invoices", 0..=69) => 3,
        ("exports" | "data", 0..=69) => 4,
        ("backups", 0..=69) => 5,
        (_, value) => 6 + value % 5,
    };
    match pattern {
        0 => match rng.next() % 3 {
            0 => format!("IMG_{:04}.jpg", 1000 + index * 7 + rng.range(0, 6)),
            1 => format!("DSC{:05}.{}", 10_000 + index * 3, rng.pick(&["JPG", "NEF", "jpg"])),
            _ => format!("{year}{month:02}{day:02}_{:06}.heic", 100_000 + index),
        },
        1 => format!("scan_{year}{month:02}{day:02}_{index:04}.{}", rng.pick(&["pdf", "pdf", "tif"])),
        2 => format!("minutes-{year}-{month:02}-{day:02}-{index:02}.{}", rng.pick(&["docx", "pdf", "txt"])),
        3 => format!("invoice_{}_{:06}.pdf", rng.pick(CLIENTS).to_lowercase(), index * 13 + rng.range(0, 12)),
        4 => format!(
            "{}_export_{year}{month:02}{day:02}_{index:03}.{}",
            rng.pick(WORDS).to_lowercase(),
            rng.pick(&["csv", "json", "xml", "parquet"])
        ),
        5 => format!("backup-{year}{month:02}{day:02}-{index:03}.{}", rng.pick(&["tar.gz", "zip", "bak", "7z"])),
        6 => format!("{}_{}_{index:03}.{}", rng.pick(WORDS), rng.pick(QUALIFIERS), rng.pick(OFFICE_EXTS)),
        7 => format!("{} {} v{}.{}", rng.pick(WORDS), rng.pick(WORDS), index, rng.pick(OFFICE_EXTS)),
        8 => format!(
            "{}{}{index}.{}",
            rng.pick(WORDS).to_lowercase(),
            rng.pick(WORDS),
            rng.pick(&["txt", "log", "md", "json", "yaml"])
        ),
        9 => format!("~${} {}.{}", rng.pick(WORDS), index, rng.pick(&["docx", "xlsx"])),
        _ => {
            format!("{}-{year}-{index:03}.{}", rng.pick(WORDS), rng.pick(&["pdf", "png", "zip", "msg", "eml", "vsdx"]))
        }
    }
}

/// Sizes like a share: many small files, a long tail of large ones (up to 256 MiB).
fn file_size(rng: &mut Rng) -> i64 {
    let size = match rng.percent() {
        0..=2 => 0,
        3..=59 => rng.range(1, 64 << 10),
        60..=89 => rng.range(64 << 10, 1 << 20),
        90..=98 => rng.range(1 << 20, 16 << 20),
        _ => rng.range(16 << 20, 256 << 20),
    };
    size as i64
}

/// The generator's position: which folder, and how far into it.
struct Generator {
    files: u64,
    next: u64,
    folder_number: u64,
    folder: Folder,
    in_folder: u64,
    dirs: u64,
    broad: u64,
    selective: u64,
}

impl Generator {
    fn new(files: u64) -> Generator {
        Generator { files, next: 0, folder_number: 0, folder: folder(0), in_folder: 0, dirs: 1, broad: 0, selective: 0 }
    }

    /// Whether file `number` gets the selective word: 10 files spread over the catalog.
    fn is_selective(&self, number: u64) -> bool {
        let count = SELECTIVE_FILES.min(self.files);
        count > 0 && {
            let step = self.files / count;
            number % step == step / 2 && number / step < count
        }
    }

    /// The next file row (`None` after the last), with `bundle_id` and offsets left for the caller.
    fn next_file(&mut self, run_id: i64) -> Option<PendingFile> {
        if self.next == self.files {
            return None;
        }
        if self.in_folder == self.folder.files {
            self.folder_number += 1;
            self.folder = folder(self.folder_number);
            self.in_folder = 0;
            self.dirs += 1;
        }
        let number = self.next;
        let index = self.in_folder;
        self.next += 1;
        self.in_folder += 1;
        let mut rng = Rng::new(number.wrapping_mul(0x2545_f491_4f6c_dd1d) ^ 0xf11e);
        let name = if self.is_selective(number) {
            self.selective += 1;
            format!("Kilimanjaro_trip_{index:03}.jpg")
        } else {
            let broad = rng.percent() < 10;
            self.broad += u64::from(broad);
            file_name(&mut rng, &self.folder, index, broad)
        };
        Some(self.file_row(&mut rng, run_id, number, name))
    }

    /// The row of file `number` named `name`: size, times, mode and owner drawn from `rng`.
    fn file_row(&self, rng: &mut Rng, run_id: i64, number: u64, name: String) -> PendingFile {
        let size = file_size(rng);
        let year_start = (self.folder.year - 1970) * 31_556_952;
        let mtime = (year_start + rng.range(0, 31_535_999) as i64) * 1_000_000_000 + rng.range(0, 999_999_999) as i64;
        let atime = mtime + rng.range(0, 3 * 365 * 86_400) as i64 * 1_000_000_000;
        let ctime = mtime + rng.range(0, 86_400) as i64 * 1_000_000_000;
        let mode = if name.ends_with(".sh") {
            0o100_755
        } else if rng.percent() < 20 {
            0o100_664
        } else {
            0o100_644
        };
        let uid = if rng.percent() < 85 { self.folder.uid } else { 1000 + rng.range(0, 119) as i64 };
        PendingFile {
            dir_path: self.folder.path.as_bytes().to_vec(),
            row: NewFile {
                run_id,
                dir_id: 0,
                name: name.as_bytes().to_vec(),
                name_text: name,
                kind: "file".into(),
                size,
                mode,
                uid,
                gid: 100 + (uid - 1000) / 10,
                mtime_ns: mtime,
                atime_ns: atime,
                ctime_ns: ctime,
                inode: 1_000_000 + number as i64,
                device: 64_769,
                link_target: None,
                blake3: Some(blake3::hash(&number.to_le_bytes()).to_hex().to_string()),
                bundle_id: None,
                header_offset: None,
                data_offset: None,
                state: FileState::Archived,
                reason: None,
                origin_id: None,
                seq: 0,
            },
            attributes: None,
        }
    }
}

/// A bundle's uuid, derived from its number (deterministic, version 4 layout).
fn bundle_uuid(number: u64) -> String {
    let digest = blake3::hash(format!("esker catalog_bench bundle {number}").as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest.as_bytes()[..16]);
    uuid::Builder::from_random_bytes(bytes).into_uuid().to_string()
}

fn rate(count: u64, elapsed: Duration) -> f64 {
    count as f64 / elapsed.as_secs_f64().max(1e-9)
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.files == 0 || args.per_bundle == 0 {
        bail!("--files and --per-bundle must be at least 1");
    }
    let (mut catalog, location, index_dir) = open_empty(&args)?;
    let backend = catalog.backend();
    let run_id = create_run(&mut catalog)?;
    let bundles = args.files.div_ceil(args.per_bundle);
    eprintln!(
        "catalog_bench: {backend}, {} files in {bundles} bundles of {} into {}",
        args.files,
        args.per_bundle,
        location.display()
    );
    let mut generator = Generator::new(args.files);
    let ingest = ingest(&mut catalog, &args, run_id, bundles, &mut generator)?;
    catalog.finish_run(run_id, RunState::Complete, 1_700_000_000 + bundles as i64)?;
    eprintln!(
        "ingest: done in {:.1} s (making the rows took another {:.1} s, not counted)",
        ingest.timed.as_secs_f64(),
        ingest.making.as_secs_f64()
    );
    let files = generator.next;
    let index_time = build_index(&mut catalog, &index_dir, files)?;
    let line = serde_json::json!({
        "backend": backend,
        "files": files,
        "ingest_seconds": (ingest.timed.as_secs_f64() * 1000.0).round() / 1000.0,
        "ingest_files_per_second": rate(files, ingest.timed).round(),
        "index_seconds": (index_time.as_secs_f64() * 1000.0).round() / 1000.0,
        "index_files_per_second": rate(files, index_time).round(),
        "bundles": bundles,
        "per_bundle": args.per_bundle,
        "dirs": generator.dirs,
        "query_selective": SELECTIVE_WORD,
        "selective_files": generator.selective,
        "query_broad": BROAD_WORD,
        "broad_files": generator.broad,
        "query_none": NO_HIT_WORD,
    });
    println!("{line}");
    Ok(())
}

/// The catalog (created and migrated, holding no runs) and the index folder (not there yet).
fn open_empty(args: &Args) -> anyhow::Result<(Catalog, CatalogLocation, PathBuf)> {
    let location = CatalogLocation::parse(&args.catalog)
        .with_context(|| format!("not a catalog URL: {}", esker_catalog::mask_password(&args.catalog)))?;
    let index_dir = args.home.join("index");
    if index_dir.exists() {
        bail!("{} exists already; give a fresh --home", index_dir.display());
    }
    std::fs::create_dir_all(&args.home).with_context(|| format!("creating {}", args.home.display()))?;
    let mut catalog = Catalog::open(&location)?;
    let existing = catalog.list_runs()?.len();
    if existing > 0 {
        bail!("the catalog {} holds {existing} runs already; give an empty one", location.display());
    }
    Ok((catalog, location, index_dir))
}

fn create_run(catalog: &mut Catalog) -> anyhow::Result<i64> {
    let roots = serde_json::to_string(&[ROOT])?;
    Ok(catalog.create_run(&NewRun {
        started_at: 1_700_000_000,
        state: RunState::Running,
        host: "bench-host",
        roots: &roots,
        roots_key: &hex::encode(ROOT),
        store: "local",
        description: "synthetic catalog benchmark",
        tags: r#"["share"]"#,
        options: "{}",
    })?)
}

/// How long the catalog calls took, and (apart) making the rows.
#[derive(Default)]
struct Ingested {
    timed: Duration,
    making: Duration,
}

/// Catalogs every bundle as `esker archive` does, reporting progress about 20 times.
fn ingest(
    catalog: &mut Catalog,
    args: &Args,
    run_id: i64,
    bundles: u64,
    generator: &mut Generator,
) -> anyhow::Result<Ingested> {
    let mut path_list = match &args.paths {
        Some(path) => Some(std::io::BufWriter::new(
            std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?,
        )),
        None => None,
    };
    let mut ingested = Ingested::default();
    let (mut reported_files, mut reported_time) = (0u64, Duration::ZERO);
    let report_every = (bundles / 20).max(1);
    for number in 0..bundles {
        let started = Instant::now();
        let bundle = make_bundle(generator, run_id, args.per_bundle as usize, path_list.as_mut())?;
        ingested.making += started.elapsed();
        let started = Instant::now();
        catalog_bundle(catalog, run_id, number, bundle)?;
        ingested.timed += started.elapsed();
        if (number + 1) % report_every == 0 || number + 1 == bundles {
            let done = generator.next;
            let (total, since) = (ingested.timed, ingested.timed - reported_time);
            eprintln!(
                "ingest: {done}/{} files, {:.1} s, {:.0} files/s (last {} files: {:.0} files/s)",
                args.files,
                total.as_secs_f64(),
                rate(done, total),
                done - reported_files,
                rate(done - reported_files, since)
            );
            (reported_files, reported_time) = (done, total);
        }
    }
    if let Some(mut list) = path_list {
        use std::io::Write;
        list.flush()?;
    }
    Ok(ingested)
}

/// One bundle's file rows with their tar offsets, its data bytes and tar size.
struct SyntheticBundle {
    rows: Vec<PendingFile>,
    data_bytes: i64,
    tar_bytes: i64,
}

fn make_bundle(
    generator: &mut Generator,
    run_id: i64,
    per_bundle: usize,
    mut path_list: Option<&mut std::io::BufWriter<std::fs::File>>,
) -> anyhow::Result<SyntheticBundle> {
    use std::io::Write;
    let mut rows = Vec::with_capacity(per_bundle);
    let (mut offset, mut data_bytes) = (0i64, 0i64);
    while rows.len() < per_bundle {
        let Some(mut file) = generator.next_file(run_id) else { break };
        // pax: extended header (512 + 512) and ustar header (512), then the data padded to 512.
        file.row.header_offset = Some(offset);
        file.row.data_offset = Some(offset + 1536);
        offset += 1536 + (file.row.size + 511) / 512 * 512;
        data_bytes += file.row.size;
        if let Some(list) = path_list.as_mut() {
            list.write_all(&file.dir_path)?;
            list.write_all(b"/")?;
            list.write_all(&file.row.name)?;
            list.write_all(b"\n")?;
        }
        rows.push(file);
    }
    Ok(SyntheticBundle { rows, data_bytes, tar_bytes: offset + 1024 + 10_240 })
}

/// What the archive pipeline does with the catalog for one bundle: the `uploading` row,
/// then the stored bundle with its files in one transaction.
fn catalog_bundle(catalog: &mut Catalog, run_id: i64, number: u64, bundle: SyntheticBundle) -> anyhow::Result<()> {
    let SyntheticBundle { mut rows, data_bytes, tar_bytes } = bundle;
    let uuid = bundle_uuid(number);
    let object_key = format!("bundles/{uuid}.tar");
    let manifest_key = format!("manifests/{uuid}.jsonl.zst");
    let bundle_blake3 = blake3::hash(uuid.as_bytes()).to_hex().to_string();
    let bundle_id = catalog.insert_bundle(&NewBundle {
        uuid: &uuid,
        run_id,
        store: "local",
        object_key: &object_key,
        storage_class: None,
        state: BundleState::Uploading,
        file_count: rows.len() as i64,
        data_bytes,
        created_at: 1_700_000_000 + number as i64,
        plan: None,
    })?;
    for file in &mut rows {
        file.row.bundle_id = Some(bundle_id);
    }
    let stored = StoredBundle {
        bundle_id,
        object_key: &object_key,
        bytes: tar_bytes,
        blake3: &bundle_blake3,
        tree_hash: None,
        manifest_key: &manifest_key,
        stored_at: 1_700_000_000 + number as i64,
    };
    catalog.record_stored_bundle(run_id, &stored, rows)?;
    Ok(())
}

/// Builds the index as `esker archive` and `esker find` do; its time.
fn build_index(catalog: &mut Catalog, index_dir: &std::path::Path, files: u64) -> anyhow::Result<Duration> {
    let report_step = (files / 10).max(1);
    let mut next_report = report_step;
    let started = Instant::now();
    let synced = esker::search::catch_up(catalog, index_dir, |count| {
        if count >= next_report {
            eprintln!("index: {count}/{files} files, {:.1} s", started.elapsed().as_secs_f64());
            next_report += report_step;
        }
    })?;
    let index_time = started.elapsed();
    if synced.indexed != files {
        bail!("indexed {} files, expected {files}", synced.indexed);
    }
    eprintln!("index: done in {:.1} s", index_time.as_secs_f64());
    Ok(index_time)
}
