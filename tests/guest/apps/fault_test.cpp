// Root of the `user-faults` guest test: child processes that page-fault, execute data, divide
// by zero, run privileged or ungranted instructions, or read another process's memory die
// alone with the right exit record; their whole quota comes back; a sibling keeps running
// through all of it; a child sees none of its parent's capabilities.
#include "child_modes.hpp"
#include "expect.hpp"

#include <exo/cap.hpp>
#include <exo/runtime.hpp>
#include <exo/spawn.hpp>
#include <exo/wait.hpp>

using namespace exo;
using namespace exo::test;

namespace {

constexpr uint64_t kTimeout = 10'000'000'000; // 10 s (the machine is emulated)
const BootInfo* boot;
volatile uint64_t parent_secret = 0x5EC2E7;

// Runs one child to its end; checks how it ended and that its quota is empty afterwards.
void run(const char* what, ChildMode mode, uint64_t operand, ExitReason reason, uint32_t vector,
         int64_t code, uint64_t fault_address = 0) {
    auto child = start_fault_child(*boot, mode, operand);
    EXPECT_OK(child.status());
    if (!child.ok())
        return;
    ExitInfo exit{};
    EXPECT_OK(wait_process(child.value().process.slot(), sys::clock_ns() + kTimeout, &exit));
    EXPECT_TRUE(exit.reason == uint32_t(reason));
    if (reason == ExitReason::Faulted)
        EXPECT_TRUE(exit.vector == vector);
    if (reason == ExitReason::Exited)
        EXPECT_TRUE(exit.code == code);
    if (fault_address)
        EXPECT_TRUE(exit.fault_address == fault_address);
    child.value().process.reset();
    uint64_t used = settled_quota_use(child.value().quota.slot());
    EXPECT_TRUE(used == 0);
    print("fault-test: %s: reason %u vector %u code %ld address 0x%lx; quota used %lu", what,
          exit.reason, exit.vector, exit.code, exit.fault_address, used);
}

} // namespace

int exo_main(uint64_t arg) {
    boot = reinterpret_cast<const BootInfo*>(arg);
    // A sibling that must survive every fault below.
    auto sibling = start_fault_child(*boot, ChildMode::Spin);
    EXPECT_OK(sibling.status());

    run("read unmapped", ChildMode::ReadUnmapped, 0, ExitReason::Faulted, 14, 0, 0x30000000);
    run("write rodata", ChildMode::WriteReadOnly, 0, ExitReason::Faulted, 14, 0);
    run("execute data", ChildMode::ExecuteData, 0, ExitReason::Faulted, 14, 0);
    run("divide by zero", ChildMode::DivideByZero, 0, ExitReason::Faulted, 0, 0);
    run("invalid opcode", ChildMode::InvalidOpcode, 0, ExitReason::Faulted, 6, 0);
    run("hlt in ring 3", ChildMode::Privileged, 0, ExitReason::Faulted, 13, 0);
    run("port not granted", ChildMode::PortWithoutGrant, 0, ExitReason::Faulted, 13, 0);
    run("kernel read", ChildMode::KernelRead, 0, ExitReason::Faulted, 14, 0, 0xFFFFFFFF80100000ull);
    // A page only the parent maps (the child's image is far below it).
    constexpr uint64_t kSecret = 0x60000000;
    auto frame = frame_alloc(kSlotMemory, 1);
    EXPECT_OK(frame.status());
    if (frame.ok()) {
        EXPECT_OK(sys::frame_map(kSlotAddressSpace, frame.value().slot(), kSecret, kMapWrite));
        *reinterpret_cast<volatile uint64_t*>(kSecret) = parent_secret;
        run("read the parent's memory", ChildMode::ReadParent, kSecret, ExitReason::Faulted, 14, 0,
            kSecret);
        EXPECT_OK(sys::frame_unmap(kSlotAddressSpace, kSecret));
    }
    run("probe capabilities", ChildMode::ProbeCaps, 0, ExitReason::Exited, 0, 4);
    run("exit 7", ChildMode::Exit, 7, ExitReason::Exited, 0, 7);

    if (sibling.ok()) {
        ExitInfo exit{};
        // Still running after all of that: the wait times out.
        EXPECT_STATUS(
            wait_process(sibling.value().process.slot(), sys::clock_ns() + 1'000'000, &exit),
            Status::TimedOut);
        EXPECT_OK(sys::process_kill(sibling.value().process.slot()));
        EXPECT_OK(wait_process(sibling.value().process.slot(), sys::clock_ns() + kTimeout, &exit));
        EXPECT_TRUE(exit.reason == uint32_t(ExitReason::Killed));
        sibling.value().process.reset();
        EXPECT_TRUE(settled_quota_use(sibling.value().quota.slot()) == 0);
    }
    return summary("fault-test");
}
