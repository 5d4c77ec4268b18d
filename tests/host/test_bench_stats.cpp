// Benchmark core (libexo, exo/bench): fixed-point helpers, statistics against numpy's 'linear'
// percentiles, the Runner under a scripted clock, and the TSC clocks.
#include "support.hpp"

#include <exo/bench/cycles.hpp>
#include <exo/bench/runner.hpp>
#include <exo/bench/stats.hpp>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

using namespace exo::bench;
using exo::Status;

namespace {

Stats stats_of(std::vector<uint64_t> samples) {
    auto r = compute_stats(samples.data(), samples.size());
    REQUIRE(r.ok());
    return r.value();
}

// numpy.percentile(x, p / 10) with its default method, in doubles, as an independent reference.
double numpy_percentile(std::vector<uint64_t> x, uint32_t p_permille) {
    std::sort(x.begin(), x.end());
    const double rank = p_permille / 1000.0 * double(x.size() - 1);
    const size_t i = size_t(rank);
    if (i + 1 >= x.size())
        return double(x[i]);
    return double(x[i]) + (rank - double(i)) * (double(x[i + 1]) - double(x[i]));
}

Stats quartiles(uint64_t p25, uint64_t median, uint64_t p75) {
    Stats s;
    s.p25 = p25;
    s.median = median;
    s.p75 = p75;
    return s;
}

} // namespace

TEST_CASE("bench fixed point: 128-bit division, rounding and square roots") {
    const u128 big = (u128(1) << 100) + 12345;
    for (uint64_t d : {1ull, 3ull, 1000ull, 1000003ull, 0xffffffffffffffffull, 1ull << 63}) {
        uint64_t rem;
        const u128 q = divmod128(big, d, &rem);
        REQUIRE(rem < d);
        REQUIRE(q * d + rem == big);
    }
    uint64_t rem;
    REQUIRE(divmod128(~u128(0), 7, &rem) * 7 + rem == ~u128(0));

    REQUIRE(mul_div_round(1, 1, 2) == 1); // halves round up
    REQUIRE(mul_div_round(1, 1, 3) == 0);
    REQUIRE(mul_div_round(2, 1, 3) == 1);
    REQUIRE(mul_div_round(UINT64_MAX, UINT64_MAX, UINT64_MAX) == UINT64_MAX);
    REQUIRE(mul_div_round(UINT64_MAX, 2, 1) == UINT64_MAX); // saturates
    REQUIRE(mul_div_round(UINT64_MAX, 1000, 1001) == 18428315757951600015ull);
    REQUIRE(div_round(5, 2) == 3);
    REQUIRE(div_round(UINT64_MAX, 2) == 1ull << 63);
    REQUIRE(div_round(7, 3) == 2);

    for (uint64_t v : {0ull, 1ull, 2ull, 3ull, 4ull, 15ull, 16ull, 17ull})
        REQUIRE(isqrt128(v) == uint64_t(std::sqrt(double(v))));
    const u128 top = u128(UINT64_MAX) * UINT64_MAX;
    REQUIRE(isqrt128(top) == UINT64_MAX);
    REQUIRE(isqrt128(top - 1) == UINT64_MAX - 1);
    REQUIRE(isqrt128(~u128(0)) == UINT64_MAX);
}

TEST_CASE("bench stats: heapsort sorts any input in place") {
    std::mt19937_64 rng(42);
    for (size_t n : {0, 1, 2, 3, 7, 64, 1000}) {
        for (uint64_t range : {uint64_t(3), UINT64_MAX}) {
            std::vector<uint64_t> v(n);
            for (auto& x : v)
                x = rng() % range;
            auto expected = v;
            std::sort(expected.begin(), expected.end());
            sort_samples(v.data(), v.size());
            REQUIRE(v == expected);
        }
    }
}

TEST_CASE("bench stats: 1..100 gives numpy's linear percentiles") {
    std::vector<uint64_t> v;
    for (uint64_t i = 100; i >= 1; --i)
        v.push_back(i);
    std::shuffle(v.begin(), v.end(), std::mt19937(7));
    const Stats s = stats_of(v);
    REQUIRE(s.count == 100);
    REQUIRE(s.min == 1000);
    REQUIRE(s.p25 == 25750); // rank 24.75
    REQUIRE(s.median == 50500);
    REQUIRE(s.p75 == 75250);
    REQUIRE(s.p95 == 95050); // rank 94.05
    REQUIRE(s.p99 == 99010);
    REQUIRE(s.max == 100000);
    REQUIRE(s.mean == 50500);
    REQUIRE(s.stddev == 28866); // sqrt((100^2 - 1) / 12) = 28.86607
}

TEST_CASE("bench stats: one sample, two samples and repeated values") {
    const Stats one = stats_of({42});
    for (uint64_t x : {one.min, one.p25, one.median, one.p75, one.p95, one.p99, one.max, one.mean})
        REQUIRE(x == 42000);
    REQUIRE(one.stddev == 0);

    const Stats two = stats_of({20, 10});
    REQUIRE(two.min == 10000);
    REQUIRE(two.p25 == 12500);
    REQUIRE(two.median == 15000);
    REQUIRE(two.p75 == 17500);
    REQUIRE(two.p95 == 19500);
    REQUIRE(two.p99 == 19900);
    REQUIRE(two.mean == 15000);
    REQUIRE(two.stddev == 5000); // population standard deviation (ddof = 0)

    const Stats same = stats_of({7, 7, 7, 7});
    REQUIRE(same.p25 == 7000);
    REQUIRE(same.p99 == 7000);
    REQUIRE(same.stddev == 0);

    const Stats skew = stats_of({1, 9, 1, 1});
    REQUIRE(skew.median == 1000);
    REQUIRE(skew.p75 == 3000); // rank 2.25: 1 + 0.25 * 8
    REQUIRE(skew.p95 == 7800); // rank 2.85
    REQUIRE(skew.p99 == 8760); // rank 2.97
    REQUIRE(skew.mean == 3000);
    REQUIRE(skew.stddev == 3464); // sqrt(12)

    const Stats third = stats_of({1, 2, 2}); // mean 5/3 rounds to 1.667
    REQUIRE(third.mean == 1667);
    REQUIRE(third.stddev == 471); // sqrt(2/9)
}

TEST_CASE("bench stats: samples up to kMaxSample do not overflow") {
    const Stats near = stats_of({kMaxSample, kMaxSample - 1, kMaxSample});
    REQUIRE(near.max == kMaxSample * 1000);
    REQUIRE(near.max == 18446744073709551000ull);
    REQUIRE(near.mean == kMaxSample * 1000 - 333);
    REQUIRE(near.median == kMaxSample * 1000);
    REQUIRE(near.stddev == 471);

    const Stats spread = stats_of({0, kMaxSample});
    REQUIRE(spread.mean == 9223372036854775500ull); // kMaxSample is odd
    REQUIRE(spread.median == 9223372036854775500ull);
    REQUIRE(spread.p99 == 18262276632972455490ull);
    REQUIRE(spread.stddev == 9223372036854775500ull);

    // Squared deviations of ~8.5e37 each: their 128-bit sum must be folded many times.
    std::vector<uint64_t> many;
    for (int i = 0; i < 2000; ++i)
        many.push_back(i % 2 == 0 ? 0 : kMaxSample);
    const Stats folded = stats_of(many);
    REQUIRE(folded.mean == 9223372036854775500ull);
    REQUIRE(folded.stddev == 9223372036854775500ull);
    REQUIRE(folded.count == 2000);
}

TEST_CASE("bench stats: random samples agree with a floating-point reference") {
    std::mt19937_64 rng(1);
    for (int round = 0; round < 50; ++round) {
        std::vector<uint64_t> v(1 + rng() % 300);
        for (auto& x : v)
            x = 1000 + rng() % 100000;
        const Stats s = stats_of(v);
        const uint32_t ps[] = {250, 500, 750, 950, 990};
        const uint64_t got[] = {s.p25, s.median, s.p75, s.p95, s.p99};
        for (int i = 0; i < 5; ++i)
            REQUIRE(std::fabs(numpy_percentile(v, ps[i]) * 1000 - double(got[i])) < 1.0);
        double mean = 0, var = 0;
        for (auto x : v)
            mean += double(x);
        mean /= double(v.size());
        for (auto x : v)
            var += (double(x) - mean) * (double(x) - mean);
        var /= double(v.size());
        REQUIRE(std::fabs(mean * 1000 - double(s.mean)) <= 0.5001);
        REQUIRE(std::fabs(std::sqrt(var) * 1000 - double(s.stddev)) <= 1.0);
    }
}

TEST_CASE("bench stats: empty input, oversized samples, bad percentiles, per-iteration scaling") {
    uint64_t none = 0;
    REQUIRE(compute_stats(&none, 0).status() == Status::InvalidArgument);
    uint64_t huge[] = {1, kMaxSample + 1};
    REQUIRE(compute_stats(huge, 2).status() == Status::OutOfRange);
    uint64_t one = 5;
    REQUIRE_THROWS_AS(percentile_milli(&one, 1, 1001), exo::test::AssertionFailure);
    REQUIRE_THROWS_AS(percentile_milli(&one, 0, 500), exo::test::AssertionFailure);
    REQUIRE(percentile_milli(&one, 1, 1000) == 5000);

    const Stats per = per_iteration(stats_of({300, 301}), 3);
    REQUIRE(per.count == 2);
    REQUIRE(per.min == 100000);
    REQUIRE(per.median == 100167); // 300.5 / 3 = 100.1666
    REQUIRE(per.max == 100333);
    REQUIRE(per.stddev == 167); // 0.5 / 3
    REQUIRE_THROWS_AS(per_iteration(per, 0), exo::test::AssertionFailure);

    REQUIRE(spread_within(quartiles(100000, 100000, 100000), 0));
    REQUIRE(spread_within(quartiles(99000, 100000, 101000), 20)); // 20 per mille exactly
    REQUIRE(!spread_within(quartiles(99000, 100000, 101001), 20));
    REQUIRE(spread_within(quartiles(0, 0, 0), 0));
    REQUIRE(!spread_within(quartiles(0, 0, 1), 1000));
}

namespace {

// A scripted clock: each read returns the time, then the read itself costs `read_cost` ticks.
// Bodies advance `time` by what they "take".
struct FakeClock {
    static inline uint64_t time = 0;
    static inline uint64_t read_cost = 0;
    static uint64_t now() {
        const uint64_t t = time;
        time += read_cost;
        return t;
    }
    static void reset(uint64_t cost) {
        time = 1'000'000;
        read_cost = cost;
    }
};

// A clock with distinct region-opening and region-closing reads, as TscpClock has.
struct FakeSplitClock {
    static inline uint64_t time = 0;
    static inline int stops = 0;
    static uint64_t now() { return time; }
    static uint64_t start() { // costs 3 ticks inside the region
        const uint64_t t = time;
        time += 3;
        return t;
    }
    static uint64_t stop() {
        ++stops;
        return time;
    }
};

} // namespace

TEST_CASE("bench runner: clock overhead is measured and subtracted, clamped at zero") {
    FakeClock::reset(7);
    uint64_t buffer[64];
    RunConfig config;
    config.min_samples = 8;
    Runner<FakeClock> runner(buffer, 64, config);
    auto m = runner.run([] { FakeClock::time += 100; });
    REQUIRE(m.ok());
    REQUIRE(m.value().overhead == 7);
    REQUIRE(m.value().stats.min == 100000);
    REQUIRE(m.value().stats.max == 100000);
    REQUIRE(m.value().reason == StopReason::Converged);

    // A clock read that got cheaper than calibrated: samples below the overhead become 0.
    FakeClock::read_cost = 2;
    uint64_t cost = 0;
    auto clamped = runner.run([&] { FakeClock::time += cost++ % 2 == 0 ? 0 : 60; });
    REQUIRE(clamped.ok());
    REQUIRE(clamped.value().stats.min == 0);     // 2 - 7, clamped
    REQUIRE(clamped.value().stats.max == 55000); // 62 - 7
    REQUIRE(runner.sample_count() == 64);        // never stable: the buffer filled up
    REQUIRE(clamped.value().reason == StopReason::SampleLimit);
    REQUIRE(runner.samples()[0] == 0); // sorted
    REQUIRE(runner.samples()[63] == 55);

    FakeSplitClock::time = 0;
    FakeSplitClock::stops = 0;
    uint64_t split_buffer[16];
    Runner<FakeSplitClock> split(split_buffer, 16, config);
    auto s = split.run([] { FakeSplitClock::time += 40; });
    REQUIRE(s.ok());
    REQUIRE(s.value().overhead == 3);
    REQUIRE(s.value().stats.median == 40000);
    REQUIRE(FakeSplitClock::stops > 0);
}

TEST_CASE("bench runner: warm-up is discarded and batches report per-iteration values") {
    FakeClock::reset(5);
    uint64_t buffer[32];
    RunConfig config;
    config.warmup = 4;
    config.batch = 3;
    config.min_samples = 8;
    Runner<FakeClock> runner(buffer, 32, config);
    int calls = 0;
    // The 12 warm-up calls (4 batches of 3) are slow; then every batch takes 100 + 100 + 101.
    auto m = runner.run([&] {
        const int i = calls++;
        FakeClock::time += i < 12 ? 1000 : i % 3 == 2 ? 101 : 100;
    });
    REQUIRE(m.ok());
    REQUIRE(m.value().stats.count == 8);
    REQUIRE(m.value().stats.max == 100333); // 301 ticks per batch of 3
    REQUIRE(m.value().stats.min == 100333);
    REQUIRE(m.value().reason == StopReason::Converged);
    REQUIRE(calls == 12 + 8 * 3);
}

TEST_CASE("bench runner: stops when stable, when full or when out of time") {
    FakeClock::reset(0);
    uint64_t buffer[256];
    RunConfig config;
    config.warmup = 0;
    config.min_samples = 16;
    config.check_every = 16;
    config.target_permille = 20;
    Runner<FakeClock> runner(buffer, 256, config);

    // 16 noisy samples (100/200), then 150 steadily. At 16: spread 100/150. At 32 (8x100,
    // 16x150, 8x200): p25 137.5, p75 162.5, still too wide. At 48: p25 = p75 = 150: stable.
    int calls = 0;
    auto m = runner.run([&] {
        const int i = calls++;
        FakeClock::time += i >= 16 ? 150 : i % 2 == 0 ? 100 : 200;
    });
    REQUIRE(m.ok());
    REQUIRE(m.value().reason == StopReason::Converged);
    REQUIRE(m.value().stats.count == 48);
    REQUIRE(m.value().stats.median == 150000);

    // Never stable: the checks space out (16, 32, ..., 128, then count / 8), the buffer fills.
    calls = 0;
    auto full = runner.run([&] { FakeClock::time += calls++ % 2 == 0 ? 100 : 200; });
    REQUIRE(full.ok());
    REQUIRE(full.value().reason == StopReason::SampleLimit);
    REQUIRE(full.value().stats.count == 256);

    // A time bound, bodies alternating 100 and 200 ticks and reads costing 5: the k-th sample's
    // end read comes sum(bodies) + 10k - 5 ticks after the first began: 955 at k = 6, 1065 at 7.
    FakeClock::reset(5);
    config.max_ticks = 1000;
    Runner<FakeClock> bounded(buffer, 256, config);
    calls = 0;
    auto timed = bounded.run([&] { FakeClock::time += calls++ % 2 == 0 ? 100 : 200; }); // noisy
    REQUIRE(timed.ok());
    REQUIRE(timed.value().reason == StopReason::TimeLimit);
    REQUIRE(timed.value().stats.count == 7);
}

TEST_CASE("bench runner: invalid configurations and oversized samples are refused") {
    FakeClock::reset(0);
    uint64_t buffer[8];
    RunConfig config;
    config.batch = 0;
    REQUIRE(Runner<FakeClock>(buffer, 8, config).run([] {}).status() == Status::InvalidArgument);
    REQUIRE(Runner<FakeClock>(buffer, 0).run([] {}).status() == Status::InvalidArgument);
    config.batch = 1;
    config.check_every = 0;
    REQUIRE(Runner<FakeClock>(buffer, 8, config).run([] {}).status() == Status::InvalidArgument);
    REQUIRE(Runner<FakeClock>(buffer, 8).run([] { FakeClock::time += kMaxSample + 1; }).status() ==
            Status::OutOfRange);
}

TEST_CASE("bench cycles: the TSC clocks never run backwards") {
    uint64_t last = TscClock::now();
    for (int i = 0; i < 1000; ++i) {
        const uint64_t t = TscClock::now();
        REQUIRE(t >= last);
        last = t;
    }
    if (rdtscp_supported()) {
        const uint64_t start = TscpClock::start();
        REQUIRE(TscpClock::stop() >= start);
    }
    uint64_t buffer[64];
    uint64_t x = 0;
    auto m = Runner<TscClock>(buffer, 64).run([&] { do_not_optimize(++x); });
    REQUIRE(m.ok());
    REQUIRE(m.value().stats.count >= 16);
    REQUIRE(m.value().stats.min <= m.value().stats.max);
}
