// How the ring-3 benchmark programs print their tables: through a Log capability minted with
// kLogBadgeRaw (lines go out verbatim), as the BENCH-CSV and BENCH-MD blocks that
// bench/guest/run.py cuts out of the serial log.
#pragma once

#include <bench/report.hpp>
#include <exo/cap.hpp>
#include <exo/format.hpp>

namespace exo::test {

// Whole lines to a Log capability.
struct LineSink {
    Slot log = kNullSlot;
    char line[kMaxLogWrite] = {};
    size_t used = 0;

    static void write(void* ctx, const char* s, size_t n) {
        auto* self = static_cast<LineSink*>(ctx);
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

// Prints `table` as CSV and Markdown through a raw copy of the log capability.
inline Status print_table(const char* table, const exo::bench::Row* rows, size_t count) {
    Slot raw = TRY(allocate_slot());
    if (Status s = sys::cap_mint(kSlotLog, raw, kRightWrite, kLogBadgeRaw); s != Status::Ok) {
        free_slot(raw);
        return s;
    }
    LineSink out;
    out.log = raw;
    FormatSink sink{LineSink::write, &out};
    exo::bench::write_csv_block(sink, table, rows, count);
    exo::bench::write_markdown_block(sink, table, rows, count);
    (void)sys::cap_delete(raw);
    free_slot(raw);
    return Status::Ok;
}

} // namespace exo::test
