// Benchmark tables from ring 3 (libexo runtime): any program's or server's table printed through
// a Log capability minted with kLogBadgeRaw (lines go out verbatim), as the BENCH-CSV and BENCH-MD
// blocks of report.hpp that bench/guest/run.py cuts out of the serial log and bench/report.py
// turns into docs/benchmarks.md. Link with exo_bench_user_dep (libexo/meson.build).
#pragma once

#include <exo/bench/report.hpp>
#include <exo/cap.hpp>
#include <exo/format.hpp>
#include <exo/status.hpp>
#include <exo/sys.hpp>

#include <stddef.h>

namespace exo::bench {

// Whole lines to a Log capability: one LogWrite per line, without its "\n"; a line longer than
// kMaxLogWrite goes out in kMaxLogWrite-byte pieces. A last line without "\n" is not written.
struct LogLineSink {
    Slot log = kNullSlot;
    char line[kMaxLogWrite] = {};
    size_t used = 0;

    static void write(void* ctx, const char* s, size_t n) {
        auto* self = static_cast<LogLineSink*>(ctx);
        for (size_t i = 0; i < n; ++i) {
            if (s[i] == '\n' || self->used == sizeof self->line) {
                (void)sys::log_write(self->log, self->line, self->used);
                self->used = 0;
                if (s[i] == '\n')
                    continue;
            }
            self->line[self->used++] = s[i];
        }
    }
};

// Prints `table` as CSV and Markdown through a raw copy of the log capability (kSlotLog).
inline Status print_table(const char* table, const Row* rows, size_t count) {
    Slot raw = TRY(allocate_slot());
    if (Status s = sys::cap_mint(kSlotLog, raw, kRightWrite, kLogBadgeRaw); s != Status::Ok) {
        free_slot(raw);
        return s;
    }
    LogLineSink out;
    out.log = raw;
    FormatSink sink{LogLineSink::write, &out};
    write_csv_block(sink, table, rows, count);
    write_markdown_block(sink, table, rows, count);
    (void)sys::cap_delete(raw);
    free_slot(raw);
    return Status::Ok;
}

} // namespace exo::bench
