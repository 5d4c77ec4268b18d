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
void panic_set_symbols(const SymbolTable& table);
// The stack the backtrace may walk: frame pointers outside it end the walk.
void panic_set_stack_bounds(uint64_t low, uint64_t high);

[[noreturn, gnu::format(printf, 3, 4)]] void panic_at(const char* file, int line, const char* fmt,
                                                      ...);
[[noreturn, gnu::format(printf, 2, 3)]] void panic_with_frame(const InterruptFrame& frame,
                                                              const char* fmt, ...);

} // namespace mk

#define EXO_PANIC(...) ::mk::panic_at(__FILE__, __LINE__, __VA_ARGS__)
