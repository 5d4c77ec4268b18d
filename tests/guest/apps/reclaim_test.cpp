// Root of the `user-reclaim` guest tests: what the kernel holds for a process comes back, and
// nothing a sender does to a capability in flight jams a ring. A capability revoked while in
// flight is skipped and the next one arrives, also when revokes emptied the whole queue. An
// exit-heavy child (churn-child) starts and ends 2,000 threads while every CPU is busy with a
// spinning process and other threads sleep in RingWait with short timeouts; its quota covers
// every thread until the kernel has freed it and is exact afterwards. The kernel's own checks
// (how many exited threads awaited reclaim at once, every byte back) close the run.
// Argument (init=N): how many spinning processes to start, one per CPU.
#include "child_modes.hpp"
#include "expect.hpp"

#include <exo/channel.hpp>
#include <exo/kv.hpp>
#include <exo/layout.hpp>
#include <exo/libc.h>
#include <exo/runtime.hpp>
#include <exo/spawn.hpp>
#include <exo/wait.hpp>

#include <atomic>

using namespace exo;
using namespace exo::test;

namespace {

constexpr uint64_t kTimeout = 60'000'000'000; // the churn runs beside spinners, emulated
constexpr uint64_t kSleeperStacks = 0x40000000;
const BootInfo* boot;

uint64_t badge_of(Slot slot) {
    CapInfo info{};
    return sys::cap_info(slot, &info) == Status::Ok ? info.badge : 0;
}

// Receives the next capability in flight: its badge, or 0 with `status` set.
uint64_t receive_badge(Slot consumer, Status* status) {
    auto dst = allocate_slot();
    if (!dst.ok()) {
        *status = dst.status();
        return 0;
    }
    *status = sys::ring_receive_cap(consumer, dst.value());
    uint64_t badge = *status == Status::Ok ? badge_of(dst.value()) : 0;
    (void)sys::cap_delete(dst.value());
    free_slot(dst.value());
    return badge;
}

// Sends a capability minted from `parent` with `badge` (Grant, so it may travel).
Status send_minted(Slot producer, const Cap<Frame>& parent, uint64_t badge) {
    auto minted = parent.mint(kRightRead | kRightGrant, badge);
    if (!minted.ok())
        return minted.status();
    Status s = sys::ring_send_cap(producer, minted.value().slot());
    if (s == Status::Ok)
        free_slot(minted.value().release()); // moved into the ring: the slot is empty
    return s;
}

void revoked_in_flight() {
    auto ring = ring_create(kSlotMemory, 12);
    auto p = frame_alloc(kSlotMemory, 1), q = frame_alloc(kSlotMemory, 1);
    EXPECT_OK(ring.status());
    EXPECT_OK(p.status());
    EXPECT_OK(q.status());
    if (!ring.ok() || !p.ok() || !q.ok())
        return;
    Slot tx = ring.value().producer.slot(), rx = ring.value().consumer.slot();
    Status s = Status::Ok;

    // Revoked ones interleaved with kept ones: the kept arrive, in order, then WouldBlock.
    EXPECT_OK(send_minted(tx, p.value(), 1));
    EXPECT_OK(send_minted(tx, q.value(), 2));
    EXPECT_OK(send_minted(tx, p.value(), 3));
    EXPECT_OK(send_minted(tx, q.value(), 4));
    auto revoked = p.value().revoke();
    EXPECT_TRUE(revoked.ok() && revoked.value() == 2);
    EXPECT_TRUE(receive_badge(rx, &s) == 2 && s == Status::Ok);
    EXPECT_TRUE(receive_badge(rx, &s) == 4 && s == Status::Ok);
    receive_badge(rx, &s);
    EXPECT_STATUS(s, Status::WouldBlock);

    // A queue full of capabilities that were then revoked takes a full queue of new ones.
    unsigned sent = 0;
    while (send_minted(tx, p.value(), 100 + sent) == Status::Ok)
        ++sent;
    EXPECT_TRUE(sent == 16);
    EXPECT_STATUS(send_minted(tx, q.value(), 999), Status::WouldBlock);
    EXPECT_TRUE(p.value().revoke().ok());
    for (unsigned i = 0; i < sent; ++i)
        EXPECT_OK(send_minted(tx, q.value(), 200 + i));
    unsigned in_order = 0;
    for (unsigned i = 0; i < sent; ++i)
        in_order += receive_badge(rx, &s) == 200 + i && s == Status::Ok ? 1 : 0;
    EXPECT_TRUE(in_order == sent);
    receive_badge(rx, &s);
    EXPECT_STATUS(s, Status::WouldBlock);

    // A revoked one at the head, the queue otherwise empty: WouldBlock, then the next arrives.
    EXPECT_OK(send_minted(tx, p.value(), 7));
    EXPECT_TRUE(p.value().revoke().ok());
    receive_badge(rx, &s);
    EXPECT_STATUS(s, Status::WouldBlock);
    EXPECT_OK(send_minted(tx, q.value(), 8));
    EXPECT_TRUE(receive_badge(rx, &s) == 8 && s == Status::Ok);
    print("reclaim-test: capabilities revoked in flight were skipped; the queue took %u more",
          sent);
}

// Threads that sleep in RingWait with 1 ms timeouts on an empty ring until told to stop: the
// kernel's timer and wait paths stay busy beside the churn.
std::atomic<bool> stop_sleepers{false};
std::atomic<uint64_t> sleeper_waits{0};

extern "C" [[noreturn]] void sleeper_main(uint64_t consumer) {
    while (!stop_sleepers.load(std::memory_order_acquire)) {
        (void)sys::ring_wait(Slot(consumer), sys::clock_ns() + 1'000'000, 0);
        sleeper_waits.fetch_add(1, std::memory_order_relaxed);
    }
    sys::thread_exit();
}

void exit_heavy_child(uint64_t spinners) {
    // One spinning process per CPU keeps every CPU busy in ring 3.
    Child spinner[8];
    for (uint64_t i = 0; i < spinners && i < 8; ++i) {
        auto c = start_fault_child(*boot, ChildMode::Spin);
        EXPECT_OK(c.status());
        if (c.ok())
            spinner[i] = static_cast<Child&&>(c.value());
    }
    auto ring = ring_create(kSlotMemory, 12);
    auto stacks = frame_alloc(kSlotMemory, 2);
    EXPECT_OK(ring.status());
    EXPECT_OK(stacks.status());
    if (!ring.ok() || !stacks.ok())
        return;
    EXPECT_OK(sys::frame_map(kSlotAddressSpace, stacks.value().slot(), kSleeperStacks, kMapWrite));
    Cap<Thread> sleeper[2];
    for (unsigned i = 0; i < 2; ++i) {
        auto slot = allocate_slot();
        EXPECT_OK(slot.status());
        sleeper[i] = Cap<Thread>::adopt(slot.value());
        EXPECT_OK(sys::thread_create(kSlotSelf, kSlotMemory, sleeper[i].slot()));
        uint64_t top = kSleeperStacks + (i + 1) * kPageSize - 8;
        EXPECT_OK(sys::thread_start(sleeper[i].slot(), uint64_t(&sleeper_main), top,
                                    ring.value().consumer.slot())
                      .status);
    }

    const BootModule* m = find_module(*boot, "churn-child");
    EXPECT_TRUE(m != nullptr);
    if (m != nullptr) {
        SpawnOptions o;
        o.name = "churn-child";
        o.quota_bytes = 1 << 20;
        auto child = spawn(reinterpret_cast<const void*>(m->address), m->size, o);
        EXPECT_OK(child.status());
        if (child.ok()) {
            ExitInfo exit{};
            EXPECT_OK(
                wait_process(child.value().process.slot(), sys::clock_ns() + kTimeout, &exit));
            EXPECT_TRUE(exit.reason == uint32_t(ExitReason::Exited) && exit.code == 0);
            child.value().process.reset();
            EXPECT_TRUE(settled_quota_use(child.value().quota.slot()) == 0);
        }
    }

    stop_sleepers.store(true, std::memory_order_release);
    for (auto& t : sleeper)
        EXPECT_OK(wait_thread(t.slot(), sys::clock_ns() + kTimeout));
    EXPECT_TRUE(sleeper_waits.load(std::memory_order_relaxed) > 0);
    for (uint64_t i = 0; i < spinners && i < 8; ++i) {
        if (!spinner[i].process)
            continue;
        EXPECT_OK(sys::process_kill(spinner[i].process.slot()));
        ExitInfo exit{};
        EXPECT_OK(wait_process(spinner[i].process.slot(), sys::clock_ns() + kTimeout, &exit));
        spinner[i].process.reset();
        EXPECT_TRUE(settled_quota_use(spinner[i].quota.slot()) == 0);
    }
    EXPECT_OK(sys::frame_unmap(kSlotAddressSpace, kSleeperStacks));
    print("reclaim-test: churn-child ended beside %lu spinners; %lu timed ring waits", spinners,
          sleeper_waits.load(std::memory_order_relaxed));
}

} // namespace

int exo_main(uint64_t arg) {
    boot = reinterpret_cast<const BootInfo*>(arg);
    auto n =
        parse_number(std::string_view(boot->args, strnlen(boot->args, sizeof boot->args)), 1, 64);
    revoked_in_flight();
    exit_heavy_child(n.ok() ? n.value() : 1);
    return summary("reclaim-test");
}
