// Root of the `user-servers` guest tests: one echo-server serves many client processes from one
// wait. The root wires each connection (a request ring and a response ring, their server ends
// sent over the server's accept ring) and starts the clients: N that each make 1,000
// checksummed requests, and four hostile or odd ones (garbage records, a corrupt index, one that
// dies mid-request, one with the wrong version), which are refused or dropped while the others
// go on. Then the server idles for 100 ms of guest time and must not be woken once (the
// kernel's per-process wake-up count, ProcessInfo). Argument (init=N): how many normal clients.
#include "echo_protocol.hpp"
#include "expect.hpp"
#include "wiring.hpp"

#include <exo/channel.hpp>
#include <exo/kv.hpp>
#include <exo/libc.h>
#include <exo/runtime.hpp>
#include <exo/spawn.hpp>
#include <exo/wait.hpp>

using namespace exo;
using namespace exo::test;

namespace {

constexpr uint64_t kTimeout = 120'000'000'000;
constexpr uint64_t kMaxClients = 100;
const BootInfo* boot;

// A new connection to the echo server.
Result<RingPair> connect(Wiring& w, uint64_t process_id) {
    return wire_connection(w, process_id, kEchoProtocol, kEchoVersion, "echo", 12, kTimeout);
}

Result<Child> start_client(Wiring& w, EchoMode mode, uint64_t seed) {
    const BootModule* m = find_module(*boot, "echo-client");
    if (m == nullptr)
        return Status::NotFound;
    RingPair ends = TRY(connect(w, seed));
    SpawnGrant grants[2] = {{ends.producer.slot(), kOut, kRightsAll},
                            {ends.consumer.slot(), kIn, kRightsAll}};
    SpawnOptions o;
    o.name = "echo-client";
    o.quota_bytes = 256 * 1024;
    o.grants = grants;
    o.grant_count = 2;
    o.arg = uint64_t(mode) | seed << 8;
    return spawn(reinterpret_cast<const void*>(m->address), m->size, o);
}

EchoStats stats_of(RpcClient& rpc) {
    EchoStats stats{};
    auto n = rpc.call(kMsgStats, nullptr, 0, &stats, sizeof stats, sys::clock_ns() + kTimeout);
    EXPECT_OK(n.status());
    return stats;
}

} // namespace

int exo_main(uint64_t arg) {
    boot = reinterpret_cast<const BootInfo*>(arg);
    auto n = parse_number(std::string_view(boot->args, strnlen(boot->args, sizeof boot->args)), 1,
                          kMaxClients);
    const uint64_t clients = n.ok() ? n.value() : 64;

    auto accept = ring_create(kSlotMemory, 14);
    EXPECT_OK(accept.status());
    const BootModule* module = find_module(*boot, "echo-server");
    EXPECT_TRUE(module != nullptr);
    if (!accept.ok() || module == nullptr)
        return summary("server-test");
    SpawnGrant grant{accept.value().consumer.slot(), kSlotAccept, kRightsAll};
    SpawnOptions o;
    o.name = "echo-server";
    o.quota_bytes = 2 << 20;
    o.grants = &grant;
    o.grant_count = 1;
    auto server = spawn(reinterpret_cast<const void*>(module->address), module->size, o);
    EXPECT_OK(server.status());
    accept.value().consumer.reset();
    auto acceptor = RingProducer::attach(static_cast<Cap<Ring>&&>(accept.value().producer));
    EXPECT_OK(acceptor.status());
    if (!server.ok() || !acceptor.ok())
        return summary("server-test");
    Wiring wiring{&acceptor.value()};

    // Our own connection, for the server's statistics.
    auto own = connect(wiring, 0);
    EXPECT_OK(own.status());
    auto own_tx = RingProducer::attach(static_cast<Cap<Ring>&&>(own.value().producer));
    auto own_rx = RingConsumer::attach(static_cast<Cap<Ring>&&>(own.value().consumer));
    Channel channel{static_cast<RingProducer&&>(own_tx.value()),
                    static_cast<RingConsumer&&>(own_rx.value())};
    RpcClient rpc(channel);
    proto::Hello hello{kEchoProtocol, kEchoVersion};
    proto::HelloReply hello_reply{};
    EXPECT_OK(rpc.call(proto::kMsgHello, &hello, sizeof hello, &hello_reply, sizeof hello_reply,
                       sys::clock_ns() + kTimeout)
                  .status());
    EXPECT_TRUE(Status(hello_reply.status) == Status::Ok);

    // The hostile and odd ones first, then the normal ones, all at once.
    Child children[kMaxClients + 4];
    const EchoMode odd[4] = {EchoMode::Garbage, EchoMode::GarbageIndex, EchoMode::DieMidRequest,
                             EchoMode::WrongVersion};
    uint64_t started = 0;
    for (uint64_t i = 0; i < 4 + clients; ++i) {
        auto c = start_client(wiring, i < 4 ? odd[i] : EchoMode::Normal, i);
        EXPECT_OK(c.status());
        if (c.ok())
            children[started++] = static_cast<Child&&>(c.value());
    }
    uint64_t good = 0;
    for (uint64_t i = 0; i < started; ++i) {
        ExitInfo exit{};
        EXPECT_OK(wait_process(children[i].process.slot(), sys::clock_ns() + kTimeout, &exit));
        const bool ok = exit.reason == uint32_t(ExitReason::Exited) && exit.code == 0;
        if (!ok)
            print("server-test: client %lu ended: reason %u code %ld", i, exit.reason, exit.code);
        EXPECT_TRUE(ok);
        good += ok && i >= 4;
        children[i].process.reset();
        EXPECT_TRUE(settled_quota_use(children[i].quota.slot()) == 0);
    }
    print("server-test: %lu clients made %u checked requests each and all were answered; "
          "4 odd clients refused or dropped",
          good, kEchoRequests);
    EXPECT_TRUE(good == clients);

    // Every client is gone from the server's table; ours is the one left.
    EchoStats stats = stats_of(rpc);
    for (int i = 0; i < 1000 && stats.clients != 1; ++i) {
        (void)sys::yield();
        stats = stats_of(rpc);
    }
    EXPECT_TRUE(stats.clients == 1 && stats.accepted == 5 + clients &&
                stats.dropped == 4 + clients);

    // Idle: 100 ms of guest time in which nothing is sent, and the server is not woken.
    ProcessInfo before{}, after{};
    EXPECT_OK(sys::process_info(server.value().process.slot(), &before));
    auto quiet = ring_create(kSlotMemory, 12);
    EXPECT_OK(quiet.status());
    uint64_t start = sys::clock_ns();
    EXPECT_STATUS(sys::ring_wait(quiet.value().consumer.slot(), start + 100'000'000, 0),
                  Status::TimedOut);
    EXPECT_OK(sys::process_info(server.value().process.slot(), &after));
    EXPECT_TRUE(after.wakeups == before.wakeups && after.state == uint32_t(ProcessState::Running));
    print("server-test: idle for %lu ms, the server was woken %lu times (%lu wake-ups in all, "
          "%lu waits on its event ring)",
          (sys::clock_ns() - start) / 1'000'000, after.wakeups - before.wakeups, after.wakeups,
          stats.sleeps);

    // A second wave of 64 clients (each says Hello and goes): the server maps their ends where
    // the first wave's were, so its quota (its page tables) is the same before and after. (New
    // addresses would take 2 MiB more, at least one more page table.)
    MemoryInfo quota_before{}, quota_after{};
    EXPECT_OK(sys::memory_info(server.value().quota.slot(), &quota_before));
    uint64_t second = 0;
    for (uint64_t i = 0; i < 64; ++i) {
        auto c = start_client(wiring, EchoMode::WrongVersion, 1000 + i);
        EXPECT_OK(c.status());
        if (c.ok())
            children[second++] = static_cast<Child&&>(c.value());
    }
    for (uint64_t i = 0; i < second; ++i) {
        ExitInfo exit{};
        EXPECT_OK(wait_process(children[i].process.slot(), sys::clock_ns() + kTimeout, &exit));
        EXPECT_TRUE(exit.reason == uint32_t(ExitReason::Exited) && exit.code == 0);
        children[i] = Child();
    }
    for (int i = 0; i < 1000 && stats_of(rpc).clients != 1; ++i)
        (void)sys::yield();
    EXPECT_OK(sys::memory_info(server.value().quota.slot(), &quota_after));
    EXPECT_TRUE(second == 64 && quota_after.used == quota_before.used);
    print("server-test: 64 more clients; the server's quota use %lu bytes before, %lu after",
          quota_before.used, quota_after.used);

    EXPECT_OK(sys::process_kill(server.value().process.slot()));
    ExitInfo exit{};
    EXPECT_OK(wait_process(server.value().process.slot(), sys::clock_ns() + kTimeout, &exit));
    EXPECT_TRUE(exit.reason == uint32_t(ExitReason::Killed));
    // Its end of our connection closed with it.
    EXPECT_STATUS(channel.rx.receive(sys::clock_ns() + kTimeout).status(), Status::Closed);
    server.value().process.reset();
    EXPECT_TRUE(settled_quota_use(server.value().quota.slot()) == 0);
    return summary("server-test");
}
