// Root of the `user-fuzz` guest test: runs the syscall fuzzer (fuzz-child) with the seed given
// as `init=SEED` on the kernel command line, then checks that it ended normally and that every
// byte charged to it, and to the processes it created, came back.
#include "expect.hpp"

#include <exo/runtime.hpp>
#include <exo/spawn.hpp>
#include <exo/wait.hpp>

using namespace exo;
using namespace exo::test;

namespace {

uint64_t parse_seed(const char* s) {
    uint64_t v = 0;
    for (; *s >= '0' && *s <= '9'; ++s)
        v = v * 10 + uint64_t(*s - '0');
    return v ? v : 1;
}

} // namespace

int exo_main(uint64_t arg) {
    const auto& boot = *reinterpret_cast<const BootInfo*>(arg);
    uint64_t seed = parse_seed(boot.args);
    const BootModule* m = find_module(boot, "fuzz-child");
    EXPECT_TRUE(m != nullptr);
    if (m == nullptr)
        return summary("fuzz-test");
    SpawnOptions o;
    o.name = "fuzz-child";
    o.quota_bytes = 4 << 20;
    o.arg = seed;
    auto child = spawn(reinterpret_cast<const void*>(m->address), m->size, o);
    EXPECT_OK(child.status());
    if (!child.ok())
        return summary("fuzz-test");
    ExitInfo exit{};
    EXPECT_OK(wait_process(child.value().process.slot(), sys::clock_ns() + 600'000'000'000, &exit));
    EXPECT_TRUE(exit.reason == uint32_t(ExitReason::Exited));
    EXPECT_TRUE(exit.code == 0);
    child.value().process.reset();
    // Processes the fuzzer started may outlive it by a moment (until they fault).
    MemoryInfo quota{};
    uint64_t deadline = sys::clock_ns() + 5'000'000'000;
    do {
        quota.used = settled_quota_use(child.value().quota.slot());
    } while (quota.used != 0 && sys::clock_ns() < deadline);
    print("fuzz-test: seed %lu: fuzzer ended (reason %u, code %ld); %lu bytes of its quota used",
          seed, exit.reason, exit.code, quota.used);
    EXPECT_TRUE(quota.used == 0);
    return summary("fuzz-test");
}
