// What the ring-3 benchmark programs share: the runner's settings, and how they print their tables:
// through a Log capability minted with kLogBadgeRaw (lines go out verbatim), as the BENCH-CSV and
// BENCH-MD blocks that bench/guest/run.py cuts out of the serial log.
#pragma once

#include <exo/bench/cycles.hpp>
#include <exo/bench/report.hpp>
#include <exo/bench/runner.hpp>
#include <exo/cap.hpp>
#include <exo/format.hpp>

namespace exo::test {

using BenchClock = exo::bench::TscClock; // instructions under -icount shift=0
inline constexpr size_t kBenchSamples = 1024;
inline uint64_t bench_samples[kBenchSamples];

// Times body() (`batch` operations per call) with the portable runner; per-operation statistics.
template <typename Body>
Result<exo::bench::Stats> measure(Body&& body, uint64_t batch = 1) {
    exo::bench::Runner<BenchClock> runner(bench_samples, kBenchSamples,
                                          {.warmup = 16,
                                           .batch = 1,
                                           .min_samples = 64,
                                           .check_every = 64,
                                           .target_permille = 20,
                                           .max_ticks = 0,
                                           .overhead_reads = 64});
    auto m = TRY(runner.run(body));
    return exo::bench::per_iteration(m.stats, batch);
}

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
