// Logging from user mode: printf-style lines to the kernel log through the Log capability in
// kSlotLog, each prefixed by the kernel with the process name.
#pragma once

#include <exo/status.hpp>
#include <stdarg.h>

namespace exo {

Status print(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
Status vprint(const char* fmt, va_list ap);

} // namespace exo
