// Memory quotas.
#include "object/memory.hpp"

#include "core/panic.hpp"

namespace mk {

exo::Result<Ref<Memory>> Memory::create_root(uint64_t limit) {
    return Ref<Memory>(TRY(allocate_object<Memory>(nullptr, limit)));
}

exo::Result<Ref<Memory>> Memory::split(Memory& parent, uint64_t bytes) {
    TRY(parent.charge(bytes));
    auto child = allocate_object<Memory>(&parent, bytes);
    if (!child.ok()) {
        parent.uncharge(bytes);
        return child.status();
    }
    child.value()->parent_ = &parent;
    parent.retain();
    return Ref<Memory>(child.value());
}

exo::Result<void> Memory::charge(uint64_t bytes) {
    uint64_t used = used_.load(std::memory_order_relaxed);
    do {
        if (bytes > limit_ - used)
            return exo::Status::NoMemory;
    } while (!used_.compare_exchange_weak(used, used + bytes, std::memory_order_relaxed));
    return {};
}

void Memory::uncharge(uint64_t bytes) {
    uint64_t before = used_.fetch_sub(bytes, std::memory_order_relaxed);
    EXO_ASSERT(before >= bytes, "a quota was uncharged more than it was charged");
}

void Memory::destroy_contents() {
    EXO_ASSERT(used() == 0, "a quota died with memory still charged to it");
    if (parent_) {
        parent_->uncharge(limit_);
        parent_->release();
        parent_ = nullptr;
    }
}

} // namespace mk
