// Test-and-test-and-set spinlock: acquire on lock, release on unlock (no SeqCst needed, a lock
// only orders the critical section against the previous holder's).
#pragma once

#include <atomic>

namespace mk {

class SpinLock {
public:
    void lock() {
        while (locked_.exchange(true, std::memory_order_acquire)) {
            while (locked_.load(std::memory_order_relaxed))
                asm volatile("pause");
        }
    }
    void unlock() { locked_.store(false, std::memory_order_release); }

private:
    std::atomic<bool> locked_{false};
};

} // namespace mk
