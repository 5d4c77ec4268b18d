// The C++ side of process start and the user-mode environment hooks (assert, pure virtual).
#include <exo/log.hpp>
#include <exo/runtime.hpp>
#include <exo/sys.hpp>

extern "C" {
using Constructor = void (*)();
extern const Constructor __init_array_start[];
extern const Constructor __init_array_end[];

[[noreturn]] void exo_start(uint64_t arg) {
    for (const Constructor* c = __init_array_start; c != __init_array_end; ++c)
        (*c)();
    exo::sys::process_exit(exo_main(arg));
}

[[noreturn]] void __cxa_pure_virtual() {
    exo::print("pure virtual function called");
    exo::sys::process_exit(-1);
}
} // extern "C"

namespace exo {

// An assertion failure ends the process (its supervisor sees exit code -1) after saying why.
void assert_failed(const char* file, int line, const char* expr, const char* msg) {
    print("assertion failed at %s:%d: %s (%s)", file, line, expr, msg);
    sys::process_exit(-1);
}

} // namespace exo
