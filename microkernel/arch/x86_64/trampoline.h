/* Where the AP start code is copied (shared by trampoline.S and smp.cpp): page 8, below the
 * EBDA and inside the first MiB, which the physical allocator never hands out. */
#pragma once
#define TRAMPOLINE_PHYS 0x8000
