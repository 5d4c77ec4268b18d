// Panic path: must work with a corrupt kernel, so it uses only the serial console, validates
// every frame pointer against the known stack before reading it, and guards against recursion.
#include "core/panic.hpp"

#include "arch/x86_64/cpu.hpp"
#include "arch/x86_64/qemu.hpp"
#include "core/log.hpp"

#include <atomic>
#include <exo/assert.hpp>
#include <stdarg.h>

namespace mk {
namespace {

constexpr int kMaxBacktraceDepth = 32;

constinit PanicConfig config{};
constinit SymbolTable symbols{};
constinit uint64_t stack_low = 0, stack_high = 0;
constinit std::atomic<bool> panicking{false};
constinit PanicHooks hooks{};

// A return address points after the call, which for a call to a noreturn function is already
// past the end of the caller: such addresses are looked up one byte earlier.
enum class AddressKind { Instruction, ReturnAddress };

void print_address(uint64_t address, AddressKind kind) {
    auto symbol = symbols.lookup(kind == AddressKind::ReturnAddress ? address - 1 : address);
    if (symbol.ok())
        log::raw("0x%016lx %s+0x%lx\n", address, symbol.value().name, symbol.value().offset);
    else
        log::raw("0x%016lx ?\n", address);
}

void print_registers(const InterruptFrame& f, AddressKind rip_kind) {
    log::raw("registers:\n");
    log::raw("  rax=%016lx rbx=%016lx rcx=%016lx rdx=%016lx\n", f.rax, f.rbx, f.rcx, f.rdx);
    log::raw("  rsi=%016lx rdi=%016lx rbp=%016lx rsp=%016lx\n", f.rsi, f.rdi, f.rbp, f.rsp);
    log::raw("  r8 =%016lx r9 =%016lx r10=%016lx r11=%016lx\n", f.r8, f.r9, f.r10, f.r11);
    log::raw("  r12=%016lx r13=%016lx r14=%016lx r15=%016lx\n", f.r12, f.r13, f.r14, f.r15);
    log::raw("  rip=%016lx rflags=%016lx cs=%04lx ss=%04lx\n", f.rip, f.rflags, f.cs, f.ss);
    log::raw("  cr0=%016lx cr2=%016lx cr3=%016lx cr4=%016lx\n", cpu::read_cr0(), cpu::read_cr2(),
             cpu::read_cr3(), cpu::read_cr4());
    log::raw("  at ");
    print_address(f.rip, rip_kind);
}

void print_backtrace(uint64_t rip, uint64_t rbp, AddressKind rip_kind) {
    log::raw("backtrace:\n  #0  ");
    print_address(rip, rip_kind);
    for (int depth = 1; depth < kMaxBacktraceDepth; ++depth) {
        // A frame is [saved rbp][return address]; both words must lie inside the stack.
        if (rbp == 0 || (rbp & 7) != 0 || rbp < stack_low || rbp + 16 > stack_high)
            return;
        auto* frame = reinterpret_cast<const uint64_t*>(rbp);
        uint64_t return_address = frame[1];
        if (return_address == 0)
            return;
        log::raw("  #%-2d ", depth);
        print_address(return_address, AddressKind::ReturnAddress);
        if (frame[0] <= rbp) // the stack grows down, so callers' frames lie strictly above
            return;
        rbp = frame[0];
    }
}

[[noreturn]] void finish() {
    log::raw("exo: kernel panic, system halted\n");
    if (config.exit_emulator)
        qemu::exit(qemu::ExitCode::Panic);
    cpu::halt_forever();
}

// The whole report: message, location (software panics), registers, backtrace. A panic inside
// the panic path only halts.
[[noreturn]] void report(const InterruptFrame& f, AddressKind rip_kind, uint64_t walk_rbp,
                         const char* file, int line, const char* fmt, va_list ap) {
    cpu::disable_interrupts();
    if (panicking.exchange(true, std::memory_order_acq_rel)) {
        // A nested panic on this CPU, or another CPU's panic already being reported (which
        // stops this CPU with an NMI anyway): only halt.
        cpu::halt_forever();
    }
    if (hooks.stop_other_cpus)
        hooks.stop_other_cpus();
    log::enter_panic_mode();
    if (hooks.stack_bounds)
        hooks.stack_bounds(stack_low, stack_high);
    log::raw("\nPANIC: ");
    log::vraw(fmt, ap);
    log::raw("\n");
    if (file)
        log::raw("  at %s:%d\n", file, line);
    print_registers(f, rip_kind);
    print_backtrace(f.rip, walk_rbp, rip_kind);
    finish();
}

} // namespace

void panic_set_config(PanicConfig c) {
    config = c;
}
void report_stopped_cpu(uint32_t index, const InterruptFrame& frame) {
    log::raw("CPU %u stopped at ", index);
    print_address(frame.rip, AddressKind::Instruction);
}

void panic_set_hooks(PanicHooks h) {
    hooks = h;
}
bool panic_in_progress() {
    return panicking.load(std::memory_order_acquire);
}
void panic_set_symbols(const SymbolTable& table) {
    symbols = table;
}
void panic_set_stack_bounds(uint64_t low, uint64_t high) {
    stack_low = low;
    stack_high = high;
}

// The capture in panic_at stores registers at these fixed offsets.
static_assert(offsetof(InterruptFrame, r15) == 0 && offsetof(InterruptFrame, rax) == 112 &&
              offsetof(InterruptFrame, rsp) == 160);

void panic_at(const char* file, int line, const char* fmt, ...) {
    // Capture the registers as they are on entry; only the callee-saved ones and rsp/rbp still
    // hold the caller's values, the rest are as the call left them.
    InterruptFrame f{};
    asm volatile("movq %%rax, 112(%0)\n\tmovq %%rbx, 104(%0)\n\tmovq %%rcx, 96(%0)\n\t"
                 "movq %%rdx, 88(%0)\n\tmovq %%rsi, 80(%0)\n\tmovq %%rdi, 72(%0)\n\t"
                 "movq %%rbp, 64(%0)\n\tmovq %%r8, 56(%0)\n\tmovq %%r9, 48(%0)\n\t"
                 "movq %%r10, 40(%0)\n\tmovq %%r11, 32(%0)\n\tmovq %%r12, 24(%0)\n\t"
                 "movq %%r13, 16(%0)\n\tmovq %%r14, 8(%0)\n\tmovq %%r15, 0(%0)\n\t"
                 "movq %%rsp, 160(%0)"
                 :
                 : "r"(&f)
                 : "memory");
    f.rip = reinterpret_cast<uint64_t>(__builtin_return_address(0));
    f.rflags = cpu::read_rflags();
    asm volatile("movq %%cs, %0\n\tmovq %%ss, %1" : "=r"(f.cs), "=r"(f.ss));
    uint64_t rbp = reinterpret_cast<uint64_t>(__builtin_frame_address(0));

    va_list ap;
    va_start(ap, fmt);
    // #0 is the call site in the function that panicked; the walk continues from that
    // function's frame, whose address panic_at's own frame holds.
    report(f, AddressKind::ReturnAddress, *reinterpret_cast<const uint64_t*>(rbp), file, line, fmt,
           ap);
}

void panic_with_frame(const InterruptFrame& frame, const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    report(frame, AddressKind::Instruction, frame.rbp, nullptr, 0, fmt, ap);
}

} // namespace mk

// EXO_ASSERT in ring 0: a broken invariant stops the kernel before it corrupts more state.
void exo::assert_failed(const char* file, int line, const char* expr, const char* msg) {
    mk::panic_at(file, line, "assertion `%s` failed: %s", expr, msg);
}
