// Memory: a quota of bytes drawn from the buddy allocator. Every frame and kernel object a
// process creates is charged to one, and a quota can only be split into smaller ones, so the
// sum of everything user mode holds never exceeds what the root quota was given at boot: no
// process can exhaust the kernel.
#pragma once

#include "object/kernel_object.hpp"

#include <atomic>

namespace mk {

class Memory final : public KernelObject {
public:
    static constexpr exo::ObjectType kType = exo::ObjectType::Memory;

    // The root quota (boot): `limit` bytes, charged to nothing.
    static exo::Result<Ref<Memory>> create_root(uint64_t limit);
    // A sub-quota of `bytes`, charged in full to `parent` until the sub-quota dies.
    static exo::Result<Ref<Memory>> split(Memory& parent, uint64_t bytes);

    // NoMemory when `bytes` would take `used` past `limit`.
    exo::Result<void> charge(uint64_t bytes);
    void uncharge(uint64_t bytes);

    uint64_t limit() const { return limit_; }
    uint64_t used() const { return used_.load(std::memory_order_relaxed); }

    explicit Memory(uint64_t limit) : KernelObject(kType), limit_(limit) {}

private:
    void destroy_contents() override;

    Memory* parent_ = nullptr; // holds a reference and `limit_` bytes of it
    uint64_t limit_;
    std::atomic<uint64_t> used_{0};
};

} // namespace mk
