// Statistics over integer benchmark samples (portable benchmark core, freestanding): sorting,
// percentiles, mean and standard deviation, all in fixed point (see fixed_point.hpp).
#pragma once

#include <exo/bench/fixed_point.hpp>
#include <exo/result.hpp>

#include <stddef.h>
#include <stdint.h>

namespace exo::bench {

// Summary of n samples. `count` is a plain count; every other field is in milli-units of the
// sample's unit (value * 1000, see fixed_point.hpp), rounded to nearest, halves up.
// - min, max: the extremes (exact).
// - p25, median, p75, p95, p99: percentiles by linear interpolation between closest ranks,
//   numpy.percentile's default ('linear'): with the samples sorted as x[0..n-1], percentile p is
//   at rank r = p/100 * (n-1), and equals x[floor r] + (r - floor r) * (x[floor r + 1] - x[floor
//   r]). Exact in milli-units for percentiles given in per-mille, as here.
// - mean: the arithmetic mean.
// - stddev: the population standard deviation (divisor n, numpy.std's default ddof=0), computed
//   around the rounded mean: that shifts the variance by at most 0.25 milli-units squared.
struct Stats {
    uint64_t count = 0;
    uint64_t min = 0;
    uint64_t p25 = 0;
    uint64_t median = 0;
    uint64_t p75 = 0;
    uint64_t p95 = 0;
    uint64_t p99 = 0;
    uint64_t max = 0;
    uint64_t mean = 0;
    uint64_t stddev = 0;
};

// Sorts ascending, in place: heapsort, O(n log n) in every case, no recursion, no allocation.
void sort_samples(uint64_t* samples, size_t n);

// Percentile `p_permille` (0..1000: 500 is the median, 990 is p99, 999 is p99.9) of `sorted`
// (ascending, n >= 1, every sample <= kMaxSample), in milli-units, by the rule above.
uint64_t percentile_milli(const uint64_t* sorted, size_t n, uint32_t p_permille);

// Sorts `samples` in place and summarizes them. InvalidArgument if n == 0; OutOfRange if a
// sample exceeds kMaxSample (its milli-unit value would not fit in 64 bits).
Result<Stats> compute_stats(uint64_t* samples, size_t n);

// The statistics of samples that each timed `k` iterations, per iteration: every milli-unit field
// divided by k (rounded to nearest); count is unchanged. k must not be 0.
Stats per_iteration(const Stats& s, uint64_t k);

// Whether the relative interquartile range is within a target: (p75 - p25) <= median *
// target_permille / 1000, compared exactly. A zero median passes only with a zero spread.
bool spread_within(const Stats& s, uint32_t target_permille);
bool spread_within(const uint64_t* sorted, size_t n, uint32_t target_permille);

} // namespace exo::bench
