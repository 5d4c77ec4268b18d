// Benchmark tables "syscall" and "ring": measured in ring 3 by the programs bench-syscall and
// bench-ring (tests/guest/apps), which the kernel starts as the root process here and which
// print their own tables through a raw Log capability. The kernel only runs them and reports
// whether they ended well.
#include "bench/bench.hpp"
#include "core/log.hpp"
#include "user/root_process.hpp"

namespace mk::bench {

namespace {

// Runs `program` as the root process; true when it exited with 0.
bool run_user_benchmark(const Context& context, const char* program) {
    auto root = user::start_root(context.boot, program, "");
    if (!root.ok())
        return false;
    auto end = root.value()->wait(0);
    if (!end.ok() || end.value().reason != uint32_t(exo::ExitReason::Exited) ||
        end.value().code != 0) {
        log::error("bench: %s did not exit with 0", program);
        return false;
    }
    return true;
}

} // namespace

bool syscall(const Context& context) {
    return run_user_benchmark(context, "bench-syscall");
}

bool ring(const Context& context) {
    return run_user_benchmark(context, "bench-ring");
}

} // namespace mk::bench
