// Kernel log: levelled, timestamped lines on the serial console.
#pragma once

#include <stdarg.h>

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

// From now on, write without taking the log lock (the panic path: other CPUs are stopped and
// one of them may hold it).
void enter_panic_mode();

} // namespace mk::log
