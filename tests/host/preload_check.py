#!/usr/bin/env python3
"""Runs real programs with LD_PRELOAD=BUILD_DIR/libexo/host/libexomalloc.so and compares each
with the same run without it: a python3 workload (dicts and strings built, sorted and hashed),
`sort` of a large generated file, `git log` on this repository, and the project's host tests
when a non-sanitized binary exists (a sanitizer runtime cannot be preloaded under). Prints the
library's path, one line per check, and `preload: N passed, N failed`.

  preload_check.py BUILD_DIR
"""
import os
import random
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

PY_WORKLOAD = r"""
import hashlib, random, threading
rng = random.Random(16)
rows = [{"id": i, "name": "n%08x" % rng.getrandbits(32), "tags": [str(rng.random()) for _ in range(3)]}
        for i in range(300000)]
rows.sort(key=lambda r: (r["name"], r["id"]))
blob = "".join(r["name"] + r["tags"][0] for r in rows[::7]).encode()
def churn(seed, out):
    r = random.Random(seed)
    d = {}
    for i in range(200000):
        d[r.getrandbits(20)] = "x" * r.randrange(1, 300)
        if len(d) > 5000:
            d.pop(next(iter(d)))
    out.append(sum(len(v) for v in d.values()))
out = []
threads = [threading.Thread(target=churn, args=(s, out)) for s in range(3)]
for t in threads: t.start()
for t in threads: t.join()
print(hashlib.sha256(blob).hexdigest(), sorted(out))
"""


def run(argv, preload, **kw):
    env = dict(os.environ)
    env.pop("LD_PRELOAD", None)
    if preload:
        env["LD_PRELOAD"] = preload
    return subprocess.run(argv, env=env, capture_output=True, timeout=600, **kw)


def same_output(name, argv, lib, **kw):
    """The program's output and exit status with the library preloaded equal those without."""
    base = run(argv, None, **kw)
    test = run(argv, lib, **kw)
    ok = base.returncode == 0 and test.returncode == base.returncode and test.stdout == base.stdout
    detail = f"{len(test.stdout)} bytes of output, exit {test.returncode}"
    if not ok:
        detail += f"; without preload exit {base.returncode}; stderr: {test.stderr[-500:]!r}"
    print(f"{'PASS' if ok else 'FAIL'} {name}: {detail}", flush=True)
    return ok


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    build = os.path.abspath(sys.argv[1])
    lib = os.path.join(build, "libexo", "host", "libexomalloc.so")
    print(f"preload: library {lib}", flush=True)
    passed = failed = 0

    def count(ok):
        nonlocal passed, failed
        passed, failed = passed + bool(ok), failed + (not ok)

    if not os.path.exists(lib):
        print(f"FAIL library missing: {lib}")
        print("preload: 0 passed, 1 failed")
        return 1

    # The library is really in use: malloc_usable_size of a fresh block is a class size of ours.
    probe = run([sys.executable, "-c",
                 "import ctypes; c = ctypes.CDLL(None); c.malloc.restype = ctypes.c_void_p;"
                 "c.malloc_usable_size.argtypes = [ctypes.c_void_p];"
                 "print(c.malloc_usable_size(c.malloc(100)))"], lib)
    ok = probe.returncode == 0 and probe.stdout.strip() == b"112"
    print(f"{'PASS' if ok else 'FAIL'} exomalloc serves python3's malloc (usable size of "
          f"malloc(100): {probe.stdout.strip().decode() or probe.stderr[-300:]!r}, ours is 112)")
    count(ok)

    # Misuse ends the process with a clear message; failure sets errno = ENOMEM.
    crash = run([sys.executable, "-c",
                 "import ctypes; c = ctypes.CDLL(None); c.malloc.restype = ctypes.c_void_p;"
                 "c.free.argtypes = [ctypes.c_void_p]; p = c.malloc(64); c.free(p); c.free(p)"],
                lib)
    ok = crash.returncode == -6 and b"exomalloc: double free at 0x" in crash.stderr
    print(f"{'PASS' if ok else 'FAIL'} a double free aborts: exit {crash.returncode}, "
          f"{crash.stderr.strip().splitlines()[-1:]!r}")
    count(ok)
    nomem = run([sys.executable, "-c",
                 "import ctypes; c = ctypes.CDLL(None, use_errno=True);"
                 "c.malloc.restype = ctypes.c_void_p; c.malloc.argtypes = [ctypes.c_size_t];"
                 "p = c.malloc(1 << 62); print(p, ctypes.get_errno())"], lib)
    ok = nomem.returncode == 0 and nomem.stdout.split() == [b"None", b"12"]
    print(f"{'PASS' if ok else 'FAIL'} malloc(2^62) returns NULL with errno ENOMEM: "
          f"{nomem.stdout.strip()!r}")
    count(ok)

    count(same_output("python3 workload (300,000 dicts sorted, 3 threads of dict churn)",
                      [sys.executable, "-c", PY_WORKLOAD], lib))

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "lines.txt")
        rng = random.Random(16)
        with open(path, "w") as f:
            for i in range(1_000_000):
                f.write("%x %s\n" % (rng.getrandbits(48), "y" * rng.randrange(0, 40)))
        count(same_output("sort of a 1,000,000-line file", ["sort", "-S", "64M", path], lib,
                          cwd=tmp))
        count(same_output("python3 subprocess (fork/exec under the preload)",
                          [sys.executable, "-c",
                           "import subprocess; print(subprocess.run(['sort', '" + path +
                           "'], capture_output=True).stdout.count(b'\\n'))"], lib))

    count(same_output("git log on this repository", ["git", "-C", REPO, "log", "--stat", "-n",
                                                      "300"], lib))

    plain = os.path.join(build, "tests", "host", "host-tests-plain")
    if os.path.exists(plain):
        # Catch2's assertion count varies with thread timing: compare the verdict, not bytes.
        result = run([plain, "[alloc]"], lib)
        out = result.stdout.decode(errors="replace")
        ok = result.returncode == 0 and "All tests passed" in out
        print(f"{'PASS' if ok else 'FAIL'} host tests (host-tests-plain \"[alloc]\"): "
              f"{out.strip().splitlines()[-1] if out.strip() else result.stderr[-500:]!r}")
        count(ok)
    else:
        print("SKIP host tests: host-tests is built with ASan/UBSan and host-tests-tsan with "
              "TSan; both runtimes replace malloc themselves, so neither can run under the "
              "preload, and there is no non-sanitized host-test binary")

    print(f"preload: {passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
