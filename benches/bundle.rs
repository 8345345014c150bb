//! Hot inner pieces of `esker archive`: the bundle planner, the tar writer with offsets and
//! the SHA-256 tree hash of vault uploads.
//!
//! `cargo bench --bench bundle` (or `scripts/bench.sh micro`). The trees, files and stores
//! are left out on purpose: `scripts/bench.sh crawl archive` measures the whole command.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use esker::crawl::{Entry, Stat};
use esker_bundle::tar::{MemberHeader, MemberKind, TarWriter};
use esker_bundle::{Caps, PlanItem, Planner};
use std::hint::black_box;

/// 100,000 entries in folders of 20-200 files with sizes of 0-16 KiB (some up to 256 KiB),
/// in the shape `scripts/gen_tree.py` makes; the same every time.
fn folders() -> Vec<(PathBuf, Vec<PlanItem>)> {
    let mut seed = 42u64;
    let mut next = move || {
        // xorshift64*: deterministic and dependency-free
        seed ^= seed >> 12;
        seed ^= seed << 25;
        seed ^= seed >> 27;
        seed.wrapping_mul(0x2545_F491_4F6C_DD1D)
    };
    let mut folders = Vec::new();
    let mut made = 0;
    let mut index = 0;
    while made < 100_000 {
        let folder = Arc::new(PathBuf::from(format!("/srv/share/projects_{}/f{index:06}", index % 7)));
        let count = 20 + (next() % 181) as usize;
        let items = (0..count)
            .map(|file| {
                let size = if next() % 100 < 3 { next() % (256 << 10) } else { next() % (16 << 10) };
                let stat = Stat { size, mode: 0o644, ..Stat::zeroed() };
                PlanItem {
                    folder: folder.clone(),
                    entry: Entry {
                        name: format!("file-{file:04}.dat").into_bytes(),
                        stat,
                        link_target: None,
                        xattrs: Vec::new(),
                    },
                }
            })
            .collect::<Vec<_>>();
        made += items.len();
        folders.push((PathBuf::from("/srv/share"), items));
        index += 1;
    }
    folders
}

fn planner(criterion: &mut Criterion) {
    let folders = folders();
    let entries: usize = folders.iter().map(|(_, items)| items.len()).sum();
    let mut group = criterion.benchmark_group("planner");
    group.throughput(Throughput::Elements(entries as u64));
    group.bench_function("plan 100k entries, default caps", |bench| {
        bench.iter_batched(
            || folders.clone(),
            |folders| {
                let mut planner = Planner::new(Caps { max_files: 1000, max_size: 500 << 20 });
                let mut bundles = 0usize;
                for (group, items) in folders {
                    planner
                        .push_folder(Path::new(&group), items, &mut |bundle| bundles += black_box(bundle).items.len());
                }
                planner.finish(&mut |bundle| bundles += bundle.items.len());
                bundles
            },
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

/// Writes `count` members of `size` bytes (read into the writer's buffer, as the packer
/// does) and the end marker; returns the length, so offsets and the BLAKE3 are all computed.
fn write_tar(count: usize, size: usize, paths: &[Vec<u8>]) -> u64 {
    let mut tar = TarWriter::new(io::sink());
    for index in 0..count {
        let header = MemberHeader {
            path: &paths[index % paths.len()],
            kind: MemberKind::Regular,
            size: size as u64,
            mode: 0o644,
            uid: 1000,
            gid: 1000,
            mtime: 1_600_000_000,
            xattrs: &[],
        };
        let offsets = tar.begin_member(&header).expect("header");
        black_box(offsets);
        while tar.remaining() > 0 {
            let space = tar.data_space().expect("space");
            let length = space.len();
            space.fill(0x5a);
            tar.commit_data(length).expect("data");
        }
    }
    tar.finish().expect("finish").length
}

fn tar_writer(criterion: &mut Criterion) {
    let paths: Vec<Vec<u8>> = (0..1000)
        .map(|index| format!("srv/share/projects_{}/f{index:06}/Budget-{index:04}.xlsx", index % 7).into_bytes())
        .collect();
    let mut group = criterion.benchmark_group("tar writer");
    // Per-member cost: headers, offsets, padding and BLAKE3 of the header blocks.
    group.throughput(Throughput::Elements(1000));
    group.bench_function("1000 empty members", |bench| bench.iter(|| write_tar(1000, 0, &paths)));
    // Small files as in T1/T2 (8 KiB each), data included.
    group.throughput(Throughput::Bytes(1000 * 8192));
    group.bench_function("1000 members of 8 KiB", |bench| bench.iter(|| write_tar(1000, 8192, &paths)));
    // One large member: BLAKE3 throughput through the writer's buffer.
    group.throughput(Throughput::Bytes(64 << 20));
    group.bench_function("1 member of 64 MiB", |bench| bench.iter(|| write_tar(1, 64 << 20, &paths)));
    group.finish();
}

/// The SHA-256 tree hash of Glacier vault uploads (1 MiB leaves), streamed in 64 KiB writes
/// as the packer feeds it, and the combination of part hashes a multipart upload ends with.
fn tree_hash(criterion: &mut Criterion) {
    use esker_store::tree_hash::{TreeHasher, combine, tree_hash};
    let data: Vec<u8> = (0..64u32 << 20).map(|index| (index.wrapping_mul(2_654_435_761) >> 24) as u8).collect();
    let mut group = criterion.benchmark_group("tree hash");
    group.throughput(Throughput::Bytes(data.len() as u64));
    group.bench_function("64 MiB in one call", |bench| bench.iter(|| tree_hash(black_box(&data))));
    group.bench_function("64 MiB streamed in 64 KiB writes", |bench| {
        bench.iter(|| {
            let mut hasher = TreeHasher::new();
            for chunk in data.chunks(64 << 10) {
                hasher.update(chunk);
            }
            hasher.finish()
        })
    });
    // A 4 GiB archive of 16 MiB parts: 256 part hashes combined.
    let parts: Vec<_> = data.chunks(256 << 10).map(tree_hash).collect();
    group.throughput(Throughput::Elements(parts.len() as u64));
    group.bench_function("combine 256 part hashes", |bench| bench.iter(|| combine(black_box(&parts))));
    group.finish();
}

criterion_group!(benches, planner, tar_writer, tree_hash);
criterion_main!(benches);
