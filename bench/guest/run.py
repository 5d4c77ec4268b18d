#!/usr/bin/env python3
"""Guest benchmark runner (`./exo bench guest`; python3 standard library only).

Boots the ISO in QEMU through iso/qemu.py with --icount (-icount shift=0: one TSC tick per guest
instruction) and the kernel command line `bench=all panic=exit` (or --benchmarks), waits for the
kernel to exit QEMU with the pass code, and cuts every table out of the serial log: the lines
strictly between `BENCH-CSV-BEGIN <table>` and `BENCH-CSV-END <table>` (and the BENCH-MD pair)
become RESULTS/guest-<table>.csv and .md. Then it draws a chart of each table and regenerates
docs/benchmarks.md (bench/report.py). It builds nothing: ./exo builds first.

--check-repeat boots twice and compares every CSV file of the two runs byte for byte: under
icount the instruction counts must be identical, and the run fails if they are not.

  run.py ISO RESULTS_DIR [--docs DOCS_DIR] [--benchmarks all] [--memory 128M] [--timeout S]
         [--check-repeat | --runs N] [--command "./exo bench guest"]
"""
import argparse
import difflib
import os
import re
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "iso"))
sys.path.insert(0, os.path.dirname(HERE))
import qemu  # noqa: E402  (iso/qemu.py: the one way to boot Exo-OS)
import report  # noqa: E402  (bench/report.py: charts and docs/benchmarks.md)

MARKER = re.compile(r"^BENCH-(CSV|MD)-(BEGIN|END) (.+)$")
# A kernel log line ("[    0.012345] info: ..."); a process's line is one of them with its name,
# which the kernel always puts first: "[    0.012345] #42 info: [bench-ring] ...".
LOG_LINE = re.compile(r"^\[\s*\d+\.\d{6}\] #\d+ (debug|info|warn|error): ")
PROCESS_LINE = re.compile(r"^\[\s*\d+\.\d{6}\] #\d+ info: \[([^\]]+)\] (.*)$")


class RunError(Exception):
    pass


def writer_and_text(line):
    """(writer, text) of a serial log line: a process's name and what it wrote, or None and the
    line as it is for the kernel's verbatim output (its own tables), or ("kernel log", line) for
    any other kernel log line."""
    m = PROCESS_LINE.match(line)
    if m:
        return m.group(1), m.group(2)
    if LOG_LINE.match(line):
        return "kernel log", line
    return None, line


def extract_blocks(log):
    """{table: {"csv": text, "md": text}} from a serial log. A block is the lines strictly
    between a BEGIN line and the END line of the same kind and name, all from the writer of the
    BEGIN line: the kernel (its verbatim lines) or one process (its prefixed lines, prefix
    removed); lines of other writers in between are not part of it. A BEGIN without its END is
    an error (the writer died mid-table)."""
    tables = {}
    open_block = None  # (writer, kind, name, lines)
    for raw in log.splitlines():
        writer, line = writer_and_text(raw.rstrip())
        m = MARKER.match(line)
        if open_block is not None:
            owner, kind, name, lines = open_block
            if writer != owner:
                continue
            if m and m.group(2) == "END" and m.group(1) == kind and m.group(3) == name:
                entry = tables.setdefault(name, {})
                if kind.lower() in entry:
                    raise RunError(f"table '{name}' printed twice ({kind})")
                entry[kind.lower()] = "".join(l + "\n" for l in lines)
                open_block = None
            else:
                lines.append(line)
            continue
        if m and m.group(2) == "BEGIN" and writer != "kernel log":
            open_block = (writer, m.group(1), m.group(3), [])
    if open_block is not None:
        raise RunError(f"BENCH-{open_block[1]}-BEGIN {open_block[2]} without its END line")
    for name, entry in tables.items():
        if "csv" not in entry:
            raise RunError(f"table '{name}' has Markdown but no CSV block")
    return tables


def file_stem(table):
    """guest-<table>, with anything but letters, digits, '-', '_' and '.' made '_'."""
    return "guest-" + re.sub(r"[^A-Za-z0-9_.-]", "_", table)


def boot(iso, kernel_cmdline, memory, timeout, log_path):
    """One boot; returns (the QEMU command, the serial log). Raises RunError unless QEMU exits
    with the pass code and the kernel printed EXO-BENCH: DONE."""
    b = qemu.boot_once(iso, kernel_cmdline, timeout, memory=memory, icount=True)
    status, log, out, elapsed, shown = b.status, b.log, b.output, b.elapsed, b.command
    with open(log_path, "w") as f:
        f.write(log)
    problem = None
    if status is None:
        problem = f"timed out after {timeout} s"
    elif status != qemu.EXIT_PASS:
        problem = f"QEMU exit status {status}, expected {qemu.EXIT_PASS} (pass)"
    elif not re.search(r"^EXO-BENCH: DONE$", log, re.MULTILINE):
        problem = "no 'EXO-BENCH: DONE' line in the serial log"
    if problem:
        raise RunError(f"{problem}; serial log in {log_path}\n---- end of the log ----\n"
                       f"{log[-4000:]}" + (f"\n---- QEMU said ----\n{out}" if out.strip() else ""))
    print(f"bench: booted and ran in {elapsed:.1f} s (serial log: {log_path})", flush=True)
    return shown, log


def display_path(path):
    path = os.path.abspath(path)
    return os.path.relpath(path, ROOT) if path.startswith(ROOT + os.sep) else path


def short_path(path):
    """A path inside the source tree relative to it, any other by its name alone (the document
    must not name one machine's temporary directories)."""
    path = os.path.abspath(path)
    return os.path.relpath(path, ROOT) if path.startswith(ROOT + os.sep) else os.path.basename(path)


def main():
    parser = argparse.ArgumentParser(description="Exo-OS guest benchmarks under QEMU -icount")
    parser.add_argument("iso")
    parser.add_argument("results", help="where the tables go (build/bench/results)")
    parser.add_argument("--docs", help="regenerate DOCS/benchmarks.md and its charts")
    parser.add_argument("--benchmarks", default="all", help="bench= value: all or NAME[,NAME]")
    parser.add_argument("--memory", default="128M")
    parser.add_argument("--timeout", type=int, default=300, help="seconds per boot")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--check-repeat", action="store_true",
                       help="boot twice; fail unless the CSV files are identical")
    group.add_argument("--runs", type=int, default=1, help="boot N times and compare")
    parser.add_argument("--command", help="the command to name in the docs")
    args = parser.parse_args()
    runs = 2 if args.check_repeat else max(1, args.runs)
    if not shutil.which("qemu-system-x86_64"):
        sys.exit("bench: qemu-system-x86_64 is missing (./exo installs it)")
    os.makedirs(args.results, exist_ok=True)
    # panic=exit: a panic ends the run at once instead of at the timeout.
    kernel_cmdline = f"bench={args.benchmarks} panic=exit"

    runs_tables = []
    try:
        for i in range(runs):
            suffix = "" if i == 0 else f"-{i + 1}"
            log_path = os.path.join(args.results, f"guest-serial{suffix}.log")
            qemu_cmd, log = boot(args.iso, kernel_cmdline, args.memory, args.timeout, log_path)
            tables = extract_blocks(log)
            if not tables:
                raise RunError(f"no BENCH-CSV block in the serial log ({log_path})")
            runs_tables.append(tables)
    except RunError as e:
        print(f"bench: FAIL: {e}", file=sys.stderr)
        return 1

    first = runs_tables[0]
    repeat_note = None
    if runs > 1:
        same = True
        for i, other in enumerate(runs_tables[1:], 2):
            for name in sorted(set(first) | set(other)):
                a, b = first.get(name, {}).get("csv", ""), other.get(name, {}).get("csv", "")
                if a != b:
                    same = False
                    print(f"bench: table '{name}' differs between run 1 and run {i}:")
                    sys.stdout.writelines(difflib.unified_diff(
                        a.splitlines(True), b.splitlines(True), f"run 1/{name}.csv",
                        f"run {i}/{name}.csv"))
        if not same:
            print("bench: FAIL: the runs gave different CSV files", file=sys.stderr)
            return 1
        rows = sum(max(0, len(t["csv"].splitlines()) - 1) for t in first.values())
        repeat_note = (f"{runs} boots gave byte-identical CSV files ({len(first)} "
                       f"table{'s' if len(first) != 1 else ''}, {rows} rows)")
        print(f"bench: repeat check passed: {repeat_note}")

    # Tables of an earlier run that this one did not print would otherwise linger.
    previous = report.read_meta(args.results, "guest")
    for table in (previous or {}).get("tables", []):
        for ext in (".csv", ".md", ".svg"):
            path = os.path.join(args.results, table + ext)
            if os.path.exists(path):
                os.remove(path)
    names = []
    for name, entry in first.items():
        stem = file_stem(name)
        names.append(stem)
        with open(os.path.join(args.results, stem + ".csv"), "w") as f:
            f.write(entry["csv"])
        if "md" in entry:
            with open(os.path.join(args.results, stem + ".md"), "w") as f:
                f.write(entry["md"])
        report.render_chart(args.results, stem, f"{name} (guest, instructions under -icount)")
        print(f"bench: {display_path(os.path.join(args.results, stem))}.csv, .md, .svg")

    qemu_version = report.first_line(["qemu-system-x86_64", "--version"])
    qemu_cmd = [short_path(a) if a == args.iso else a for a in qemu_cmd]
    report.write_meta(args.results, "guest", {
        "command": args.command or ("./exo bench guest" +
                                    (" --check-repeat" if args.check_repeat else "") +
                                    (f" --runs {runs}" if args.runs > 1 else "")),
        "machine": "QEMU pc (i440FX) machine, `-cpu max`, TCG (no KVM), "
                   f"{args.memory} RAM, 1 CPU, `{' '.join(qemu.ICOUNT_ARGS)}`",
        "qemu_version": qemu_version,
        "qemu_command": " ".join(qemu_cmd),
        "kernel_cmdline": kernel_cmdline,
        "repeat": repeat_note,
        "tables": names,
        "titles": {file_stem(n): f"{n} (guest, instructions under -icount)" for n in first},
    })
    if args.docs:
        path = report.write_docs(args.results, args.docs)
        print(f"bench: wrote {display_path(path)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
