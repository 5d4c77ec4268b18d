// Benchmark tables "syscall", "ring", "server" and "malloc": measured in ring 3 by the programs
// bench-syscall, bench-ring, bench-server and bench-malloc (tests/guest/apps), which the kernel
// starts here (bench-server through init) and which print their own tables through a raw Log
// capability. The kernel only runs them and reports whether they ended well.
#include "bench/bench.hpp"
#include "core/log.hpp"
#include "user/root_process.hpp"

namespace mk::bench {

namespace {

// Runs `program` as the root process with `args`; true when it exited with 0.
bool run_user_benchmark(const Context& context, const char* program, const char* args = "") {
    auto root = user::start_root(context.boot, program, args);
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

// init with the benchmark's manifest: an echo-server, 64 load clients and bench-server, which
// measures through init's connections and supervision and prints the table.
bool server(const Context& context) {
    return run_user_benchmark(context, "init", "once,manifest=bench-manifest");
}

// bench-malloc starts memsrv itself and measures libexo's malloc over it.
bool malloc_table(const Context& context) {
    return run_user_benchmark(context, "bench-malloc");
}

} // namespace mk::bench
