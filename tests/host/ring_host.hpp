// Host environment for the ring core (exo/ring.hpp), shared by its tests and its benchmark: a
// ring whose data area is one memfd mapped twice back to back, as the kernel maps it, and a
// futex Waiter standing in for ring_wait/ring_notify.
#pragma once

#include <exo/ring.hpp>

#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace exo::ring::host {

// A control page and a data area of `size` bytes mapped twice, between two PROT_NONE guard
// pages, so a read past [data, data + 2 * size) faults. Aborts if the host refuses a mapping.
class MappedRing {
public:
    explicit MappedRing(uint64_t size) : size_(size) {
        control_ = static_cast<Control*>(
            map(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1));
        control_->data_size = size;
        const int fd = memfd_create("exo-ring", MFD_CLOEXEC);
        if (fd < 0 || ftruncate(fd, off_t(size)) != 0)
            fail("memfd");
        reservation_ = static_cast<uint8_t*>(
            map(nullptr, 2 * size + 2 * kGuard, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1));
        data_ = reservation_ + kGuard;
        for (uint8_t* half : {data_, data_ + size})
            map(half, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd);
        close(fd);
    }
    ~MappedRing() {
        munmap(reservation_, 2 * size_ + 2 * kGuard);
        munmap(control_, 4096);
    }
    MappedRing(const MappedRing&) = delete;
    MappedRing& operator=(const MappedRing&) = delete;

    Control* control() { return control_; }
    uint8_t* data() { return data_; }
    uint64_t size() const { return size_; }
    Producer producer() { return Producer(control_, data_, size_); }
    Consumer consumer() { return Consumer(control_, data_, size_); }

private:
    static constexpr uint64_t kGuard = 4096;

    [[noreturn]] static void fail(const char* what) {
        std::perror(what);
        std::abort();
    }
    static void* map(void* at, uint64_t bytes, int prot, int flags, int fd) {
        void* p = mmap(at, bytes, prot, flags, fd, 0);
        if (p == MAP_FAILED)
            fail("mmap");
        return p;
    }

    uint64_t size_;
    Control* control_;
    uint8_t* reservation_;
    uint8_t* data_;
};

inline uint64_t monotonic_ns() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return uint64_t(ts.tv_sec) * 1000000000u + uint64_t(ts.tv_nsec);
}

// Sleeps on the low half of the peer's index (tail for Data, head for Space): the kernel returns
// at once if it no longer holds `seen`, so a commit that lands before the sleep is never missed.
// Deadlines are CLOCK_MONOTONIC nanoseconds. close() stands in for the kernel closing the ring;
// as a futex cannot watch `closed` too, a sleep lasts at most `slice` (a spurious return), and
// slices_expired counts those: with a live peer it stays 0 unless a wake-up was lost.
class FutexWaiter {
public:
    explicit FutexWaiter(Control* control, uint64_t slice_ns = 20'000'000)
        : control_(control), slice_(slice_ns) {}

    Status wait(Event event, uint64_t seen, uint64_t deadline) {
        const uint64_t now = monotonic_ns();
        if (now >= deadline)
            return Status::TimedOut;
        if (control_->closed.load(std::memory_order_acquire) != 0)
            return Status::Ok;
        const uint64_t until = deadline - now > slice_ ? now + slice_ : deadline;
        const timespec at{time_t(until / 1000000000u), long(until % 1000000000u)};
        // FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC time.
        const long r = syscall(SYS_futex, word(event), FUTEX_WAIT_BITSET_PRIVATE, uint32_t(seen),
                               &at, nullptr, FUTEX_BITSET_MATCH_ANY);
        if (r != 0 && errno == ETIMEDOUT) {
            if (until == deadline)
                return Status::TimedOut;
            ++slices_expired;
        }
        return Status::Ok;
    }

    void notify(Event event) {
        syscall(SYS_futex, word(event), FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
    }

    void close(uint32_t bits) {
        control_->closed.fetch_or(bits, std::memory_order_release);
        for (Event e : {Event::Data, Event::Space})
            syscall(SYS_futex, word(e), FUTEX_WAKE_PRIVATE, INT_MAX, nullptr, nullptr, 0);
    }

    uint64_t slices_expired = 0;

private:
    // The low 32 bits of the index (little-endian: the first four bytes).
    uint32_t* word(Event event) {
        auto& index = event == Event::Data ? control_->tail : control_->head;
        return reinterpret_cast<uint32_t*>(&index);
    }

    Control* control_;
    uint64_t slice_;
};

static_assert(Waiter<FutexWaiter>);

} // namespace exo::ring::host
