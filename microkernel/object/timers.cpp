// The user-timer thread: a list sorted by deadline under one lock, and a wait queue whose sleeper
// wakes at the earliest deadline or when an earlier one is added.
#include "object/timers.hpp"

#include "arch/x86_64/clock.hpp"
#include "core/log.hpp"
#include "mm/kernel_heap.hpp"
#include "object/memory.hpp"
#include "sched/thread.hpp"

#include <exo/events.hpp>
#include <new>

namespace mk::timers {
namespace {

struct Timer {
    uint64_t owner;
    Ref<Ring> ring;
    Ref<Memory> quota;
    uint64_t deadline;
    uint64_t cookie;
    Timer* next;
};
constexpr uint64_t kCharge = 64;
static_assert(sizeof(Timer) <= kCharge);

constinit IrqSpinLock lock{};
constinit Timer* pending = nullptr; // sorted by deadline; guarded by lock
constinit uint64_t changes = 0;     // bumped when an earlier deadline arrives; guarded by lock
constinit WaitQueue wakeup_queue{};
WaitQueue* const wakeup = &wakeup_queue;

uint64_t earliest() {
    LockGuard guard(lock);
    return pending ? pending->deadline : 0;
}

Timer* take_due(uint64_t now) {
    LockGuard guard(lock);
    Timer* t = pending;
    if (t == nullptr || t->deadline > now)
        return nullptr;
    pending = t->next;
    return t;
}

void free_timer(Timer* t) {
    Ref<Memory> quota = static_cast<Ref<Memory>&&>(t->quota);
    t->~Timer();
    (void)heap::free(t, sizeof(Timer));
    quota->uncharge(kCharge);
}

void timer_thread(void*) {
    for (;;) {
        uint64_t seen;
        {
            LockGuard guard(lock);
            seen = changes;
        }
        uint64_t deadline = earliest();
        (void)wakeup->wait_until(
            [&] {
                LockGuard guard(lock);
                return changes != seen;
            },
            deadline);
        uint64_t now = clock::now_ns();
        while (Timer* t = take_due(now)) {
            exo::TimerEvent event{t->cookie, t->deadline, now};
            (void)t->ring->post(exo::kEventTimer, &event, sizeof event);
            free_timer(t);
        }
    }
}

} // namespace

exo::Result<void> init() {
    TRY(thread::spawn(timer_thread, nullptr, {.name = "timers"}));
    return {};
}

exo::Result<void> add(uint64_t owner, Memory& quota, Ref<Ring> ring, uint64_t deadline_ns,
                      uint64_t cookie) {
    TRY(quota.charge(kCharge));
    auto memory = heap::allocate(sizeof(Timer));
    if (!memory.ok()) {
        quota.uncharge(kCharge);
        return memory.status();
    }
    auto* t = new (memory.value()) Timer{
        owner, static_cast<Ref<Ring>&&>(ring), Ref<Memory>(&quota), deadline_ns, cookie, nullptr};
    wakeup->change_and_wake_all([&] {
        LockGuard guard(lock);
        Timer** link = &pending;
        while (*link && (*link)->deadline <= deadline_ns)
            link = &(*link)->next;
        t->next = *link;
        *link = t;
        ++changes;
    });
    return {};
}

void cancel_owned_by(uint64_t owner) {
    Timer* cancelled = nullptr;
    {
        LockGuard guard(lock);
        for (Timer** link = &pending; *link;) {
            Timer* t = *link;
            if (t->owner != owner) {
                link = &t->next;
                continue;
            }
            *link = t->next;
            t->next = cancelled;
            cancelled = t;
        }
    }
    while (Timer* t = cancelled) {
        cancelled = t->next;
        free_timer(t);
    }
}

} // namespace mk::timers
