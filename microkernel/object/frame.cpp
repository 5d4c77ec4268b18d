// Frames and device memory.
#include "object/frame.hpp"

#include "arch/x86_64/layout.h"
#include "core/panic.hpp"
#include "mm/kernel_space.hpp"
#include "mm/physical.hpp"
#include "object/memory.hpp"

#include <exo/syscall.hpp>

namespace mk {
namespace {

// The local APIC and I/O APIC windows belong to the kernel even when no memory map lists them.
constexpr uint64_t kInterruptControllers = 0xFEC00000, kInterruptControllersEnd = 0xFF000000;
// Device memory is offered below 2^46 (every x86-64 CPU with 4-level paging has at least that).
constexpr uint64_t kDevicePhysicalTop = 1ull << 46;

unsigned order_of(uint64_t pages) {
    return unsigned(__builtin_ctzll(pages));
}

} // namespace

exo::Result<Ref<Frame>> Frame::allocate(Memory& quota, uint64_t pages) {
    if (pages == 0 || pages > exo::kMaxFramePages || (pages & (pages - 1)) != 0)
        return exo::Status::InvalidArgument;
    unsigned order = order_of(pages);
    TRY(quota.charge(pages * kFrameSize));
    auto physical = pmm::allocate(order);
    if (!physical.ok()) {
        quota.uncharge(pages * kFrameSize);
        return physical.status();
    }
    auto frame = allocate_object<Frame>(&quota, physical.value(), order);
    if (!frame.ok()) {
        (void)pmm::free(physical.value(), order);
        quota.uncharge(pages * kFrameSize);
        return frame.status();
    }
    // A frame never shows user mode what a previous owner left in it.
    __builtin_memset(vm::phys_to_virt(physical.value()), 0, pages * kFrameSize);
    return Ref<Frame>(frame.value());
}

void Frame::destroy_contents() {
    EXO_ASSERT(pmm::free(physical_, order_).ok(), "a frame object held a bad block");
    quota()->uncharge(pages() * kFrameSize);
}

bool DeviceMemory::outside_ram(uint64_t physical, uint64_t pages) {
    uint64_t end = physical + pages * kFrameSize;
    if (end > kDevicePhysicalTop)
        return false;
    if (physical < kInterruptControllersEnd && kInterruptControllers < end)
        return false;
    return !pmm::overlaps_ram(physical, end);
}

exo::Result<Ref<DeviceMemory>> DeviceMemory::create_root() {
    return Ref<DeviceMemory>(
        TRY(allocate_object<DeviceMemory>(nullptr, uint64_t(0), kDevicePhysicalTop / kFrameSize)));
}

exo::Result<Ref<DeviceMemory>> DeviceMemory::narrow(Memory& quota, const DeviceMemory& parent,
                                                    uint64_t first_page, uint64_t pages) {
    if (pages == 0 || first_page > parent.pages_ || pages > parent.pages_ - first_page)
        return exo::Status::OutOfRange;
    return Ref<DeviceMemory>(TRY(
        allocate_object<DeviceMemory>(&quota, parent.physical_ + first_page * kFrameSize, pages)));
}

} // namespace mk
