// The boot manifest as init reads it (iso/manifest, loaded as the module "manifest"): one
// server per `start` line, with the quota, capabilities, services, restart policy and operator
// rights (system, control) it is given.
// Parsing is separate from acting so a bad line is reported with its number and skipped.
#pragma once

#include "restart_budget.hpp"

#include <exo/caps.hpp>
#include <exo/proto/service.hpp>
#include <exo/status.hpp>
#include <stddef.h>
#include <stdint.h>

namespace srv::init {

constexpr size_t kMaxLineBytes = 200; // without the line end
constexpr size_t kMaxLineTokens = 16;
using exo::proto::kServiceNameMax; // 1 to 15 of [a-z0-9-]
constexpr size_t kMaxServe = 4, kMaxConnect = 8;
constexpr uint32_t kMaxInstances = 64;
constexpr uint64_t kMaxWithinMs = 3'600'000;

using ServiceName = char[kServiceNameMax + 1]; // NUL-terminated

struct ServerEntry {
    char name[48];
    uint64_t quota_bytes = 1 << 20;          // quota=KiB
    bool log = false;                        // log
    uint32_t port_first = 0, port_count = 0; // ports=FIRST-LAST (hex or decimal)
    bool has_irq = false;                    // irq=LINE
    uint32_t irq = 0;
    ServiceName serve[kMaxServe] = {}; // serve=SVC[,SVC...]: the services it provides
    size_t serve_count = 0;
    ServiceName connect[kMaxConnect] = {}; // connect=SVC[,SVC...]: those it may connect to
    size_t connect_count = 0;
    uint32_t restarts = 3;     // restarts=N (0 to RestartBudget::kMaxRestarts) within=MS: more
    uint64_t within_ms = 5000; // than N restarts within MS milliseconds and init gives it up
    uint32_t count = 1;        // count=N: N instances of the program (1 to kMaxInstances)
    uint64_t arg = 0;          // arg=N: the first thread's argument
    // system: the System capability in slot kSlotSystem with these rights (0: not granted):
    // kRightRead for `system`, kRightRead | kRightManage for `system=manage`.
    uint32_t system_rights = 0;
    bool control = false; // control: it may send init Programs, Kill and Restart
};

// Calls `fn(entry)` for each valid `start` line of text[0, size); `bad(line_number, why)` (a
// static string) for each line it cannot use; at most one call per line. Lines end with LF or
// CRLF and are at most kMaxLineBytes long with at most kMaxLineTokens tokens; '#' starts a
// comment. A repeated option overrides the earlier one.
template <typename Fn, typename Bad>
void parse_manifest(const char* text, size_t size, Fn&& fn, Bad&& bad);

} // namespace srv::init

#include "manifest_impl.hpp"
