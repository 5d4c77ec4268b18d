// Fusion-ring syscalls: create, map, wait, notify, capability transfer, and the kernel events
// that arrive on rings (process and thread watches, timers; IRQs are bound in sys_misc.cpp).
#include "arch/x86_64/clock.hpp"
#include "lib/page_table.hpp"
#include "object/address_space.hpp"
#include "object/cspace.hpp"
#include "object/doorbell.hpp"
#include "object/memory.hpp"
#include "object/ring.hpp"
#include "object/timers.hpp"
#include "syscall/syscalls.hpp"

namespace mk::sys {
namespace {

constexpr uint32_t kEndRights = exo::kRightsAll & ~uint32_t(exo::kRightExecute);

// The ring of an end capability, with the end's rights checked.
exo::Result<Ref<RingEnd>> end_of(uint64_t slot, uint32_t rights) {
    exo::Slot s = TRY(slot_arg(slot));
    return caps::resolve<RingEnd>(self(), s, rights);
}

// The ring a watch posts into: a producer end with Write, or none (kNullSlot: remove the watch).
exo::Result<Ref<Ring>> watch_ring(uint64_t slot) {
    if (slot == exo::kNullSlot)
        return Ref<Ring>();
    auto end = TRY(end_of(slot, exo::kRightWrite));
    if (!end->producer())
        return exo::Status::InvalidArgument;
    return Ref<Ring>(&end->ring());
}

} // namespace

Return ring_create(const Args& a) {
    exo::Slot mem = TRY(slot_arg(a.a0)), p = TRY(slot_arg(a.a2)), c = TRY(slot_arg(a.a3));
    if (a.a1 > 63)
        return exo::Status::OutOfRange;
    if (p == c)
        return exo::Status::InvalidArgument;
    auto memory = TRY(caps::resolve<Memory>(self(), mem, exo::kRightManage));
    TRY(caps::check_empty(self(), p));
    TRY(caps::check_empty(self(), c));
    auto ring = TRY(Ring::create(*memory, unsigned(a.a1)));
    auto producer = Ref<RingEnd>(TRY(allocate_object<RingEnd>(memory.get(), ring, true)));
    auto consumer = Ref<RingEnd>(TRY(allocate_object<RingEnd>(memory.get(), ring, false)));
    TRY(caps::install(self(), p, *producer, kEndRights));
    if (exo::Status s = caps::install(self(), c, *consumer, kEndRights); s != exo::Status::Ok) {
        caps::remove(self(), p);
        return s;
    }
    return ok();
}

// Control page read-write for both ends; the data area twice, back to back, read-write for the
// producer and read-only for the consumer.
Return ring_map(const Args& a) {
    auto end = TRY(end_of(a.a0, exo::kRightRead));
    exo::Slot as = TRY(slot_arg(a.a1));
    auto space = TRY(caps::resolve<AddressSpace>(self(), as, exo::kRightManage));
    uint64_t vaddr = a.a2;
    if (vaddr % kPageSize != 0)
        return exo::Status::Misaligned;
    Ring& ring = end->ring();
    uint64_t pages = ring.size() / kPageSize;
    uint32_t data_access = end->producer() ? kAccessWrite : kAccessRead;
    Frame& control = ring.control_frame();
    Frame& data = ring.data_frame();
    TRY(space->map(control, control.physical(), 1, vaddr, kAccessWrite, kAccessWrite));
    exo::Status s = exo::Status::Ok;
    for (uint64_t copy = 0; copy < 2 && s == exo::Status::Ok; ++copy) {
        uint64_t at = vaddr + kPageSize + copy * ring.size();
        auto mapped = space->map(data, data.physical(), pages, at, data_access, data_access);
        if (!mapped.ok()) {
            s = mapped.status();
            if (copy == 1)
                (void)space->unmap(vaddr + kPageSize);
        }
    }
    if (s != exo::Status::Ok) {
        (void)space->unmap(vaddr);
        return s;
    }
    return ok();
}

// The deadline is absolute, in the ClockGet clock: a timed wait needs no second syscall.
Return ring_wait(const Args& a) {
    auto end = TRY(end_of(a.a0, exo::kRightRead));
    return end->ring().wait(end->producer(), a.a2, a.a1);
}

Return ring_notify(const Args& a) {
    auto end = TRY(end_of(a.a0, exo::kRightRead));
    end->ring().notify(end->producer());
    return ok();
}

Return ring_bind(const Args& a) {
    auto end = TRY(end_of(a.a0, exo::kRightRead));
    if (a.a1 == exo::kNullSlot) {
        end->ring().bind(end->producer(), Ref<Doorbell>());
        return ok();
    }
    auto events = TRY(end_of(a.a1, exo::kRightWrite));
    if (!events->producer())
        return exo::Status::InvalidArgument;
    if (&events->ring() == &end->ring())
        return exo::Status::InvalidArgument; // a ring ringing itself
    auto bell = TRY(Doorbell::create(Ref<Ring>(&events->ring()), a.a2));
    end->ring().bind(end->producer(), static_cast<Ref<Doorbell>&&>(bell));
    return ok();
}

Return ring_send_cap(const Args& a) {
    auto end = TRY(end_of(a.a0, exo::kRightWrite));
    if (!end->producer())
        return exo::Status::InvalidArgument;
    exo::Slot src = TRY(slot_arg(a.a1));
    return caps::send(self(), src, end->ring());
}

Return ring_receive_cap(const Args& a) {
    auto end = TRY(end_of(a.a0, exo::kRightRead));
    if (end->producer())
        return exo::Status::InvalidArgument;
    exo::Slot dst = TRY(slot_arg(a.a1));
    return caps::receive(self(), end->ring(), dst);
}

Return process_watch(const Args& a) {
    exo::Slot proc = TRY(slot_arg(a.a0));
    auto process = TRY(caps::resolve<Process>(self(), proc, exo::kRightRead));
    auto ring = TRY(watch_ring(a.a1));
    return process->watch(static_cast<Ref<Ring>&&>(ring));
}

Return thread_watch(const Args& a) {
    exo::Slot t = TRY(slot_arg(a.a0));
    auto thread = TRY(caps::resolve<UserThread>(self(), t, exo::kRightRead));
    auto ring = TRY(watch_ring(a.a1));
    return thread->watch(static_cast<Ref<Ring>&&>(ring), a.a2);
}

Return timer_set(const Args& a) {
    auto end = TRY(end_of(a.a0, exo::kRightWrite));
    if (!end->producer())
        return exo::Status::InvalidArgument;
    TRY(timers::add(self().id(), *self().quota(), Ref<Ring>(&end->ring()),
                    deadline_after(a.a1 ? a.a1 : 1), a.a2));
    return ok();
}

} // namespace mk::sys
