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

// Drops the TLB entry of one kernel page. The one place every kernel mapping change goes
// through, so the SMP issue can turn it into a shootdown.
void invalidate_page(uint64_t virt);

// Requires NX (W^X depends on it); turns on SMEP and SMAP where the CPU has them.
void enable_protection_features();

// The kernel mapping of a physical address (valid below direct_map_end).
template <typename T = void>
T* phys_to_virt(uint64_t phys) {
    return reinterpret_cast<T*>(DIRECT_MAP_BASE + phys);
}

} // namespace mk::vm
