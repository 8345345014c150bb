#!/usr/bin/env python3
"""Deterministic large files whose contents all differ: COUNT files of SIZE_MIB MiB.

Usage: scripts/bench/gen_distinct.py COUNT SIZE_MIB DIR [--seed S]

scripts/gen_tree.py --large writes files that share their bytes (every 1 MiB file is the
same), which content deduplication would store once. Here every MiB of every file starts
with its own file and block number, so no two files (and no two blocks) are identical and
every file is packed and uploaded in full. The rest of each block is pseudo-random, so it
does not compress either.
"""
import argparse
import os
import random


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("count", type=int)
    parser.add_argument("size_mib", type=int)
    parser.add_argument("dir")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    chunk = rng.randbytes(1 << 20)
    os.makedirs(args.dir, exist_ok=True)
    for index in range(args.count):
        with open(os.path.join(args.dir, f"file-{index:05d}.bin"), "wb") as handle:
            for block in range(args.size_mib):
                stamp = f"esker bench file {index} block {block}\n".encode()
                shift = (index * 7919 + block * 104729) % len(chunk)
                body = chunk[shift:] + chunk[:shift]
                handle.write(stamp + body[len(stamp):])


if __name__ == "__main__":
    main()
