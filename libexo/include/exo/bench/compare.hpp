// Comparison of a candidate benchmark with a baseline (portable benchmark core, freestanding):
// a speed-up ratio of medians and a check that the difference is beyond the noise.
#pragma once

#include <exo/bench/stats.hpp>

#include <stdint.h>

namespace exo::bench {

// The ratio reported when the candidate's median is zero and the baseline's is not.
inline constexpr uint64_t kRatioInfinite = UINT64_MAX;

// The rules (samples are costs: time, cycles or instructions; lower is better):
// - ratio_milli = round(1000 * baseline.median / candidate.median), the candidate's speed-up:
//   2000 means twice as fast, 500 twice as slow. Both medians zero gives 1000; only the
//   candidate's zero gives kRatioInfinite; a ratio beyond 64 bits saturates to kRatioInfinite.
// - significant: the interquartile ranges [p25, p75] of the two do not overlap (touching
//   intervals overlap). A robust rule, not a hypothesis test: the middle halves of the two
//   distributions are disjoint.
// - pass: ratio_milli >= min_ratio_milli, the caller's threshold (1000: "not slower"; 1100: "at
//   least 10 % faster"). `pass` ignores `significant`; require both for "reliably faster".
struct Verdict {
    uint64_t ratio_milli = 0;
    bool significant = false;
    bool pass = false;
};

Verdict compare(const Stats& candidate, const Stats& baseline, uint64_t min_ratio_milli);

} // namespace exo::bench
