// Always-on assertions for invariants whose failure would corrupt state. Never use them on
// untrusted input: return a Status instead. The failure handler is supplied by the environment
// at link time: the kernel panics, servers abort, host tests throw so REQUIRE_THROWS can see it.
#pragma once

namespace exo {

[[noreturn]] void assert_failed(const char* file, int line, const char* expr, const char* msg);

} // namespace exo

#define EXO_ASSERT(cond, msg)                                                                      \
    do {                                                                                           \
        if (__builtin_expect(!(cond), 0))                                                          \
            ::exo::assert_failed(__FILE__, __LINE__, #cond, (msg));                                \
    } while (0)
