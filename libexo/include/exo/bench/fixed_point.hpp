// Fixed-point arithmetic of the benchmark core (portable, freestanding): every statistic is an
// unsigned count of milli-units, so the kernel needs no floating point.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace exo::bench {

// The one representation: a value v of the sample's unit (cycles, ns, instructions) is held as
// the integer round(v * 1000), "milli-units". 12.345 cycles is 12'345; printed as "12.345".
inline constexpr uint64_t kMilli = 1000;

// The largest raw sample the statistics accept: its milli-unit value still fits in 64 bits.
// About 1.8e16, i.e. 53 days of cycles at 4 GHz.
inline constexpr uint64_t kMaxSample = UINT64_MAX / kMilli;

// __extension__: -Wpedantic would flag __int128. Products and shifts of it compile inline; only
// its division needs libgcc, hence divmod128.
__extension__ typedef unsigned __int128 u128;

// floor(a / d) and a % d (into *rem) for a 128-bit a, by hand: libgcc's __udivti3 is not
// linked into the kernel. d must not be 0.
u128 divmod128(u128 a, uint64_t d, uint64_t* rem);

// round(a * b / c), halves rounded up, saturated to UINT64_MAX. c must not be 0.
uint64_t mul_div_round(uint64_t a, uint64_t b, uint64_t c);

// floor(sqrt(v)).
uint64_t isqrt128(u128 v);

// round(v / k) with halves rounded up, without overflow for any v. k must not be 0.
constexpr uint64_t div_round(uint64_t v, uint64_t k) {
    const uint64_t r = v % k;
    return v / k + (r >= k - r ? 1 : 0);
}

} // namespace exo::bench
