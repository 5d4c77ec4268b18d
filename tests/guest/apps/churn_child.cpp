// The exit-heavy child of reclaim-test: starts and ends 2,000 threads, at most kWindow alive at
// once, in its 1 MiB quota. A started thread is charged until the kernel has freed its stack,
// record and FPU area, and its ThreadWatch event is posted only then: after each event the
// quota holds exactly the threads still in the window, and at the end exactly what it held
// before. All the watches post into one event ring, each with its window slot as the cookie.
#include <exo/cap.hpp>
#include <exo/channel.hpp>
#include <exo/events.hpp>
#include <exo/layout.hpp>
#include <exo/libc.h>
#include <exo/log.hpp>
#include <exo/runtime.hpp>
#include <exo/sys.hpp>

#include <atomic>

using namespace exo;

namespace {

constexpr unsigned kThreads = 2000;
constexpr unsigned kWindow = 8;
constexpr uint64_t kStacks = 0x40000000; // a page of user stack per window slot
constexpr uint64_t kTimeout = 60'000'000'000;
std::atomic<uint64_t> ran{0};

extern "C" [[noreturn]] void short_thread(uint64_t) {
    ran.fetch_add(1, std::memory_order_relaxed);
    sys::thread_exit();
}

uint64_t quota_used() {
    MemoryInfo info{};
    return sys::memory_info(kSlotMemory, &info) == Status::Ok ? info.used : ~0ull;
}

// The quota once it is at most `bound`: the waiter of an ended thread wakes while the reaper, on
// another CPU, still drops its last reference to the thread object (a few hundred instructions).
uint64_t quota_settled_at_most(uint64_t bound) {
    const uint64_t until = sys::clock_ns() + 2'000'000'000;
    uint64_t used = quota_used();
    while (used > bound && sys::clock_ns() < until) {
        (void)sys::yield();
        used = quota_used();
    }
    return used;
}

// Reads thread events until window slot `slot`'s thread has ended (events of the others are
// noted in `ended`). False on a timeout, a ring error or a malformed event.
bool wait_ended(RingConsumer& events, bool* ended, unsigned slot) {
    const uint64_t deadline = sys::clock_ns() + kTimeout;
    while (!ended[slot]) {
        auto message = events.receive(deadline);
        if (!message.ok())
            return false;
        ThreadEvent event{};
        bool good = message.value().type == kEventThread && message.value().length == sizeof event;
        if (good)
            memcpy(&event, message.value().data, sizeof event);
        events.release();
        if (!good || event.cookie >= kWindow || ended[event.cookie])
            return false;
        ended[event.cookie] = true;
    }
    return true;
}

} // namespace

int exo_main(uint64_t) {
    Slot window[kWindow];
    for (Slot& slot : window) {
        auto s = allocate_slot();
        if (!s.ok())
            return 1;
        slot = s.value();
    }
    auto stacks = frame_alloc(kSlotMemory, kWindow);
    if (!stacks.ok() || sys::frame_map(kSlotAddressSpace, stacks.value().slot(), kStacks,
                                       kMapWrite) != Status::Ok) {
        print("churn-child: no stacks");
        return 1;
    }
    auto ring = ring_create(kSlotMemory, 12); // room for far more than kWindow events
    if (!ring.ok()) {
        print("churn-child: no event ring");
        return 1;
    }
    Slot producer = ring.value().producer.slot();
    auto events = RingConsumer::attach(static_cast<Cap<Ring>&&>(ring.value().consumer));
    if (!events.ok()) {
        print("churn-child: event ring not mapped");
        return 1;
    }
    bool ended[kWindow] = {};
    const uint64_t base = quota_used();
    uint64_t per_thread = 0, wrong = 0, refused = 0;
    for (unsigned i = 0; i < kThreads + kWindow; ++i) {
        Slot t = window[i % kWindow];
        if (i >= kWindow) {
            // The thread that used this window slot: wait for it, then its charge must be gone.
            if (!wait_ended(events.value(), ended, i % kWindow))
                ++wrong;
            (void)sys::cap_delete(t);
        }
        if (i >= kThreads)
            continue;
        uint64_t before = quota_used();
        if (sys::thread_create(kSlotSelf, kSlotMemory, t) != Status::Ok) {
            ++wrong;
            continue;
        }
        ended[i % kWindow] = false;
        if (sys::thread_watch(t, producer, i % kWindow) != Status::Ok)
            ++wrong;
        uint64_t top = kStacks + (i % kWindow + 1) * kPageSize - 8;
        Status s;
        while ((s = sys::thread_start(t, uint64_t(&short_thread), top, 0).status) ==
               Status::NoMemory) {
            ++refused; // never expected: the window fits the quota many times over
            (void)sys::yield();
        }
        if (s != Status::Ok)
            ++wrong;
        if (i == 0)
            per_thread = quota_used() - before;
        // The window's threads (objects and running charges), nothing else.
        uint64_t live = i < kWindow ? i + 1 : kWindow;
        if (quota_settled_at_most(base + live * per_thread) > base + live * per_thread)
            ++wrong;
    }
    uint64_t after = quota_settled_at_most(base);
    print(
        "churn-child: %u threads started and ended (%lu ran), %lu bytes charged per running "
        "thread with its object, %lu refused starts, %lu wrong; quota %lu bytes before, %lu after",
        kThreads, ran.load(std::memory_order_relaxed), per_thread, refused, wrong, base, after);
    return wrong == 0 && refused == 0 && after == base &&
                   ran.load(std::memory_order_relaxed) == kThreads
               ? 0
               : 2;
}
