// Measuring in ring 3 (libexo, portable benchmark core): the clock, a sample buffer and the
// runner settings that the ring-3 benchmark programs share, the same settings as the kernel's
// in-kernel benchmarks (microkernel/bench/bench.hpp), so their rows compare.
#pragma once

#include <exo/bench/cycles.hpp>
#include <exo/bench/runner.hpp>
#include <exo/bench/stats.hpp>
#include <exo/result.hpp>

#include <stddef.h>
#include <stdint.h>

namespace exo::bench {

using UserClock = TscClock; // instructions under -icount shift=0
inline constexpr size_t kUserSamples = 1024;
// One benchmark measures at a time in a program: its samples go here.
inline uint64_t user_samples[kUserSamples];

// Times body() (`batch` operations per call) with the portable runner; per-operation statistics.
// Exact counts converge at once (the first check, at 64 samples); no time bound. The settings
// stay a braced temporary as in the code this came from: read from a named constant, GCC laid out
// bench-ring's run() differently and its two-process round trip counted 54 more instructions.
template <typename Body>
Result<Stats> measure(Body&& body, uint64_t batch = 1) {
    Runner<UserClock> runner(user_samples, kUserSamples,
                             {.warmup = 16,
                              .batch = 1,
                              .min_samples = 64,
                              .check_every = 64,
                              .target_permille = 20,
                              .max_ticks = 0,
                              .overhead_reads = 64});
    auto m = TRY(runner.run(body));
    return per_iteration(m.stats, batch);
}

} // namespace exo::bench
