// The operator's view of the system (System capability, slot kSlotSystem): the records that
// SystemInfo, ProcessList and ProcessCaps fill, the kernel log's records as LogAttach produces
// them into a ring, the log levels, and how SystemShutdown's code leaves QEMU. The console
// (servers/console/) is the one program the default manifest grants it to.
#pragma once

#include <exo/caps.hpp>
#include <stddef.h>
#include <stdint.h>

namespace exo {

inline constexpr size_t kBuddyOrders = 11;   // order k: blocks of 4 KiB << k (up to 4 MiB)
inline constexpr size_t kAutorunMax = 255;   // bytes of the autorun= kernel option
inline constexpr uint32_t kMaxShutdownCode = 63;

enum class LogLevel : uint32_t { Debug = 0, Info = 1, Warn = 2, Error = 3 };

constexpr const char* log_level_name(uint32_t level) {
    constexpr const char* kNames[] = {"debug", "info", "warn", "error"};
    return level < 4 ? kNames[level] : "?";
}

struct SystemInfo {
    char version[32];     // NUL-terminated, as the boot banner shows it
    uint64_t uptime_ns;   // since boot
    uint32_t cpus;        // online
    uint32_t log_level;   // LogLevel: the lowest the kernel log keeps
    uint64_t log_next;    // the sequence number the next log record gets
    uint64_t log_dropped; // kernel records lost because the attached ring was full
    uint64_t memory_usable;               // bytes the frame allocator manages
    uint64_t memory_free;                 // bytes free in it now: in free blocks, or cached
    uint64_t memory_cached;               // free single pages in the per-CPU caches
    uint64_t free_blocks[kBuddyOrders];   // free blocks of each order (not the cached pages)
    uint64_t largest_free;                // bytes: the largest free block
    uint32_t fragmentation_permille;      // of free memory, not in blocks of the largest order
    uint32_t processes;                   // that exist now (ProcessList lists them)
    char autorun[kAutorunMax + 1];        // the autorun= kernel option, quotes removed
};
static_assert(sizeof(SystemInfo) == 448);

struct ProcessRecord {
    uint64_t id;
    uint32_t state;       // ProcessState
    uint32_t threads;     // started and not yet ended
    uint64_t wakeups;     // as ProcessInfo counts them
    uint64_t quota_used;  // bytes charged now to the quota it was created from
    uint64_t quota_limit; // that quota's limit
    uint32_t cap_slots;   // its capability slots
    uint32_t caps_used;   // of which not empty
    char name[32];        // NUL-terminated
};
static_assert(sizeof(ProcessRecord) == 80 && offsetof(ProcessRecord, name) == 48);

struct CapRecord {
    uint32_t slot;
    uint32_t reserved;
    CapInfo info;
};
static_assert(sizeof(CapRecord) == 40);

// One kernel log line, as LogAttach produces it: a ring record of type kEventLog whose payload
// is this header and then `length` bytes of text ("[name] message" for a process's LogWrite,
// "subsystem: message" for the kernel's own). Sequence numbers count every line the kernel
// logs, whether it went to the ring or straight to the serial port, from 1 up with no gap: a
// gap is a lost line, a repeat a duplicated one.
inline constexpr uint32_t kEventLog = 0xE0000006;
inline constexpr uint32_t kMaxLogText = 640;
struct LogRecord {
    uint64_t seq;
    uint64_t ns;     // when it was logged, ns since boot
    uint32_t level;  // LogLevel
    uint32_t length; // <= kMaxLogText
};
static_assert(sizeof(LogRecord) == 24);

// SystemShutdown(code) under QEMU: the kernel writes kShutdownBase + code to the isa-debug-exit
// port, and QEMU exits with status ((kShutdownBase + code) << 1) | 1 = 129 + 2 * code; iso/qemu.py
// turns it back into `code`.
inline constexpr uint32_t kShutdownBase = 0x40;

} // namespace exo
