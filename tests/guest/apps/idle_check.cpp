// The console-idle guest test: an idle console is never woken. With the System capability (Read)
// it finds the console's process, lets the boot's last log lines drain, and counts the console's
// wake-ups over 100 ms of guest time in which nothing is typed or logged.
#include <exo/connect.hpp>
#include <exo/libc.h>
#include <exo/log.hpp>
#include <exo/runtime.hpp>
#include <exo/sys.hpp>

using namespace exo;

namespace {

constexpr uint64_t kMs = 1'000'000;

// The console's record, or id 0 when there is none.
ProcessRecord find_console() {
    alignas(8) static ProcessRecord records[32];
    uint64_t after = 0;
    for (;;) {
        SysResult r = sys::process_list(kSlotSystem, records, 32, after);
        if (r.status != Status::Ok || r.value == 0)
            return {};
        for (uint64_t i = 0; i < r.value; ++i)
            if (strcmp(records[i].name, "console") == 0)
                return records[i];
        after = records[r.value - 1].id;
    }
}

} // namespace

int exo_main(uint64_t) {
    pause_until(sys::clock_ns() + 200 * kMs); // the boot's last lines reach the console first
    ProcessRecord before = find_console();
    uint64_t start = sys::clock_ns();
    pause_until(start + 100 * kMs);
    ProcessRecord after = find_console();
    uint64_t idle = sys::clock_ns() - start;
    if (before.id == 0 || after.id != before.id) {
        print("idle-check: no console found (System capability: %s)",
              before.id == 0 ? "missing or no console" : "the console restarted");
        return 1;
    }
    print("idle-check: idle for %lu ms, the console was woken %lu times", idle / kMs,
          after.wakeups - before.wakeups);
    return after.wakeups == before.wakeups ? 0 : 1;
}
