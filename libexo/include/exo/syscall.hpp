// Syscall numbers and calling convention of Exo-OS (the ABI between libexo and the kernel).
// Each line below gives the arguments and the rights the call needs; docs/user-mode.md gives
// the statuses for bad slots, pointers and lengths, which are the same for every call.
// `syscall` with rax = number, arguments in rdi, rsi, rdx, r10, r8, r9 (the System V order with
// r10 for rcx, which `syscall` overwrites). Returns rax = Status, rdx = a value where the call
// has one. rcx and r11 are clobbered; every other register is preserved. Values are ABI: only
// ever appended.
#pragma once

#include <stdint.h>

namespace exo {

enum class Sys : uint64_t {
    Null = 0,       // () -> Ok; the cheapest round trip, for measurement
    Yield = 1,      // ()
    ClockGet = 2,   // () -> ns since boot (monotonic)
    LogWrite = 3,   // (log, const char* text, size_t length); Write right; length <= kMaxLogWrite
    CapInfo = 4,    // (slot, CapInfo* out)
    CapCopy = 5,    // (src, dst, rights mask); Duplicate right on src
    CapMint = 6,    // (src, dst, rights mask, badge != 0); Duplicate right on src
    CapMove = 7,    // (src, dst)
    CapDelete = 8,  // (slot)
    CapRevoke = 9,  // (slot) -> how many derived capabilities were deleted
    CapNarrow = 10, // (src, first, count, dst): a child IoPorts/Irq/DeviceMemory cap on a sub-range
    MemorySplit = 11, // (memory, bytes, dst): a new quota of `bytes` carved out of memory; Manage
    MemoryInfo = 12,  // (memory, MemoryInfo* out); Read
    FrameAlloc = 13,  // (memory, pages (a power of two <= kMaxFramePages), dst); Manage on memory
    FrameMap = 14, // (address space, frame or device memory, vaddr, MapFlags); Manage on the space
    FrameUnmap = 15,   // (address space, vaddr): removes the mapping that starts at vaddr
    FrameProtect = 16, // (address space, vaddr, MapFlags): new rights for the mapping at vaddr
    AddressSpaceCreate = 17, // (memory, dst)
    ProcessCreate = 18,      // (memory, address space, dst, const char* name, size_t name_length)
    ProcessGrant = 19, // (process, src, dst slot in the process, rights mask); before start only
    ProcessStart = 20, // (process, entry, stack top, argument) -> its main thread's id
    ProcessExit = 21,  // (code): ends every thread of the calling process; does not return
    ProcessWait = 22,  // (process, timeout ns (0: forever), ExitInfo* out); Read
    ProcessKill = 23,  // (process); Manage
    ThreadCreate = 24, // (process, memory, dst)
    ThreadStart = 25,  // (thread, entry, stack top, argument); Manage
    ThreadExit = 26,   // (): ends the calling thread (the last one ends the process, code 0)
    ThreadWait = 27,   // (thread, timeout ns (0: forever)); Read
    IrqBind = 28,      // (irq): routes its single line to the kernel and unmasks it; Manage
    IrqWait = 29,      // (irq, timeout ns (0: forever)) -> interrupts since the last wait
    IrqAck = 30,       // (irq): unmasks the line again after a delivered interrupt
    IoPortGrant = 31,  // (ioports): the calling process may use in/out on the cap's ports
    Count = 32,
};

// A Log capability minted with this badge writes its text verbatim, as a line of its own with
// no process prefix: for machine-readable output such as benchmark tables.
inline constexpr uint64_t kLogBadgeRaw = 0x574152; // "RAW"

// The largest single LogWrite and process name.
inline constexpr uint64_t kMaxLogWrite = 512;
inline constexpr uint64_t kMaxProcessName = 31;
// FrameAlloc hands out power-of-two blocks of 1 to kMaxFramePages pages (4 KiB to 4 MiB).
inline constexpr uint64_t kMaxFramePages = 1024;

// FrameMap/FrameProtect flags. Read is implied; Write and Execute never together (W^X).
enum MapFlags : uint32_t {
    kMapRead = 0,
    kMapWrite = 1u << 0,
    kMapExecute = 1u << 1,
};

} // namespace exo
