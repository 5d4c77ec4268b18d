#!/usr/bin/env python3
"""Model-checks the doorbell wake-up protocol (tests/model/doorbell.pml) with SPIN.

Each check generates the verifier (spin -a), compiles it (gcc) and runs it (./pan) in a
temporary directory, then prints one line:

  model: PASS doorbell (3668387 states, ...)                   a property that must hold, holds
  model: PASS doorbell-broken-release-late-finds-lost-wakeup   a deliberately wrong variant fails
                                                               with a lost wake-up, as it must

and ends with `model: N passed, N failed`; the exit status is non-zero if anything failed, or if
spin or a C compiler is missing.

  check.py [--deep] [--trail] [-j JOBS] [--only NAME...]

--deep adds the larger configurations (N = 4, TSO with N = 3, the generation rule with N = 3,
...): several minutes and up to 5 GB of memory. --trail prints SPIN's counter-example of each expected failure.
"""
import argparse
import concurrent.futures
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
MODEL = "doorbell.pml"
DEPTH = "10000"  # pan -m: far beyond the models' depth (< 500); a hit fails the check
TIMEOUT = 300     # seconds per check

# (name, -D defines, mode, expect)
#   mode "safety": invalid end states + assertions (pan -DSAFETY -DNOCLAIM)
#   mode "ltl":    the ltl formula all_consumed (pan -a)
#   expect "pass": no error in a full search; "lost": SPIN must report the lost wake-up
CHECKS = [
    # The protocol (releases before the flag) with the head-based client rule (CLIENT_RULE=1).
    ("doorbell", [], "safety", "pass"),
    ("doorbell-ltl-all-consumed", [], "ltl", "pass"),
    ("doorbell-tso-n2", ["TSO", "N=2"], "safety", "pass"),
    # RpcServer::serve's order (release at the end of the turn) with the generation rule.
    ("doorbell-generation-rule-late-release-n2", ["CLIENT_RULE=3", "RELEASE_LATE=1", "N=2"],
     "safety", "pass"),
    # An event ring that can be full: dropped doorbells, `dropped` rescans, with the fence.
    ("doorbell-small-event-ring-tso-n2", ["SMALL_EVRING", "TSO", "N=2"], "safety", "pass"),
    # What was wrong (the rule and the orders the code first had), and what the fixes fix.
    ("doorbell-spec-notify-rule-finds-lost-wakeup", ["CLIENT_RULE=0"], "safety", "lost"),
    ("doorbell-spec-notify-rule-ltl-fails", ["CLIENT_RULE=0"], "ltl", "lost"),
    ("doorbell-head-rule-late-release-finds-lost-wakeup", ["RELEASE_LATE=1"], "safety", "lost"),
    ("doorbell-small-event-ring-no-drop-fence-tso-finds-lost-wakeup",
     ["SMALL_EVRING", "TSO", "N=2", "DROP_FENCE=0"], "safety", "lost"),
    # Deliberately broken variants: the model can fail.
    ("doorbell-broken-release-late-finds-lost-wakeup", ["BROKEN=1"], "safety", "lost"),
    ("doorbell-broken-kernel-ignores-ev-head-finds-lost-wakeup", ["BROKEN=2"], "safety", "lost"),
    ("doorbell-broken-clear-all-flags-finds-lost-wakeup", ["BROKEN=3"], "safety", "lost"),
    ("doorbell-broken-no-recheck-finds-lost-wakeup", ["BROKEN=4"], "safety", "lost"),
    ("doorbell-broken-silent-drop-finds-lost-wakeup", ["BROKEN=5"], "safety", "lost"),
    ("doorbell-broken-no-fence-tso-finds-lost-wakeup", ["BROKEN=6", "TSO"], "safety", "lost"),
]
DEEP_CHECKS = [
    ("doorbell-n4", ["N=4"], "safety", "pass"),
    ("doorbell-tso-n3", ["TSO", "N=3"], "safety", "pass"),
    ("doorbell-spurious2", ["SPURIOUS=2"], "safety", "pass"),
    ("doorbell-generation-rule", ["CLIENT_RULE=3"], "safety", "pass"),
    ("doorbell-generation-rule-late-release", ["CLIENT_RULE=3", "RELEASE_LATE=1"], "safety",
     "pass"),
    ("doorbell-generation-rule-late-release-tso-n2",
     ["CLIENT_RULE=3", "RELEASE_LATE=1", "TSO", "N=2"], "safety", "pass"),
    ("doorbell-no-notify-rule-late-release", ["CLIENT_RULE=2", "RELEASE_LATE=1"], "safety",
     "pass"),
    ("doorbell-small-event-ring", ["SMALL_EVRING"], "safety", "pass"),
    ("doorbell-small-event-ring-generation-late-release-n2",
     ["SMALL_EVRING", "CLIENT_RULE=3", "RELEASE_LATE=1", "N=2"], "safety", "pass"),
    ("doorbell-small-event-ring-no-drop-fence-sc-is-blind", ["SMALL_EVRING", "DROP_FENCE=0"],
     "safety", "pass"),
    ("doorbell-broken-no-fence-sc-is-blind", ["BROKEN=6"], "safety", "pass"),
]


def run(cmd, cwd, timeout):
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout)


def final_globals(trail_text):
    """The globals at the end of a `spin -t -g` replay: {name: value}."""
    tail = trail_text.split("trail ends after", 1)[-1]
    return dict(re.findall(r"^\s+(\w+(?:\[\d+\])?) = (\d+)$", tail, re.M))


def describe_lost_wakeup(g, steps):
    rings = []
    for c in range(2):
        t, h = int(g.get(f"tail[{c}]", 0)), int(g.get(f"head[{c}]", 0))
        if t != h:
            rings.append(f"client {c} ring holds {t - h} unread (tail {t}, head {h})")
    return (f"server asleep in RingWait, {'; '.join(rings) or 'no ring non-empty'}, "
            f"{steps} steps")


def check(spin, cc, name, defines, mode, expect, want_trail):
    """Returns (ok, summary line, extra text)."""
    start = time.monotonic()
    dflags = [f"-D{d}" for d in defines]
    with tempfile.TemporaryDirectory(prefix="exo-model-") as tmp:
        shutil.copy(os.path.join(HERE, MODEL), tmp)
        gen = run([spin, *dflags, "-a", MODEL], tmp, TIMEOUT)
        if gen.returncode != 0 or not os.path.exists(os.path.join(tmp, "pan.c")):
            return False, f"spin -a failed", gen.stdout + gen.stderr
        # A full search needs the speed; a counter-example is found at once, so compile fast.
        cflags = ["-O2" if expect == "pass" else "-O0", "-w"]
        if mode == "safety":
            cflags += ["-DSAFETY", "-DNOCLAIM"]
        comp = run([cc, *cflags, "-o", "pan", "pan.c"], tmp, TIMEOUT)
        if comp.returncode != 0:
            return False, "compiling pan.c failed", comp.stdout + comp.stderr
        pan_args = ["./pan", "-m" + DEPTH]
        if expect == "pass":
            pan_args.append("-w22")  # a hash table for millions of states (default: 2^19)
        if mode == "ltl":
            pan_args += ["-a", "-N", "all_consumed"]
        try:
            res = run(pan_args, tmp, TIMEOUT)
        except subprocess.TimeoutExpired:
            return False, f"pan timed out after {TIMEOUT} s", ""
        out = res.stdout + res.stderr
        m = re.search(r"errors: (\d+)", out)
        states = re.search(r"(\d+) states, stored", out)
        secs = time.monotonic() - start
        if not m or not states:
            return False, "pan gave no result", out[-4000:]
        errors, nstates = int(m.group(1)), int(states.group(1))
        if "max search depth too small" in out:
            return False, "search depth limit reached: incomplete", out[-4000:]
        if expect == "pass":
            if errors or "Full statespace search" not in out:
                trail = ""
                if os.path.exists(os.path.join(tmp, MODEL + ".trail")):
                    trail = run([spin, *dflags, "-t", "-p", "-g", "-l", MODEL], tmp,
                                TIMEOUT).stdout
                return False, f"{errors} error(s), {nstates} states", out[-4000:] + trail[-20000:]
            return True, f"{nstates} states, {secs:.1f} s", ""
        # expect == "lost": the wrong variant must fail, and fail by a lost wake-up
        kind = ("invalid end state" if mode == "safety" else "acceptance cycle")
        if errors == 0 or kind not in out:
            return False, (f"expected a lost wake-up ({kind}), got {errors} error(s)"
                           f" in {nstates} states"), out[-4000:]
        replay = run([spin, *dflags, "-t", "-p", "-g", "-l", MODEL], tmp, TIMEOUT).stdout
        steps = re.search(r"trail ends after (\d+) steps", replay)
        g = final_globals(replay)
        if mode == "safety":
            if all(g.get(f"tail[{c}]") == g.get(f"head[{c}]") for c in range(2)):
                return False, "counter-example ends with every ring empty", replay[-20000:]
            what = describe_lost_wakeup(g, steps.group(1) if steps else "?")
        else:
            what = f"a run that never consumes everything, {steps.group(1) if steps else '?'} steps"
        return True, f"{what}, {secs:.1f} s", (replay if want_trail else "")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--deep", action="store_true", help="add the larger configurations")
    parser.add_argument("--trail", action="store_true", help="print the counter-examples")
    parser.add_argument("-j", "--jobs", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--only", nargs="+", metavar="NAME", help="run only these checks")
    args = parser.parse_args()

    spin, cc = shutil.which("spin"), shutil.which("gcc") or shutil.which("cc")
    if not spin or not cc:
        missing = "spin (apt-get install spin)" if not spin else "a C compiler (gcc)"
        print(f"model: FAIL {missing} not found: the protocol model cannot be checked",
              flush=True)
        print("model: 0 passed, 1 failed")
        return 1

    checks = CHECKS + (DEEP_CHECKS if args.deep else [])
    if args.only:
        checks = [c for c in CHECKS + DEEP_CHECKS if c[0] in args.only]
        if not checks:
            print(f"model: FAIL no check named {' '.join(args.only)}")
            print("model: 0 passed, 1 failed")
            return 1
    passed = failed = 0
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = [pool.submit(check, spin, cc, *c, args.trail) for c in checks]
        for (name, *_), future in zip(checks, futures):
            try:
                ok, summary, extra = future.result()
            except Exception as e:  # a crash of the harness itself counts as a failure
                ok, summary, extra = False, f"{type(e).__name__}: {e}", ""
            if extra:
                sys.stdout.write(extra if extra.endswith("\n") else extra + "\n")
            print(f"model: {'PASS' if ok else 'FAIL'} {name} ({summary})", flush=True)
            passed, failed = passed + ok, failed + (not ok)
    print(f"model: {passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
