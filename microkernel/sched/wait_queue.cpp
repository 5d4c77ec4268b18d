// Wait queues over the scheduler's block/wake.
#include "sched/wait_queue.hpp"

#include "sched/scheduler.hpp"

namespace mk {

WakeReason WaitQueue::sleep_locked(uint64_t deadline_ns) {
    Thread* self = sched::current();
    self->wait_next = nullptr;
    if (tail_)
        tail_->wait_next = self;
    else
        head_ = self;
    tail_ = self;
    self->wake_reason = WakeReason::None;
    self->state.store(ThreadState::Blocked, std::memory_order_relaxed);
    // Store-load, paired with sched::abort_waits(): either it sees Blocked and wakes us, or we
    // see its flag here and do not sleep (the Dekker handshake of exo/ring.hpp).
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (self->abort_waits.load(std::memory_order_relaxed)) {
        self->state.store(ThreadState::Running, std::memory_order_relaxed);
        remove_locked(*self);
        lock_.unlock();
        return WakeReason::Woken;
    }
    if (deadline_ns != 0)
        sched::timer_add(*self, deadline_ns);
    lock_.unlock(); // interrupts stay disabled (the caller disabled them before locking)
    sched::block_current();
    sched::timer_cancel(*self);
    lock_.lock();
    remove_locked(*self); // still queued if the deadline woke it
    lock_.unlock();
    return self->wake_reason;
}

bool WaitQueue::remove_locked(Thread& t) {
    Thread** link = &head_;
    Thread* previous = nullptr;
    while (*link && *link != &t) {
        previous = *link;
        link = &(*link)->wait_next;
    }
    if (*link == nullptr)
        return false;
    *link = t.wait_next;
    if (tail_ == &t)
        tail_ = previous;
    t.wait_next = nullptr;
    return true;
}

size_t WaitQueue::wake_all_locked(bool may_preempt) {
    size_t woken = 0;
    while (head_ != nullptr) {
        Thread* t = head_;
        remove_locked(*t);
        woken += sched::wake(*t, WakeReason::Woken, may_preempt) ? 1 : 0;
    }
    return woken;
}

size_t WaitQueue::wake_all_deferred() {
    LockGuard guard(lock_);
    return wake_all_locked(false);
}

void WaitQueue::preempt_if_needed() {
    sched::preempt_if_needed();
}

} // namespace mk
