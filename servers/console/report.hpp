// The console's reports as text: the lines of ps, caps and mem from the records the System
// calls fill. Portable (no syscalls), so the host tests pin the formats that guest tests parse
// (docs/console.md shows them).
#pragma once

#include <exo/proto/init.hpp>
#include <exo/system.hpp>

#include <stddef.h>
#include <stdint.h>
#include <string_view>

namespace srv::console {

// Each report line goes to `emit`, without a line ending.
using EmitLine = void (*)(void* context, std::string_view line);

inline constexpr char kPsHeader[] =
    "  ID NAME             STATE    THREADS  QUOTA-KiB USED/LIMIT  RESTARTS";
inline constexpr char kCapsHeader[] = "SLOT TYPE          RIGHTS  BADGE  FIRST  COUNT";
inline constexpr char kQuotaHeader[] = "  ID NAME             QUOTA-KiB USED/LIMIT";

const char* process_state_name(uint32_t state); // created, running, exited

// One ps line: id, name, state, threads, used/limit KiB, restarts (`program`: init's record of
// it, or null for a process init does not supervise: "-").
void ps_line(const exo::ProcessRecord& process, const exo::proto::init::ProgramRecord* program,
             EmitLine emit, void* context);

// One caps line: slot, type, rights letters, badge, first, count (hex).
void caps_line(const exo::CapRecord& cap, EmitLine emit, void* context);

// mem's memory part: usable, the buddy orders, free in blocks, free, largest, fragmentation.
void memory_lines(const exo::SystemInfo& info, EmitLine emit, void* context);
// KiB free in the buddy's blocks: the sum over the orders of count * (4 << order).
uint64_t free_in_blocks_kib(const exo::SystemInfo& info);

// mem's quota part, one line per process.
void quota_line(const exo::ProcessRecord& process, EmitLine emit, void* context);

} // namespace srv::console
