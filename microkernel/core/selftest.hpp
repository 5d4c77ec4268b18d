// In-kernel self-tests, chosen with `test=NAME` on the command line and run instead of the normal
// boot. The guest harness (tests/guest/harness.py) reads the verdict line and the exit code.
#pragma once

#include "lib/cmdline.hpp"
#include "lib/multiboot2.hpp"

#include <string_view>

namespace mk::selftest {

struct Context {
    const mb2::BootInfo& boot;
    const Cmdline& cmdline;
};

// A test returns true on success and logs why it failed otherwise. Tests that are meant to end
// in a panic (test=panic) never return.
using Fn = bool (*)(const Context&);

struct Test {
    const char* name;
    Fn run;
};

// Runs the named test, prints "EXO-TEST: name PASS" or "EXO-TEST: name FAIL", exits QEMU.
[[noreturn]] void run(std::string_view name, const Context& context);

// Tests defined next to the code they exercise.
bool boot_info(const Context&);
bool deliberate_panic(const Context&);
bool invalid_opcode(const Context&);
bool failed_assertion(const Context&);
bool memory_accounting(const Context&);
bool write_kernel_text(const Context&);
bool execute_heap(const Context&);
bool overflow_kernel_stack(const Context&);
bool kernel_heap(const Context&);
bool thread_lifecycle(const Context&);
bool preemption(const Context&);
bool fpu_state(const Context&);
bool all_cpus(const Context&);
bool sleep_and_wait(const Context&);

} // namespace mk::selftest
