// Test-and-test-and-set spinlocks: acquire on lock, release on unlock (no SeqCst needed, a lock
// only orders the critical section against the previous holder's).
#pragma once

#include "arch/x86_64/cpu.hpp"

#include <atomic>

namespace mk {

class SpinLock {
public:
    void lock() {
        while (locked_.exchange(true, std::memory_order_acquire)) {
            while (locked_.load(std::memory_order_relaxed))
                cpu::pause();
        }
    }
    bool try_lock() { return !locked_.exchange(true, std::memory_order_acquire); }
    void unlock() { locked_.store(false, std::memory_order_release); }
    bool is_locked() const { return locked_.load(std::memory_order_relaxed); }

private:
    std::atomic<bool> locked_{false};
};

// A SpinLock that also disables interrupts on this CPU while held, so an interrupt handler (or
// a preemption) can never spin on a lock its own CPU holds. The interrupt state before lock()
// is restored by unlock(); only the holder writes it.
class IrqSpinLock {
public:
    void lock() {
        bool enabled = cpu::save_and_disable_interrupts();
        lock_.lock();
        interrupts_were_enabled_ = enabled;
    }
    void unlock() {
        bool enabled = interrupts_were_enabled_;
        lock_.unlock();
        cpu::restore_interrupts(enabled);
    }
    bool is_locked() const { return lock_.is_locked(); }

private:
    SpinLock lock_;
    bool interrupts_were_enabled_ = false;
};

template <typename Lock>
class LockGuard {
public:
    explicit LockGuard(Lock& lock) : lock_(lock) { lock_.lock(); }
    ~LockGuard() { lock_.unlock(); }
    LockGuard(const LockGuard&) = delete;
    LockGuard& operator=(const LockGuard&) = delete;

private:
    Lock& lock_;
};

} // namespace mk
