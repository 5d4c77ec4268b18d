#!/usr/bin/env python3
"""The console, driven as a person drives it: boots Exo-OS with its serial port on a
pseudo-terminal (QEMU -serial pty), types at the shell with edits (backspace, Ctrl-U, arrow-key
recall, Ctrl-C on a line and on a running command) and checks what a terminal would show.

A small terminal model (Screen) renders the bytes the console sends. It knows exactly the
sequences docs/console.md says the console emits (printable ASCII, CR, LF, BS, BEL, ESC [ K);
anything else is reported as an error, so the test also pins the console's terminal protocol.

  interactive.py ISO [--smp N]      ends with `interactive: N passed, N failed`
"""
import argparse
import os
import re
import select
import subprocess
import sys
import tempfile
import termios
import time
import tty

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "iso"))
import qemu  # noqa: E402
from terminal import BANNER, Screen  # noqa: E402

PROMPT = "exo> "


class Session:
    def __init__(self, iso, smp):
        self.tmp = tempfile.TemporaryDirectory()
        disk = os.path.join(self.tmp.name, "cmdline.img")
        qemu.make_cmdline_disk(disk, "")
        cmd = qemu.qemu_command(iso, disk, smp=smp, serial="pty")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True)
        pty = None
        deadline = time.monotonic() + 30
        while pty is None and time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            m = re.search(r"char device redirected to (/dev/pts/\d+)", line)
            if m:
                pty = m.group(1)
        if pty is None:
            self.proc.kill()
            raise RuntimeError("QEMU did not say which pseudo-terminal it opened")
        self.fd = os.open(pty, os.O_RDWR | os.O_NOCTTY)
        tty.setraw(self.fd, termios.TCSANOW)
        self.screen = Screen()
        self.transcript = []
        self.before_kernel = ""  # GRUB's screen, with its own sequences: not the console's

    def pump(self, seconds):
        """Reads what the guest sends for up to `seconds` (less if QEMU ends)."""
        end = time.monotonic() + seconds
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return
            ready, _, _ = select.select([self.fd], [], [], min(left, 0.05))
            if ready:
                try:
                    data = os.read(self.fd, 4096).decode("latin-1")
                except OSError:
                    return  # QEMU closed the terminal
                self.transcript.append(data)
                if self.before_kernel is not None:
                    self.before_kernel += data
                    at = self.before_kernel.find(BANNER)
                    if at < 0:
                        continue
                    data, self.before_kernel = self.before_kernel[at:], None
                self.screen.feed(data)
            elif self.proc.poll() is not None:
                return

    def wait_for(self, what, check, timeout=30):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if check():
                return True
            self.pump(0.05)
        raise AssertionError(f"timed out waiting for {what}; screen ends with:\n" +
                             "\n".join(self.screen.lines()[-15:]))

    def type(self, keys, pause=0.02):
        """Types as a person would: one key at a time (an escape sequence is one key)."""
        for key in re.findall(r"\x1b\[[A-D]|.", keys, re.S):
            os.write(self.fd, key.encode("latin-1"))
            self.pump(pause)

    def wait_prompt(self, line=PROMPT, timeout=30):
        self.wait_for(f"the line {line!r} under the cursor",
                      lambda: self.screen.current() == line, timeout)

    def count(self, pattern):
        return sum(1 for l in self.screen.lines() if re.search(pattern, l))

    def close(self):
        try:
            os.close(self.fd)
        except OSError:
            pass
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.tmp.cleanup()


def run(iso, smp):
    s = Session(iso, smp)
    results = []

    def step(name, fn):
        try:
            fn()
            results.append((name, None))
            print(f"interactive: PASS {name}", flush=True)
        except AssertionError as e:
            results.append((name, str(e)))
            print(f"interactive: FAIL {name}: {e}", flush=True)
            raise

    def boot():
        s.wait_prompt(timeout=90)
        s.pump(0.5)  # the last boot lines, if any, come through the console too
        s.wait_prompt()

    def backspace():
        s.type("verzion\x7f\x7f\x7f\x7fsion")  # four back: "ver", then "sion"
        s.wait_prompt(PROMPT + "version")
        s.type("\r")
        s.wait_for("the version", lambda: s.count(r"0\.\d+\.\d+") >= 1 and
                   s.screen.current() == PROMPT)
        assert s.count(r"^exo> version$") == 1, "the edited line is not 'exo> version'"

    def ctrl_u():
        s.type("this is not a command\x15")
        s.wait_prompt()
        s.type("uptime\r")
        s.wait_for("the uptime", lambda: s.count(r"^up \d+\.\d{3} s$") == 1 and
                   s.screen.current() == PROMPT)
        assert s.count(r"^exo> uptime$") == 1, "Ctrl-U did not clear the line"

    def history():
        s.type("\x1b[A")
        s.wait_prompt(PROMPT + "uptime")
        s.type("\x1b[A")
        s.wait_prompt(PROMPT + "version")
        s.type("\x1b[B")
        s.wait_prompt(PROMPT + "uptime")
        s.type("\r")
        s.wait_for("a second uptime", lambda: s.count(r"^up \d+\.\d{3} s$") == 2 and
                   s.screen.current() == PROMPT)

    def ctrl_c():
        s.type("a line to cancel\x03")
        s.wait_for("the cancelled line", lambda: s.count(r"^exo> a line to cancel\^C$") == 1 and
                   s.screen.current() == PROMPT)
        started = time.monotonic()
        s.type("sleep 30000\r")
        s.pump(0.5)
        assert s.screen.current() != PROMPT, "sleep 30000 ended at once"
        s.type("\x03")
        s.wait_for("sleep to be cancelled", lambda: s.screen.current() == PROMPT, timeout=10)
        assert time.monotonic() - started < 15, "Ctrl-C did not end the running sleep"

    def unknown():
        s.type("frobnicate now\r")
        s.wait_for("the error", lambda: s.count(r"unknown command 'frobnicate'") == 1 and
                   s.screen.current() == PROMPT)

    def shutdown():
        s.type("shutdown 5\r")
        try:
            status = s.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            raise AssertionError("QEMU still runs 30 s after 'shutdown 5'")
        s.pump(0.2)
        assert status == qemu.shutdown_status(5), \
            f"QEMU exit status {status}, expected {qemu.shutdown_status(5)} (code 5)"
        assert not s.screen.errors, f"the console sent what a terminal would not show: " \
                                    f"{s.screen.errors[:5]}"

    try:
        for name, fn in [("boot to the prompt", boot), ("backspace", backspace),
                         ("ctrl-u", ctrl_u), ("history with the arrow keys", history),
                         ("ctrl-c on a line and on a running command", ctrl_c),
                         ("an unknown command", unknown),
                         ("shutdown 5 exits QEMU with code 5", shutdown)]:
            step(name, fn)
    except AssertionError:
        print("---- the screen ----")
        print("\n".join(s.screen.lines()[-40:]))
        print("---- end of screen ----", flush=True)
    finally:
        s.close()
    return results


def main():
    parser = argparse.ArgumentParser(description="Exo-OS console on a pseudo-terminal")
    parser.add_argument("iso")
    parser.add_argument("--smp", type=int, default=1)
    args = parser.parse_args()
    results = run(args.iso, args.smp)
    steps = 7
    passed = sum(1 for _, e in results if e is None)
    failed = steps - passed
    print(f"interactive: {passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
