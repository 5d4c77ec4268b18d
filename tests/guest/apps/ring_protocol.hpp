// The messages between ring-test and ring-child.
#pragma once

#include <exo/caps.hpp>
#include <stddef.h>
#include <stdint.h>

namespace exo::test {

inline constexpr Slot kIn = 8;  // in the child: the consumer end of the parent's ring
inline constexpr Slot kOut = 9; // in the child: the producer end of its answers
inline constexpr uint64_t kEcho = 0, kStall = 1, kCount = 2; // the child's argument
inline constexpr uint32_t kData = 1, kStop = 2, kCapMessage = 3;
inline constexpr uint64_t kCapWindow = 0x50000000;

struct Reply {
    uint64_t sequence;
    uint64_t checksum;
    uint64_t ok; // 1 when the payload was the one the sequence number implies
};

// Payload byte i of message `sequence`.
inline uint8_t payload_byte(uint64_t sequence, size_t i) {
    return uint8_t((sequence * 131 + i * 7) ^ (i >> 3));
}

inline uint64_t checksum(const uint8_t* data, size_t n) {
    uint64_t h = 0xcbf29ce484222325ull; // FNV-1a
    for (size_t i = 0; i < n; ++i)
        h = (h ^ data[i]) * 0x100000001b3ull;
    return h;
}

inline uint64_t payload_matches(uint64_t sequence, const uint8_t* data, size_t n) {
    for (size_t i = 0; i < n; ++i)
        if (data[i] != payload_byte(sequence, i))
            return 0;
    return 1;
}

} // namespace exo::test
