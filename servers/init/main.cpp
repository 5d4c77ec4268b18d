// init, the root process: it holds every capability the kernel gives out, starts the servers
// that the boot manifest names, and gives each only what its line grants (a quota, the log,
// a port range, an interrupt line). With `init=once` on the kernel command line it waits for
// them all, checks that each one's quota came back empty, and exits (the guest tests use it).
#include "manifest.hpp"

#include <exo/boot_info.hpp>
#include <exo/channel.hpp>
#include <exo/libc.h>
#include <exo/log.hpp>
#include <exo/runtime.hpp>
#include <exo/spawn.hpp>
#include <exo/wait.hpp>

namespace {

using namespace exo;

constexpr size_t kMaxServers = 128;

struct Running {
    char name[48];
    Child child;
};

Running servers[kMaxServers];
size_t server_count = 0;

// The capabilities an entry asks for, narrowed from init's whole-machine ones.
Status start_server(const BootInfo& info, const srv::init::ServerEntry& e) {
    const BootModule* module = find_module(info, e.name);
    if (module == nullptr) {
        print("init: no module '%s' for the manifest", e.name);
        return Status::NotFound;
    }
    SpawnGrant grants[2];
    size_t grant_count = 0;
    Slot ports = kNullSlot, irq = kNullSlot;
    if (e.port_count) {
        ports = TRY(allocate_slot());
        TRY(sys::cap_narrow(kSlotIoPorts, e.port_first, e.port_count, ports));
        grants[grant_count++] = {ports, kSlotIoPorts, kRightsAll};
    }
    if (e.has_irq) {
        irq = TRY(allocate_slot());
        TRY(sys::cap_narrow(kSlotIrq, e.irq, 1, irq));
        grants[grant_count++] = {irq, kSlotIrq, kRightsAll};
    }
    SpawnOptions options;
    options.name = e.name;
    options.quota_bytes = e.quota_bytes;
    options.give_log = e.log;
    options.grants = grants;
    options.grant_count = grant_count;
    options.arg = e.arg;
    auto child = spawn(reinterpret_cast<const void*>(module->address), module->size, options);
    // init keeps no copy of what it narrowed: the child's are derived from init's own.
    for (Slot s : {ports, irq}) {
        if (s != kNullSlot) {
            (void)sys::cap_delete(s);
            free_slot(s);
        }
    }
    if (!child.ok()) {
        print("init: cannot start '%s': %s", e.name, status_name(child.status()));
        return child.status();
    }
    Running& r = servers[server_count++];
    memcpy(r.name, e.name, sizeof r.name);
    r.child = child.release_value();
    print("init: started '%s' (quota %lu KiB%s)", e.name, e.quota_bytes >> 10,
          e.log ? ", log" : "");
    return Status::Ok;
}

// Waits for every server; true when each exited with 0 and returned its whole quota.
bool wait_all() {
    bool all_good = true;
    for (size_t i = 0; i < server_count; ++i) {
        Running& r = servers[i];
        ExitInfo exit{};
        Status s = wait_process(r.child.process.slot(), ring::kNoDeadline, &exit);
        r.child.process.reset(); // the last reference: the kernel frees the process now
        MemoryInfo quota{};
        (void)sys::memory_info(r.child.quota.slot(), &quota);
        print("init: '%s' ended: %s, reason %u, code %ld; quota %lu bytes still used", r.name,
              status_name(s), exit.reason, exit.code, quota.used);
        all_good = all_good && s == Status::Ok && exit.reason == uint32_t(ExitReason::Exited) &&
                   exit.code == 0 && quota.used == 0;
    }
    return all_good;
}

} // namespace

int exo_main(uint64_t arg) {
    const auto& info = *reinterpret_cast<const BootInfo*>(arg);
    if (info.magic != kBootInfoMagic) {
        print("init: no boot information");
        return 1;
    }
    print("init: %lu boot modules", info.module_count);
    const BootModule* manifest = find_module(info, "manifest");
    if (manifest == nullptr) {
        print("init: no manifest module");
        return 1;
    }
    size_t failures = 0;
    srv::init::parse_manifest(
        reinterpret_cast<const char*>(manifest->address), manifest->size,
        [&](const srv::init::ServerEntry& e) {
            for (uint32_t instance = 0; instance < e.count; ++instance) {
                if (server_count == kMaxServers) {
                    print("init: more than %zu servers; '%s' not started", kMaxServers, e.name);
                    ++failures;
                    break;
                }
                if (start_server(info, e) != Status::Ok)
                    ++failures;
            }
        },
        [&](size_t line, const char* why) {
            print("init: manifest line %zu: %s (skipped)", line, why);
            ++failures;
        });
    bool once = strcmp(info.args, "once") == 0;
    bool good = wait_all() && failures == 0;
    print("init: all servers ended%s", good ? "; every quota came back" : " (with errors)");
    if (!once) {
        // Nothing left to supervise: stay, so the machine keeps running its kernel threads,
        // asleep on a ring that nothing ever produces into (its producer end stays here).
        auto idle = ring_create(kSlotMemory, 12);
        for (;;)
            (void)sys::ring_wait(idle.ok() ? idle.value().consumer.slot() : kNullSlot, 0, 0);
    }
    return good ? 0 : 1;
}
