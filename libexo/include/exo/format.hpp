// printf-style formatting for the kernel log, panic output and libexo's snprintf. Portable core:
// compiled freestanding into the kernel (no floating point, no libc) and natively for host tests.
#pragma once

#include <stdarg.h>
#include <stddef.h>

namespace exo {

// Output sink for streaming formatting (the kernel log writes straight to the serial port).
// `write` may be called many times per format call, with pieces of any length (including 0).
struct FormatSink {
    void (*write)(void* ctx, const char* s, size_t n);
    void* ctx;
};

// Conversions: %d %i %u %x %X %o %c %s %p %%, length modifiers hh h l ll z j t, flags - 0 + space
// #, width and precision as digits or '*', following C's printf. Deliberate differences:
// - %p prints "0x" and 16 hex digits, always (so kernel addresses line up; null is 0x000...0).
// - %s of a null pointer prints "(null)", cut by the precision like any string.
// - An unknown or unfinished conversion ("%q", "%-5f", a trailing "%") is printed verbatim; any
//   '*' it contained has still consumed its int argument. %n is unknown: it never writes memory.

// Streams formatted output to `sink`; returns the number of characters produced.
size_t vformat_to(FormatSink sink, const char* fmt, va_list ap);
size_t format_to(FormatSink sink, const char* fmt, ...) __attribute__((format(printf, 2, 3)));

// snprintf semantics: writes at most cap-1 characters plus a NUL (nothing when cap == 0; buf may
// be null then), returns the length the full output would have.
size_t vformat(char* buf, size_t cap, const char* fmt, va_list ap);
size_t format(char* buf, size_t cap, const char* fmt, ...) __attribute__((format(printf, 3, 4)));

} // namespace exo
