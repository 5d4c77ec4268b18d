// Capabilities as user mode sees them: object types, rights, the CapInfo and ExitInfo records
// that syscalls fill, and the slots every process starts with.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace exo {

// A slot index in the calling process's capability space. Slot 0 is never valid.
using Slot = uint32_t;
inline constexpr Slot kNullSlot = 0;
inline constexpr uint32_t kCapSlots = 256; // a process's slots (ProcessCreate)
// The root process's (init's): it holds the links and accept rings of up to 128 programs.
// ProcessInfo::cap_slots says which a process has.
inline constexpr uint32_t kRootCapSlots = 1024;

enum class ObjectType : uint16_t {
    None = 0, // an empty slot
    Memory = 1,
    Frame = 2,
    AddressSpace = 3,
    Process = 4,
    Thread = 5,
    Ring = 6, // the fusion-ring issue
    Irq = 7,
    IoPorts = 8,
    DeviceMemory = 9,
    Log = 10,
    // The whole system, for its operator (the console): what every process is and holds, free
    // memory, the kernel log's sink and level, shutdown (exo/system.hpp). Read observes, Manage
    // changes. Only the root starts with it; init grants it by manifest line (`system`).
    System = 11,
};

constexpr const char* object_type_name(ObjectType t) {
    switch (t) {
    case ObjectType::None:
        return "None";
    case ObjectType::Memory:
        return "Memory";
    case ObjectType::Frame:
        return "Frame";
    case ObjectType::AddressSpace:
        return "AddressSpace";
    case ObjectType::Process:
        return "Process";
    case ObjectType::Thread:
        return "Thread";
    case ObjectType::Ring:
        return "Ring";
    case ObjectType::Irq:
        return "Irq";
    case ObjectType::IoPorts:
        return "IoPorts";
    case ObjectType::DeviceMemory:
        return "DeviceMemory";
    case ObjectType::Log:
        return "Log";
    case ObjectType::System:
        return "System";
    }
    return "Unknown";
}

// Rights. A derived capability has at most its source's rights.
enum Rights : uint32_t {
    kRightRead = 1u << 0,      // observe: info, wait, map readable
    kRightWrite = 1u << 1,     // map writable, write to a log
    kRightExecute = 1u << 2,   // map executable
    kRightDuplicate = 1u << 3, // copy or mint in the same capability space
    kRightGrant = 1u << 4,     // give to another process
    kRightManage = 1u << 5,    // change the object: allocate from, map into, start, kill, bind
    kRightsAll = (1u << 6) - 1,
};

struct CapInfo {
    uint16_t type; // ObjectType
    uint16_t reserved;
    uint32_t rights;
    uint64_t badge;
    uint64_t first; // Frame: physical address; IoPorts/Irq: first port/line; DeviceMemory:
                    // address; Ring: the data area's size in bytes
    uint64_t count; // Frame/DeviceMemory: pages; IoPorts/Irq: ports/lines; Memory: limit in
                    // bytes; Ring: 1 for the producer end, 0 for the consumer end
};
static_assert(sizeof(CapInfo) == 32);

struct MemoryInfo {
    uint64_t limit; // bytes this quota may hold
    uint64_t used;  // bytes charged to it now: frames, kernel objects and sub-quotas
};
static_assert(sizeof(MemoryInfo) == 16);

enum class ExitReason : uint32_t {
    Running = 0, // not ended yet (an exit record never says it)
    Exited = 1,  // ProcessExit, or its last thread ended
    Faulted = 2, // a CPU exception in user mode
    Killed = 3,  // ProcessKill
};

struct ExitInfo {
    uint32_t reason;        // ExitReason
    uint32_t vector;        // Faulted: the exception vector
    int64_t code;           // Exited: the exit code
    uint64_t address;       // Faulted: the faulting instruction
    uint64_t fault_address; // Faulted by a page fault: the address accessed (CR2)
};
static_assert(sizeof(ExitInfo) == 32);

enum class ProcessState : uint32_t {
    Created = 0, // not started
    Running = 1,
    Exited = 2,
};

struct ProcessInfo {
    uint64_t id;
    uint32_t state;     // ProcessState
    uint32_t threads;   // started and not yet ended
    uint64_t wakeups;   // times its threads were woken from a wait, since it started
    uint32_t cap_slots; // its capability slots: kCapSlots, or kRootCapSlots for the root
    uint32_t reserved;
    char name[32]; // NUL-terminated
};
static_assert(sizeof(ProcessInfo) == 64 && offsetof(ProcessInfo, cap_slots) == 24);

// Slots every process starts with (ProcessStart installs 1 and 2; the creator grants the rest).
inline constexpr Slot kSlotSelf = 1;         // Process: Read, Manage, Duplicate
inline constexpr Slot kSlotAddressSpace = 2; // AddressSpace: Read, Manage, Duplicate
inline constexpr Slot kSlotMemory = 3;       // Memory: the process's quota (by convention)
inline constexpr Slot kSlotLog = 4;          // Log (by convention)
// The root process (init) also holds:
inline constexpr Slot kSlotIoPorts = 5;      // every I/O port
inline constexpr Slot kSlotIrq = 6;          // every I/O APIC input
inline constexpr Slot kSlotDeviceMemory = 7; // physical addresses outside RAM
// What init grants a program by its manifest line (docs/servers.md):
inline constexpr Slot kSlotInitTx = 8;  // connect=: Ring producer, requests to init
inline constexpr Slot kSlotInitRx = 9;  // connect=: Ring consumer, init's responses
inline constexpr Slot kSlotAccept = 10; // serve=: Ring consumer, the server's accept ring
// The root's System capability; init grants it in the same slot (`system`: Read; `system=manage`:
// Read and Manage).
inline constexpr Slot kSlotSystem = 11;
// A connection to memsrv that the creator wired itself (a process without a link to init):
// the producer end of the request ring and the consumer end of the response ring, not yet
// greeted. libexo's malloc uses it, or else connects through init (docs/memsrv.md).
inline constexpr Slot kSlotMemsrvTx = 12;
inline constexpr Slot kSlotMemsrvRx = 13;
inline constexpr Slot kFirstFreeSlot = 16;

} // namespace exo
