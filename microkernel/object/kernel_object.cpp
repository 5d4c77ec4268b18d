// Deferred destruction of kernel objects and their quota charges.
#include "object/kernel_object.hpp"

#include "arch/x86_64/spinlock.hpp"
#include "core/panic.hpp"
#include "mm/kernel_heap.hpp"
#include "object/memory.hpp"

#include <atomic>

namespace mk {
namespace {

// A lock-free stack of objects waiting for destruction (pushed from any context).
constinit std::atomic<KernelObject*> dead_list{nullptr};
constinit std::atomic<uint64_t> live_objects{0};

} // namespace

void KernelObject::last_reference_dropped() {
    KernelObject* head = dead_list.load(std::memory_order_relaxed);
    do {
        dead_next_ = head;
    } while (!dead_list.compare_exchange_weak(head, this, std::memory_order_release,
                                              std::memory_order_relaxed));
}

void KernelObject::attach_quota(Memory* quota, uint32_t size, uint32_t charge) {
    quota_ = quota;
    size_ = size;
    charge_ = charge;
    if (quota)
        quota->retain();
    live_objects.fetch_add(1, std::memory_order_relaxed);
}

exo::Result<void> charge_object(Memory* quota, size_t bytes) {
    if (quota == nullptr)
        return {};
    return quota->charge(bytes);
}

void uncharge_object(Memory* quota, size_t bytes) {
    if (quota)
        quota->uncharge(bytes);
}

void* allocate_object_memory(size_t bytes) {
    auto block = heap::allocate(bytes);
    return block.ok() ? block.value() : nullptr;
}

void reap_dead_objects() {
    for (;;) {
        // Every syscall ends here: a plain load keeps the common empty case off the shared
        // cache line's exclusive state (no write, no bouncing between CPUs).
        if (dead_list.load(std::memory_order_relaxed) == nullptr)
            return;
        KernelObject* batch = dead_list.exchange(nullptr, std::memory_order_acquire);
        if (batch == nullptr)
            return;
        while (batch) {
            KernelObject* object = batch;
            batch = object->dead_next_;
            EXO_ASSERT(object->references() == 0, "a dead object was revived");
            object->destroy_contents();
            Memory* quota = object->quota_;
            uint32_t size = object->size_, charge = object->charge_;
            object->~KernelObject();
            EXO_ASSERT(heap::free(object, size).ok(), "kernel object not from the heap");
            live_objects.fetch_sub(1, std::memory_order_relaxed);
            if (quota) {
                quota->uncharge(charge);
                quota->release();
            }
        }
    }
}

uint64_t live_object_count() {
    return live_objects.load(std::memory_order_relaxed);
}

} // namespace mk
