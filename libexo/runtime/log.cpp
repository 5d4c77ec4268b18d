// exo::print: formats into a stack buffer and writes one line through the Log capability.
#include <exo/format.hpp>
#include <exo/log.hpp>
#include <exo/sys.hpp>

namespace exo {

Status vprint(const char* fmt, va_list ap) {
    char line[kMaxLogWrite + 1];
    size_t n = vformat(line, sizeof line, fmt, ap);
    if (n > kMaxLogWrite)
        n = kMaxLogWrite;
    return sys::log_write(kSlotLog, line, n);
}

Status print(const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    Status s = vprint(fmt, ap);
    va_end(ap);
    return s;
}

} // namespace exo
