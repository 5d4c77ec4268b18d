// Benchmark table "syscall": measured in ring 3 by the program bench-syscall (tests/guest/apps),
// which the kernel starts as the root process here and which prints its own table through a
// raw Log capability. The kernel only runs it and reports whether it ended well.
#include "bench/bench.hpp"
#include "core/log.hpp"
#include "user/root_process.hpp"

namespace mk::bench {

bool syscall(const Context& context) {
    auto root = user::start_root(context.boot, "bench-syscall", "");
    if (!root.ok())
        return false;
    auto end = root.value()->wait(0);
    if (!end.ok() || end.value().reason != uint32_t(exo::ExitReason::Exited) ||
        end.value().code != 0) {
        log::error("bench syscall: bench-syscall did not exit with 0");
        return false;
    }
    return true;
}

} // namespace mk::bench
