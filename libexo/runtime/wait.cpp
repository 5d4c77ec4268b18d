// wait_process and wait_thread: a private event ring, a watch on the target, one event.
#include <exo/channel.hpp>
#include <exo/events.hpp>
#include <exo/libc.h>
#include <exo/sys.hpp>
#include <exo/wait.hpp>

namespace exo {
namespace {

constexpr unsigned kEventRingLog2 = 12; // one page: one event is ever posted

// Sets the watch on `target` posting into `producer`, or removes it (kNullSlot).
using Watch = Status (*)(Slot target, Slot producer);

Status watch_process(Slot process, Slot producer) {
    return sys::process_watch(process, producer);
}

Status watch_thread(Slot thread, Slot producer) {
    return sys::thread_watch(thread, producer, 0);
}

// The event's payload into `out`: Malformed unless it is `length` bytes of type `type`.
Status take(const Result<ring::Consumer::Message>& event, uint32_t type, void* out,
            uint32_t length) {
    if (!event.ok())
        return event.status();
    if (event.value().type != type || event.value().length != length)
        return Status::Malformed;
    memcpy(out, event.value().data, length);
    return Status::Ok;
}

Status wait_for_end(Slot target, Watch watch, uint64_t deadline, uint32_t type, void* out,
                    uint32_t length) {
    RingPair ring = TRY(ring_create(kSlotMemory, kEventRingLog2));
    // map_ring_end maps it again where an earlier wait's ring was: a loop of waits leaves no
    // address space or page tables behind.
    const MappedEnd mapped = TRY(map_ring_end(ring.consumer, false));
    ring::Consumer view(mapped.control, mapped.data, mapped.size);
    RingWaiter waiter{ring.consumer.slot()};
    Status s = watch(target, ring.producer.slot());
    if (s == Status::Ok) {
        s = take(ring::receive(view, waiter, deadline), type, out, length);
        if (s != Status::Ok) {
            // Removed, the watch holds the ring no more. (A process being killed cannot get
            // here: its ring stays with the target until that ends.)
            (void)watch(target, kNullSlot);
            if (s == Status::TimedOut) {
                // The event may have come between the timeout and the removal.
                Status late = take(view.peek(), type, out, length);
                if (late != Status::WouldBlock)
                    s = late;
            }
        }
    }
    // Unmapped, and both ends deleted with `ring`: the ring's memory goes back to the quota
    // (once the kernel, which may still hold it for a moment after posting, lets it go).
    unmap_ring_end(mapped);
    return s;
}

} // namespace

Status wait_process(Slot process, uint64_t deadline_ns, ExitInfo* out) {
    ChildEvent event{};
    Status s = wait_for_end(process, watch_process, deadline_ns, kEventChild, &event, sizeof event);
    if (s == Status::Ok && out != nullptr)
        *out = event.exit;
    return s;
}

Status wait_thread(Slot thread, uint64_t deadline_ns) {
    ThreadEvent event{};
    return wait_for_end(thread, watch_thread, deadline_ns, kEventThread, &event, sizeof event);
}

} // namespace exo
