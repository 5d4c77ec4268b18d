// Frame: a power-of-two block of RAM from the buddy allocator, zeroed, charged to a quota.
// DeviceMemory: a page range of physical address space outside RAM (device registers), mapped
// uncached. Both can be mapped into address spaces; a mapping holds a reference, so the memory
// stays until its last mapping and capability are gone.
#pragma once

#include "object/kernel_object.hpp"

namespace mk {

class Frame final : public KernelObject {
public:
    static constexpr exo::ObjectType kType = exo::ObjectType::Frame;

    // `pages`: a power of two, 1 to exo::kMaxFramePages (InvalidArgument otherwise).
    static exo::Result<Ref<Frame>> allocate(Memory& quota, uint64_t pages);

    uint64_t physical() const { return physical_; }
    uint64_t pages() const { return uint64_t(1) << order_; }

    Frame(uint64_t physical, unsigned order)
        : KernelObject(kType), physical_(physical), order_(order) {}

private:
    void destroy_contents() override;

    uint64_t physical_;
    unsigned order_;
};

class DeviceMemory final : public KernelObject {
public:
    static constexpr exo::ObjectType kType = exo::ObjectType::DeviceMemory;

    // Boot: the whole physical address space below 2^46 that is not RAM.
    static exo::Result<Ref<DeviceMemory>> create_root();
    // A sub-range [first_page, first_page + pages) of `parent`, in pages relative to its start.
    static exo::Result<Ref<DeviceMemory>> narrow(Memory& quota, const DeviceMemory& parent,
                                                 uint64_t first_page, uint64_t pages);

    uint64_t physical() const { return physical_; }
    uint64_t pages() const { return pages_; }
    // True when no page of [physical, physical + pages * 4 KiB) is RAM the buddy manages.
    static bool outside_ram(uint64_t physical, uint64_t pages);

    DeviceMemory(uint64_t physical, uint64_t pages)
        : KernelObject(kType), physical_(physical), pages_(pages) {}

private:
    uint64_t physical_;
    uint64_t pages_;
};

} // namespace mk
