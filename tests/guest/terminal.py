"""A small terminal model for what the console sends on the serial port: printable ASCII, CR,
LF, BS, BEL and ESC [ K (erase to the end of the line), exactly the set docs/console.md says the
console emits. The guest harness renders every serial log with it before reading it (a line the
console redrew is read as the terminal shows it), and the interactive test also checks that the
console sent nothing else (`errors`). GRUB's own screen sequences before the kernel starts are
not the console's: `render` ignores what comes before the kernel's banner.
"""
import re


class Screen:
    """An unbounded terminal in new-line mode (LF also returns the carriage, as a serial log
    saved with plain LF needs): rows of characters and a cursor."""

    def __init__(self):
        self.rows = [[]]
        self.row = self.col = 0
        self.pending = ""
        self.errors = []
        self.bells = 0

    def _put(self, ch):
        line = self.rows[self.row]
        while len(line) < self.col:
            line.append(" ")
        if self.col < len(line):
            line[self.col] = ch
        else:
            line.append(ch)
        self.col += 1

    def feed(self, data):
        data = self.pending + data
        self.pending = ""
        i = 0
        while i < len(data):
            c = data[i]
            if c == "\x1b":
                m = re.match(r"\x1b\[([0-9;]*)([\x40-\x7e])", data[i:])
                if not m:
                    if re.fullmatch(r"\x1b(\[[0-9;]*)?", data[i:]):
                        self.pending = data[i:]  # the rest comes with the next read
                        return
                    self.errors.append(f"unknown escape {data[i:i + 4]!r}")
                    i += 1
                    continue
                if m.group(2) == "K" and m.group(1) in ("", "0"):
                    del self.rows[self.row][self.col:]
                else:
                    self.errors.append(f"unexpected sequence {m.group(0)!r}")
                i += len(m.group(0))
                continue
            if c == "\r":
                self.col = 0
            elif c == "\n":  # new-line mode: LF also returns the carriage
                self.row += 1
                self.col = 0
                if self.row == len(self.rows):
                    self.rows.append([])
            elif c == "\b":
                self.col = max(0, self.col - 1)
            elif c == "\x07":
                self.bells += 1
            elif " " <= c <= "~":
                self._put(c)
            else:
                self.errors.append(f"unexpected byte {c!r}")
            i += 1

    def text(self):
        return "\n".join(self.lines())

    def lines(self):
        return ["".join(r).rstrip() for r in self.rows]

    def current(self):
        return "".join(self.rows[self.row])



BANNER = "Exo-OS "


def render(log):
    """The serial log as a terminal shows it: lines redrawn with CR and ESC [ K read as their
    final text. What precedes the kernel's banner (GRUB's menu) is kept as it is."""
    at = log.find(BANNER)
    if at < 0:
        at = len(log)
    screen = Screen()
    screen.feed(log[at:])
    return log[:at] + screen.text()
