// wait_process and wait_thread: a private event ring, a watch on the target, one event.
#include <exo/channel.hpp>
#include <exo/events.hpp>
#include <exo/layout.hpp>
#include <exo/libc.h>
#include <exo/sys.hpp>
#include <exo/wait.hpp>

#include <atomic>

namespace exo {
namespace {

constexpr unsigned kEventRingLog2 = 12; // one page: one event is ever posted

// The event rings are mapped in spans of their own that are used again, one per concurrent
// wait, so waiting in a loop leaves no address space or page tables behind (map_ring_end never
// reuses an address). A 65th concurrent wait maps its ring with map_ring_end.
constexpr uint64_t kWaitArea = 0x00005F0000000000ull; // below channel.cpp's ring area
constexpr uint64_t kSpanBytes = 4 * kPageSize;        // control page, data page twice, guard
constinit std::atomic<uint64_t> spans_in_use{0};      // bit i: span i

// A span's index, or -1 if all 64 are in use.
int claim_span() {
    uint64_t used = spans_in_use.load(std::memory_order_relaxed);
    while (used != ~0ull) {
        int i = __builtin_ctzll(~used);
        if (spans_in_use.compare_exchange_weak(used, used | (1ull << i), std::memory_order_acquire,
                                               std::memory_order_relaxed))
            return i;
    }
    return -1;
}

// The consumer end mapped in span `span` (or, with -1, where map_ring_end puts it).
Result<MappedEnd> map_consumer(const Cap<Ring>& consumer, int span) {
    if (span < 0)
        return map_ring_end(consumer, false);
    uint64_t address = kWaitArea + uint64_t(span) * kSpanBytes;
    TRY(sys::ring_map(consumer.slot(), kSlotAddressSpace, address));
    return MappedEnd{reinterpret_cast<ring::Control*>(address),
                     reinterpret_cast<uint8_t*>(address + kPageSize),
                     uint64_t(1) << kEventRingLog2};
}

void unmap_consumer(const MappedEnd& mapped, int span) {
    unmap_ring_end(mapped);
    if (span >= 0)
        spans_in_use.fetch_and(~(1ull << span), std::memory_order_release);
}

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
    const int span = claim_span();
    auto consumer = map_consumer(ring.consumer, span);
    if (!consumer.ok()) {
        if (span >= 0)
            spans_in_use.fetch_and(~(1ull << span), std::memory_order_release);
        return consumer.status();
    }
    const MappedEnd mapped = consumer.value();
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
    unmap_consumer(mapped, span);
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
