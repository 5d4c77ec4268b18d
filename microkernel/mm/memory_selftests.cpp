// Self-tests of the memory layer: accounting against the memory map, exhaustion and recovery,
// and W^X (writing kernel text and executing the heap must both fault).
#include "core/log.hpp"
#include "core/selftest.hpp"
#include "lib/page_table.hpp"
#include "mm/kernel_heap.hpp"
#include "mm/kernel_space.hpp"
#include "mm/physical.hpp"

#include <new>

extern "C" [[noreturn]] void kernel_main(uint32_t, uint64_t);

namespace mk::selftest {
namespace {

// Allocates blocks of `order` until NoMemory, chaining them through their first word (direct
// map), then frees them all. Returns the number of blocks, or -1 on an inconsistency.
int64_t exhaust_and_recover(unsigned order) {
    uint64_t head = 0, count = 0;
    for (;;) {
        auto block = pmm::allocate(order);
        if (!block.ok()) {
            if (block.status() != exo::Status::NoMemory) {
                log::error("selftest memory: allocate failed with %s",
                           exo::status_name(block.status()));
                return -1;
            }
            break;
        }
        *vm::phys_to_virt<uint64_t>(block.value()) = head;
        head = block.value();
        ++count;
    }
    while (head != 0) {
        uint64_t next = *vm::phys_to_virt<uint64_t>(head);
        if (auto r = pmm::free(head, order); !r.ok()) {
            log::error("selftest memory: free failed with %s", exo::status_name(r.status()));
            return -1;
        }
        head = next;
    }
    return int64_t(count);
}

// Far deeper than any kernel stack; volatile so the compiler cannot reason the bound away.
constinit volatile uint64_t recursion_limit = 1ull << 40;

// Recurses until the guard page stops it. The volatile buffer, used after the call, keeps the
// compiler from turning the recursion into a loop.
[[gnu::noinline]] uint64_t recurse_forever(uint64_t depth) {
    volatile uint8_t frame[256];
    frame[0] = uint8_t(depth);
    if (depth == recursion_limit)
        return 0;
    return recurse_forever(depth + 1) + frame[0];
}

// Allocates `size`-byte blocks until NoMemory (or `limit`), each filled with a pattern derived
// from its address and chained through its first word; checks every pattern, frees all.
// Returns the number of blocks, or -1 on an inconsistency.
int64_t fill_heap(size_t size, uint64_t limit) {
    uintptr_t head = 0;
    int64_t count = 0;
    for (; uint64_t(count) < limit; ++count) {
        auto block = heap::allocate(size);
        if (!block.ok()) {
            if (block.status() != exo::Status::NoMemory)
                return -1;
            break;
        }
        auto* words = static_cast<uintptr_t*>(block.value());
        words[0] = head;
        for (size_t i = 1; i < size / sizeof(uintptr_t); ++i)
            words[i] = uintptr_t(words) ^ i;
        head = uintptr_t(words);
    }
    while (head != 0) {
        auto* words = reinterpret_cast<uintptr_t*>(head);
        for (size_t i = 1; i < size / sizeof(uintptr_t); ++i) {
            if (words[i] != (uintptr_t(words) ^ i)) {
                log::error("selftest heap: block %p of size %zu overwritten",
                           static_cast<void*>(words), size);
                return -1;
            }
        }
        head = words[0];
        if (!heap::free(words, size).ok())
            return -1;
    }
    return count;
}

struct Counted {
    static inline int live = 0;
    uint64_t payload[5];
    Counted() { ++live; }
    ~Counted() { --live; }
};

} // namespace

bool kernel_heap(const Context&) {
    heap::trim();
    uint64_t free_before = pmm::free_bytes();
    size_t held_before = heap::pages_held(); // slabs of objects that live on (thread records)
    bool ok = true;
    auto check = [&](bool condition, const char* what) {
        if (!condition)
            log::error("selftest heap: %s", what);
        ok &= condition;
    };
    for (size_t size = heap::kMinClass; size <= heap::kMaxClass; size *= 2)
        check(fill_heap(size, 3000) == 3000, "3000 blocks of a size class");
    check(fill_heap(24, 5000) == 5000, "5000 blocks of 24 bytes (rounded up to 32)");
    check(heap::allocate(0).status() == exo::Status::InvalidArgument, "a 0-byte request");
    check(heap::allocate(heap::kMaxClass + 1).status() == exo::Status::InvalidArgument,
          "a request above the largest class");

    auto* object = new (std::nothrow) Counted;
    check(object != nullptr && Counted::live == 1, "new (std::nothrow) constructs");
    delete object;
    check(Counted::live == 0, "delete destructs");
    heap::log_stats();
    heap::trim();
    check(pmm::free_bytes() == free_before, "trimmed heap did not return every frame");

    int64_t blocks = fill_heap(heap::kMaxClass, UINT64_MAX);
    check(blocks > 0 &&
              pmm::free_bytes() + (heap::pages_held() - held_before) * 4096 == free_before,
          "exhausting the heap did not end in NoMemory with every frame accounted");
    heap::trim();
    check(pmm::free_bytes() == free_before, "after exhaustion, not every frame came back");
    check(pmm::check_invariants(), "buddy invariants broken");
    log::info("selftest heap: %ld blocks of %zu bytes before NoMemory", blocks, heap::kMaxClass);
    return ok;
}

bool overflow_kernel_stack(const Context&) {
    log::info("selftest: recursing until the kernel stack overflows");
    recurse_forever(0);
    log::error("selftest stack-overflow: recursion returned");
    return false;
}

bool memory_accounting(const Context&) {
    const pmm::Accounting& a = pmm::accounting();
    uint64_t free_before = pmm::free_bytes();
    bool ok = true;
    auto check = [&](bool condition, const char* what) {
        if (!condition)
            log::error("selftest memory: %s", what);
        ok &= condition;
    };
    check(free_before + pmm::allocated_bytes() == a.usable - a.reserved,
          "free + allocated memory != usable - reserved");
    check(pmm::check_invariants(), "buddy invariants broken after boot");

    // Map, use and unmap one page (the path kernel stacks and later mappings take).
    constexpr uint64_t kScratch = 0xFFFFFE8000000000ull;
    uint64_t frame = pmm::allocate(0).value();
    check(vm::map_kernel_page(kScratch, frame, kAccessWrite).ok(), "map a scratch page");
    *reinterpret_cast<volatile uint64_t*>(kScratch) = 0x1234;
    check(*vm::phys_to_virt<uint64_t>(frame) == 0x1234, "scratch page is not the frame");
    check(vm::map_kernel_page(kScratch, frame, kAccessWrite).status() == exo::Status::AlreadyExists,
          "mapping over a mapped page");
    auto unmapped = vm::unmap_kernel_page(kScratch);
    check(unmapped.ok() && unmapped.value() == frame, "unmap returns the frame");
    check(pmm::free(frame, 0).ok(), "free the scratch frame");
    // The scratch mapping's page tables stay (tables are kept for reuse): measure from here.
    free_before = pmm::free_bytes();

    int64_t frames = exhaust_and_recover(0);
    check(frames >= 0 && uint64_t(frames) * 4096 == free_before,
          "order-0 exhaustion did not hand out every free frame");
    check(pmm::free_bytes() == free_before, "freeing every frame did not restore free memory");
    int64_t large = exhaust_and_recover(10);
    check(large > 0, "no 4 MiB block available");
    check(pmm::free_bytes() == free_before, "freeing 4 MiB blocks did not restore free memory");
    check(pmm::check_invariants(), "buddy invariants broken after exhaustion");
    log::info("selftest memory: %ld frames and %ld 4 MiB blocks allocated and freed", frames,
              large);
    return ok;
}

bool write_kernel_text(const Context&) {
    log::info("selftest: writing to kernel text at %p", reinterpret_cast<void*>(&kernel_main));
    *reinterpret_cast<volatile uint8_t*>(&kernel_main) = 0xCC;
    log::error("selftest wx-text: the write to kernel text did not fault");
    return false;
}

bool execute_heap(const Context&) {
    auto frame = pmm::allocate(0);
    if (!frame.ok())
        return false;
    auto* code = vm::phys_to_virt<uint8_t>(frame.value());
    code[0] = 0xC3; // ret
    log::info("selftest: calling heap memory at %p", static_cast<void*>(code));
    reinterpret_cast<void (*)()>(code)();
    log::error("selftest wx-heap: executing heap memory did not fault");
    return false;
}

} // namespace mk::selftest
