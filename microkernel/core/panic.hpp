// Kernel panic: prints the message, the registers and a symbolized backtrace, then stops the
// machine (or, in test runs, exits QEMU with the panic code so the harness sees it).
#pragma once

#include "arch/x86_64/interrupt_frame.hpp"
#include "lib/ksyms.hpp"

namespace mk {

struct PanicConfig {
    bool exit_emulator = false; // set by `test=` or `panic=exit` on the command line
};

void panic_set_config(PanicConfig config);

// What the panic path asks of the rest of the kernel, when it exists.
struct PanicHooks {
    void (*stop_other_cpus)() = nullptr;                           // SMP: NMI to every other CPU
    void (*stack_bounds)(uint64_t& low, uint64_t& high) = nullptr; // the current thread's stack
};
void panic_set_hooks(PanicHooks hooks);
// True once any CPU has begun a panic (the NMI handler halts instead of reporting).
bool panic_in_progress();
// An NMI stopped this CPU during another CPU's panic: one line with where it was.
void report_stopped_cpu(uint32_t index, const InterruptFrame& frame);
void panic_set_symbols(const SymbolTable& table);
// The stack the backtrace may walk: frame pointers outside it end the walk.
void panic_set_stack_bounds(uint64_t low, uint64_t high);

[[noreturn, gnu::format(printf, 3, 4)]] void panic_at(const char* file, int line, const char* fmt,
                                                      ...);
[[noreturn, gnu::format(printf, 2, 3)]] void panic_with_frame(const InterruptFrame& frame,
                                                              const char* fmt, ...);

} // namespace mk

#define EXO_PANIC(...) ::mk::panic_at(__FILE__, __LINE__, __VA_ARGS__)
