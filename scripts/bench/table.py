#!/usr/bin/env python3
"""Prints one plain-text table from the measurements scripts/bench.sh recorded.

Usage: table.py RESULTS.tsv --title TEXT [--note TEXT]... --row NAME LABEL...
                [--ratio A B LABEL]... [--diff A B LABEL]...

RESULTS.tsv has one line per measured run: name, run, wall seconds, peak RSS (KiB),
payload bytes (0 = no throughput), CPU seconds of the command (user + system) and CPU
seconds of the server it talked to (`-` = not measured). For each --row the table shows
the number of runs, the median wall time and its min-max, the median throughput (payload
bytes / wall time, in MiB/s, over the runs), the median peak RSS with its min-max, and the
median CPU seconds of the command and of the server. --ratio prints the ratio of two rows'
median wall times; --diff their difference.
"""
import argparse
import statistics
import sys


def load(path):
    rows = {}
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if not line.strip():
                continue
            fields = line.rstrip("\n").split("\t") + ["-", "-"]
            name, run, wall, rss, payload, cpu, server = fields[:7]
            rows.setdefault(name, []).append({
                "wall": float(wall),
                "rss": int(rss),
                "payload": int(payload),
                "cpu": None if cpu == "-" else float(cpu),
                "server": None if server == "-" else float(server),
            })
    return rows


def seconds(value):
    return f"{value:.2f}"


def kib(value):
    return f"{value:,.0f}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results")
    parser.add_argument("--title", required=True)
    parser.add_argument("--note", action="append", default=[])
    parser.add_argument("--row", nargs=2, action="append", default=[], metavar=("NAME", "LABEL"))
    parser.add_argument("--ratio", nargs=3, action="append", default=[], metavar=("A", "B", "LABEL"))
    parser.add_argument("--diff", nargs=3, action="append", default=[], metavar=("A", "B", "LABEL"))
    args = parser.parse_args()
    data = load(args.results)

    header = ["measurement", "runs", "wall median s", "wall min-max s", "MiB/s", "peak RSS KiB", "RSS min-max KiB",
              "CPU s", "server CPU s"]
    lines = []
    medians = {}

    def median_of(runs, key):
        values = [run[key] for run in runs if run[key] is not None]
        return seconds(statistics.median(values)) if values else "-"

    for name, label in args.row:
        runs = data.get(name, [])
        if not runs:
            lines.append([label, "0"] + ["-"] * (len(header) - 2))
            continue
        walls = [run["wall"] for run in runs]
        rss = [run["rss"] for run in runs]
        rates = [run["payload"] / run["wall"] / 2**20 for run in runs if run["payload"] and run["wall"] > 0]
        medians[name] = statistics.median(walls)
        lines.append([
            label,
            str(len(runs)),
            seconds(medians[name]),
            f"{seconds(min(walls))}-{seconds(max(walls))}",
            f"{statistics.median(rates):.1f}" if rates else "-",
            kib(statistics.median(rss)),
            f"{kib(min(rss))}-{kib(max(rss))}",
            median_of(runs, "cpu"),
            median_of(runs, "server"),
        ])
    if all(line[-1] == "-" for line in lines):
        header.pop()
        lines = [line[:-1] for line in lines]
    widths = [max(len(row[col]) for row in [header] + lines) for col in range(len(header))]

    def render(row):
        cells = [row[0].ljust(widths[0])] + [cell.rjust(width) for cell, width in zip(row[1:], widths[1:])]
        return "  ".join(cells).rstrip()

    out = [args.title, "=" * len(args.title)]
    out += args.note
    if args.note:
        out.append("")
    out.append(render(header))
    out.append("  ".join("-" * width for width in widths))
    out += [render(row) for row in lines]
    extra = []
    for a, b, label in args.ratio:
        if a in medians and b in medians and medians[b] > 0:
            extra.append(f"{label}: {medians[a] / medians[b]:.2f}x (median wall {seconds(medians[a])} s / {seconds(medians[b])} s)")
    for a, b, label in args.diff:
        if a in medians and b in medians:
            extra.append(f"{label}: {medians[a] - medians[b]:+.2f} s (median {seconds(medians[a])} s - {seconds(medians[b])} s)")
    if extra:
        out.append("")
        out += extra
    sys.stdout.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
