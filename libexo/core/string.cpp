// mem* for freestanding code (kernel and servers). GCC emits calls to these even with
// -ffreestanding, so they must exist; `rep movsb/stosb` keeps the compiler from turning a plain
// loop back into a call to itself, and is fast on CPUs with ERMS (Intel SDM vol. 1 7.3.9.3).
#include <stddef.h>
#include <stdint.h>

extern "C" {

void* memcpy(void* dst, const void* src, size_t n) {
    void* ret = dst;
    asm volatile("rep movsb" : "+D"(dst), "+S"(src), "+c"(n) : : "memory");
    return ret;
}

void* memset(void* dst, int value, size_t n) {
    void* ret = dst;
    asm volatile("rep stosb" : "+D"(dst), "+c"(n) : "a"(value) : "memory");
    return ret;
}

void* memmove(void* dst, const void* src, size_t n) {
    auto d = reinterpret_cast<uintptr_t>(dst);
    auto s = reinterpret_cast<uintptr_t>(src);
    if (d <= s || d >= s + n)
        return memcpy(dst, src, n);
    // Overlapping with dst above src: copy backwards (direction flag set only for this copy).
    void* ret = dst;
    auto* dl = static_cast<unsigned char*>(dst) + n - 1;
    auto* sl = static_cast<const unsigned char*>(src) + n - 1;
    asm volatile("std; rep movsb; cld" : "+D"(dl), "+S"(sl), "+c"(n) : : "memory");
    return ret;
}

int memcmp(const void* a, const void* b, size_t n) {
    auto* x = static_cast<const unsigned char*>(a);
    auto* y = static_cast<const unsigned char*>(b);
    for (size_t i = 0; i < n; ++i) {
        if (x[i] != y[i])
            return x[i] < y[i] ? -1 : 1;
    }
    return 0;
}

void* memchr(const void* s, int c, size_t n) {
    auto* p = static_cast<const unsigned char*>(s);
    for (size_t i = 0; i < n; ++i) {
        if (p[i] == static_cast<unsigned char>(c))
            return const_cast<unsigned char*>(p + i);
    }
    return nullptr;
}

size_t strlen(const char* s) {
    size_t n = 0;
    while (s[n])
        ++n;
    return n;
}

} // extern "C"
