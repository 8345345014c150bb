//! The path tokenizer on the kind of text the index sees: full paths of a file share.
//!
//! `cargo bench -p esker-index --bench tokenizer` (or `scripts/bench.sh micro`).

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use tantivy::tokenizer::{TokenStream, Tokenizer};

/// Paths like the ones `scripts/gen_tree.py` and `examples/catalog_bench.rs` make, plus a few
/// with camelCase, digits, accents and CJK, so every branch of the splitter runs.
fn paths() -> Vec<String> {
    let words = ["projects", "finance", "Budget", "reports", "2019", "scans", "HR", "archive", "Q3", "draft"];
    let exts = ["txt", "pdf", "xlsx", "docx", "jpg", "csv"];
    let mut paths = Vec::new();
    for index in 0..1000usize {
        let a = words[index % words.len()];
        let b = words[(index / 3) % words.len()];
        let c = words[(index / 7) % words.len()];
        let ext = exts[index % exts.len()];
        paths.push(format!("/srv/share/{a}_{}/{b}_{}/f{index:06}/{c}-{:04}.{ext}", index % 7, index % 12, index % 200));
    }
    paths.push("/srv/share/Projekte/Résumé_Müller/XMLHttpRequest-v2.3_final.docx".into());
    paths.push("/srv/share/営業部/見積書_2024年度/報告書.pdf".into());
    paths
}

fn tokenizer(criterion: &mut Criterion) {
    let paths = paths();
    let bytes: usize = paths.iter().map(String::len).sum();
    let mut group = criterion.benchmark_group("tokenizer");
    group.throughput(Throughput::Bytes(bytes as u64));
    // The splitter alone, as tantivy drives it.
    group.bench_function("split 1002 paths", |bench| {
        let mut tokenizer = esker_index::PathTokenizer::default();
        bench.iter(|| {
            let mut count = 0usize;
            for path in &paths {
                let mut stream = tokenizer.token_stream(black_box(path));
                while stream.advance() {
                    count += stream.token().text.len();
                }
            }
            count
        })
    });
    // What indexing runs: split, fold accents, lowercase.
    group.bench_function("analyze 1002 paths", |bench| {
        let mut analyzer = esker_index::analyzer();
        bench.iter(|| {
            let mut count = 0usize;
            for path in &paths {
                let mut stream = analyzer.token_stream(black_box(path));
                while stream.advance() {
                    count += stream.token().text.len();
                }
            }
            count
        })
    });
    // The convenience function queries use (builds an analyzer per call).
    group.bench_function("tokenize() 1002 paths", |bench| {
        bench.iter_batched(
            || paths.clone(),
            |paths| paths.iter().map(|path| esker_index::tokenize(path).len()).sum::<usize>(),
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(benches, tokenizer);
criterion_main!(benches);
