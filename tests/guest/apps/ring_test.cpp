// Root of the `user-rings` guest test: two processes ping-pong over a ring pair with checksums;
// a capability crosses a ring (and cannot without the Grant right); the kernel's messages (a
// child's exit, a thread's end, a timer) arrive on rings; killing the consumer mid-stream
// leaves the producer with Closed, never a hang or a fault.
#include "expect.hpp"
#include "ring_protocol.hpp"

#include <exo/channel.hpp>
#include <exo/events.hpp>
#include <exo/layout.hpp>
#include <exo/libc.h>
#include <exo/runtime.hpp>
#include <exo/spawn.hpp>
#include <exo/wait.hpp>

#include <atomic>

using namespace exo;
using namespace exo::test;

namespace {

constexpr uint64_t kTimeout = 10'000'000'000;
constexpr uint64_t kMessages = 20'000;
constexpr uint64_t kThreadStack = 0x40000000; // one page, for thread_message()
const BootInfo* boot;

uint64_t deadline() {
    return sys::clock_ns() + kTimeout;
}

// The child with the consumer end of `to_child` in kIn and, for echo, the producer end of
// `from_child` in kOut. Our copies of the ends we gave go: the child holds the only ones.
Result<Child> start_child(uint64_t mode, RingPair& to_child, RingPair* from_child) {
    const BootModule* m = find_module(*boot, "ring-child");
    if (m == nullptr)
        return Status::NotFound;
    SpawnGrant grants[2] = {{to_child.consumer.slot(), kIn, kRightsAll}, {}};
    size_t count = 1;
    if (from_child)
        grants[count++] = {from_child->producer.slot(), kOut, kRightsAll};
    SpawnOptions o;
    o.name = "ring-child";
    o.quota_bytes = 1 << 20;
    o.grants = grants;
    o.grant_count = count;
    o.arg = mode;
    auto child = TRY(spawn(reinterpret_cast<const void*>(m->address), m->size, o));
    to_child.consumer.reset();
    if (from_child)
        from_child->producer.reset();
    return child;
}

void ping_pong_and_capability() {
    auto to_child = ring_create(kSlotMemory, 14);
    auto from_child = ring_create(kSlotMemory, 14);
    auto events = ring_create(kSlotMemory, 12);
    EXPECT_OK(to_child.status());
    EXPECT_OK(from_child.status());
    EXPECT_OK(events.status());
    if (!to_child.ok() || !from_child.ok() || !events.ok())
        return;
    auto child = start_child(kEcho, to_child.value(), &from_child.value());
    EXPECT_OK(child.status());
    if (!child.ok())
        return;
    EXPECT_OK(sys::process_watch(child.value().process.slot(), events.value().producer.slot()));
    auto tx = RingProducer::attach(static_cast<Cap<Ring>&&>(to_child.value().producer));
    auto rx = RingConsumer::attach(static_cast<Cap<Ring>&&>(from_child.value().consumer));
    auto ev = RingConsumer::attach(static_cast<Cap<Ring>&&>(events.value().consumer));
    EXPECT_OK(tx.status());
    EXPECT_OK(rx.status());
    EXPECT_OK(ev.status());
    if (!tx.ok() || !rx.ok() || !ev.ok())
        return;

    // Ping-pong: every message checked on the other side, every answer checked here.
    uint64_t bad = 0, sent_sum = 0, echoed_sum = 0;
    for (uint64_t seq = 0; seq < kMessages; ++seq) {
        uint32_t length = uint32_t(8 + (seq * 37) % 1000);
        auto at = tx.value().reserve(length, kData, deadline());
        if (!at.ok()) {
            EXPECT_OK(at.status());
            break;
        }
        memcpy(at.value(), &seq, sizeof seq);
        for (uint32_t i = 0; i < length - 8; ++i)
            at.value()[8 + i] = payload_byte(seq, i);
        sent_sum += checksum(at.value() + 8, length - 8);
        tx.value().commit();
        auto answer = rx.value().receive(deadline());
        if (!answer.ok()) {
            EXPECT_OK(answer.status());
            break;
        }
        Reply reply{};
        memcpy(&reply, answer.value().data, sizeof reply);
        rx.value().release();
        bad += (reply.sequence != seq || !reply.ok) ? 1 : 0;
        echoed_sum += reply.checksum;
    }
    EXPECT_TRUE(bad == 0);
    EXPECT_TRUE(sent_sum == echoed_sum);
    print("ring-test: %lu messages ping-ponged, %lu bad, checksums %s", kMessages, bad,
          sent_sum == echoed_sum ? "equal" : "DIFFER");

    // A capability crosses only with the Grant right, and only by a message.
    auto frame = frame_alloc(kSlotMemory, 1);
    EXPECT_OK(frame.status());
    if (frame.ok()) {
        EXPECT_OK(sys::frame_map(kSlotAddressSpace, frame.value().slot(), kCapWindow, kMapWrite));
        *reinterpret_cast<volatile uint64_t*>(kCapWindow) = 0xC0FFEE;
        EXPECT_OK(sys::frame_unmap(kSlotAddressSpace, kCapWindow));
        auto no_grant = frame.value().copy(kRightRead);
        EXPECT_STATUS(tx.value().send_cap(no_grant.value().slot()), Status::AccessDenied);
        auto granted = frame.value().copy(kRightRead | kRightGrant);
        EXPECT_OK(tx.value().send_cap(granted.value().slot()));
        CapInfo info{};
        EXPECT_STATUS(sys::cap_info(granted.value().slot(), &info), Status::NotFound); // moved
        free_slot(granted.value().release());
        EXPECT_STATUS(sys::ring_receive_cap(tx.value().slot(), 30), Status::InvalidArgument);
        EXPECT_TRUE(tx.value().send(nullptr, 0, kCapMessage, deadline()).ok());
        auto answer = rx.value().receive(deadline());
        EXPECT_OK(answer.status());
        if (answer.ok()) {
            uint64_t value = 0;
            memcpy(&value, answer.value().data, sizeof value);
            EXPECT_TRUE(answer.value().type == kCapMessage && value == 0xC0FFEE);
            rx.value().release();
        }
    }

    // Request/response: the echo child answers each request with its id (its first 8 bytes).
    Channel channel{static_cast<RingProducer&&>(tx.value()),
                    static_cast<RingConsumer&&>(rx.value())};
    RpcClient rpc(channel);
    uint8_t request[200];
    Reply answer{};
    for (size_t i = 0; i < sizeof request; ++i)
        request[i] = payload_byte(1, i); // the first call's id is 1
    auto n = rpc.call(kData, request, sizeof request, &answer.checksum, 16, deadline());
    EXPECT_OK(n.status());
    EXPECT_TRUE(n.ok() && n.value() == 16 && answer.ok == 1 &&
                answer.checksum == checksum(request, sizeof request));
    // A call whose deadline has passed times out; its late answer is skipped by the next call.
    EXPECT_STATUS(rpc.call(kData, request, 8, &answer.checksum, 16, sys::clock_ns()).status(),
                  Status::TimedOut);
    for (size_t i = 0; i < sizeof request; ++i)
        request[i] = payload_byte(3, i);
    auto third = rpc.call(kData, request, sizeof request, &answer.checksum, 16, deadline());
    EXPECT_TRUE(third.ok() && answer.ok == 1 &&
                answer.checksum == checksum(request, sizeof request));

    // The child's end arrives as a message on the watched ring.
    EXPECT_TRUE(channel.tx.send(nullptr, 0, kStop, deadline()).ok());
    auto event = ev.value().receive(deadline());
    EXPECT_OK(event.status());
    if (event.ok()) {
        ChildEvent child_event{};
        memcpy(&child_event, event.value().data, sizeof child_event);
        EXPECT_TRUE(event.value().type == kEventChild);
        EXPECT_TRUE(child_event.exit.reason == uint32_t(ExitReason::Exited) &&
                    child_event.exit.code == 0);
        ev.value().release();
    }
    // Watched again once it has ended, the process is told of at once (a deadline of now).
    EXPECT_OK(sys::process_watch(child.value().process.slot(), events.value().producer.slot()));
    auto again = ev.value().receive(sys::clock_ns());
    EXPECT_OK(again.status());
    if (again.ok()) {
        EXPECT_TRUE(again.value().type == kEventChild &&
                    again.value().length == sizeof(ChildEvent));
        ev.value().release();
    }
    // Its producer end is gone with it: the answer ring reads Closed once drained.
    EXPECT_STATUS(channel.rx.receive(deadline()).status(), Status::Closed);
    child.value().process.reset();
    EXPECT_TRUE(settled_quota_use(child.value().quota.slot()) == 0);
}

void timer_message() {
    auto ring = ring_create(kSlotMemory, 12);
    EXPECT_OK(ring.status());
    if (!ring.ok())
        return;
    Slot producer = ring.value().producer.slot();
    auto rx = RingConsumer::attach(static_cast<Cap<Ring>&&>(ring.value().consumer));
    EXPECT_OK(rx.status());
    uint64_t before = sys::clock_ns();
    EXPECT_OK(sys::timer_set(producer, 2'000'000, 77));
    EXPECT_STATUS(sys::timer_set(rx.value().slot(), 1, 1), Status::InvalidArgument);
    auto message = rx.value().receive(deadline());
    EXPECT_OK(message.status());
    if (message.ok()) {
        TimerEvent t{};
        memcpy(&t, message.value().data, sizeof t);
        EXPECT_TRUE(message.value().type == kEventTimer && t.cookie == 77);
        EXPECT_TRUE(t.fired >= t.deadline && t.deadline >= before + 2'000'000);
        rx.value().release();
    }
}

std::atomic<uint64_t> thread_runs{0};

extern "C" [[noreturn]] void short_thread(uint64_t arg) {
    thread_runs.fetch_add(arg, std::memory_order_relaxed);
    sys::thread_exit();
}

// Checks the next message of `rx` (until `deadline`): a ThreadEvent{id, cookie}.
void expect_thread_event(RingConsumer& rx, uint64_t deadline, uint64_t id, uint64_t cookie) {
    auto message = rx.receive(deadline);
    EXPECT_OK(message.status());
    if (!message.ok())
        return;
    ThreadEvent event{};
    EXPECT_TRUE(message.value().type == kEventThread &&
                message.value().length == sizeof(ThreadEvent));
    memcpy(&event, message.value().data, sizeof event);
    EXPECT_TRUE(event.thread_id == id && event.cookie == cookie);
    rx.release();
}

// A thread's end as a message: nothing while it has not started, ThreadEvent{id, cookie} once
// it has ended, at once for a watch set after that, nothing for a watch removed.
void thread_message() {
    auto ring = ring_create(kSlotMemory, 12);
    auto stack = frame_alloc(kSlotMemory, 1);
    auto a = allocate_slot(), b = allocate_slot();
    EXPECT_OK(ring.status());
    EXPECT_OK(stack.status());
    if (!ring.ok() || !stack.ok() || !a.ok() || !b.ok())
        return;
    EXPECT_OK(sys::frame_map(kSlotAddressSpace, stack.value().slot(), kThreadStack, kMapWrite));
    const uint64_t top = kThreadStack + kPageSize - 8;
    Slot producer = ring.value().producer.slot();
    auto rx = RingConsumer::attach(static_cast<Cap<Ring>&&>(ring.value().consumer));
    EXPECT_OK(rx.status());
    if (!rx.ok())
        return;
    Cap<Thread> first = Cap<Thread>::adopt(a.value()), second = Cap<Thread>::adopt(b.value());

    EXPECT_OK(sys::thread_create(kSlotSelf, kSlotMemory, first.slot()));
    EXPECT_OK(sys::thread_watch(first.slot(), producer, 0xA));
    EXPECT_STATUS(rx.value().receive(sys::clock_ns() + 2'000'000).status(), Status::TimedOut);
    SysResult started = sys::thread_start(first.slot(), uint64_t(&short_thread), top, 1);
    EXPECT_OK(started.status);
    expect_thread_event(rx.value(), deadline(), started.value, 0xA);
    EXPECT_TRUE(thread_runs.load(std::memory_order_relaxed) == 1);
    EXPECT_OK(sys::thread_watch(first.slot(), producer, 0xB));
    expect_thread_event(rx.value(), sys::clock_ns(), started.value, 0xB);

    EXPECT_OK(sys::thread_create(kSlotSelf, kSlotMemory, second.slot()));
    EXPECT_OK(sys::thread_watch(second.slot(), producer, 0xC));
    EXPECT_OK(sys::thread_watch(second.slot(), kNullSlot, 0));
    EXPECT_OK(sys::thread_start(second.slot(), uint64_t(&short_thread), top, 2).status);
    EXPECT_OK(wait_thread(second.slot(), deadline()));
    EXPECT_TRUE(thread_runs.load(std::memory_order_relaxed) == 3);
    EXPECT_STATUS(rx.value().receive(sys::clock_ns() + 2'000'000).status(), Status::TimedOut);
    EXPECT_OK(sys::frame_unmap(kSlotAddressSpace, kThreadStack));
}

// The consumer stops reading with the ring full; it is killed; the producer sees Closed.
void consumer_killed_mid_stream() {
    auto ring = ring_create(kSlotMemory, 12);
    EXPECT_OK(ring.status());
    if (!ring.ok())
        return;
    auto child = start_child(kStall, ring.value(), nullptr);
    EXPECT_OK(child.status());
    if (!child.ok())
        return;
    auto tx = RingProducer::attach(static_cast<Cap<Ring>&&>(ring.value().producer));
    EXPECT_OK(tx.status());
    uint64_t sent = 0;
    uint8_t payload[100] = {};
    for (;;) {
        auto r = tx.value().send(payload, sizeof payload, kData, sys::clock_ns() + 200'000'000);
        if (!r.ok()) {
            EXPECT_STATUS(r.status(), Status::TimedOut); // full, and nobody reads
            break;
        }
        ++sent;
    }
    EXPECT_OK(sys::process_kill(child.value().process.slot()));
    auto r = tx.value().send(payload, sizeof payload, kData, deadline());
    EXPECT_STATUS(r.status(), Status::Closed);
    EXPECT_STATUS(sys::ring_wait(tx.value().slot(), sys::clock_ns() + 1'000'000, 0),
                  Status::Closed);
    print("ring-test: %lu messages sent before the ring filled; after the kill: %s", sent,
          status_name(r.status()));
    ExitInfo exit{};
    EXPECT_OK(wait_process(child.value().process.slot(), sys::clock_ns() + kTimeout, &exit));
    EXPECT_TRUE(exit.reason == uint32_t(ExitReason::Killed));
}

} // namespace

int exo_main(uint64_t arg) {
    boot = reinterpret_cast<const BootInfo*>(arg);
    ping_pong_and_capability();
    timer_message();
    thread_message();
    consumer_killed_mid_stream();
    return summary("ring-test");
}
