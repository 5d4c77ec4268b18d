// exo::print: formats into a stack buffer and writes one line through the Log capability.
#include <exo/format.hpp>
#include <exo/log.hpp>
#include <exo/sys.hpp>

namespace exo {

void vprint(const char* fmt, va_list ap) {
    char line[kMaxLogWrite + 1];
    size_t n = vformat(line, sizeof line, fmt, ap);
    if (n > kMaxLogWrite)
        n = kMaxLogWrite;
    (void)sys::log_write(kSlotLog, line, n);
}

void print(const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vprint(fmt, ap);
    va_end(ap);
}

} // namespace exo
