// The console's ps, caps and mem lines (report.hpp).
#include "report.hpp"

#include "command_line.hpp"

#include <exo/format.hpp>

#include <stdarg.h>

namespace srv::console {
namespace {

constexpr size_t kWidth = 160;

size_t name_length(const char (&name)[32]) {
    size_t n = 0;
    while (n < sizeof name && name[n] != '\0')
        ++n;
    return n;
}

// format() into a line and hand it on.
__attribute__((format(printf, 3, 4))) void emit_format(EmitLine emit, void* context,
                                                       const char* fmt, ...) {
    char line[kWidth];
    va_list ap;
    va_start(ap, fmt);
    size_t n = exo::vformat(line, sizeof line, fmt, ap);
    va_end(ap);
    emit(context, {line, n < sizeof line ? n : sizeof line - 1});
}

} // namespace

const char* process_state_name(uint32_t state) {
    constexpr const char* kNames[] = {"created", "running", "exited"};
    return state < 3 ? kNames[state] : "?";
}

void ps_line(const exo::ProcessRecord& p, const exo::proto::init::ProgramRecord* program,
             EmitLine emit, void* context) {
    char quota[48], restarts[16] = "-";
    exo::format(quota, sizeof quota, "%lu/%lu", p.quota_used / 1024, p.quota_limit / 1024);
    if (program != nullptr)
        exo::format(restarts, sizeof restarts, "%u", program->restarts);
    emit_format(emit, context, "%4lu %-16.*s %-8s %7u %21s %9s", p.id, int(name_length(p.name)),
                p.name, process_state_name(p.state), p.threads, quota, restarts);
}

void caps_line(const exo::CapRecord& c, EmitLine emit, void* context) {
    char rights[7];
    rights_letters(c.info.rights, rights);
    emit_format(emit, context, "%4u %-13s %-6s  0x%lx 0x%lx 0x%lx", c.slot,
                exo::object_type_name(exo::ObjectType(c.info.type)), rights, c.info.badge,
                c.info.first, c.info.count);
}

uint64_t free_in_blocks_kib(const exo::SystemInfo& info) {
    uint64_t kib = 0;
    for (size_t order = 0; order < exo::kBuddyOrders; ++order)
        kib += info.free_blocks[order] * (uint64_t(4) << order);
    return kib;
}

void memory_lines(const exo::SystemInfo& info, EmitLine emit, void* context) {
    emit_format(emit, context, "usable: %lu KiB", info.memory_usable / 1024);
    emit(context, "ORDER  BLOCK-KiB     COUNT        KiB");
    for (size_t order = 0; order < exo::kBuddyOrders; ++order) {
        const uint64_t block = uint64_t(4) << order, count = info.free_blocks[order];
        emit_format(emit, context, "%5zu %10lu %9lu %10lu", order, block, count, count * block);
    }
    emit_format(emit, context, "free: %lu KiB in blocks", free_in_blocks_kib(info));
    emit_format(emit, context, "free: %lu KiB in per-CPU page caches", info.memory_cached / 1024);
    emit_format(emit, context, "free: %lu KiB", info.memory_free / 1024);
    emit_format(emit, context, "largest free block: %lu KiB", info.largest_free / 1024);
    emit_format(emit, context, "fragmentation: %u.%u %%", info.fragmentation_permille / 10,
                info.fragmentation_permille % 10);
}

void quota_line(const exo::ProcessRecord& p, EmitLine emit, void* context) {
    char quota[48];
    exo::format(quota, sizeof quota, "%lu/%lu", p.quota_used / 1024, p.quota_limit / 1024);
    emit_format(emit, context, "%4lu %-16.*s %20s", p.id, int(name_length(p.name)), p.name, quota);
}

} // namespace srv::console
