// The host environment of the allocator core (native only): a page source over mmap and a
// spin-then-yield lock. Used by libexomalloc.so and by the host tests of the core.
#pragma once

#include <exo/alloc/thread_cache.hpp>

#include <atomic>
#include <sched.h>
#include <sys/mman.h>

namespace exo::alloc {

// Fresh anonymous mappings are zero-filled, as the PageRunSource contract asks. Counts the
// pages it holds so tests can check how many went back.
class MmapPages {
public:
    Result<void*> allocate_pages(size_t pages, size_t align) {
        size_t bytes = pages * kPageSize;
        size_t extra = align > kPageSize ? align - kPageSize : 0;
        void* p = mmap(nullptr, bytes + extra, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (p == MAP_FAILED)
            return Status::NoMemory;
        uintptr_t base = reinterpret_cast<uintptr_t>(p);
        if (extra) {
            uintptr_t aligned = (base + align - 1) & ~(align - 1);
            if (aligned > base)
                munmap(p, aligned - base);
            size_t tail = base + bytes + extra - (aligned + bytes);
            if (tail)
                munmap(reinterpret_cast<void*>(aligned + bytes), tail);
            base = aligned;
        }
        size_t now = held_.fetch_add(pages, std::memory_order_relaxed) + pages;
        size_t peak = peak_.load(std::memory_order_relaxed);
        while (now > peak && !peak_.compare_exchange_weak(peak, now, std::memory_order_relaxed)) {
        }
        return reinterpret_cast<void*>(base);
    }
    void free_pages(void* base, size_t pages) {
        munmap(base, pages * kPageSize);
        held_.fetch_sub(pages, std::memory_order_relaxed);
    }
    size_t held() const { return held_.load(std::memory_order_relaxed); }
    size_t peak() const { return peak_.load(std::memory_order_relaxed); }

private:
    std::atomic<size_t> held_{0};
    std::atomic<size_t> peak_{0};
};

// Test-and-test-and-set; yields after a short spin, since the holder may be descheduled.
class SpinLock {
public:
    void lock() {
        for (unsigned spins = 0; flag_.exchange(true, std::memory_order_acquire); ++spins) {
            while (flag_.load(std::memory_order_relaxed)) {
                if (++spins > 64)
                    sched_yield();
                else
                    __builtin_ia32_pause();
            }
        }
    }
    void unlock() { flag_.store(false, std::memory_order_release); }

private:
    std::atomic<bool> flag_{false};
};

using HostHeap = Heap<MmapPages, SpinLock>;
using HostCache = ThreadCache<HostHeap>;

} // namespace exo::alloc
