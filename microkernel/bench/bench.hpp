// In-kernel benchmarks, chosen with `bench=NAME[,NAME...]` or `bench=all` on the command line and
// run instead of the normal boot. Each one measures with the portable benchmark core (exo/bench)
// and prints one table on the serial console, as CSV and as Markdown between marker lines; the
// guest runner (bench/guest/run.py, `./exo bench guest`) cuts the tables out of the serial log.
// Under `qemu -icount shift=0` the TSC counts guest instructions, so the unit is "insns".
//
// Adding a table: write microkernel/bench/NAME.cpp defining `bool NAME(const Context&)` (measure
// with measure(), print with report()), declare it below, add one line to kBenchmarks in
// registry.cpp and the file to mk_sources in microkernel/meson.build. bench/README.md has more.
#pragma once

#include "lib/cmdline.hpp"
#include "lib/multiboot2.hpp"

#include <exo/bench/cycles.hpp>
#include <exo/bench/report.hpp>
#include <exo/bench/runner.hpp>
#include <exo/result.hpp>

#include <stddef.h>
#include <stdint.h>
#include <string_view>

namespace mk::bench {

struct Context {
    const mb2::BootInfo& boot;
    const Cmdline& cmdline;
};

// Measures, prints its table with report() and returns true; or logs why it could not and
// returns false (the run then ends with a failure exit code).
using Fn = bool (*)(const Context&);

struct Benchmark {
    const char* name; // the bench= name and the table's name
    Fn run;
};

// Runs the named benchmarks in the order given (`all`: every one, in registry order), prints
// "EXO-BENCH: DONE" or "EXO-BENCH: FAIL <what>" and exits QEMU with the pass or failure code.
// An unknown name fails before anything runs.
[[noreturn]] void run(std::string_view names, const Context& context);

// The clock: serialized RDTSC; instructions under -icount shift=0, cycles elsewhere.
using Clock = exo::bench::TscClock;

// The shared sample buffer of measure() (one benchmark runs at a time).
inline constexpr size_t kMaxSamples = 4096;
uint64_t* sample_buffer();

// Exact counts converge at once; the bounds keep a noisy (non-icount) run short.
inline constexpr exo::bench::RunConfig kDefaultConfig = {
    .warmup = 16,
    .batch = 1,
    .min_samples = 64,
    .check_every = 64,
    .target_permille = 20,
    .max_ticks = 0,
    .overhead_reads = 64,
};

// Logs how a measurement ended (samples taken, stop reason, clock overhead subtracted).
void log_measurement(const char* what, const exo::bench::Measurement& m);

// Times body() with Runner<Clock> (clock overhead subtracted) and returns per-iteration
// statistics.
template <typename Body>
exo::Result<exo::bench::Stats> measure(const char* what, Body&& body,
                                       const exo::bench::RunConfig& config = kDefaultConfig) {
    exo::bench::Runner<Clock> runner(sample_buffer(), kMaxSamples, config);
    exo::bench::Measurement m = TRY(runner.run(body));
    log_measurement(what, m);
    return m.stats;
}

// Prints a table on the console: a BENCH-CSV block, then a BENCH-MD block (bench/report.hpp).
void report(const char* table, const exo::bench::Row* rows, size_t count);

// Interrupts off for a scope, then restored: no timer tick or preemption inside a measurement,
// so the counts are those of the code measured alone.
class InterruptsOff {
public:
    InterruptsOff();
    ~InterruptsOff();
    InterruptsOff(const InterruptsOff&) = delete;
    InterruptsOff& operator=(const InterruptsOff&) = delete;

private:
    bool were_enabled_;
};

// The benchmarks, each in its own file.
bool memory(const Context&);  // memory.cpp: frames, kernel heap, kernel page mapping
bool sched(const Context&);   // sched.cpp: context switches, pick-next, wake-to-run latency
bool syscall(const Context&); // syscall.cpp: null syscall, capability copy (in ring 3)
bool ring(const Context&);    // syscall.cpp: fusion-ring messages (in ring 3)
bool server(const Context&);  // syscall.cpp: a server under load and its restart (init, ring 3)
bool malloc_table(const Context&); // syscall.cpp: libexo's malloc over memsrv (ring 3)

} // namespace mk::bench
