// The kernel's own address space: the image mapped by section with W^X, a non-executable direct
// map of physical memory, nothing else (no identity map, no user pages yet).
#pragma once

#include "arch/x86_64/layout.h"

#include <exo/result.hpp>

#include <stdint.h>

namespace mk::vm {

// Builds the tables from frames of the physical memory manager and switches CR3 to them.
// `direct_map_end`: physical memory [0, direct_map_end) appears at DIRECT_MAP_BASE.
exo::Result<void> init(uint64_t direct_map_end);

// Maps one 4 KiB kernel page (global) in the kernel tables and flushes its TLB entry.
exo::Result<void> map_kernel_page(uint64_t virt, uint64_t phys, uint32_t access);

// Removes a 4 KiB kernel page; returns the physical frame it mapped (not freed).
exo::Result<uint64_t> unmap_kernel_page(uint64_t virt);
// Removes `count` consecutive pages with one TLB shootdown; frames[i] gets page i's frame. On
// error, the pages before the failing one are unmapped (and their frames reported).
exo::Result<void> unmap_kernel_pages(uint64_t virt, uint64_t count, uint64_t* frames);
// The same, and the page tables the range leaves empty go back to the buddy after the
// shootdown: for areas that grow and shrink with demand (kernel stacks). At most 3 PTs' span.
exo::Result<void> release_kernel_pages(uint64_t virt, uint64_t count, uint64_t* frames);

// Drops the TLB entry of one kernel page on every CPU (a shootdown IPI when others are online).
// The one place every kernel mapping removal goes through.
void invalidate_page(uint64_t virt);
// Drops it on this CPU only.
void flush_local(uint64_t virt);

// Maps device registers [phys, phys + size) uncached in the MMIO region; returns the virtual
// address of `phys`. Mappings are permanent (device registers stay for the kernel's life).
inline constexpr uint64_t kMmioRegion = 0xFFFFFE0000000000ull;
inline constexpr uint64_t kMmioRegionSize = 1ull << 30;
exo::Result<uint64_t> map_mmio(uint64_t phys, uint64_t size);

// The direct map covers physical [0, direct_map_limit()).
uint64_t direct_map_limit();

// Physical address of the kernel's top-level table (below 4 GiB: built from phase-1 memory).
uint64_t kernel_tables();

// Requires NX (W^X depends on it); turns on SMEP and SMAP where the CPU has them. Every CPU
// calls it; the boot CPU reports what it found.
void enable_protection_features(bool report = true);

// The kernel mapping of a physical address (valid below direct_map_end).
template <typename T = void>
T* phys_to_virt(uint64_t phys) {
    return reinterpret_cast<T*>(DIRECT_MAP_BASE + phys);
}

} // namespace mk::vm
