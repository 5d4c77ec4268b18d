// Self-test registry and runner.
#include "core/selftest.hpp"

#include "arch/x86_64/qemu.hpp"
#include "core/log.hpp"

namespace mk::selftest {
namespace {

constexpr Test kTests[] = {
    {"boot", boot_info},
    {"panic", deliberate_panic},
    {"fault", invalid_opcode},
    {"assert", failed_assertion},
    {"memory", memory_accounting},
    {"wx-text", write_kernel_text},
    {"wx-heap", execute_heap},
    {"stack-overflow", overflow_kernel_stack},
    {"heap", kernel_heap},
    {"threads", thread_lifecycle},
    {"preempt", preemption},
    {"fpu", fpu_state},
    {"smp", all_cpus},
    {"sleep", sleep_and_wait},
};

} // namespace

void run(std::string_view name, const Context& context) {
    for (const Test& test : kTests) {
        if (name != test.name)
            continue;
        log::info("selftest: running %s", test.name);
        bool passed = test.run(context);
        log::raw("EXO-TEST: %s %s\n", test.name, passed ? "PASS" : "FAIL");
        qemu::exit(passed ? qemu::ExitCode::Pass : qemu::ExitCode::Fail);
    }
    log::error("selftest: no test named '%.*s'; known tests:", int(name.size()), name.data());
    for (const Test& test : kTests)
        log::error("  %s", test.name);
    log::raw("EXO-TEST: %.*s FAIL\n", int(name.size()), name.data());
    qemu::exit(qemu::ExitCode::Fail);
}

} // namespace mk::selftest
