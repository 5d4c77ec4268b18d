// Fixed-point helpers of the benchmark core (portable, freestanding): 128-bit division and square
// root written out so that neither libgcc nor the FPU is needed.
#include <exo/bench/fixed_point.hpp>

#include <exo/assert.hpp>

namespace exo::bench {

u128 divmod128(u128 a, uint64_t d, uint64_t* rem) {
    EXO_ASSERT(d != 0, "division by zero");
    const uint64_t hi = uint64_t(a >> 64);
    const uint64_t lo = uint64_t(a);
    if (hi == 0) {
        *rem = lo % d;
        return lo / d;
    }
    // Long division of the low word, one bit at a time, with r < d carried from the high word.
    // r may need 65 bits after the shift: the carry out of bit 63 then means r >= d.
    uint64_t r = hi % d;
    uint64_t q_lo = 0;
    for (int bit = 63; bit >= 0; --bit) {
        const bool carry = (r >> 63) != 0;
        r = (r << 1) | ((lo >> bit) & 1);
        q_lo <<= 1;
        if (carry || r >= d) {
            r -= d;
            q_lo |= 1;
        }
    }
    *rem = r;
    return (u128(hi / d) << 64) | q_lo;
}

uint64_t mul_div_round(uint64_t a, uint64_t b, uint64_t c) {
    // a * b + c / 2 < 2^128: (2^64 - 1)^2 leaves 2^65 - 2 of room.
    uint64_t rem;
    const u128 q = divmod128(u128(a) * b + c / 2, c, &rem);
    return (q >> 64) != 0 ? UINT64_MAX : uint64_t(q);
}

uint64_t isqrt128(u128 v) {
    // The bit-by-bit method (one result bit per step, from the top), exact for every input.
    u128 result = 0;
    u128 bit = u128(1) << 126;
    while (bit > v)
        bit >>= 2;
    while (bit != 0) {
        if (v >= result + bit) {
            v -= result + bit;
            result = (result >> 1) + bit;
        } else {
            result >>= 1;
        }
        bit >>= 2;
    }
    return uint64_t(result);
}

} // namespace exo::bench
