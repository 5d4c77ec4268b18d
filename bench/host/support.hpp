// What every host benchmark shares: the host's monotonic clock for the Runner, and a FormatSink
// over a stdio FILE (stdout for the Markdown table, the CSV file named on the command line).
#pragma once

#include <cstdint>
#include <cstdio>
#include <ctime>
#include <exo/format.hpp>

namespace exo::bench::host {

// Nanoseconds of CLOCK_MONOTONIC. Each sample should time a batch of iterations so that its
// resolution and cost are spread thin; the runner subtracts the cost.
struct MonotonicClock {
    static uint64_t now() {
        timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return uint64_t(ts.tv_sec) * 1000000000u + uint64_t(ts.tv_nsec);
    }
};

inline void file_sink_write(void* file, const char* s, size_t n) {
    fwrite(s, 1, n, static_cast<FILE*>(file));
}

inline FormatSink file_sink(FILE* file) {
    return {file_sink_write, file};
}

} // namespace exo::bench::host
