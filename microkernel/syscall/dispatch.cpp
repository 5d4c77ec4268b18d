// The syscall table and the MSR setup of the `syscall` instruction (Intel SDM vol. 3A 5.8.8).
#include "arch/x86_64/clock.hpp"
#include "arch/x86_64/cpu.hpp"
#include "arch/x86_64/gdt.hpp"
#include "arch/x86_64/interrupt_frame.hpp"
#include "syscall/syscall_init.hpp"
#include "syscall/syscalls.hpp"

extern "C" void syscall_entry();

namespace mk::sys {
namespace {

using exo::Sys;

// A retired number (ProcessWait, ThreadWait, IrqWait: their news now arrives on rings) stays a
// hole that answers as an unknown number does, so no other call is renumbered.
Return retired(const Args&) {
    return exo::Status::Unsupported;
}

// Indexed by Sys; the static_assert keeps a new number from landing on a missing (null) entry.
constexpr Handler kTable[] = {
    null,           yield,
    clock_get,      log_write,
    cap_info,       cap_copy,
    cap_mint,       cap_move,
    cap_delete,     cap_revoke,
    cap_narrow,     memory_split,
    memory_info,    frame_alloc,
    frame_map,      frame_unmap,
    frame_protect,  address_space_create,
    process_create, process_grant,
    process_start,  process_exit,
    retired,        process_kill,
    thread_create,  thread_start,
    thread_exit,    retired,
    irq_bind,       retired,
    irq_ack,        io_port_grant,
    ring_create,    ring_map,
    ring_wait,      ring_notify,
    ring_send_cap,  ring_receive_cap,
    process_watch,  timer_set,
    ring_bind,      process_info,
    thread_watch,   system_info,
    process_list,   process_caps,
    log_attach,     log_level,
    system_shutdown, log_print,
};
static_assert(sizeof kTable / sizeof kTable[0] == uint64_t(Sys::Count),
              "every syscall number needs its handler");

constexpr uint32_t kMsrStar = 0xC0000081, kMsrLstar = 0xC0000082, kMsrFmask = 0xC0000084;
constexpr uint64_t kEferSce = 1;
// Cleared on entry: IF (the entry switches stacks first), TF, DF, AC (SMAP), NT.
constexpr uint64_t kEntryFlagsCleared =
    (1u << 9) | (1u << 8) | (1u << 10) | (1u << 18) | (1u << 14);

} // namespace

uint64_t deadline_after(uint64_t timeout_ns) {
    if (timeout_ns == 0)
        return 0;
    uint64_t now = clock::now_ns();
    return timeout_ns > UINT64_MAX - now ? UINT64_MAX : now + timeout_ns;
}

void init_cpu() {
    cpu::write_msr(cpu::msr::kEfer, cpu::read_msr(cpu::msr::kEfer) | kEferSce);
    // STAR: kernel CS in 47:32 (SS = CS + 8); user base in 63:48: sysret loads CS = base + 16
    // and SS = base + 8, which is why the GDT has user data before user code.
    cpu::write_msr(kMsrStar,
                   (uint64_t(gdt::kKernelData) << 48) | (uint64_t(gdt::kKernelCode) << 32));
    cpu::write_msr(kMsrLstar, reinterpret_cast<uint64_t>(&syscall_entry));
    cpu::write_msr(kMsrFmask, kEntryFlagsCleared);
}

} // namespace mk::sys

extern "C" void syscall_dispatch(mk::InterruptFrame* frame) {
    using namespace mk;
    uint64_t number = frame->rax;
    sys::Args args{frame->rdi, frame->rsi, frame->rdx, frame->r10, frame->r8, frame->r9};
    sys::Return r = number < uint64_t(exo::Sys::Count) ? sys::kTable[number](args)
                                                       : sys::Return(exo::Status::Unsupported);
    frame->rax = uint64_t(r.status);
    frame->rdx = r.value;
    reap_dead_objects();
    leave_kernel();
}
