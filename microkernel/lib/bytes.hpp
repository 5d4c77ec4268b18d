// Unaligned little-endian loads from byte buffers (boot information, ACPI tables, the symbol
// table): a memcpy the compiler turns into one mov, without the undefined behaviour of a
// misaligned pointer cast. x86-64 is little-endian, so the host order is the wire order.
#pragma once

#include <stdint.h>

namespace mk {

template <typename T>
inline T load(const uint8_t* p) {
    T v;
    __builtin_memcpy(&v, p, sizeof v);
    return v;
}

inline uint16_t read_u16(const uint8_t* p) {
    return load<uint16_t>(p);
}
inline uint32_t read_u32(const uint8_t* p) {
    return load<uint32_t>(p);
}
inline uint64_t read_u64(const uint8_t* p) {
    return load<uint64_t>(p);
}

} // namespace mk
