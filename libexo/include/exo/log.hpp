// Logging from user mode: printf-style lines to the kernel log through the Log capability in
// kSlotLog, each prefixed by the kernel with the process name.
#pragma once

#include <exo/status.hpp>
#include <stdarg.h>

namespace exo {

// Best effort: a line longer than kMaxLogWrite is cut, and a program without a Log capability
// prints nothing. (The one place a Status may be ignored: nothing could be done about it.)
void print(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void vprint(const char* fmt, va_list ap);

} // namespace exo
