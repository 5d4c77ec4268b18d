// The benchmark Runner (portable benchmark core, header only): times a body with a clock given as
// a template parameter, subtracts the clock's own overhead, and repeats until the results are
// stable or a bound is hit. No heap: samples go to a caller-provided buffer.
#pragma once

#include <exo/bench/stats.hpp>
#include <exo/result.hpp>

#include <stddef.h>
#include <stdint.h>

namespace exo::bench {

// Keeps the compiler from deleting a computation whose result is otherwise unused.
template <typename T>
inline void do_not_optimize(T& value) {
    asm volatile("" : "+r,m"(value) : : "memory");
}
template <typename T>
inline void do_not_optimize(const T& value) {
    asm volatile("" : : "r,m"(value) : "memory");
}
// Makes the compiler assume all memory is read and written here (stores are not elided).
inline void clobber_memory() {
    asm volatile("" : : : "memory");
}

struct RunConfig {
    size_t warmup = 8;             // timed batches run first and discarded (caches, predictors)
    uint64_t batch = 1;            // body iterations per sample; results are per iteration
    size_t min_samples = 16;       // the first stability check happens at this many samples
    size_t check_every = 16;       // K: the check's minimum spacing, in samples
    uint32_t target_permille = 20; // stable when (p75 - p25) <= median * target / 1000
    uint64_t max_ticks = 0;        // bound on the measuring phase, in clock ticks; 0: none
    size_t overhead_reads = 64;    // back-to-back clock read pairs for calibration
};

enum class StopReason : uint8_t {
    Converged,   // the interquartile range fell within target_permille of the median
    SampleLimit, // the buffer is full
    TimeLimit,   // max_ticks elapsed since the first measured sample began
};

struct Measurement {
    Stats stats;       // per iteration, overhead subtracted; stats.count samples were taken
    uint64_t overhead; // clock ticks subtracted from each sample
    StopReason reason;
};

// Clock: `static uint64_t now()`, monotonic ticks (cycles, ns or, under QEMU -icount,
// instructions). If it also has `static uint64_t start()` and `stop()`, those open and close each
// measured region instead (TscpClock's RDTSCP end).
//
// A run: calibrate once (the lower median of overhead_reads back-to-back start()/stop() pairs is
// the clock's own cost); `warmup` timed batches, discarded; then samples, each the ticks of
// `batch` calls of the body minus the overhead, clamped at 0. After min_samples samples, and then
// each time max(check_every, count / 8) more have been taken, the samples are sorted and the run
// stops if their spread is within target_permille (spread_within); the growing spacing keeps the
// total cost of checking at O(n log n). The run otherwise stops when the buffer is full or
// max_ticks have elapsed, checked in that order after each sample.
template <typename Clock>
class Runner {
public:
    // `buffer` holds `capacity` samples (the maximum per run) and is reused by every run.
    Runner(uint64_t* buffer, size_t capacity, const RunConfig& config = {})
        : buffer_(buffer), capacity_(capacity), config_(config) {}

    // Measures the clock's overhead (using the sample buffer) and keeps it for later runs.
    uint64_t calibrate() {
        size_t reads = config_.overhead_reads < capacity_ ? config_.overhead_reads : capacity_;
        if (reads == 0)
            reads = 1;
        uint64_t single;
        uint64_t* scratch = capacity_ == 0 ? &single : buffer_;
        for (size_t i = 0; i < reads; ++i) {
            const uint64_t t0 = read_start();
            const uint64_t t1 = read_stop();
            scratch[i] = t1 - t0;
        }
        sort_samples(scratch, reads);
        overhead_ = scratch[(reads - 1) / 2];
        calibrated_ = true;
        return overhead_;
    }

    uint64_t overhead() const { return overhead_; }

    // Runs `body()` as described above. InvalidArgument for an empty buffer or a zero batch,
    // min_samples or check_every; OutOfRange if a sample exceeds kMaxSample.
    template <typename Body>
    Result<Measurement> run(Body&& body) {
        if (capacity_ == 0 || config_.batch == 0 || config_.min_samples == 0 ||
            config_.check_every == 0)
            return Status::InvalidArgument;
        if (!calibrated_)
            calibrate();
        for (size_t i = 0; i < config_.warmup; ++i)
            time_batch(body);

        StopReason reason = StopReason::SampleLimit;
        size_t count = 0;
        size_t next_check = config_.min_samples;
        uint64_t begin = 0;
        for (;;) {
            uint64_t t0;
            const uint64_t ticks = time_batch(body, &t0);
            const uint64_t t1 = t0 + ticks;
            if (count == 0)
                begin = t0;
            const uint64_t sample = ticks > overhead_ ? ticks - overhead_ : 0;
            if (sample > kMaxSample)
                return Status::OutOfRange;
            buffer_[count++] = sample;

            if (count == next_check) {
                sort_samples(buffer_, count);
                if (spread_within(buffer_, count, config_.target_permille)) {
                    reason = StopReason::Converged;
                    break;
                }
                const size_t step =
                    count / 8 > config_.check_every ? count / 8 : config_.check_every;
                next_check = count + step;
            }
            if (count == capacity_) {
                reason = StopReason::SampleLimit;
                break;
            }
            if (config_.max_ticks != 0 && t1 - begin >= config_.max_ticks) {
                reason = StopReason::TimeLimit;
                break;
            }
        }
        count_ = count;
        const Stats raw = TRY(compute_stats(buffer_, count));
        return Measurement{per_iteration(raw, config_.batch), overhead_, reason};
    }

    // The last run's samples: ticks per batch, overhead subtracted, sorted ascending.
    const uint64_t* samples() const { return buffer_; }
    size_t sample_count() const { return count_; }

private:
    static uint64_t read_start() {
        if constexpr (requires { Clock::start(); })
            return Clock::start();
        else
            return Clock::now();
    }
    static uint64_t read_stop() {
        if constexpr (requires { Clock::stop(); })
            return Clock::stop();
        else
            return Clock::now();
    }

    // Ticks taken by one batch, clock overhead included; its start time goes to *start if given.
    template <typename Body>
    uint64_t time_batch(Body& body, uint64_t* start = nullptr) {
        const uint64_t t0 = read_start();
        for (uint64_t i = 0; i < config_.batch; ++i)
            body();
        const uint64_t t1 = read_stop();
        if (start != nullptr)
            *start = t0;
        return t1 - t0;
    }

    uint64_t* buffer_;
    size_t capacity_;
    RunConfig config_;
    uint64_t overhead_ = 0;
    bool calibrated_ = false;
    size_t count_ = 0;
};

} // namespace exo::bench
