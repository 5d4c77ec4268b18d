// The ring-3 half of the guest benchmark table "server" (bench=server): the echo service of the
// server tests, measured in instructions under `qemu -icount shift=0` (the TSC counts every
// instruction of the machine: clients, server, init and kernel). The kernel runs init with
// tests/guest/manifests/bench.manifest: an echo-server, 64 load clients (echo-client, mode Load)
// and this program, which connects through init like any client and:
// - waits until the 64 load clients are connected, then counts instructions and requests over
//   100 ms of guest time under that steady load: instructions per request and response, and the
//   server's RingNotify calls per 1,000 requests;
// - crashes the server once (the load clients read Closed and exit), then 8 times more: the
//   instructions from the crash request to the replacement's answer to Hello on a new
//   connection (init's ChildEvent, the restart, the connection through init);
// - alone, one request and response of 64 bytes at a time, and the notifies of both sides.
#include "echo_protocol.hpp"
#include <exo/bench/measure.hpp>
#include <exo/bench/table.hpp>

#include <exo/bench/cycles.hpp>
#include <exo/bench/report.hpp>
#include <exo/channel.hpp>
#include <exo/connect.hpp>
#include <exo/libc.h>
#include <exo/log.hpp>
#include <exo/runtime.hpp>

#include <new>

using namespace exo;
using namespace exo::test;
using exo::bench::Row;
using exo::bench::Stats;

namespace {

using Clock = exo::bench::UserClock;
constexpr uint64_t kLoadClients = 64;
constexpr uint64_t kLoadWindowNs = 100'000'000; // guest time, under load
constexpr uint32_t kRestarts = 8;
constexpr uint64_t kTimeout = 600'000'000'000;

// The connection to echo, replaced after each crash.
alignas(Channel) unsigned char channel_storage[sizeof(Channel)];
Channel* channel = nullptr;

Status connect_echo() {
    if (channel != nullptr)
        channel->~Channel();
    channel = nullptr;
    for (;;) {
        auto c = connect("echo", kEchoProtocol, kEchoVersion, {12, sys::clock_ns() + kTimeout});
        if (c.status() == Status::Unavailable || c.status() == Status::Closed)
            continue; // init has not yet seen the end of the old server: ask again
        if (!c.ok())
            return c.status();
        channel = new (channel_storage) Channel(static_cast<Channel&&>(c.value()));
        return Status::Ok;
    }
}

Result<EchoStats> stats() {
    RpcClient rpc(*channel);
    EchoStats s{};
    TRY(rpc.call(kMsgStats, nullptr, 0, &s, sizeof s, sys::clock_ns() + kTimeout));
    return s;
}

// Crashes the server: the request's answer is Closed.
Status crash() {
    RpcClient rpc(*channel);
    uint64_t none = 0;
    auto r = rpc.call(kMsgCrash, nullptr, 0, &none, sizeof none, sys::clock_ns() + kTimeout);
    return r.status() == Status::Closed ? Status::Ok : Status::BadState;
}

Stats single(uint64_t value) {
    exo::bench::user_samples[0] = value;
    auto s = exo::bench::compute_stats(exo::bench::user_samples, 1);
    return s.ok() ? s.value() : Stats{};
}

Status run() {
    Row rows[6] = {};
    TRY(connect_echo());

    // Steady load: the 64 load clients and us, connected.
    for (;;) {
        EchoStats s = TRY(stats());
        if (s.clients >= kLoadClients + 1)
            break;
        pause_until(sys::clock_ns() + 1'000'000);
    }
    const EchoStats before = TRY(stats());
    const uint64_t t0 = Clock::now();
    pause_until(sys::clock_ns() + kLoadWindowNs);
    const uint64_t t1 = Clock::now();
    const EchoStats after = TRY(stats());
    const uint64_t served = after.served - before.served;
    if (served == 0)
        return Status::BadState;
    rows[0] = {"server/request+response, 64 clients with 16 in flight each", "insns",
               single((t1 - t0) / served)};
    rows[1] = {"server/RingNotify calls of the server per 1,000 requests, 64 clients", "syscalls",
               single((after.notifies - before.notifies) * 1000 / served)};
    print("bench-server: %lu requests in %lu ms of guest time under load; the server slept %lu "
          "times and notified %lu times",
          served, kLoadWindowNs / 1'000'000, after.sleeps - before.sleeps,
          after.notifies - before.notifies);

    // The first crash ends the load clients too; it is not measured.
    TRY(crash());
    TRY(connect_echo());
    for (;;) {
        EchoStats s = TRY(stats());
        if (s.clients == 1)
            break;
        pause_until(sys::clock_ns() + 1'000'000);
    }
    uint64_t restart[kRestarts];
    for (uint32_t i = 0; i < kRestarts; ++i) {
        const uint64_t start = Clock::now();
        TRY(crash());
        TRY(connect_echo());
        restart[i] = Clock::now() - start;
    }
    for (uint32_t i = 0; i < kRestarts; ++i)
        exo::bench::user_samples[i] = restart[i];
    rows[2] = {"server/fault to replacement accepting (crash, restart by init, reconnect)", "insns",
               TRY(exo::bench::compute_stats(exo::bench::user_samples, kRestarts))};

    // One client alone: a 64-byte request and its response at a time.
    uint8_t payload[64] = {};
    uint64_t sum = 0;
    const EchoStats alone_before = TRY(stats());
    const uint64_t own_before = ring_notifies();
    Status error = Status::Ok;
    RpcClient rpc(*channel);
    rows[3] = {"server/request+response 64 B, 1 client", "insns", TRY(exo::bench::measure([&] {
                   auto r = rpc.call(kMsgChecksum, payload, sizeof payload, &sum, sizeof sum,
                                     sys::clock_ns() + kTimeout);
                   if (!r.ok() && error == Status::Ok)
                       error = r.status();
               }))};
    TRY(error);
    const uint64_t own = ring_notifies() - own_before;
    const EchoStats alone_after = TRY(stats());
    const uint64_t alone = alone_after.served - alone_before.served - 1; // less one stats call
    rows[4] = {"server/RingNotify calls of the server per 1,000 requests, 1 client", "syscalls",
               single((alone_after.notifies - alone_before.notifies) * 1000 / alone)};
    rows[5] = {"server/RingNotify calls of the client per 1,000 requests, 1 client", "syscalls",
               single(own * 1000 / alone)};
    return exo::bench::print_table("server", rows, 6);
}

} // namespace

int exo_main(uint64_t) {
    Status s = run();
    if (s != Status::Ok)
        print("bench-server: failed: %s", status_name(s));
    return s == Status::Ok ? 0 : 1;
}
