// Host benchmarks: a failed EXO_ASSERT is a bug in the code under measurement, so stop loudly.
#include <cstdio>
#include <cstdlib>
#include <exo/assert.hpp>

void exo::assert_failed(const char* file, int line, const char* expr, const char* msg) {
    std::fprintf(stderr, "%s:%d: assertion `%s` failed: %s\n", file, line, expr, msg);
    std::abort();
}
