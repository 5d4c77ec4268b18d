// Physical memory manager: the buddy allocator over the machine's RAM, built from the Multiboot2
// memory map minus what the kernel, the modules, the boot information and the allocator's own
// metadata occupy, and minus the first MiB (BIOS data, real-mode structures).
#pragma once

#include "lib/buddy.hpp"
#include "lib/multiboot2.hpp"

namespace mk::pmm {

// What boot-time memory went where, in bytes of usable (Available, page-aligned) memory.
struct Accounting {
    uint64_t usable;       // Available regions, shrunk to whole pages
    uint64_t reserved;     // usable bytes withheld (the union of the ranges below)
    uint64_t low_memory;   // the first MiB
    uint64_t kernel_image; // the kernel's physical footprint
    uint64_t modules;
    uint64_t boot_info;
    uint64_t metadata; // the buddy's per-frame state
    uint64_t span_end; // the buddy manages [0, span_end)
};

// Phase 1: builds the allocator and frees the usable memory below `limit` (what the boot page
// tables map), so page tables can be built from it. Phase 2 (add_memory_above) adds the rest
// once the kernel's own tables map all of RAM.
exo::Result<void> init(const mb2::BootInfo& boot, uint64_t boot_info_phys, uint64_t limit);
exo::Result<void> add_memory_above(uint64_t limit);

exo::Result<uint64_t> allocate(unsigned order, FrameQuota* quota = nullptr);
exo::Result<void> free(uint64_t address, unsigned order, FrameQuota* quota = nullptr);

const Accounting& accounting();
// True when [start, end) touches a memory-map region that is not plain Reserved (RAM, ACPI
// tables and NVS, bad memory): such pages are never device memory for user mode.
bool overlaps_ram(uint64_t start, uint64_t end);
uint64_t free_bytes();
// Free memory by kind: blocks of each order in the buddy, and single frames in the per-CPU
// caches (which free_bytes() counts too).
struct FreeStats {
    uint64_t blocks[kOrderCount];
    uint64_t cached_frames;
    int largest_order; // -1 when nothing is free in the buddy
    unsigned fragmentation_permille;
};
FreeStats free_stats();
uint64_t allocated_bytes(); // handed out and not yet freed (at boot: the kernel's page tables)
bool check_invariants();
void log_summary();

} // namespace mk::pmm
