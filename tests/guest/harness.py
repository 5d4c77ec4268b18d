#!/usr/bin/env python3
"""Guest test harness: boots the ISO in QEMU once per test with a test command line, reads the
serial log, and judges the run. A test passes only when QEMU's exit status is the expected one
AND every expected marker is in the log; a timeout, a triple fault (-no-reboot ends QEMU with
status 0), an unexpected panic or a quiet shutdown is a failure. The log of a failed test is
printed.

  harness.py ISO [--jobs N] [--filter SUBSTRING] [--list]
"""
import argparse
import os
import re
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "iso"))
import qemu  # noqa: E402  (iso/qemu.py: the one way to boot Exo-OS)
import terminal  # noqa: E402  (tests/guest/terminal.py: the log as a terminal shows it)

MiB = 1 << 20


@dataclass
class GuestTest:
    name: str
    cmdline: str
    expect_exit: int = qemu.EXIT_PASS
    markers: list = field(default_factory=list)  # regexes that must all match the log
    memory: str = "128M"
    uefi: bool = False
    smp: int = 1
    timeout: int = 60
    check: object = None  # optional fn(log) -> error string or None


def usable_memory_check(ram_bytes, above_4g):
    """The kernel's usable total must be the RAM QEMU gave it less the firmware's holes
    (SeaBIOS keeps < 2 MiB), and RAM past the PCI hole must appear above 4 GiB."""
    def check(log):
        m = re.search(r"memory: (\d+) KiB usable, highest usable address 0x([0-9a-f]+)", log)
        if not m:
            return "no 'memory: N KiB usable' line"
        usable, highest = int(m.group(1)) * 1024, int(m.group(2), 16)
        if not ram_bytes - 2 * MiB <= usable <= ram_bytes:
            return f"usable memory {usable} bytes, expected within 2 MiB below {ram_bytes}"
        if above_4g and highest <= 1 << 32:
            return f"highest usable address 0x{highest:x}, expected RAM above 4 GiB"
        if not above_4g and highest > ram_bytes:
            return f"highest usable address 0x{highest:x} beyond the {ram_bytes}-byte RAM"
        return None
    return check


def accounting_check(ram_bytes, above_4g):
    """The memory map's usable total and the kernel's split of it into free, allocated and
    reserved must agree, and the reserved part must stay small (low MiB, image, metadata)."""
    usable_check = usable_memory_check(ram_bytes, above_4g)

    def check(log):
        error = usable_check(log)
        if error:
            return error
        m = re.search(r"memory: usable (\d+) KiB = free (\d+) KiB \+ allocated (\d+) KiB "
                      r"\+ reserved (\d+) KiB", log)
        if not m:
            return "no 'memory: usable = free + allocated + reserved' line"
        usable, free, allocated, reserved = (int(g) for g in m.groups())
        if free + allocated + reserved != usable:
            return f"free {free} + allocated {allocated} + reserved {reserved} != usable {usable} KiB"
        metadata = ram_bytes // 4096 * 12 // 1024 * 5 // 4  # span may exceed RAM (holes)
        # The boot modules (the ring-3 programs) stay where GRUB put them: init reads them.
        mods = re.search(r"memory: reserved: .* modules (\d+) KiB", log)
        modules = int(mods.group(1)) if mods else 0
        if reserved > 2048 + metadata + modules:
            return (f"reserved {reserved} KiB, more than 2 MiB + buddy metadata ({metadata} KiB) "
                    f"+ modules ({modules} KiB)")
        return None
    return check


BACKTRACE_LINE = r"#\d+\s+0x[0-9a-f]{16} "
REGISTERS = [r"registers:", r"rax=[0-9a-f]{16} rbx=", r"rip=[0-9a-f]{16} rflags=",
             r"cr0=[0-9a-f]{16} cr2=", r"backtrace:", r"exo: kernel panic, system halted"]

# A boot of init with `init=once`: it starts the manifest's servers (hello), waits for them, and
# the kernel checks that every byte init was given came back.
INIT = [r"\[hello\] hello: done \(Ok\)", r"init: all servers ended; every quota came back",
        r"info: root: 'init' exited \(code 0", r"info: root: all memory returned"]
# A ring-3 test program run as the root process (root=NAME): its own summary, then the kernel's
# checks of its exit and of memory.
def user_markers(name):
    return [rf"\[{name}\] {name}: all \d+ checks passed", rf"info: root: '{name}' exited \(code 0",
            r"info: root: all memory returned"]


def reclaim_bound_check(cpus):
    """The kernel's peak of exited threads waiting for a reaper stays within 8 per CPU."""
    def check(log):
        m = re.search(r"info: root: at most (\d+) exited threads awaited a reaper at once "
                      r"\((\d+) CPUs\)", log)
        if not m:
            return "no 'root: at most N exited threads awaited a reaper' line"
        peak, bound = int(m.group(1)), int(m.group(2))
        if bound != cpus or peak > 8 * bound or peak == 0:
            return f"{peak} exited threads awaited a reaper at once; expected 1 to {8 * cpus}"
        return None
    return check


# How long a client of a server that faults may take to read Closed: from the server's "crashing
# at" line to each client's "Closed at" line, in guest time.
kClosedBoundMs = 200


def isolation_check(log):
    """The probing child got the same addresses as the filling one and saw none of its bytes."""
    filled = re.search(r"malloc-child: filled \d+ blocks from (0x[0-9a-f]+)", log)
    probed = re.search(r"malloc-child: probed \d+ blocks from (0x[0-9a-f]+): 0 bytes", log)
    if not filled or not probed:
        return "no fill and clean probe lines from malloc-child"
    if filled.group(1) != probed.group(1):
        return f"the heaps started at different addresses: {filled.group(1)} and {probed.group(1)}"
    return None


def supervision_check(clients, bound_ms):
    """Every supervised client answered its 1,000 requests after reconnecting, each saw the
    crashed server's rings Closed within `bound_ms`, and both ungranted clients were refused."""
    def check(log):
        crash = re.findall(r"echo-server: crashing at (\d+) ns", log)
        if len(crash) != 1:
            return f"{len(crash)} 'echo-server: crashing at' lines, expected 1"
        closed = [int(t) for t in re.findall(r"echo-client \d+: Closed at (\d+) ns", log)]
        if len(closed) < clients + 1:
            return f"{len(closed)} clients read Closed, expected {clients + 1}"
        worst = (max(closed) - int(crash[0])) / 1e6
        if worst > bound_ms or min(closed) < int(crash[0]):
            return f"a client read Closed {worst:.1f} ms after the crash, bound {bound_ms} ms"
        done = re.findall(r"echo-client \d+: at least 1000 checked requests answered, (\d+) "
                          r"reconnections", log)
        if len(done) != clients or any(int(r) != 1 for r in done):
            return f"supervised clients finished {done}, expected {clients} with 1 reconnection"
        refused = re.findall(r"connecting to 'echo' without the grant: AccessDenied", log)
        if len(refused) != 2:
            return f"{len(refused)} ungranted clients refused, expected 2"
        return None
    return check


def forgery_check(log):
    """syscall-test writes a line imitating the kernel through a Log capability minted with the
    badge that once meant "verbatim": it must come out once, as one line behind its name."""
    lines = [l for l in log.splitlines() if "EXO-FORGED-LINE" in l]
    good = [l for l in lines if re.match(
        r"^\[\s*\d+\.\d{6}\] #\d+ info: \[syscall-test\] root: EXO-FORGED-LINE \(code 0\)\.\[", l)]
    if len(lines) != 1 or len(good) != 1:
        return f"the forged line came out as {lines!r}, expected one line behind [syscall-test]"
    return None


# ---- The console (servers/console, docs/console.md), driven through autorun= ------------------

def console_output(log, command):
    """The lines the console printed for each run of `command` (the lines after its `exo> `
    echo up to the next prompt, log lines left out), one list per run."""
    runs, current = [], None
    for line in log.splitlines():
        if line.startswith("exo> "):
            current = [] if line[5:] == command else None
            if current is not None:
                runs.append(current)
        elif current is not None and not line.startswith("["):
            current.append(line)
    return runs


def ps_table(lines):
    """ps rows by name: id, state, threads, used and limit KiB, restarts (None for '-')."""
    rows = {}
    for line in lines[1:]:
        f = line.split()
        if len(f) != 6 or not f[0].isdigit():
            continue
        used, limit = (int(x) for x in f[4].split("/"))
        rows.setdefault(f[1], []).append({"id": int(f[0]), "state": f[2], "threads": int(f[3]),
                                          "used": used, "limit": limit,
                                          "restarts": None if f[5] == "-" else int(f[5])})
    return rows


def console_report_check(log):
    """ps, caps and mem against the manifest and the kernel's own accounting."""
    ps = console_output(log, "ps")
    caps = console_output(log, "caps console")
    mem = console_output(log, "mem")
    if len(ps) != 1 or len(caps) != 1 or len(mem) != 1:
        return f"ps, caps console and mem printed {len(ps)}, {len(caps)} and {len(mem)} times"
    table = ps_table(ps[0])
    for name, limit in (("init", None), ("console", 1024), ("echo-server", 2048)):
        rows = table.get(name, [])
        if len(rows) != 1 or rows[0]["state"] != "running" or rows[0]["threads"] < 1:
            return f"ps shows {name} as {rows}, expected one running process"
        r = rows[0]
        if not 0 < r["used"] <= r["limit"] or (limit and r["limit"] != limit):
            return f"ps: {name} uses {r['used']} of {r['limit']} KiB (manifest: {limit})"
    root = re.search(r"root: started 'init' \(id 1\), quota (\d+) KiB", log)
    if not root or table["init"][0]["limit"] != int(root.group(1)) or table["init"][0]["id"] != 1:
        return f"ps shows init's quota {table['init'][0]['limit']} KiB, the kernel gave it " \
               f"{root.group(1) if root else '?'}"
    if table["init"][0]["restarts"] is not None or table["console"][0]["restarts"] != 0:
        return "ps: init's restarts should be '-' and the console's 0"
    rows = {}
    for line in caps[0]:
        f = line.split()
        if len(f) == 6 and f[0].isdigit():
            rows[int(f[0])] = f[1:]
    want = {5: ["IoPorts", None, "0x0", "0x3f8", "0x8"], 6: ["Irq", None, "0x0", "0x4", "0x1"],
            11: ["System", "r----m", "0x0", "0x0", "0x0"],
            3: ["Memory", None, "0x0", "0x0", hex(1024 * 1024)]}
    for slot, fields in want.items():
        got = rows.get(slot)
        if not got or any(w is not None and w != g for w, g in zip(fields, got)):
            return f"caps console: slot {slot} is {got}, expected {fields}"
    text = "\n".join(mem[0])
    usable = re.search(r"^usable: (\d+) KiB$", text, re.M)
    blocks = re.search(r"^free: (\d+) KiB in blocks$", text, re.M)
    cached = re.search(r"^free: (\d+) KiB in per-CPU page caches$", text, re.M)
    free = re.search(r"^free: (\d+) KiB$", text, re.M)
    boot = re.search(r"memory: usable (\d+) KiB = free \d+ KiB \+ allocated \d+ KiB \+ "
                     r"reserved (\d+) KiB", log)
    if not (usable and blocks and cached and free and boot):
        return "mem: a line is missing (usable, free in blocks, cached, free)"
    orders = [l.split() for l in mem[0] if re.match(r"^\s*\d+\s+\d+\s+\d+\s+\d+$", l)]
    if len(orders) != 11 or any(int(o[1]) != 4 << int(o[0]) or int(o[3]) != int(o[1]) * int(o[2])
                                for o in orders):
        return f"mem: the order table is wrong: {orders}"
    if sum(int(o[3]) for o in orders) != int(blocks.group(1)):
        return "mem: the orders do not add up to 'free in blocks'"
    if int(blocks.group(1)) + int(cached.group(1)) != int(free.group(1)):
        return "mem: free in blocks + cached != free"
    if int(usable.group(1)) != int(boot.group(1)) - int(boot.group(2)):
        return f"mem: usable {usable.group(1)} KiB, the kernel's boot accounting says " \
               f"{int(boot.group(1)) - int(boot.group(2))}"
    if not int(free.group(1)) < int(usable.group(1)):
        return "mem: more free than usable"
    return None


def malloc_command_check(log):
    """`malloc` lists one heap, the 16 small bins, and malloc-child's heap with its spans."""
    out = console_output(log, "malloc")
    if len(out) != 1:
        return f"malloc printed {len(out)} times"
    lines = out[0]
    if not re.match(r"^memsrv: 1 heap \(1 attached since start\), 0 faults refused$", lines[0]):
        return f"malloc's first line: {lines[0]!r}"
    bins = [l.split() for l in lines if re.match(r"^\s*\d+\s+\d+\s+\d+\s+\d+\s+\d+$", l)]
    sizes = [int(b[0]) for b in bins]
    if sizes[:16] != list(range(8, 129, 8)):
        return f"malloc: the small bins are {sizes[:16]}"
    # malloc(1000) is the 1024 B class: its spans hold the child's blocks.
    row = [b for b in bins if b[0] == "1024"]
    if not row or int(row[0][1]) == 0 or int(row[0][3]) < 100 or \
            int(row[0][4]) != int(row[0][3]) * 1024 or int(row[0][3]) > int(row[0][2]):
        return f"malloc: the 1024 B class is {row}"
    heaps = [l.split() for l in lines if re.match(r"^\d+\s+\d+\s+\d+\s+\d+\s+\d+\s+\d+\s+\d+$", l)]
    if len(heaps) != 1 or int(heaps[0][3]) == 0 or int(heaps[0][1]) < int(heaps[0][2]):
        return f"malloc: the heap rows are {heaps}"
    return None


def restart_check(log):
    """`ps; kill echo-server; sleep 300; ps`: the second ps shows a new echo-server process,
    running, with one restart."""
    runs = console_output(log, "ps")
    if len(runs) != 2:
        return f"ps ran {len(runs)} times, expected 2"
    before, after = (ps_table(r).get("echo-server", []) for r in runs)
    if len(before) != 1 or len(after) != 1:
        return f"echo-server rows: {before} then {after}"
    if before[0]["restarts"] != 0 or after[0]["restarts"] != 1 or \
            after[0]["id"] == before[0]["id"] or after[0]["state"] != "running":
        return f"echo-server before the kill {before[0]}, after {after[0]}"
    return None


FLOOD_LINE = re.compile(r"^\[\s*\d+\.\d{6}\] #\d+ info: \[log-flood\] log-flood (\d+): "
                        r"line (\d+) of (\d+)(.*)$")


def flood_check(lines_each):
    """Two log-flood programs' lines, printed by the console: every one once, whole and in
    order, the forgery attempts inside their own lines (sequence_check does the numbers)."""
    def check(log):
        seen = {}
        for line in log.splitlines():
            if "[log-flood]" not in line:
                continue
            m = FLOOD_LINE.match(line)
            if not m:
                if re.search(r"log-flood \d+: done$", line):
                    continue
                return f"a split or garbled line: {line!r}"
            pid, i, total, rest = int(m.group(1)), int(m.group(2)), int(m.group(3)), m.group(4)
            forged = f".[    0.000001] #1 info: root: forged by {pid}"
            if total != lines_each or rest != (forged if i % 100 == 99 else ""):
                return f"line {i} of process {pid} is {line!r}"
            seen.setdefault(pid, []).append(i)
        if len(seen) != 2:
            return f"lines of {len(seen)} flooding processes, expected 2"
        for pid, got in seen.items():
            if got != list(range(lines_each)):
                missing = sorted(set(range(lines_each)) - set(got))
                return f"process {pid}: {len(got)} lines, {len(missing)} missing " \
                       f"(first {missing[:3]}), in order: {got == sorted(got)}"
        if re.search(r"^\[\s*0\.000001\]", log, re.M):
            return "a forged line starts a line of the log"
        if "lines dropped" in log:
            return "the kernel dropped log lines"
        if len(re.findall(r"log-flood \d+: done$", log, re.M)) != 2:
            return "not both flooders said done"
        return None
    return check


CONSOLE_AUTORUN = "init=manifest=console-manifest autorun="

TESTS = [
    GuestTest("ready-bios", "init=once shutdown", markers=[r"Exo-OS \S+ - x86-64", r"^exo: ready$"] + INIT),
    GuestTest("ready-uefi", "init=once shutdown", uefi=True,
              markers=[r"^exo: ready$", r"acpi: RSDP revision 2"] + INIT),
    GuestTest("boot-info-64M", "test=boot", memory="64M", markers=[r"EXO-TEST: boot PASS"],
              check=usable_memory_check(64 * MiB, False)),
    GuestTest("boot-info-512M", "test=boot", memory="512M", markers=[r"EXO-TEST: boot PASS"],
              check=usable_memory_check(512 * MiB, False)),
    GuestTest("boot-info-4G", "test=boot", memory="4G", markers=[r"EXO-TEST: boot PASS"],
              check=usable_memory_check(4096 * MiB, True)),
    GuestTest("panic-report", "test=panic", expect_exit=qemu.EXIT_PANIC,
              markers=[r"PANIC: deliberate panic requested by test=panic",
                       r"at \S*boot_selftests\.cpp:\d+"] + REGISTERS +
              [BACKTRACE_LINE + r"mk::selftest::.*panic_on_purpose\(\)\+0x",
               BACKTRACE_LINE + r"mk::selftest::deliberate_panic\(",
               BACKTRACE_LINE + r"mk::.*continue_boot\(\)"]),
    GuestTest("exception-report", "test=fault", expect_exit=qemu.EXIT_PANIC,
              markers=[r"PANIC: CPU exception 6 \(invalid opcode\)"] + REGISTERS +
              [BACKTRACE_LINE + r"mk::selftest::.*execute_invalid_opcode\(\)"]),
    GuestTest("assert-report", "test=assert", expect_exit=qemu.EXIT_PANIC,
              markers=[r"PANIC: assertion `.*` failed: deliberate assertion failure",
                       r"at \S*boot_selftests\.cpp:\d+", BACKTRACE_LINE + r"mk::selftest::failed_assertion"]),
    GuestTest("memory-64M", "test=memory", memory="64M", markers=[r"EXO-TEST: memory PASS"],
              check=accounting_check(64 * MiB, False)),
    GuestTest("memory-512M", "test=memory", memory="512M", markers=[r"EXO-TEST: memory PASS"],
              check=accounting_check(512 * MiB, False)),
    GuestTest("memory-4G", "test=memory", memory="4G", markers=[r"EXO-TEST: memory PASS"],
              check=accounting_check(4096 * MiB, True), timeout=120),
    GuestTest("kernel-heap", "test=heap", memory="128M",
              markers=[r"EXO-TEST: heap PASS", r"heap: heap-16 .* per slab\)",
                       r"selftest heap: \d+ blocks of 2048 bytes before NoMemory"]),
    GuestTest("wx-kernel-text", "test=wx-text", expect_exit=qemu.EXIT_PANIC,
              markers=[r"PANIC: page fault: kernel write 0xffffffff8[0-9a-f]+ "
                       r"\(error code 0x3: protection violation\)"] + REGISTERS +
              [BACKTRACE_LINE + r"mk::selftest::write_kernel_text\("]),
    GuestTest("wx-heap-exec", "test=wx-heap", expect_exit=qemu.EXIT_PANIC,
              markers=[r"PANIC: page fault: kernel execute 0xffff8000[0-9a-f]+ "
                       r"\(error code 0x11: protection violation\)"] + REGISTERS),
    GuestTest("kernel-stack-overflow", "test=stack-overflow", expect_exit=qemu.EXIT_PANIC,
              markers=[r"PANIC: kernel stack overflow: guard page hit at 0xffffff00[0-9a-f]+ "
                       r"\(double fault\)"] + REGISTERS +
              [BACKTRACE_LINE + r"mk::selftest::.*recurse_forever"]),
    *[GuestTest(f"{name}-smp{n}", f"test={name}", smp=n, timeout=120,
                markers=[rf"EXO-TEST: {name} PASS"] + extra)
      for n in (1, 4)
      for name, extra in (
          # 10,000 kernel threads created and exited; every frame back to the buddy
          ("threads", [r"threads: 10000 created and exited .* free memory (\d+) KiB before, \1 KiB after"]),
          # two never-yielding threads on one CPU both progress in every interval
          ("preempt", [r"preempt: interval 4: spinner A [1-9]\d*, spinner B [1-9]"]),
          # xmm0-15 survive switches to threads that overwrite them
          ("fpu", [r"fpu: 4 threads x 200 rounds, registers intact"]),
          # every CPU runs pinned and unpinned work
          ("smp", [rf"smp: {n} CPUs online; unpinned workers ran on CPU mask 0x{(1 << n) - 1:x}\b"]),
          # sleep, wait timeout and wake-up
          ("sleep", [r"sleep: 20 ms sleep took \d+ us; timeout and wake-up both delivered"]),
      )],
    GuestTest("smp-8-cpus-boot", "init=once shutdown", smp=8, timeout=120,
              markers=[r"smp: 8 of 8 CPUs online", r"^exo: ready$"] + INIT),
    GuestTest("smp-2-cpus-boot", "init=once shutdown", smp=2,
              markers=[r"smp: 2 of 2 CPUs online", r"^exo: ready$"] + INIT),
    *[GuestTest(f"user-{kind}-smp{n}", f"root={kind}-test shutdown", smp=n, timeout=120,
                markers=user_markers(f"{kind}-test"),
                check=forgery_check if kind == "syscall" else None)
      for kind in ("syscall", "fault", "ring") for n in (1, 4)],
    # A capability revoked in flight; an exit-heavy child beside one spinning process per CPU:
    # its quota exact after each thread's end, few exited threads waiting at once, every byte
    # back.
    *[GuestTest(f"user-reclaim-smp{n}", f"root=reclaim-test init={n} shutdown", smp=n, timeout=300,
                markers=user_markers("reclaim-test") +
                [r"reclaim-test: capabilities revoked in flight were skipped; the queue took 16 more",
                 r"churn-child: 2000 threads started and ended \(2000 ran\).* 0 refused starts, 0 "
                 r"wrong; quota (\d+) bytes before, \1 after"],
                check=reclaim_bound_check(n))
      for n in (1, 4)],
    # One echo-server, 64 client processes of 1,000 checksummed requests each, four hostile or
    # odd clients dropped, and no wake-up of the idle server in 100 ms.
    *[GuestTest(f"user-servers-smp{n}", f"root=server-test init=64 shutdown", smp=n, timeout=300,
                markers=user_markers("server-test") +
                [r"server-test: 64 clients made 1000 checked requests each and all were answered",
                 r"server-test: idle for \d+ ms, the server was woken 0 times",
                 r"server-test: 64 more clients; the server's quota use (\d+) bytes before, \1 after"])
      for n in (1, 4)],
    # init supervises: a server killed mid-stream (its clients read Closed within the bound,
    # reconnect and finish), a server that faults at every start given up after 2 restarts, and
    # clients without the grant refused.
    *[GuestTest(f"user-supervise-smp{n}", "init=once,manifest=supervise-manifest shutdown", smp=n,
                timeout=300,
                markers=[r"init: all servers ended; every quota came back",
                         r"info: root: 'init' exited \(code 0", r"info: root: all memory returned",
                         r"init: 'echo-server:echo' faulted: vector 14",
                         r"init: restarting 'echo-server:echo' \(restart 1\)",
                         r"init: 'echo-server:crashy' ended 3 times, more than restarts=2 within "
                         r"60000 ms: given up; its services are unavailable",
                         r"echo-client \d+: 'crashy' is Unavailable: its server was given up",
                         r"echo-client \d+: the restarted server answered 200 more requests"],
                check=supervision_check(8, kClosedBoundMs))
      for n in (1, 4)],
    # init's control requests: a program with `control` lists the programs, kills echo-server
    # (supervision restarts it, counted) and restarts it on request (not counted); programs
    # without `control` are refused.
    *[GuestTest(f"user-control-smp{n}", "init=once,manifest=control-manifest shutdown", smp=n,
                timeout=120,
                markers=[r"\[control-client\] control-client: all \d+ checks passed",
                         r"control-denied: all 3 checks passed",
                         r"init: 'echo-server:echo' killed on request",
                         r"init: restarting 'echo-server:echo' \(restart 1\)",
                         r"init: restarting 'echo-server:echo' on request",
                         r"init: all servers ended; every quota came back",
                         r"info: root: 'init' exited \(code 0", r"info: root: all memory returned"],
                check=lambda log: None if len(re.findall(r"control-denied: all 3 checks passed",
                                                         log)) == 2
                else "expected 2 'control-denied: all 3 checks passed' lines")
      for n in (1, 4)],
    # libexo's malloc over memsrv (docs/memsrv.md): the malloc family, 1,000,000 random
    # operations, heaps that cannot see each other, misuse that ends only the misuser, a killed
    # client's quota back in full, memsrv killed and started again.
    *[GuestTest(f"user-malloc-smp{n}", "root=malloc-test shutdown", smp=n, timeout=300,
                markers=user_markers("malloc-test") + [
                    r"malloc: double free of 0x[0-9a-f]+: ending the process",
                    r"malloc: double free of 0x[0-9a-f]+ \(found by memsrv\): ending the process",
                    r"malloc: free of a pointer into the middle of an object of 0x[0-9a-f]+: ending",
                    r"malloc: free of a pointer this heap does not own of 0x[0-9a-f]+: ending",
                    r"malloc: corrupted free-list link \(write after free\) of 0x[0-9a-f]+: ending",
                    r"malloc-test: 5 misusing children ended alone; memsrv runs",
                    r"malloc-test: a child killed with \d+ blocks in its heap .*: 0 bytes of its "
                    r"quota still charged",
                    r"malloc: memsrv went away; the next allocation connects again",
                    r"malloc-test: memsrv restarted: 200 old blocks intact"],
                check=isolation_check)
      for n in (1, 4)],
    GuestTest("user-fuzz-smp1", "root=fuzz-test init=1 shutdown", timeout=300,
              markers=user_markers("fuzz-test") + [r"fuzz: 100000 syscalls, seed 1:"]),
    GuestTest("user-fuzz-smp4", "root=fuzz-test init=20261124 shutdown", smp=4, timeout=300,
              markers=user_markers("fuzz-test") + [r"fuzz: 100000 syscalls, seed 20261124:"]),
    # The console: ps, caps and mem checked against the manifest and the kernel's accounting, a
    # registered command, an unknown command (the run's status counts it), kill then ps shows
    # the restart, shutdown 3 ends the run with 3, two processes flooding the log while the
    # console prints it, and an idle console never woken.
    *[GuestTest(f"console-autorun-smp{n}",
                CONSOLE_AUTORUN + '"ps; caps console; mem; echo hi there; version; uptime"',
                smp=n, expect_exit=qemu.shutdown_status(0), timeout=120,
                markers=[r"^console: autorun: 6 commands, 0 failed$", r"^exo> echo hi there\nhi there$",
                         r"^Exo-OS \d+\.\d+\.\d+$", r"^up \d+\.\d{3} s$"],
                check=console_report_check)
      for n in (1, 4)],
    # memsrv's console command: its heaps, the 16 small bins, the heap malloc-child filled.
    GuestTest("console-malloc", CONSOLE_AUTORUN + '"sleep 300; malloc"',
              expect_exit=qemu.shutdown_status(0), timeout=120,
              markers=[r"^console: autorun: 2 commands, 0 failed$",
                       r"\[malloc-child\] malloc-child: heap full after \d+ blocks of 1000 bytes"],
              check=malloc_command_check),
    GuestTest("console-unknown-command", CONSOLE_AUTORUN + '"version; frobnicate 1 2; uptime"',
              expect_exit=qemu.shutdown_status(1), timeout=120,
              markers=[r"^exo> frobnicate 1 2\nconsole: unknown command 'frobnicate' \(try help\)$",
                       r"^console: autorun: 3 commands, 1 failed$"]),
    # A registrant that breaks the protocol: only its own command's text is shown (escapes as
    # '.'), a lying length, another id and anything after Done are dropped, and the console
    # goes on (the failed command counted).
    GuestTest("console-hostile-registrant",
              CONSOLE_AUTORUN + '"hostile; version; echo still here"',
              expect_exit=qemu.shutdown_status(1), timeout=120,
              markers=[r"Register 'Bad': InvalidArgument", r"Register 'help': AlreadyExists",
                       r"Register 'a-word-far-too-long-for-it': InvalidArgument",
                       r"Register 'hostile': Ok", r"^exo> hostile\n\.\[2J evil$",
                       r"^hostile line 299$", r"^exo> echo still here\nstill here$",
                       r"^console: autorun: 3 commands, 1 failed$"],
              check=lambda log: "a record the console should have dropped was shown"
              if re.search(r"LIE|NOT-MINE|AFTER-DONE", log) else
              (None if len(re.findall(r"^hostile line \d+$", log, re.M)) == 300
               else "not every line of the burst was shown once")),
    GuestTest("console-kill-restarts", CONSOLE_AUTORUN + '"ps; kill echo-server; sleep 300; ps"',
              expect_exit=qemu.shutdown_status(0), timeout=120,
              markers=[r"^kill: echo-server: 1 processes killed$",
                       r"init: restarting 'echo-server:echo' \(restart 1\)",
                       r"^console: autorun: 4 commands, 0 failed$"],
              check=restart_check),
    GuestTest("console-shutdown-3", CONSOLE_AUTORUN + '"uptime; shutdown 3; version"',
              expect_exit=qemu.shutdown_status(3), timeout=120,
              markers=[r"^console: shutting down \(code 3\)$",
                       r"system: shutdown requested by console \(code 3\)"],
              check=lambda log: "the command after shutdown ran" if "exo> version" in log else None),
    *[GuestTest(f"console-flood-smp{n}", "init=once,manifest=flood-manifest shutdown", smp=n,
                timeout=300,
                markers=[r"init: all servers ended; every quota came back",
                         r"info: root: all memory returned"],
                check=flood_check(3000))
      for n in (1, 4)],
    *[GuestTest(f"console-idle-smp{n}", "init=once,manifest=idle-manifest shutdown", smp=n,
                timeout=120,
                markers=[r"idle-check: idle for \d+ ms, the console was woken 0 times",
                         r"init: all servers ended; every quota came back",
                         r"info: root: all memory returned"])
      for n in (1, 4)],
    GuestTest("root-module-missing", "root=no-such-program shutdown", expect_exit=qemu.EXIT_FAIL,
              markers=[r"error: root: no boot module named 'no-such-program'"]),
    GuestTest("unknown-test-fails", "test=no-such-test", expect_exit=qemu.EXIT_FAIL,
              markers=[r"no test named 'no-such-test'", r"EXO-TEST: no-such-test FAIL"]),
]


LOG_SEQ = re.compile(r"^\[\s*\d+\.\d{6}\] #(\d+) (?:debug|info|warn|error): ", re.MULTILINE)


def sequence_check(log):
    """Every kernel log line carries its sequence number, written directly or through the
    console: they must run 1, 2, 3, ... with no gap (a lost line) and no repeat (a doubled one)."""
    seen = [int(n) for n in LOG_SEQ.findall(log)]
    for i, n in enumerate(seen):
        if n != i + 1:
            prev = seen[i - 1] if i else None
            return f"log line #{n} follows #{prev}: lines lost, doubled or out of order"
    return None


def judge(test, status, log):
    if status is None:
        return f"timed out after {test.timeout} s"
    if status != test.expect_exit:
        meaning = {qemu.EXIT_PASS: "pass", qemu.EXIT_FAIL: "test failure",
                   qemu.EXIT_PANIC: "kernel panic", 0: "shutdown or triple fault"}
        return (f"QEMU exit status {status} ({meaning.get(status, 'unexpected')}), "
                f"expected {test.expect_exit} ({meaning.get(test.expect_exit)})")
    missing = [m for m in test.markers if not re.search(m, log, re.MULTILINE)]
    if missing:
        return "missing from the serial log: " + "; ".join(missing)
    return sequence_check(log) or (test.check(log) if test.check else None)


def run_test(iso, test):
    b = qemu.boot_once(iso, test.cmdline, test.timeout, memory=test.memory, uefi=test.uefi,
                       smp=test.smp)
    log = terminal.render(b.log)
    return test, judge(test, b.status, log), b.elapsed, log, b.output


def main():
    parser = argparse.ArgumentParser(description="Exo-OS guest tests")
    parser.add_argument("iso")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--filter", default="")
    parser.add_argument("--list", action="store_true")
    args = parser.parse_args()
    tests = [t for t in TESTS if args.filter in t.name]
    if args.list:
        print("\n".join(t.name for t in tests))
        return 0
    passed = failed = 0
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        for test, error, elapsed, log, qemu_out in pool.map(lambda t: run_test(args.iso, t), tests):
            if error is None:
                passed += 1
                print(f"guest: PASS {test.name} ({elapsed:.1f} s)", flush=True)
                continue
            failed += 1
            print(f"guest: FAIL {test.name} ({elapsed:.1f} s): {error}")
            print(f"---- serial log of {test.name} (cmdline '{test.cmdline}') ----")
            print(log[-8000:] + (f"---- QEMU said ----\n{qemu_out}" if qemu_out.strip() else ""))
            print("---- end of log ----", flush=True)
    print(f"guest: {passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
