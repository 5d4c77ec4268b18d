// Kernel log: "[seconds.micros] level: message" lines on COM1, under a lock so lines from
// different CPUs do not interleave. A panic turns the lock off (the CPU holding it is stopped).
#include "core/log.hpp"

#include "arch/x86_64/clock.hpp"
#include "arch/x86_64/serial.hpp"
#include "arch/x86_64/spinlock.hpp"

#include <exo/format.hpp>

namespace mk::log {
namespace {

constinit Level min_level = Level::Info;
constinit IrqSpinLock lock{};
constinit bool panic_mode = false;

// Holds the log lock for one line or one raw write, except in panic mode.
class LineGuard {
public:
    LineGuard() : locked_(!panic_mode) {
        if (locked_)
            lock.lock();
    }
    ~LineGuard() {
        if (locked_)
            lock.unlock();
    }

private:
    bool locked_;
};

void serial_sink(void*, const char* s, size_t n) {
    serial::write(s, n);
}
constexpr exo::FormatSink kConsole{serial_sink, nullptr};

const char* level_name(Level level) {
    switch (level) {
    case Level::Debug:
        return "debug";
    case Level::Info:
        return "info";
    case Level::Warn:
        return "warn";
    case Level::Error:
        return "error";
    }
    return "?";
}

} // namespace

void set_min_level(Level level) {
    min_level = level;
}

void vwrite(Level level, const char* fmt, va_list ap) {
    if (level < min_level)
        return;
    uint64_t ns = clock::now_ns();
    LineGuard guard;
    exo::format_to(kConsole, "[%5lu.%06lu] %s: ", ns / 1000000000, (ns / 1000) % 1000000,
                   level_name(level));
    exo::vformat_to(kConsole, fmt, ap);
    serial::write("\n", 1);
}

#define MK_LOG_LEVEL_FN(name, level)                                                               \
    void name(const char* fmt, ...) {                                                              \
        va_list ap;                                                                                \
        va_start(ap, fmt);                                                                         \
        vwrite(level, fmt, ap);                                                                    \
        va_end(ap);                                                                                \
    }
MK_LOG_LEVEL_FN(debug, Level::Debug)
MK_LOG_LEVEL_FN(info, Level::Info)
MK_LOG_LEVEL_FN(warn, Level::Warn)
MK_LOG_LEVEL_FN(error, Level::Error)
#undef MK_LOG_LEVEL_FN

void vraw(const char* fmt, va_list ap) {
    LineGuard guard;
    exo::vformat_to(kConsole, fmt, ap);
}

void raw(const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vraw(fmt, ap);
    va_end(ap);
}

void enter_panic_mode() {
    panic_mode = true;
}

} // namespace mk::log
