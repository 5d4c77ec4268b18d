// Kernel log: numbered, levelled, timestamped lines. Until a console attaches a ring
// (LogAttach), and again after it is gone or on a panic, each line goes straight to COM1 as
// "[seconds.micros] #seq level: message"; while one is attached, each line is a LogRecord in that
// ring and the console prints it in the same format, in one order with its own output.
//
// Sequence numbers count every line kept, wherever it went, from 1 up with no gap, so a reader
// of the serial log can check that nothing was lost or doubled at a handover:
//  - attach: the first record number the ring gets is returned under the log lock; every line
//    before it was written directly.
//  - the console prints: LogPrint writes each record to the serial port and releases it in one
//    step, under the log lock and inside a syscall, so a kill of the console (which takes effect
//    only when the syscall returns) never leaves a record printed but not released, or released
//    but not printed. The console chooses when (between its own lines); the kernel does the
//    writing.
//  - detach (the console is gone, or corrupted its ring's indices, or a panic): the records the
//    console had not printed yet are written directly first, then the new line. Each record is
//    thus printed exactly once.
//  - a full ring: a process's line (LogWrite) waits for room as long as the console lives (as a
//    writer to a pipe does; a kill still ends the wait); a kernel line cannot wait (it may come
//    from any context) and is counted as dropped, and the next line that fits is preceded by a
//    record saying how many were dropped. Dropped lines take no number.
// A line posted to the ring may wake the console (a deferred wake-up and its doorbell), so no
// code may log while it holds a wait queue's or a run queue's lock; none does.
#include "core/log.hpp"

#include "arch/x86_64/clock.hpp"
#include "arch/x86_64/serial.hpp"
#include "arch/x86_64/spinlock.hpp"
#include "object/ring.hpp"

#include <exo/format.hpp>
#include <exo/system.hpp>

namespace mk::log {
namespace {

constinit Level min_level = Level::Info;
constinit IrqSpinLock lock{};
constinit bool panic_mode = false;
constinit uint64_t next_seq = 1;      // under lock
constinit uint64_t dropped_total = 0; // under lock
constinit uint64_t dropped_unsaid = 0; // under lock: dropped since the last record that fit
constinit RingEnd* sink_end = nullptr; // under lock; holds a reference (and so the ring)
constinit Ring* sink = nullptr;        // its ring


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

struct Line {
    exo::LogRecord record;
    char text[exo::kMaxLogText];
};

void write_direct(const exo::LogRecord& r, const char* text) {
    exo::format_to(kConsole, "[%5lu.%06lu] #%lu %s: %.*s\n", r.ns / 1000000000,
                   (r.ns / 1000) % 1000000, r.seq, exo::log_level_name(r.level),
                   int(r.length), text);
}

// The records the console has not released, written directly (their numbers are theirs), then
// the ring let go. Under the lock (or in panic mode). `abrupt`: the console did not see it
// coming (it died, or a panic): its last line may be unfinished (a prompt), so start a new one.
void detach_locked(bool abrupt) {
    if (!sink)
        return;
    if (abrupt)
        serial::write("\n", 1);
    Line line;
    uint64_t at = sink->unread_start();
    uint32_t type = 0, length = 0;
    while (sink->read_posted(at, &type, &line, sizeof line, &length))
        if (type == exo::kEventLog && length >= sizeof line.record &&
            line.record.length <= length - sizeof line.record)
            write_direct(line.record, line.text);
    sink = nullptr;
    RingEnd* end = sink_end;
    sink_end = nullptr;
    end->release(); // never the last reference in place: the object is queued (kernel_object.hpp)
}

// Posts `line` with the next number, preceded by a record of the lines dropped before it if
// any. WouldBlock (nothing posted, no number taken) when the ring has no room for both; a
// ring whose console is gone is let go and the line written directly.
exo::Status emit_locked(Line& line) {
    if (sink) {
        if (dropped_unsaid != 0) {
            Line note;
            note.record = {next_seq, line.record.ns, uint32_t(exo::LogLevel::Warn), 0};
            note.record.length = uint32_t(exo::format(note.text, sizeof note.text,
                                                      "log: %lu lines dropped: the console fell "
                                                      "behind",
                                                      dropped_unsaid));
            exo::Status s = sink->post(exo::kEventLog, &note,
                                       uint32_t(sizeof note.record + note.record.length), nullptr,
                                       false, false);
            if (s == exo::Status::Ok) {
                ++next_seq;
                dropped_unsaid = 0;
            } else if (s == exo::Status::WouldBlock) {
                return s;
            } else {
                detach_locked(true);
            }
        }
    }
    line.record.seq = next_seq;
    if (sink) {
        exo::Status s = sink->post(exo::kEventLog, &line,
                                   uint32_t(sizeof line.record + line.record.length), nullptr,
                                   false, false);
        if (s == exo::Status::WouldBlock)
            return s;
        if (s == exo::Status::Ok) {
            ++next_seq;
            sink->ring_consumer_bell(); // the console waits on its event ring, bound to this one
            return s;
        }
        detach_locked(true); // Closed or Malformed: the console is gone or broke its ring
    }
    if (dropped_unsaid != 0) {
        exo::LogRecord note{next_seq++, line.record.ns, uint32_t(exo::LogLevel::Warn), 0};
        exo::format_to(kConsole, "[%5lu.%06lu] #%lu warn: log: %lu lines dropped: the console "
                                 "fell behind\n",
                       note.ns / 1000000000, (note.ns / 1000) % 1000000, note.seq, dropped_unsaid);
        dropped_unsaid = 0;
        line.record.seq = next_seq;
    }
    ++next_seq;
    write_direct(line.record, line.text);
    return exo::Status::Ok;
}

void prepare(Line& line, Level level, const char* fmt, va_list ap) {
    line.record = {0, clock::now_ns(), uint32_t(level), 0};
    size_t n = exo::vformat(line.text, sizeof line.text, fmt, ap);
    line.record.length = uint32_t(n < sizeof line.text ? n : sizeof line.text - 1);
}

} // namespace

void set_min_level(Level level) {
    min_level = level;
}

Level current_level() {
    return min_level;
}

void vwrite(Level level, const char* fmt, va_list ap) {
    if (level < min_level)
        return;
    Line line;
    prepare(line, level, fmt, ap);
    LineGuard guard;
    if (emit_locked(line) == exo::Status::WouldBlock) {
        ++dropped_total;
        ++dropped_unsaid;
    }
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

void process_line(const char* name, const char* text) {
    if (Level::Info < min_level)
        return;
    Line line;
    line.record = {0, clock::now_ns(), uint32_t(exo::LogLevel::Info), 0};
    line.record.length = uint32_t(exo::format(line.text, sizeof line.text, "[%s] %s", name, text));
    if (line.record.length >= sizeof line.text)
        line.record.length = sizeof line.text - 1;
    for (;;) {
        RingEnd* end;
        uint64_t head;
        {
            LineGuard guard;
            if (emit_locked(line) == exo::Status::Ok)
                return;
            // Full: wait for LogPrint to make room (it wakes the ring's waiting producers).
            end = sink_end;
            end->retain();
            head = sink->control().head.load(std::memory_order_acquire);
        }
        exo::Status s = end->ring().wait(true, head, 0);
        end->release();
        if (s != exo::Status::Ok && s != exo::Status::Closed) { // killed while it waited
            LineGuard guard;
            ++dropped_total;
            ++dropped_unsaid;
            return;
        }
    }
}

exo::Result<uint64_t> attach(RingEnd* producer) {
    LineGuard guard;
    if (panic_mode)
        return exo::Status::BadState;
    detach_locked(false);
    if (producer) {
        producer->retain();
        sink_end = producer;
        sink = &producer->ring();
    }
    return next_seq;
}

exo::Result<uint64_t> print_pending(uint64_t max) {
    if (max == 0)
        return uint64_t(0);
    uint64_t printed = 0;
    RingEnd* end = nullptr;
    for (; printed < max; ++printed) {
        LineGuard guard;
        if (!sink || (end && end != sink_end))
            break;
        if (!end) {
            end = sink_end;
            end->retain(); // for the wake-up below, after the lock
        }
        Line line;
        uint64_t at = sink->unread_start();
        uint32_t type = 0, length = 0;
        if (!sink->read_posted(at, &type, &line, sizeof line, &length))
            break;
        if (type == exo::kEventLog && length >= sizeof line.record &&
            line.record.length <= length - sizeof line.record)
            write_direct(line.record, line.text);
        sink->control().head.store(at, std::memory_order_release);
    }
    if (!end)
        return exo::Status::BadState;
    if (printed != 0)
        end->ring().notify(false); // writers waiting for room (process_line)
    end->release();
    return printed;
}

Stats stats() {
    LineGuard guard;
    return {next_seq, dropped_total};
}

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
    detach_locked(true); // what the console had not shown yet comes before the panic report
}

} // namespace mk::log
