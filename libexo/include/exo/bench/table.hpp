// Benchmark tables from ring 3 (libexo runtime): any program's or server's table printed through
// its Log capability (each line prefixed by the kernel with the writer's name), as the BENCH-CSV
// and BENCH-MD blocks of report.hpp that bench/guest/run.py cuts out of the serial log and
// bench/report.py turns into docs/benchmarks.md. Link with exo_bench_user_dep (libexo/meson.build).
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

// Prints `table` as CSV and Markdown through the log (kSlotLog). The kernel prefixes each line
// with this process's name; bench/guest/run.py takes a block's lines from the writer of its
// BEGIN line only.
inline Status print_table(const char* table, const Row* rows, size_t count) {
    LogLineSink out;
    out.log = kSlotLog;
    FormatSink sink{LogLineSink::write, &out};
    write_csv_block(sink, table, rows, count);
    write_markdown_block(sink, table, rows, count);
    return Status::Ok;
}

} // namespace exo::bench
