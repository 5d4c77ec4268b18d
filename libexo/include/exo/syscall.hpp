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
    Null = 0,      // () -> Ok; the cheapest round trip, for measurement
    Yield = 1,     // ()
    ClockGet = 2,  // () -> ns since boot (monotonic)
    LogWrite = 3,  // (log, const char* text, size_t length <= kMaxLogWrite); Write
    CapInfo = 4,   // (slot, CapInfo* out); no right needed
    CapCopy = 5,   // (src, dst, rights mask); Duplicate on src
    CapMint = 6,   // (src, dst, rights mask, badge != 0); Duplicate on src
    CapMove = 7,   // (src, dst)
    CapDelete = 8, // (slot)
    CapRevoke = 9, // (slot) -> how many derived capabilities were deleted
    // (src, first, count, dst): a child IoPorts, Irq or DeviceMemory capability on a sub-range;
    // Duplicate on src
    CapNarrow = 10,
    MemorySplit = 11, // (memory, bytes, dst): a new quota carved out of memory; Manage
    MemoryInfo = 12,  // (memory, MemoryInfo* out); Read
    FrameAlloc = 13,  // (memory, pages: a power of two <= kMaxFramePages, dst); Manage
    // (address space, frame or device memory, vaddr, MapFlags); Manage on the space, Read on the
    // frame, and Write or Execute on it for a writable or executable mapping
    FrameMap = 14,
    FrameUnmap = 15,   // (address space, vaddr): the mapping that starts at vaddr; Manage
    FrameProtect = 16, // (address space, vaddr, MapFlags): within what the frame allowed; Manage
    AddressSpaceCreate = 17, // (memory, dst); Manage on the memory
    // (memory, address space, dst, const char* name, size_t length); Manage on both
    ProcessCreate = 18,
    // (process, src, dst slot in the process, rights mask); Manage on the process, Grant on
    // src; before start only, never a Process or Thread capability
    ProcessGrant = 19,
    ProcessStart = 20, // (process, entry, stack top, argument) -> main thread id; Manage
    ProcessExit = 21,  // (code): ends every thread of the calling process; does not return
    ProcessWait = 22,  // retired: a process's end arrives on a ring (ProcessWatch); Unsupported
    ProcessKill = 23,  // (process); Manage
    ThreadCreate = 24, // (process, memory, dst); Manage on both
    ThreadStart = 25,  // (thread, entry, stack top, argument); Manage
    ThreadExit = 26,   // (): ends the calling thread (the last one ends the process, code 0)
    ThreadWait = 27,   // retired: a thread's end arrives on a ring (ThreadWatch); Unsupported
    // (irq, ring producer end): routes the Irq's single line to this CPU, unmasked; each
    // interrupt masks it and arrives as an IrqEvent message on the ring (exo/events.hpp);
    // Manage on the irq, Write on the end
    IrqBind = 28,
    IrqWait = 29,     // retired: interrupts arrive on the bound ring; returns Unsupported
    IrqAck = 30,      // (irq): unmasks the line again after a delivered interrupt; Manage
    IoPortGrant = 31, // (ioports): the calling process may use in/out on its ports; Manage
    // Fusion rings (exo/ring.hpp, exo/channel.hpp): a Ring capability is one end, producer or
    // consumer. (memory, size log2 (12-22), dst producer end, dst consumer end); Manage
    RingCreate = 32,
    // (end, address space, vaddr): the control page at vaddr, the data area twice from vaddr +
    // 4096 (read-only for the consumer); Read on the end, Manage on the space
    RingMap = 33,
    // (end, deadline: ns since boot as ClockGet counts (0: none), seen): sleeps until the peer's
    // index (tail for the consumer, head for the producer) differs from `seen`; Closed once the
    // peer is gone (for the consumer: and nothing new was sent); TimedOut at the deadline; Read
    RingWait = 34,
    RingNotify = 35,     // (end): wakes the other end's waiter; Read
    RingSendCap = 36,    // (producer end, src): moves src into the ring; Write, Grant on src
    RingReceiveCap = 37, // (consumer end, dst): the oldest capability sent; WouldBlock if none
    // (process, ring producer end): a ChildEvent message (exo/events.hpp) when the process ends
    // (fault, kill or exit), at once if it has ended; Read on it, Write on the end. One watch
    // per process: BadState while another is set; kNullSlot as the end removes it. The watch
    // holds the ring until it fires, is removed, or the process object goes.
    ProcessWatch = 38,
    // (ring producer end, timeout ns, cookie): a TimerEvent message once the time has passed;
    // Write on the end
    TimerSet = 39,
    // (end, event ring producer end, badge): from now on, when the peer of `end` calls
    // RingNotify (or goes away), the kernel posts a DoorbellEvent{badge} (exo/events.hpp) on
    // the event ring; at most one is pending per bound end until the event ring's consumer has
    // released it. One wait on the event ring thus serves many rings. A second call replaces
    // the binding; kNullSlot as the event end removes it. Read on the end, Write on the event
    // end; the binding is charged to the event ring's quota and ends with either ring.
    RingBind = 40,
    ProcessInfo = 41, // (process, ProcessInfo* out); Read
    // (thread, ring producer end, cookie): a ThreadEvent{thread id, cookie} message once the
    // thread has ended and the kernel has freed its stack (its quota charge is gone), at once if
    // that has happened. A thread never started never ends: nothing is posted (the watch goes
    // with the thread object). Rights and the one-watch rule as for ProcessWatch.
    ThreadWatch = 42,
    // The operator's calls (exo/system.hpp), each on a System capability:
    SystemInfo = 43, // (system, SystemInfo* out); Read
    // (system, ProcessRecord* out, size_t max, uint64_t after_id) -> records written: the
    // processes with an id above after_id, in id order (page with the last id seen); Read
    ProcessList = 44,
    // (system, uint64_t process_id, CapRecord* out, size_t max, Slot after) -> records written:
    // the process's non-empty slots above `after`, in slot order; NotFound for no such
    // process; Read
    ProcessCaps = 45,
    // (system, ring producer end or kNullSlot) -> the sequence number of the first record that
    // goes to the ring: from now on the kernel log is produced into the ring as LogRecords
    // instead of being written to the serial port (kNullSlot: written directly again). Manage
    // on the system, Write on the end (a producer end).
    LogAttach = 46,
    LogLevel = 47, // (system, LogLevel): the lowest level the kernel log keeps; Manage
    // (system, code 0..kMaxShutdownCode): powers off; under QEMU, exits with the code
    // (exo/system.hpp says how it is encoded). Manage
    SystemShutdown = 48,
    // (system, max records) -> records printed: the oldest records of the log's ring (up to
    // max) written to the serial port and released, each in one step that a kill of the caller
    // cannot split (so a console that dies has printed each record exactly once, and the kernel
    // writes the rest). Fewer than max: the ring is empty now. BadState when no ring is attached.
    // Manage
    LogPrint = 49,
    Count = 50,
};

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
