// Checks for the guest test programs: each prints the failing line and counts, and the program
// ends with a summary line that the guest harness looks for.
#pragma once

#include <exo/log.hpp>
#include <exo/status.hpp>
#include <exo/sys.hpp>

namespace exo::test {

struct Tally {
    unsigned checks = 0;
    unsigned failures = 0;
};
inline Tally tally;

inline void check_status(int line, const char* what, Status got, Status want) {
    ++tally.checks;
    if (got != want) {
        ++tally.failures;
        print("FAIL line %d: %s returned %s, expected %s", line, what, status_name(got),
              status_name(want));
    }
}

inline void check_true(int line, const char* what, bool ok) {
    ++tally.checks;
    if (!ok) {
        ++tally.failures;
        print("FAIL line %d: %s", line, what);
    }
}

// Prints "<name>: all N checks passed" or "<name>: F of N checks failed"; the exit code.
inline int summary(const char* name) {
    if (tally.failures == 0) {
        print("%s: all %u checks passed", name, tally.checks);
        return 0;
    }
    print("%s: %u of %u checks failed", name, tally.failures, tally.checks);
    return 1;
}

// A dead child's quota after its parent dropped the Process capability. The kernel announces
// a process's end once its last thread's stack is free (UserThread::reclaimed), but on another
// CPU the reaper still holds its own reference to the Process for a few hundred instructions
// after the parent has woken, and an emulated CPU can be kept off the host for milliseconds:
// give it a bounded time (2 s of guest time).
inline uint64_t settled_quota_use(Slot quota, uint64_t expected = 0) {
    MemoryInfo info{};
    const uint64_t until = sys::clock_ns() + 2'000'000'000;
    while (sys::memory_info(quota, &info) == Status::Ok && info.used != expected &&
           sys::clock_ns() < until)
        (void)sys::yield();
    return info.used;
}

} // namespace exo::test

#define EXPECT_STATUS(expr, want) ::exo::test::check_status(__LINE__, #expr, (expr), (want))
#define EXPECT_OK(expr) EXPECT_STATUS(expr, ::exo::Status::Ok)
#define EXPECT_TRUE(expr) ::exo::test::check_true(__LINE__, #expr, (expr))
