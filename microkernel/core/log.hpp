// Kernel log: numbered, levelled, timestamped lines, on the serial port or through the console's
// ring (core/log.cpp says how the two hand over).
#pragma once

#include <exo/result.hpp>
#include <stdarg.h>
#include <stdint.h>

namespace mk {
class RingEnd;
}

namespace mk::log {

enum class Level { Debug, Info, Warn, Error };

void set_min_level(Level level);
void vwrite(Level level, const char* fmt, va_list ap);

[[gnu::format(printf, 1, 2)]] void debug(const char* fmt, ...);
[[gnu::format(printf, 1, 2)]] void info(const char* fmt, ...);
[[gnu::format(printf, 1, 2)]] void warn(const char* fmt, ...);
[[gnu::format(printf, 1, 2)]] void error(const char* fmt, ...);

// Raw console output without prefix or newline (banners, panic dumps).
[[gnu::format(printf, 1, 2)]] void raw(const char* fmt, ...);
void vraw(const char* fmt, va_list ap);

Level current_level();

// A process's LogWrite: "[name] text" at Info. While a console's ring is attached and full, waits
// for room as long as the console lives (a kill ends the wait; the line is then dropped and
// counted). Thread context, no lock held.
void process_line(const char* name, const char* text);

// From now on, lines go into the ring of `producer` (null: straight to the serial port again),
// which the log holds until then. Returns the sequence number of the first line that goes
// there; BadState after a panic.
exo::Result<uint64_t> attach(RingEnd* producer);

// LogPrint: up to `max` of the attached ring's oldest records written to the serial port, each
// released in the same step (under the log lock, in a syscall: a kill takes effect only after).
// BadState when no ring is attached.
exo::Result<uint64_t> print_pending(uint64_t max);

struct Stats {
    uint64_t next_seq; // the number the next line gets
    uint64_t dropped;  // kernel lines that found the ring full, since boot
};
Stats stats();

// From now on, write without taking the log lock (the panic path: other CPUs are stopped and
// one of them may hold it).
void enter_panic_mode();

} // namespace mk::log
