#!/usr/bin/env python3
"""Benchmark results -> charts and docs/benchmarks.md (python3 standard library only).

Every benchmark run leaves its tables in RESULTS (build/bench/results/): NAME.csv as written by
libexo's exo::bench::write_csv (NAME.md too when the run printed Markdown), and one SOURCE.meta.json per
run that says which tables it made, with which command, on which machine. This script draws an
SVG bar chart of each table (NAME.svg) and writes docs/benchmarks.md from those files alone, with
a copy of each chart in docs/benchmarks/. Nothing in the document is typed by hand.

  report.py docs RESULTS DOCS_DIR                         charts + DOCS_DIR/benchmarks.md
  report.py record-host RESULTS [TABLE...] [--command C]  metadata of a host run: its tables
                                                          (default: every RESULTS/host-*.csv)

bench/guest/run.py (./exo bench guest) records the guest's metadata itself and calls `docs`.
"""
import argparse
import csv
import html
import io
import json
import math
import os
import platform
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# The order of the sections in the document, and what each says about its numbers.
SOURCES = {
    "guest": {
        "title": "Guest: in-kernel benchmarks under QEMU -icount",
        "about": (
            "Measured inside the kernel (`microkernel/bench/`) with the portable runner "
            "(`libexo/include/exo/bench/`); the memory rows, raw switches and pick-next with interrupts off, the rows "
            "that go through the scheduler (yield, wake, latency) with the timer running. Under `-icount shift=0` the TSC advances by one per "
            "guest instruction, so the unit is instructions (`insns`): exact, and the same on any "
            "host and in every run (`./exo bench guest --check-repeat` boots twice and compares "
            "the CSV files byte for byte). Instruction counts are not time: a cache miss or a "
            "TLB flush costs one instruction here."),
    },
    "host": {
        "title": "Host: portable cores against baselines",
        "about": (
            "Run natively on the build machine (`bench/host/`), optimized, in nanoseconds of "
            "`CLOCK_MONOTONIC` per operation. These figures depend on the host CPU, its load and "
            "its frequency scaling: they vary from run to run and machine to machine. Compare "
            "rows of the same run (the `ratio` column), not runs."),
    },
}

NUMERIC = ["count", "min", "p25", "median", "p75", "mean", "p95", "p99", "max", "stddev"]


# ---------------------------------------------------------------------------------------------
# Machine and run metadata


def host_cpu():
    """The host CPU's model name and logical CPU count, from /proc/cpuinfo."""
    model, count = None, 0
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip()
                if key == "processor":
                    count += 1
                elif key == "model name" and model is None:
                    model = value.strip()
    except OSError:
        pass
    model = model or platform.processor() or platform.machine()
    return f"{model}, {count} logical CPUs" if count else model


def host_os():
    try:
        with open("/etc/os-release") as f:
            fields = dict(line.rstrip("\n").split("=", 1) for line in f if "=" in line)
        name = fields.get("PRETTY_NAME", "").strip('"')
    except OSError:
        name = ""
    return f"{name or platform.system()}, Linux {platform.release()}"


def first_line(cmd):
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
        return out.splitlines()[0].strip() if out else None
    except (OSError, subprocess.CalledProcessError):
        return None


def source_revision():
    """The commit measured, and whether the working tree had local changes (other than the
    generated benchmark pages themselves, which a previous bench command may have rewritten)."""
    commit = first_line(["git", "-C", ROOT, "rev-parse", "--short=12", "HEAD"])
    if commit is None:
        return None
    dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no",
                            "--", ".", ":!docs/benchmarks.md", ":!docs/benchmarks"],
                           capture_output=True, text=True).stdout.strip()
    return commit + (" with uncommitted changes" if dirty else "")


def write_meta(results, source, meta):
    meta = dict(meta, source=source, host_cpu=host_cpu(), host_os=host_os(),
                revision=source_revision())
    path = os.path.join(results, f"{source}.meta.json")
    with open(path, "w") as f:
        json.dump(meta, f, indent=2, sort_keys=True)
        f.write("\n")
    return path


def read_meta(results, source):
    path = os.path.join(results, f"{source}.meta.json")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


# ---------------------------------------------------------------------------------------------
# Tables


def read_table(path):
    """The rows of a write_csv file as dicts; numbers stay strings (exact, as printed)."""
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def markdown_from_csv(rows):
    """The Markdown table of write_markdown (libexo/core/bench/report.cpp) for a CSV's rows: the same
    columns but p25 and p75, text left-aligned, numbers right-aligned, pipes lined up."""
    columns = ["benchmark", "unit", "count", "min", "median", "mean", "p95", "p99", "max",
               "stddev", "baseline", "ratio", "significant", "pass"]
    right = set(NUMERIC) | {"ratio"}
    cells = [[(r.get(c) or "").replace("|", "\\|") for c in columns] for r in rows]
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(columns)]

    def line(values):
        return "| " + " | ".join(v.rjust(w) if c in right else v.ljust(w)
                                 for c, v, w in zip(columns, values, widths)) + " |"

    delim = "|" + "|".join(("-" * (w + 1) + ":") if c in right else "-" * (w + 2)
                           for c, w in zip(columns, widths)) + "|"
    return "\n".join([line(columns), delim] + [line(row) for row in cells]) + "\n"


# ---------------------------------------------------------------------------------------------
# Charts: horizontal bars of the median, whiskers from p25 to p75 (and a tick at min and max
# when they fall on the axis), drawn by hand as SVG.


def nice_step(span, ticks=5):
    """A step of 1, 2 or 5 times a power of ten giving about `ticks` intervals over `span`."""
    if span <= 0:
        return 1
    raw = span / ticks
    power = 10.0 ** math.floor(math.log10(raw))
    for m in (1, 2, 5):
        if m * power >= raw:
            return m * power
    return 10 * power


def fmt_number(value):
    """Milli-unit strings from the CSV, shortened: "320.000" -> "320", "12.340" -> "12.34"."""
    if "." in value:
        value = value.rstrip("0").rstrip(".")
    return value


def fmt_tick(v):
    return f"{v:g}" if v < 1e6 else f"{v:.3g}"


def render_svg(title, rows):
    """An SVG bar chart of a table's rows (dicts from read_table)."""
    font = 12
    char_w = 7.0  # average advance of a 12 px sans-serif glyph, for layout only
    label_w = int(max(len(r["benchmark"]) for r in rows) * char_w) + 16
    plot_w = 440
    value_w = 110
    bar_h, gap = 22, 12
    top, bottom = 40, 44
    width = label_w + plot_w + value_w
    height = top + len(rows) * (bar_h + gap) - gap + bottom
    units = sorted({r["unit"] for r in rows})
    med = [float(r["median"]) for r in rows]
    p25 = [float(r["p25"]) for r in rows]
    p75 = [float(r["p75"]) for r in rows]
    lo = [float(r["min"]) for r in rows]
    hi = [float(r["max"]) for r in rows]
    top_value = max(p75 + med) or 1.0
    step = nice_step(top_value * 1.05)
    axis_max = step * (int(top_value * 1.05 / step) + 1)

    def x(v):
        return label_w + plot_w * min(v, axis_max) / axis_max

    out = io.StringIO()
    w = out.write
    w(f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
      f'viewBox="0 0 {width} {height}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif" '
      f'font-size="{font}">\n')
    w(f'<rect width="{width}" height="{height}" fill="white"/>\n')
    w(f'<text x="{width / 2:.0f}" y="22" text-anchor="middle" font-size="14" '
      f'font-weight="bold">{html.escape(title)}</text>\n')
    plot_bottom = height - bottom
    # Grid and axis labels.
    t = 0.0
    while t <= axis_max + step / 2:
        gx = x(t)
        w(f'<line x1="{gx:.1f}" y1="{top - 6}" x2="{gx:.1f}" y2="{plot_bottom + 4}" '
          f'stroke="#dddddd"/>\n')
        w(f'<text x="{gx:.1f}" y="{plot_bottom + 18}" text-anchor="middle" fill="#444444">'
          f'{fmt_tick(t)}</text>\n')
        t += step
    w(f'<text x="{label_w + plot_w / 2:.0f}" y="{height - 8}" text-anchor="middle" '
      f'fill="#444444">{html.escape(", ".join(units))} per operation: bar = median, '
      f'whisker = p25 to p75, red line = min to max</text>\n')
    for i, r in enumerate(rows):
        y = top + i * (bar_h + gap)
        cy = y + bar_h / 2
        w(f'<text x="{label_w - 8}" y="{cy + 4:.1f}" text-anchor="end">'
          f'{html.escape(r["benchmark"])}</text>\n')
        w(f'<rect x="{label_w}" y="{y}" width="{max(x(med[i]) - label_w, 0.5):.1f}" '
          f'height="{bar_h}" fill="#4e79a7"/>\n')
        # p25-p75 whisker with end caps.
        x0, x1 = x(p25[i]), x(p75[i])
        w(f'<line x1="{x0:.1f}" y1="{cy:.1f}" x2="{x1:.1f}" y2="{cy:.1f}" stroke="#222222" '
          f'stroke-width="2"/>\n')
        for xx in (x0, x1):
            w(f'<line x1="{xx:.1f}" y1="{y + 5}" x2="{xx:.1f}" y2="{y + bar_h - 5}" '
              f'stroke="#222222" stroke-width="2"/>\n')
        # min to max: a thin red range line under the bar, an arrow if max is off the axis.
        ry = y + bar_h + 3
        xa, xb = x(lo[i]), x(hi[i])
        w(f'<line x1="{xa:.1f}" y1="{ry}" x2="{xb:.1f}" y2="{ry}" stroke="#e15759"/>\n')
        w(f'<line x1="{xa:.1f}" y1="{ry - 2}" x2="{xa:.1f}" y2="{ry + 2}" stroke="#e15759"/>\n')
        if hi[i] > axis_max:
            w(f'<path d="M{xb - 5:.1f},{ry - 3} L{xb:.1f},{ry} L{xb - 5:.1f},{ry + 3}" '
              f'fill="none" stroke="#e15759"/>\n')
        else:
            w(f'<line x1="{xb:.1f}" y1="{ry - 2}" x2="{xb:.1f}" y2="{ry + 2}" '
              f'stroke="#e15759"/>\n')
        w(f'<text x="{max(x(med[i]), x1) + 6:.1f}" y="{cy + 4:.1f}">{fmt_number(r["median"])} '
          f'{html.escape(r["unit"])}</text>\n')
    w('</svg>\n')
    return out.getvalue()


def render_chart(results, table, title=None):
    rows = read_table(os.path.join(results, f"{table}.csv"))
    if not rows:
        return None
    path = os.path.join(results, f"{table}.svg")
    with open(path, "w") as f:
        f.write(render_svg(title or table, rows))
    return path


# ---------------------------------------------------------------------------------------------
# docs/benchmarks.md


def rel(path, start):
    return os.path.relpath(path, start).replace(os.sep, "/")


def write_docs(results, docs_dir):
    charts_dir = os.path.join(docs_dir, "benchmarks")
    os.makedirs(charts_dir, exist_ok=True)
    out = io.StringIO()
    w = out.write
    w("# Benchmarks\n\n")
    w("<!-- Generated by bench/report.py from the files in build/bench/results/. Do not edit: "
      "rerun `./exo bench guest` or `./exo bench host`. -->\n\n")
    w("Every table and chart below is generated from the CSV files that the benchmark commands "
      "write to `build/bench/results/`. The columns are those of `libexo/include/exo/bench/report.hpp`: "
      "statistics per operation over `count` samples (min, median, mean, p95, p99, max, "
      "standard deviation); `ratio` is the baseline's median over this row's (above 1: this row "
      "is cheaper), `significant` says whether the two interquartile ranges are disjoint. The "
      "charts show the median as a bar, p25 to p75 as a whisker, min to max as a thin red line "
      "(an arrow when max is off the scale).\n")
    used_charts = set()
    for source, info in SOURCES.items():
        meta = read_meta(results, source)
        w(f"\n## {info['title']}\n\n")
        if meta is None:
            w(f"Not run yet: `./exo bench {source}` writes this section.\n")
            continue
        w(info["about"] + "\n\n")
        w(f"- Command: `{meta['command']}`\n")
        for label, key in (("Machine", "machine"), ("QEMU", "qemu_version"),
                           ("QEMU command line", "qemu_command"),
                           ("Kernel command line", "kernel_cmdline"),
                           ("Compiler", "compiler")):
            if meta.get(key):
                value = meta[key]
                w(f"- {label}: " + (f"`{value}`" if key in ("qemu_command", "kernel_cmdline")
                                    else value) + "\n")
        w(f"- Host CPU: {meta['host_cpu']}; {meta['host_os']}\n")
        if meta.get("revision"):
            w(f"- Source: commit {meta['revision']}\n")
        if meta.get("repeat"):
            w(f"- Repeatability: {meta['repeat']}\n")
        for table in meta["tables"]:
            csv_path = os.path.join(results, f"{table}.csv")
            if not os.path.exists(csv_path):
                w(f"\n### {table}\n\nMissing: {rel(csv_path, ROOT)}\n")
                continue
            rows = read_table(csv_path)
            w(f"\n### {table}\n\n")
            svg = render_chart(results, table, meta.get("titles", {}).get(table, table))
            if svg:
                shutil.copyfile(svg, os.path.join(charts_dir, f"{table}.svg"))
                used_charts.add(f"{table}.svg")
                w(f"![{table}](benchmarks/{table}.svg)\n\n")
            md_path = os.path.join(results, f"{table}.md")
            if os.path.exists(md_path):
                with open(md_path) as f:
                    w(f.read())
            else:
                w(markdown_from_csv(rows))
            w(f"\nFrom `build/bench/results/{table}.csv`.\n")
    # Charts of tables no longer produced would otherwise linger.
    for name in os.listdir(charts_dir):
        if name.endswith(".svg") and name not in used_charts:
            os.remove(os.path.join(charts_dir, name))
    path = os.path.join(docs_dir, "benchmarks.md")
    with open(path, "w") as f:
        f.write(out.getvalue())
    return path


def compiler_version():
    return first_line(["c++", "--version"])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="what", required=True)
    docs = sub.add_parser("docs", help="charts and docs/benchmarks.md")
    docs.add_argument("results")
    docs.add_argument("docs_dir")
    host = sub.add_parser("record-host", help="metadata of a host benchmark run")
    host.add_argument("results")
    host.add_argument("tables", nargs="*")
    host.add_argument("--command", default="./exo bench host")
    args = parser.parse_args()
    if args.what == "record-host":
        if not args.tables:
            args.tables = sorted(name[:-4] for name in os.listdir(args.results)
                                 if name.startswith("host-") and name.endswith(".csv"))
        write_meta(args.results, "host", {
            "command": args.command,
            "machine": "the build machine, natively (no emulation)",
            "compiler": compiler_version(),
            "tables": args.tables,
            "titles": {t: f"{t} (host, varies from run to run)" for t in args.tables},
        })
        for table in args.tables:
            render_chart(args.results, table, f"{table} (host, varies from run to run)")
        return 0
    print(f"report: wrote {rel(write_docs(args.results, args.docs_dir), os.getcwd())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
