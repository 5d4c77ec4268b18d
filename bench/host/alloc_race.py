#!/usr/bin/env python3
"""The allocator race: the workloads of bench/host/alloc/ under glibc, mimalloc, jemalloc, tcmalloc
and exomalloc, in one run (python3 standard library only).

Each workload program runs once per allocator and per repetition, with LD_PRELOAD naming the
allocator (none for glibc), pinned with taskset (one CPU for the one-thread workloads, two for the
two-thread ones), and prints one `ALLOC-RESULT` line. The runs are interleaved (repetition, then
workload, then allocator), so a slow moment of the machine does not land on one allocator only.
The figure of a cell is the median over the repetitions.

Prints a Markdown table (a row per workload figure, a column per allocator) and the cost of each
allocator relative to mimalloc and to glibc; writes RESULTS/host-alloc.csv in the CSV format of
libexo's exo::bench::write_csv (one row per figure and allocator, statistics over the
repetitions, mimalloc's row as the baseline) and RESULTS/host-alloc.md (the tables), which
bench/report.py puts in docs/benchmarks.md. `./exo bench host` runs it.

  alloc_race.py [--build DIR] [--results DIR] [--exomalloc PATH] [--runs N] [--quick]

Without --exomalloc it searches the build directory for libexomalloc.so; when there is none, the
exomalloc column says it was skipped (nothing is ever filled in for it).
"""
import argparse
import math
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LIBDIR = "/usr/lib/x86_64-linux-gnu"

# name -> (preloaded library or None, Debian package that ships it)
PEERS = {
    "glibc": (None, None),
    "mimalloc": (f"{LIBDIR}/libmimalloc.so.2", "libmimalloc2.0"),
    "jemalloc": (f"{LIBDIR}/libjemalloc.so.2", "libjemalloc2"),
    "tcmalloc": (f"{LIBDIR}/libtcmalloc_minimal.so.4", "libtcmalloc-minimal4"),
}
ALLOCATORS = ["glibc", "mimalloc", "jemalloc", "tcmalloc", "exomalloc"]

# workload program -> how many CPUs it is pinned to
WORKLOADS = {
    "alloc-pairs": 1,
    "alloc-larson": 2,
    "alloc-xmalloc": 2,
    "alloc-scratch": 2,
    "alloc-rss": 1,
}

PAIR_SIZES = [8, 16, 32, 64, 128, 256, 1024, 4096, 65536]
KIB_PER_MIB = 1024.0


def rss_peak(r):
    # VmHWM is the kernel's high-water mark; VmRSS read at the peak can be a little higher,
    # because the kernel folds its per-thread RSS counters in lazily. Take the larger.
    return max(r["peak_rss_kib"], r["hwm_kib"]) / KIB_PER_MIB


# The figures of the table: (row name, workload, value from its result, CSV unit, how the table
# shows it). Every value is a cost (lower is better): time per operation or memory. The table
# shows larson's and xmalloc's as millions of operations per second, the unit.
def per_op_display(ns):
    return f"{1e3 / ns:.2f} Mops/s" if ns > 0 else "-"


FIGURES = (
    [(f"pairs {s} B", "alloc-pairs", (lambda r, s=s: r[f"ns_{s}"]), "ns/pair",
      lambda v: f"{v:.1f} ns") for s in PAIR_SIZES]
    + [
        ("larson 2 threads", "alloc-larson", lambda r: r["ns_per_op"], "ns/op", per_op_display),
        ("producer/consumer", "alloc-xmalloc", lambda r: r["ns_per_op"], "ns/op",
         per_op_display),
        ("cache-scratch", "alloc-scratch", lambda r: r["seconds"] * 1e3, "ms",
         lambda v: f"{v:.1f} ms"),
        ("RSS peak", "alloc-rss", rss_peak, "MiB", lambda v: f"{v:.1f} MiB"),
        ("RSS after free", "alloc-rss", lambda r: r["rss_after_free_kib"] / KIB_PER_MIB, "MiB",
         lambda v: f"{v:.1f} MiB"),
        ("RSS after free, idle 250 ms", "alloc-rss",
         lambda r: r["rss_settled_kib"] / KIB_PER_MIB, "MiB", lambda v: f"{v:.1f} MiB"),
    ])


def say(msg):
    print(f"alloc_race: {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# Statistics, as libexo's exo::bench computes them (percentiles interpolated linearly between
# closest ranks, as numpy does by default; population standard deviation)


def percentile(sorted_values, p):
    rank = p * (len(sorted_values) - 1)
    lo = math.floor(rank)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (rank - lo)


def stats(values):
    v = sorted(values)
    mean = sum(v) / len(v)
    return {
        "count": len(v), "min": v[0], "p25": percentile(v, 0.25), "median": percentile(v, 0.5),
        "p75": percentile(v, 0.75), "mean": mean, "p95": percentile(v, 0.95),
        "p99": percentile(v, 0.99), "max": v[-1],
        "stddev": math.sqrt(sum((x - mean) ** 2 for x in v) / len(v)),
    }


# ---------------------------------------------------------------------------------------------
# Running


def allowed_cpus():
    return sorted(os.sched_getaffinity(0))


def find_exomalloc(build):
    found = []
    for dirpath, dirnames, filenames in os.walk(build):
        dirnames[:] = [d for d in dirnames if not d.endswith(".p")]  # Meson's object dirs
        if "libexomalloc.so" in filenames:
            found.append(os.path.join(dirpath, "libexomalloc.so"))
    return sorted(found)[0] if found else None


def check_preload(name, lib):
    """Fails unless the dynamic loader really maps `lib` into a program: a library it cannot
    preload is only warned about on stderr, and the program would run on glibc instead."""
    env = dict(os.environ, LD_PRELOAD=lib)
    proc = subprocess.run(["cat", "/proc/self/maps"], env=env, capture_output=True, text=True)
    real = os.path.realpath(lib)
    if proc.returncode != 0 or "cannot be preloaded" in proc.stderr or (
            real not in proc.stdout and lib not in proc.stdout):
        raise RuntimeError(f"{name}: {lib} is not preloaded: {proc.stderr.strip()}")


def parse_result(workload, stdout):
    for line in stdout.splitlines():
        fields = line.split()
        if len(fields) >= 2 and fields[0] == "ALLOC-RESULT" and fields[1] == workload:
            return {k: float(v) for k, v in (f.split("=", 1) for f in fields[2:])}
    return None


def run_once(binary, workload, lib, cpus, quick, timeout):
    env = dict(os.environ)
    env.pop("LD_PRELOAD", None)
    if lib:
        env["LD_PRELOAD"] = lib
    cmd = [binary] + (["--quick"] if quick else [])
    if cpus:
        cmd = ["taskset", "-c", ",".join(map(str, cpus))] + cmd
    try:
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, f"timed out after {timeout} s"
    if proc.returncode != 0:
        what = (f"killed by signal {-proc.returncode}" if proc.returncode < 0
                else f"exit status {proc.returncode}")
        return None, f"{what}: {proc.stderr.strip()[-300:]}"
    result = parse_result(workload, proc.stdout)
    if result is None:
        return None, f"no ALLOC-RESULT line in: {proc.stdout.strip()[-300:]}"
    return result, None


# ---------------------------------------------------------------------------------------------
# Output


def fmt3(x):
    return f"{x:.3f}"


def csv_field(text):
    if any(c in text for c in ',"\r\n'):
        return '"' + text.replace('"', '""') + '"'
    return text


def write_csv(path, rows):
    columns = ["benchmark", "unit", "count", "min", "p25", "median", "p75", "mean", "p95", "p99",
               "max", "stddev", "baseline", "ratio", "significant", "pass"]
    with open(path, "w") as f:
        f.write(",".join(columns) + "\n")
        for r in rows:
            s = r["stats"]
            cells = [csv_field(r["name"]), csv_field(r["unit"]), str(s["count"])]
            cells += [fmt3(s[k]) for k in ("min", "p25", "median", "p75", "mean", "p95", "p99",
                                           "max", "stddev")]
            b = r.get("baseline")
            if b is None:
                cells += ["", "", "", ""]
            else:
                bs = b["stats"]
                ratio = "inf" if s["median"] == 0 else fmt3(bs["median"] / s["median"])
                significant = s["p75"] < bs["p25"] or bs["p75"] < s["p25"]
                passed = s["median"] == 0 or bs["median"] / s["median"] >= 1.0
                cells += [csv_field(b["name"]), ratio, "yes" if significant else "no",
                          "yes" if passed else "no"]
            f.write(",".join(cells) + "\n")


def markdown_table(header, rows, right_from=1):
    widths = [max(len(header[i]), *(len(r[i]) for r in rows)) for i in range(len(header))]

    def line(cells):
        return "| " + " | ".join(c.rjust(w) if i >= right_from else c.ljust(w)
                                 for i, (c, w) in enumerate(zip(cells, widths))) + " |"

    delim = "|" + "|".join(("-" * (w + 1) + ":") if i >= right_from else "-" * (w + 2)
                           for i, w in enumerate(widths)) + "|"
    return "\n".join([line(header), delim] + [line(r) for r in rows]) + "\n"


def build_report(medians, columns, skipped, failed, runs, quick):
    """The Markdown of the race: figures, then cost relative to mimalloc and to glibc."""
    def cell(fig, alloc):
        name, _, _, _, show = fig
        if alloc in skipped:
            return "skipped"
        if (name, alloc) in failed:
            return "failed"
        return show(medians[(name, alloc)])

    def ratio_cell(fig, alloc, ref):
        name = fig[0]
        if alloc in skipped or ref in skipped:
            return "skipped"
        if (name, alloc) in failed or (name, ref) in failed:
            return "failed"
        ref_value = medians[(name, ref)]
        return f"{medians[(name, alloc)] / ref_value:.2f}" if ref_value > 0 else "-"

    out = []
    out.append(f"Median of {runs} run{'s' if runs != 1 else ''} per cell"
               f"{' (--quick: shorter workloads)' if quick else ''}.\n\n")
    out.append(markdown_table(["workload"] + columns,
                              [[f[0]] + [cell(f, a) for a in columns] for f in FIGURES]))
    for ref in ("mimalloc", "glibc"):
        out.append(f"\nCost relative to {ref} (time per operation, or memory; below 1.00 is "
                   f"better than {ref}):\n\n")
        others = [a for a in columns if a != ref]
        out.append(markdown_table(["workload"] + others,
                                  [[f[0]] + [ratio_cell(f, a, ref) for a in others]
                                   for f in FIGURES]))
    return "".join(out)


def goals(medians, skipped, failed):
    """The issue's goals for exomalloc, with what this run reached."""
    if "exomalloc" in skipped:
        return "Goals for exomalloc: not measured (exomalloc skipped).\n"

    def ratio(name, ref):
        if (name, "exomalloc") in failed or (name, ref) in failed:
            return None
        return medians[(name, "exomalloc")] / medians[(name, ref)]

    lines = ["Goals for exomalloc (reached in this run?):"]

    def goal(text, values, ok):
        if any(v is None for v in values):
            lines.append(f"- {text}: not measured (a run failed)")
        else:
            lines.append(f"- {text}: {'yes' if ok(values) else 'no'} "
                         f"({', '.join(f'{v:.2f}' for v in values)})")

    pairs = [f"pairs {s} B" for s in PAIR_SIZES]
    goal("pairs, time <= 1.0x mimalloc's at every size", [ratio(p, "mimalloc") for p in pairs],
         lambda v: max(v) <= 1.0)
    goal("producer/consumer, time <= 1.0x mimalloc's", [ratio("producer/consumer", "mimalloc")],
         lambda v: v[0] <= 1.0)
    goal("pairs, >= 2x faster than glibc at every size (time <= 0.50x)",
         [ratio(p, "glibc") for p in pairs], lambda v: max(v) <= 0.5)
    goal("RSS after freeing everything <= mimalloc's", [ratio("RSS after free", "mimalloc")],
         lambda v: v[0] <= 1.0)
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", default=os.path.join(ROOT, "build"),
                        help="Meson build directory (default: build/)")
    parser.add_argument("--bin-dir", help="the workload programs (default: BUILD/bench/host/alloc)")
    parser.add_argument("--results", help="where host-alloc.csv goes (default: "
                                          "BUILD/bench/results)")
    parser.add_argument("--exomalloc", help="libexomalloc.so to race (default: the first "
                                            "libexomalloc.so found under BUILD)")
    parser.add_argument("--runs", type=int, default=5, help="runs per cell, median (default 5)")
    parser.add_argument("--quick", action="store_true",
                        help="one run per cell, shorter workloads (for development)")
    parser.add_argument("--timeout", type=float, default=300, help="seconds per workload run")
    args = parser.parse_args()
    runs = 1 if args.quick else args.runs
    bin_dir = args.bin_dir or os.path.join(args.build, "bench", "host", "alloc")
    results = args.results or os.path.join(args.build, "bench", "results")

    libs, skipped = {}, set()
    for name in ALLOCATORS[:-1]:
        lib, package = PEERS[name]
        if lib is not None and not os.path.exists(lib):
            say(f"{lib} is missing: apt-get install {package} (./exo bench host installs it)")
            return 1
        libs[name] = lib
    exo = args.exomalloc or find_exomalloc(args.build)
    if exo is None or not os.path.exists(exo):
        where = (f"{args.exomalloc} does not exist" if args.exomalloc
                 else f"no libexomalloc.so under {args.build}")
        say(f"exomalloc row skipped: {where}")
        skipped.add("exomalloc")
    else:
        libs["exomalloc"] = os.path.abspath(exo)
        say(f"exomalloc: {libs['exomalloc']}")
    for name, lib in libs.items():
        if lib:
            check_preload(name, lib)
    for workload in WORKLOADS:
        if not os.access(os.path.join(bin_dir, workload), os.X_OK):
            say(f"{os.path.join(bin_dir, workload)} is missing: build first (ninja -C build)")
            return 1

    cpus = allowed_cpus()
    if len(cpus) < 2:
        say(f"only {len(cpus)} CPU allowed: the two-thread workloads run unpinned")
    racing = [a for a in ALLOCATORS if a not in skipped]
    samples = {}   # (workload, allocator) -> [result dict]
    errors = {}    # (workload, allocator) -> message
    start = time.monotonic()
    for run in range(runs):
        say(f"run {run + 1}/{runs}")
        for workload, ncpus in WORKLOADS.items():
            pin = cpus[:ncpus] if len(cpus) >= ncpus else None
            for alloc in racing:
                if (workload, alloc) in errors:
                    continue
                result, error = run_once(os.path.join(bin_dir, workload), workload, libs[alloc],
                                         pin, args.quick, args.timeout)
                if error:
                    errors[(workload, alloc)] = error
                    say(f"{workload} under {alloc} failed: {error}")
                    continue
                samples.setdefault((workload, alloc), []).append(result)
    say(f"{runs} run(s) of {len(WORKLOADS)} workloads under {len(racing)} allocators in "
        f"{time.monotonic() - start:.0f} s")
    peer_errors = [k for k in errors if k[1] != "exomalloc"]

    failed = set()
    medians, csv_rows = {}, []
    for fig in FIGURES:
        name, workload, value, unit, _ = fig
        by_alloc = {}
        for alloc in racing:
            if (workload, alloc) in errors:
                failed.add((name, alloc))
                continue
            s = stats([value(r) for r in samples[(workload, alloc)]])
            medians[(name, alloc)] = s["median"]
            by_alloc[alloc] = {"name": f"{name} {alloc}", "unit": unit, "stats": s}
        base = by_alloc.get("mimalloc")
        for alloc in racing:
            if alloc in by_alloc:
                row = by_alloc[alloc]
                if alloc != "mimalloc" and base is not None:
                    row["baseline"] = base
                csv_rows.append(row)

    report = build_report(medians, ALLOCATORS, skipped, failed, runs, args.quick)
    report += "\n" + goals(medians, skipped, failed)
    if skipped:
        report += f"\nexomalloc skipped: {where}.\n"
    for (workload, alloc), error in sorted(errors.items()):
        report += f"\n{workload} under {alloc} failed: {error}\n"
    print(report, end="")
    os.makedirs(results, exist_ok=True)
    write_csv(os.path.join(results, "host-alloc.csv"), csv_rows)
    with open(os.path.join(results, "host-alloc.md"), "w") as f:
        cmd = "./exo bench host" + (" (alloc_race.py --quick)" if args.quick else "")
        f.write(f"The allocator race (`bench/host/alloc_race.py`, from `{cmd}`): each workload "
                f"of `bench/host/alloc/` under each allocator through `LD_PRELOAD`.\n\n")
        f.write(report)
    say(f"wrote {os.path.join(results, 'host-alloc.csv')} and host-alloc.md")
    return 1 if peer_errors else 0


if __name__ == "__main__":
    sys.exit(main())
