#!/usr/bin/env python3
"""Boots the Exo-OS ISO in QEMU. Used by `./exo run`, `./exo debug` and the guest test harness,
so everyone boots the same machine.

The kernel command line is passed without rebuilding the ISO: a small FAT image holding
/exo/cmdline.cfg is attached as a disk, and the ISO's grub.cfg sources it (iso/grub.cfg.in).

  qemu.py ISO [--uefi] [--memory 128M] [--smp N] [--icount] [--gdb] [--log FILE] [-- CMDLINE...]
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

OVMF_CANDIDATES = ["/usr/share/ovmf/OVMF.fd", "/usr/share/OVMF/OVMF_CODE.fd"]
# isa-debug-exit: the kernel writes v, QEMU exits with (v << 1) | 1 (arch/x86_64/qemu.hpp).
EXIT_PASS, EXIT_FAIL, EXIT_PANIC = 33, 35, 37
# SystemShutdown(code) (the console's `shutdown CODE`, and the end of an autorun) writes
# kShutdownBase + code (exo/system.hpp), code 0 to 63.
SHUTDOWN_BASE, SHUTDOWN_MAX = 0x40, 63
PANIC_STATUS = 70  # what plain_status makes of a kernel panic (EX_SOFTWARE)


def shutdown_status(code):
    """QEMU's exit status when the guest shut down with `code`."""
    return ((SHUTDOWN_BASE + code) << 1) | 1


def plain_status(status):
    """QEMU's exit status as a plain one: the code of SystemShutdown (an autorun's count of
    failed commands, or `shutdown CODE`); 0 or 1 when the kernel ended a run with `shutdown`
    (the root process passed or failed); PANIC_STATUS for a panic; 0 when QEMU was quit."""
    if status is None:
        return 124  # killed at a timeout, as timeout(1) says
    if status & 1 and SHUTDOWN_BASE <= status >> 1 <= SHUTDOWN_BASE + SHUTDOWN_MAX:
        return (status >> 1) - SHUTDOWN_BASE
    return {EXIT_PASS: 0, EXIT_FAIL: 1, EXIT_PANIC: PANIC_STATUS}.get(status, status)


def join_cmdline(args):
    """The kernel command line from separate words, as a shell passed them: a word with a space
    in its value is quoted (`autorun=ps; mem` -> `autorun="ps; mem"`), which the kernel's
    Cmdline takes apart again."""
    words = []
    for a in args:
        key, eq, value = a.partition("=")
        if any(c.isspace() for c in a) and not a.startswith('"') and '"' not in value:
            a = f'{key}="{value}"' if eq else f'"{a}"'
        words.append(a)
    return " ".join(words)

# --icount (the guest benchmarks, bench/guest/run.py):
# - shift=0: the virtual clock advances 1 ns per guest instruction and the TSC counts it, so one
#   TSC tick is one instruction: exact counts, the same on any host.
# - sleep=off: a halted CPU jumps to the next timer deadline instead of waiting in real time, so
#   guest time never depends on the host's speed or load.
# - no floppy drive: the pc machine has an empty drive A:, and whatever probes it (GRUB's (hd*)
#   wildcard did) enters SeaBIOS's floppy code, which polls for the floppy interrupt until 255
#   BIOS timer ticks (14 s of guest time) have passed. Under icount that loop advances guest
#   time about 100 times slower than real time, so a boot stalls in GRUB for about 20 minutes.
#   grub.cfg no longer probes it; taking the drive away makes sure nothing else does.
ICOUNT_ARGS = ["-icount", "shift=0,sleep=off", "-global", "isa-fdc.fdtypeA=none"]


def find_ovmf():
    for path in OVMF_CANDIDATES:
        if os.path.exists(path):
            return path
    sys.exit("qemu.py: no OVMF firmware found; apt-get install ovmf (./exo installs it)")


def make_cmdline_disk(path, cmdline):
    """Writes a 1.44 MB FAT image whose /exo/cmdline.cfg sets exo_cmdline for grub.cfg. The
    value is a GRUB single-quoted string, taken literally; GRUB passes a double quote on to the
    kernel as \\" (which the kernel's Cmdline reads as a quote)."""
    if "'" in cmdline or "\n" in cmdline:
        raise ValueError("the kernel command line may not contain single quotes or newlines")
    with tempfile.TemporaryDirectory() as tmp:
        cfg = os.path.join(tmp, "cmdline.cfg")
        with open(cfg, "w") as f:
            f.write(f"set exo_cmdline='{cmdline}'\n")
        if os.path.exists(path):
            os.remove(path)
        for cmd in (["mformat", "-C", "-f", "1440", "-i", path, "::"],
                    ["mmd", "-i", path, "::/exo"],
                    ["mcopy", "-i", path, cfg, "::/exo/cmdline.cfg"]):
            subprocess.run(cmd, check=True, capture_output=True)


def qemu_command(iso, cmdline_disk, memory="128M", uefi=False, smp=1, icount=False, gdb=False,
                 serial="stdio"):
    cmd = [
        "qemu-system-x86_64",
        "-machine", "pc", "-cpu", "max", "-m", memory, "-smp", str(smp),
        "-cdrom", iso, "-boot", "d",
        "-drive", f"file={cmdline_disk},format=raw,if=ide,index=0",
        "-serial", serial, "-display", "none", "-net", "none", "-no-reboot",
        "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
    ]
    if uefi:
        cmd += ["-bios", find_ovmf()]
    if icount:
        cmd += ICOUNT_ARGS
    if gdb:
        cmd += ["-s", "-S"]
    return cmd


@dataclass
class Boot:
    status: object  # QEMU's exit status, or None when it was killed at the timeout
    log: str        # the serial console, CRLF turned into LF
    output: str     # what QEMU itself printed
    elapsed: float  # seconds
    command: list   # the QEMU command, with the temporary files named cmdline.img, serial.log


def boot_once(iso, cmdline, timeout, **machine):
    """Boots `iso` once with kernel command line `cmdline` (serial console to a file, QEMU killed
    after `timeout` seconds); `machine` holds qemu_command's keyword arguments."""
    with tempfile.TemporaryDirectory() as tmp:
        disk, serial = os.path.join(tmp, "cmdline.img"), os.path.join(tmp, "serial.log")
        make_cmdline_disk(disk, cmdline)
        cmd = qemu_command(iso, disk, serial=f"file:{serial}", **machine)
        start = time.monotonic()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            out, _ = proc.communicate(timeout=timeout)
            status = proc.returncode
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
            status = None
        elapsed = time.monotonic() - start
        log = open(serial, errors="replace", newline="").read() if os.path.exists(serial) else ""
        shown = [a.replace(disk, "cmdline.img").replace(serial, "serial.log") for a in cmd]
    return Boot(status, log.replace("\r\n", "\n"), out, elapsed, shown)


def main():
    parser = argparse.ArgumentParser(description="Boot Exo-OS in QEMU")
    parser.add_argument("iso")
    parser.add_argument("--uefi", action="store_true", help="boot through OVMF instead of BIOS")
    parser.add_argument("--memory", default="128M")
    parser.add_argument("--smp", type=int, default=1)
    parser.add_argument("--icount", action="store_true")
    parser.add_argument("--gdb", action="store_true", help="wait for gdb on :1234 (-s -S)")
    argv = sys.argv[1:]
    split = argv.index("--") if "--" in argv else len(argv)
    args = parser.parse_args(argv[:split])
    args.cmdline = argv[split + 1:]
    if not shutil.which("qemu-system-x86_64"):
        sys.exit("qemu.py: qemu-system-x86_64 is missing (./exo installs it)")
    with tempfile.TemporaryDirectory() as tmp:
        disk = os.path.join(tmp, "cmdline.img")
        make_cmdline_disk(disk, join_cmdline(args.cmdline))
        cmd = qemu_command(args.iso, disk, args.memory, args.uefi, args.smp, args.icount, args.gdb,
                           serial="mon:stdio")
        print("exo: " + " ".join(cmd) + "   (quit: Ctrl-A X)", file=sys.stderr)
        status = subprocess.run(cmd).returncode
        plain = plain_status(status)
        print(f"exo: the guest ended with status {plain} (QEMU exit status {status})",
              file=sys.stderr)
        return plain


if __name__ == "__main__":
    sys.exit(main())
