/* Virtual memory layout of the kernel, shared by the assembler boot path and C++ code.
 * Kernel image at -2 GiB (so -mcmodel=kernel can use sign-extended 32-bit addresses), a direct map
 * of physical memory at the bottom of the upper half. User space is the lower half. */
#pragma once

#define KERNEL_VMA 0xFFFFFFFF80000000
#define DIRECT_MAP_BASE 0xFFFF800000000000
/* The boot page tables map this much physical memory, identity and through the direct map. */
#define BOOT_MAPPED_BYTES 0x100000000
#define KERNEL_LOAD_PHYS 0x100000
#define BOOT_STACK_SIZE 0x4000
