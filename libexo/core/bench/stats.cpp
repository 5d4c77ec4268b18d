// Statistics of the portable benchmark core (freestanding): heapsort, percentiles, mean and
// standard deviation over integer samples, exact in fixed point and free of overflow.
#include <exo/bench/stats.hpp>

#include <exo/assert.hpp>

namespace exo::bench {
namespace {

// Restores the max-heap property below `root` in heap[0..n).
void sift_down(uint64_t* heap, size_t root, size_t n) {
    const uint64_t value = heap[root];
    for (;;) {
        size_t child = 2 * root + 1;
        if (child >= n)
            break;
        if (child + 1 < n && heap[child + 1] > heap[child])
            ++child;
        if (heap[child] <= value)
            break;
        heap[root] = heap[child];
        root = child;
    }
    heap[root] = value;
}

// A running sum kept as quotient and remainder by n, so that it never overflows: after adding
// samples s_i, sum(s_i) == quotient * n + remainder with remainder < n.
struct MeanAccumulator {
    uint64_t n;
    uint64_t quotient = 0;
    uint64_t remainder = 0;

    void add(uint64_t sample) {
        quotient += sample / n;
        remainder += sample % n; // < 2n: no overflow for any n a memory can hold
        if (remainder >= n) {
            remainder -= n;
            ++quotient;
        }
    }
    // round(1000 * sum / n); at most 1000 * max sample, so it fits.
    uint64_t milli() const { return quotient * kMilli + mul_div_round(remainder, kMilli, n); }
};

// Population variance, in milli-units squared and rounded, of milli-unit values around `mean`.
// The squared deviations are summed in 128 bits; before that sum could overflow it is folded
// into a quotient and remainder by n, so every input is exact.
u128 variance_milli2(const uint64_t* samples, size_t n, uint64_t mean) {
    u128 pending = 0;
    u128 quotient = 0;
    uint64_t remainder = 0;
    auto fold = [&] {
        uint64_t rem;
        quotient += divmod128(pending, n, &rem);
        remainder += rem;
        if (remainder >= n) {
            remainder -= n;
            ++quotient;
        }
        pending = 0;
    };
    for (size_t i = 0; i < n; ++i) {
        const uint64_t value = samples[i] * kMilli;
        const uint64_t deviation = value > mean ? value - mean : mean - value;
        const u128 square = u128(deviation) * deviation;
        if (pending + square < pending)
            fold();
        pending += square;
    }
    fold();
    return quotient + (remainder >= n - remainder ? 1 : 0);
}

uint64_t sqrt_round(u128 v) {
    const uint64_t root = isqrt128(v);
    // sqrt(v) >= root + 1/2 exactly when v > root^2 + root (v is an integer).
    return v - u128(root) * root > root ? root + 1 : root;
}

// (p75 - p25) / median <= target / 1000, cross-multiplied in 128 bits.
bool iqr_within(uint64_t p25, uint64_t median, uint64_t p75, uint32_t target_permille) {
    return u128(p75 - p25) * 1000 <= u128(median) * target_permille;
}

} // namespace

void sort_samples(uint64_t* samples, size_t n) {
    if (n < 2)
        return;
    for (size_t i = n / 2; i-- > 0;)
        sift_down(samples, i, n);
    for (size_t end = n - 1; end > 0; --end) {
        const uint64_t top = samples[0];
        samples[0] = samples[end];
        samples[end] = top;
        sift_down(samples, 0, end);
    }
}

uint64_t percentile_milli(const uint64_t* sorted, size_t n, uint32_t p_permille) {
    EXO_ASSERT(n > 0, "percentile of no samples");
    EXO_ASSERT(p_permille <= 1000, "percentile above 100%");
    // rank * 1000 = p * (n - 1), split so that no product overflows.
    const uint64_t last = n - 1;
    const uint64_t low_part = (last % 1000) * p_permille;
    const uint64_t index = (last / 1000) * p_permille + low_part / 1000;
    const uint64_t thousandths = low_part % 1000;
    const uint64_t base = sorted[index] * kMilli;
    if (thousandths == 0)
        return base;
    // (x[i+1] - x[i]) * fraction, in milli-units, is exactly (x[i+1] - x[i]) * thousandths.
    return base + (sorted[index + 1] - sorted[index]) * thousandths;
}

Result<Stats> compute_stats(uint64_t* samples, size_t n) {
    if (n == 0)
        return Status::InvalidArgument;
    MeanAccumulator sum{n};
    for (size_t i = 0; i < n; ++i) {
        if (samples[i] > kMaxSample)
            return Status::OutOfRange;
        sum.add(samples[i]);
    }
    sort_samples(samples, n);

    Stats s;
    s.count = n;
    s.min = samples[0] * kMilli;
    s.max = samples[n - 1] * kMilli;
    s.p25 = percentile_milli(samples, n, 250);
    s.median = percentile_milli(samples, n, 500);
    s.p75 = percentile_milli(samples, n, 750);
    s.p95 = percentile_milli(samples, n, 950);
    s.p99 = percentile_milli(samples, n, 990);
    s.mean = sum.milli();
    s.stddev = sqrt_round(variance_milli2(samples, n, s.mean));
    return s;
}

Stats per_iteration(const Stats& s, uint64_t k) {
    EXO_ASSERT(k != 0, "a batch of zero iterations");
    Stats out;
    out.count = s.count;
    out.min = div_round(s.min, k);
    out.p25 = div_round(s.p25, k);
    out.median = div_round(s.median, k);
    out.p75 = div_round(s.p75, k);
    out.p95 = div_round(s.p95, k);
    out.p99 = div_round(s.p99, k);
    out.max = div_round(s.max, k);
    out.mean = div_round(s.mean, k);
    out.stddev = div_round(s.stddev, k);
    return out;
}

bool spread_within(const Stats& s, uint32_t target_permille) {
    return iqr_within(s.p25, s.median, s.p75, target_permille);
}

bool spread_within(const uint64_t* sorted, size_t n, uint32_t target_permille) {
    return iqr_within(percentile_milli(sorted, n, 250), percentile_milli(sorted, n, 500),
                      percentile_milli(sorted, n, 750), target_permille);
}

} // namespace exo::bench
