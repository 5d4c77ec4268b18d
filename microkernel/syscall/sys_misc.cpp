// The small syscalls: null, yield, clock, log, and the device ones (IRQs, I/O ports).
#include "arch/x86_64/clock.hpp"
#include "core/log.hpp"
#include "object/cspace.hpp"
#include "object/device.hpp"
#include "sched/scheduler.hpp"
#include "syscall/syscalls.hpp"
#include "syscall/user_memory.hpp"

namespace mk::sys {

Return null(const Args&) {
    return ok();
}

Return yield(const Args&) {
    sched::yield();
    return ok();
}

Return clock_get(const Args&) {
    return ok(clock::now_ns());
}

// One log line per call, always prefixed with the writer's process name (no badge or right
// removes it: a line of a process never passes for the kernel's or another's); bytes outside
// printable ASCII are shown as '.', so a process cannot forge other lines or drive the terminal.
Return log_write(const Args& a) {
    exo::Slot log = TRY(slot_arg(a.a0));
    if (a.a2 > exo::kMaxLogWrite)
        return exo::Status::OutOfRange;
    char text[exo::kMaxLogWrite + 1];
    TRY(user::copy_in(text, a.a1, a.a2));
    caps::Resolved cap = TRY(caps::lookup(self(), log, exo::ObjectType::Log, exo::kRightWrite));
    size_t n = a.a2;
    while (n > 0 && text[n - 1] == '\n')
        --n;
    if (n == 0)
        return ok(); // nothing to say: no empty line
    for (size_t i = 0; i < n; ++i) {
        if (text[i] < 0x20 || text[i] > 0x7e)
            text[i] = '.';
    }
    text[n] = '\0';
    log::process_line(self().name(), text);
    return ok();
}

Return irq_bind(const Args& a) {
    exo::Slot slot = TRY(slot_arg(a.a0)), ring = TRY(slot_arg(a.a1));
    auto irq = TRY(caps::resolve<Irq>(self(), slot, exo::kRightManage));
    auto end = TRY(caps::resolve<RingEnd>(self(), ring, exo::kRightWrite));
    if (!end->producer())
        return exo::Status::InvalidArgument;
    TRY(irq->bind(Ref<Ring>(&end->ring())));
    return ok();
}

// Retired: interrupts arrive as messages on the ring given to IrqBind.
Return irq_ack(const Args& a) {
    exo::Slot slot = TRY(slot_arg(a.a0));
    auto irq = TRY(caps::resolve<Irq>(self(), slot, exo::kRightManage));
    TRY(irq->ack());
    return ok();
}

Return io_port_grant(const Args& a) {
    exo::Slot slot = TRY(slot_arg(a.a0));
    auto ports = TRY(caps::resolve<IoPorts>(self(), slot, exo::kRightManage));
    TRY(self().open_ports(ports->range().first, ports->range().count));
    return ok();
}

} // namespace mk::sys
