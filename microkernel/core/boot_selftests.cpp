// Self-tests of the boot foundation: boot information sanity and the panic/fault reporting path.
#include "arch/x86_64/layout.h"
#include "core/log.hpp"
#include "core/panic.hpp"
#include "core/selftest.hpp"

namespace mk::selftest {
namespace {

constexpr std::string_view kManifestHeader = "# Exo-OS boot manifest";

bool inside_available_memory(const mb2::BootInfo& boot, uint64_t start, uint64_t end) {
    for (size_t i = 0; i < boot.memory_count; ++i) {
        const mb2::MemoryRegion& r = boot.memory[i];
        if (r.type == uint32_t(mb2::RegionType::Available) && start >= r.base &&
            end <= r.base + r.length)
            return true;
    }
    return false;
}

// Kept out of line so the backtrace has a frame with this name to show.
[[noreturn, gnu::noinline]] void panic_on_purpose() {
    EXO_PANIC("deliberate panic requested by test=panic");
}

[[gnu::noinline]] void execute_invalid_opcode() {
    asm volatile("ud2");
}

} // namespace

bool boot_info(const Context& context) {
    const mb2::BootInfo& boot = context.boot;
    bool ok = true;
    auto check = [&](bool condition, const char* what) {
        if (!condition)
            log::error("selftest boot: %s", what);
        ok &= condition;
    };
    check(boot.memory_count > 0, "no memory map");
    check(boot.usable_bytes() >= (16ull << 20), "less than 16 MiB of usable memory");
    check(boot.has_cmdline && context.cmdline.get("test") == "boot", "command line not passed");
    check(boot.module_count >= 1, "no modules");
    bool manifest_found = false;
    for (size_t i = 0; i < boot.module_count; ++i) {
        const mb2::Module& m = boot.modules[i];
        check(m.start % 4096 == 0, "module not page aligned (header asks for it)");
        check(inside_available_memory(boot, m.start, m.end), "module outside available memory");
        if (std::string_view(m.name) != "manifest")
            continue;
        manifest_found = true;
        // Modules are below 4 GiB (32-bit fields), inside the boot direct map.
        auto* data = reinterpret_cast<const char*>(DIRECT_MAP_BASE + m.start);
        size_t length = m.end - m.start;
        check(length >= kManifestHeader.size() &&
                  std::string_view(data, kManifestHeader.size()) == kManifestHeader,
              "manifest module does not start with the manifest header");
    }
    check(manifest_found, "no module named 'manifest'");
    return ok;
}

bool deliberate_panic(const Context&) {
    panic_on_purpose();
}

bool invalid_opcode(const Context&) {
    execute_invalid_opcode();
    log::error("selftest fault: ud2 did not trap");
    return false;
}

bool failed_assertion(const Context& context) {
    EXO_ASSERT(context.cmdline.get("test") != "assert", "deliberate assertion failure");
    return false;
}

} // namespace mk::selftest
