#!/usr/bin/env python3
"""Deterministic test tree: N small files in nested folders, the shape of a file share.

Usage: scripts/gen_tree.py FILES DIR [--seed S] [--large COUNT:SIZE_MIB]

Sizes are mostly 0-16 KiB with about 3% up to 256 KiB; folders hold 20-200 files and nest
up to four levels. The same arguments always give the same tree (names, sizes, bytes,
mtimes), so benchmarks compare like with like. With --large, COUNT files of SIZE_MIB each
are written instead (e.g. 20:64 for twenty 64 MiB files).
"""
import argparse
import os
import random


def small_tree(files: int, root: str, seed: int) -> None:
    rng = random.Random(seed)
    block = rng.randbytes(1 << 20)
    words = ["projects", "finance", "Budget", "reports", "2019", "2020", "scans", "HR",
             "archive", "photos", "Q3", "draft", "final", "notes", "data", "legacy"]
    exts = ["txt", "pdf", "xlsx", "docx", "jpg", "csv", "log", "dat"]
    made = 0
    folder_index = 0
    while made < files:
        depth = rng.randint(1, 4)
        parts = [f"{rng.choice(words)}_{folder_index % (7 + level * 5)}" for level in range(depth)]
        folder = os.path.join(root, *parts, f"f{folder_index:06d}")
        os.makedirs(folder, exist_ok=True)
        for index in range(min(rng.randint(20, 200), files - made)):
            size = rng.randint(0, 256 << 10) if rng.random() < 0.03 else rng.randint(0, 16 << 10)
            start = rng.randint(0, len(block) - size - 1)
            name = f"{rng.choice(words)}-{index:04d}.{rng.choice(exts)}"
            path = os.path.join(folder, name)
            with open(path, "wb") as handle:
                handle.write(block[start:start + size])
            stamp = 1_400_000_000 + rng.randint(0, 300_000_000)
            os.utime(path, (stamp, stamp))
            made += 1
        folder_index += 1


def large_files(count: int, size_mib: int, root: str, seed: int) -> None:
    rng = random.Random(seed)
    os.makedirs(root, exist_ok=True)
    chunk = rng.randbytes(1 << 20)
    for index in range(count):
        with open(os.path.join(root, f"large-{index:03d}.bin"), "wb") as handle:
            for block in range(size_mib):
                handle.write(chunk[block % 7:] + chunk[:block % 7])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", type=int)
    parser.add_argument("dir")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--large", help="COUNT:SIZE_MIB")
    args = parser.parse_args()
    if args.large:
        count, size = (int(part) for part in args.large.split(":"))
        large_files(count, size, args.dir, args.seed)
    else:
        small_tree(args.files, args.dir, args.seed)


if __name__ == "__main__":
    main()
