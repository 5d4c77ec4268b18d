// Freestanding C++ runtime support for ring 0: explicit global constructors, pure-virtual trap.
// Global destructors never run (the kernel does not exit), so -fno-use-cxa-atexit is set and no
// atexit machinery exists. operator new arrives with the kernel object allocator.
#include "core/cxxrt.hpp"

#include "core/panic.hpp"

#include <new>

extern "C" {

using Constructor = void (*)();
extern const Constructor __init_array_start[];
extern const Constructor __init_array_end[];

void __cxa_pure_virtual() {
    EXO_PANIC("pure virtual function called");
}

} // extern "C"

// libstdc++'s header-only pieces (string_view, array) report misuse through these; in ring 0
// a misuse is a kernel bug.
namespace std {
const nothrow_t nothrow{}; // the tag of the only operator new the kernel has (mm/kernel_heap.cpp)

[[noreturn]] void __throw_out_of_range_fmt(const char* fmt, ...) {
    EXO_PANIC("libstdc++ range check failed: %s", fmt);
}
} // namespace std

namespace mk {

void run_global_constructors() {
    for (const Constructor* c = __init_array_start; c != __init_array_end; ++c)
        (*c)();
}

} // namespace mk
