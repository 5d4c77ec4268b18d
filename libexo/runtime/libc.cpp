// The str* half of libexo's C subset and snprintf (the mem* half is core/string.cpp, shared
// with the kernel).
#include <exo/format.hpp>
#include <exo/libc.h>

extern "C" {

size_t strnlen(const char* s, size_t max) {
    size_t n = 0;
    while (n < max && s[n])
        ++n;
    return n;
}

int strcmp(const char* a, const char* b) {
    while (*a && *a == *b) {
        ++a;
        ++b;
    }
    return int(static_cast<unsigned char>(*a)) - int(static_cast<unsigned char>(*b));
}

int strncmp(const char* a, const char* b, size_t n) {
    for (size_t i = 0; i < n; ++i) {
        if (a[i] != b[i] || a[i] == '\0')
            return int(static_cast<unsigned char>(a[i])) - int(static_cast<unsigned char>(b[i]));
    }
    return 0;
}

char* strchr(const char* s, int c) {
    for (;; ++s) {
        if (*s == char(c))
            return const_cast<char*>(s);
        if (*s == '\0')
            return nullptr;
    }
}

int vsnprintf(char* buf, size_t cap, const char* fmt, va_list ap) {
    return int(exo::vformat(buf, cap, fmt, ap));
}

int snprintf(char* buf, size_t cap, const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, cap, fmt, ap);
    va_end(ap);
    return n;
}

} // extern "C"
