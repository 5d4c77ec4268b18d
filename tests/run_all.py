#!/usr/bin/env python3
"""Runs every Exo-OS test: the Catch2 host tests (each TEST_CASE counts as one test), the SPIN
model checks (tests/model/check.py, one test per check) and the QEMU guest tests
(tests/guest/harness.py), then the console on a pseudo-terminal (tests/guest/interactive.py).
Ends with the line `N passed, N failed` over both, and
exits non-zero if anything failed.

  run_all.py BUILD_DIR [--host-only | --guest-only]
"""
import argparse
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
HOST_TEST_BINARIES = ["tests/host/host-tests", "tests/host/host-tests-tsan"]


def count_catch2(output):
    """Catch2 2.x summary: 'All tests passed (A assertions in N test cases)' or
    'test cases: N | P passed | F failed'."""
    m = re.search(r"All tests passed \(\d+ assertions? in (\d+) test cases?\)", output)
    if m:
        return int(m.group(1)), 0
    m = re.search(r"test cases:\s+(\d+) \|\s+(\d+) passed \|\s+(\d+) failed", output)
    if m:
        return int(m.group(2)), int(m.group(3))
    m = re.search(r"test cases:\s+(\d+) \|\s+(\d+) failed", output)
    if m:
        return 0, int(m.group(2))
    return None


def run_host(build_dir):
    passed = failed = 0
    for binary in HOST_TEST_BINARIES:
        path = os.path.join(build_dir, binary)
        result = subprocess.run([path, "--use-colour", "no"], capture_output=True, text=True)
        counts = count_catch2(result.stdout)
        if counts is None or (result.returncode != 0 and counts[1] == 0):
            # A crash (sanitizer report, signal) before Catch2's summary: one failure.
            counts = (0, 1)
        p, f = counts
        if f:
            sys.stdout.write(result.stdout[-20000:] + result.stderr[-20000:])
        print(f"host: {binary}: {p} passed, {f} failed", flush=True)
        passed, failed = passed + p, failed + f
    return passed, failed


def run_guest(build_dir):
    iso = os.path.join(build_dir, "iso", "exo.iso")
    proc = subprocess.Popen([sys.executable, os.path.join(HERE, "guest", "harness.py"), iso],
                            stdout=subprocess.PIPE, text=True)
    last = ""
    for line in proc.stdout:
        sys.stdout.write(line)
        sys.stdout.flush()
        last = line
    proc.wait()
    m = re.match(r"guest: (\d+) passed, (\d+) failed", last)
    if not m:
        return 0, 1
    return int(m.group(1)), int(m.group(2)) + (1 if proc.returncode and not int(m.group(2)) else 0)


def run_counted(tag, argv):
    """A script that ends with `TAG: N passed, N failed`: its counts (a crash before that line,
    or a failing exit status with no failure counted, is one failure)."""
    result = subprocess.run([sys.executable] + argv, capture_output=True, text=True, timeout=900)
    sys.stdout.write(result.stdout + result.stderr)
    m = re.search(rf"^{tag}: (\d+) passed, (\d+) failed$", result.stdout, re.M)
    if not m:
        return 0, 1
    passed, failed = int(m.group(1)), int(m.group(2))
    return passed, failed + (1 if result.returncode and not failed else 0)


def run_interactive(build_dir):
    """The console on a pseudo-terminal (tests/guest/interactive.py): one test per step."""
    iso = os.path.join(build_dir, "iso", "exo.iso")
    return run_counted("interactive", [os.path.join(HERE, "guest", "interactive.py"), iso])


def run_model():
    """SPIN model checks of the wake-up protocols (tests/model/check.py): one test per line."""
    return run_counted("model", [os.path.join(HERE, "model", "check.py")])


def run_preload(build_dir):
    """Real programs under LD_PRELOAD=libexomalloc.so (tests/host/preload_check.py)."""
    return run_counted("preload", [os.path.join(HERE, "host", "preload_check.py"), build_dir])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("build_dir")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--host-only", action="store_true")
    group.add_argument("--guest-only", action="store_true")
    args = parser.parse_args()
    passed = failed = 0
    if not args.guest_only:
        p, f = run_host(args.build_dir)
        passed, failed = passed + p, failed + f
        p, f = run_model()
        passed, failed = passed + p, failed + f
        p, f = run_preload(args.build_dir)
        passed, failed = passed + p, failed + f
    if not args.host_only:
        p, f = run_guest(args.build_dir)
        passed, failed = passed + p, failed + f
        p, f = run_interactive(args.build_dir)
        passed, failed = passed + p, failed + f
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
