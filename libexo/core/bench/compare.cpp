// Candidate-versus-baseline comparison of the portable benchmark core (freestanding); the rules
// are documented in compare.hpp.
#include <exo/bench/compare.hpp>

namespace exo::bench {

namespace {

uint64_t speedup_milli(uint64_t candidate_median, uint64_t baseline_median) {
    if (candidate_median == 0)
        return baseline_median == 0 ? kMilli : kRatioInfinite;
    return mul_div_round(baseline_median, kMilli, candidate_median);
}

} // namespace

Verdict compare(const Stats& candidate, const Stats& baseline, uint64_t min_ratio_milli) {
    Verdict v;
    v.ratio_milli = speedup_milli(candidate.median, baseline.median);
    v.significant = candidate.p75 < baseline.p25 || baseline.p75 < candidate.p25;
    v.pass = v.ratio_milli >= min_ratio_milli;
    return v;
}

} // namespace exo::bench
