// The boot manifest as init reads it (iso/manifest, loaded as the module "manifest"): one
// server per `start` line, with the quota and the capabilities it is given. Parsing is
// separate from acting so a bad line is reported with its number and skipped.
#pragma once

#include <exo/status.hpp>
#include <stddef.h>
#include <stdint.h>

namespace srv::init {

struct ServerEntry {
    char name[48];
    uint64_t quota_bytes = 1 << 20;          // quota=KiB
    bool log = false;                        // log
    uint32_t port_first = 0, port_count = 0; // ports=FIRST-LAST (hex or decimal)
    bool has_irq = false;                    // irq=LINE
    uint32_t irq = 0;
};

// Calls `fn(entry)` for each valid `start` line of text[0, size); `bad(line_number, why)` for
// each line it cannot use. Lines are at most 200 bytes.
template <typename Fn, typename Bad>
void parse_manifest(const char* text, size_t size, Fn&& fn, Bad&& bad);

} // namespace srv::init

#include "manifest_impl.hpp"
