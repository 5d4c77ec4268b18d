// The ring-3 half of the guest benchmark table "ring" (bench=ring): fusion-ring messages counted
// in instructions under `qemu -icount shift=0`, as bench-syscall prints its table (a raw Log).
// - send + receive of a 64-byte message within one process, one at a time and in batches of 16
//   (reserve and peek each; one commit and one release per batch);
// - a round trip between two processes (ring-child echoes), blocking through the kernel;
// - 1,000,000 64-byte messages streamed to another process over a 1 MiB ring: instructions per
//   message, and the ring syscalls (RingWait, RingNotify) both sides made for them.
#include "ring_protocol.hpp"

#include <exo/bench/cycles.hpp>
#include <exo/bench/measure.hpp>
#include <exo/bench/report.hpp>
#include <exo/bench/runner.hpp>
#include <exo/bench/table.hpp>
#include <exo/channel.hpp>
#include <exo/format.hpp>
#include <exo/libc.h>
#include <exo/log.hpp>
#include <exo/runtime.hpp>
#include <exo/spawn.hpp>
#include <exo/wait.hpp>

using namespace exo;
using namespace exo::test; // the ring protocol (ring_protocol.hpp)
using exo::bench::measure;
using exo::bench::Row;
using exo::bench::Stats;

namespace {

using Clock = exo::bench::UserClock;
using exo::bench::user_samples;
constexpr uint64_t kStreamed = 1'000'000;
constexpr uint32_t kLength = 64;
const BootInfo* boot;

Stats single(uint64_t value) {
    user_samples[0] = value;
    auto s = exo::bench::compute_stats(user_samples, 1);
    return s.ok() ? s.value() : Stats{};
}

struct Local {
    RingProducer tx;
    RingConsumer rx;
};

Result<Local> local_ring() {
    auto pair = TRY(ring_create(kSlotMemory, 16));
    auto tx = TRY(RingProducer::attach(static_cast<Cap<Ring>&&>(pair.producer)));
    auto rx = TRY(RingConsumer::attach(static_cast<Cap<Ring>&&>(pair.consumer)));
    return Local{static_cast<RingProducer&&>(tx), static_cast<RingConsumer&&>(rx)};
}

struct Remote {
    Child child;
    RingProducer tx;
    RingConsumer rx;
};

Result<Remote> remote(uint64_t mode, unsigned size_log2) {
    const BootModule* m = find_module(*boot, "ring-child");
    if (m == nullptr)
        return Status::NotFound;
    auto to = TRY(ring_create(kSlotMemory, size_log2));
    auto from = TRY(ring_create(kSlotMemory, 12));
    SpawnGrant grants[2] = {{to.consumer.slot(), kIn, kRightsAll},
                            {from.producer.slot(), kOut, kRightsAll}};
    SpawnOptions o;
    o.name = "ring-child";
    o.quota_bytes = 4 << 20;
    o.grants = grants;
    o.grant_count = 2;
    o.arg = mode;
    auto child = TRY(spawn(reinterpret_cast<const void*>(m->address), m->size, o));
    auto tx = TRY(RingProducer::attach(static_cast<Cap<Ring>&&>(to.producer)));
    auto rx = TRY(RingConsumer::attach(static_cast<Cap<Ring>&&>(from.consumer)));
    return Remote{static_cast<Child&&>(child), static_cast<RingProducer&&>(tx),
                  static_cast<RingConsumer&&>(rx)};
}

Status finish(Remote& r) {
    TRY(r.tx.send(nullptr, 0, kStop));
    ExitInfo exit{};
    TRY(wait_process(r.child.process.slot(), ring::kNoDeadline, &exit));
    return exit.reason == uint32_t(ExitReason::Exited) && exit.code == 0 ? Status::Ok
                                                                         : Status::BadState;
}

Status run() {
    Status error = Status::Ok;
    auto check = [&error](Status s) {
        if (s != Status::Ok)
            error = s;
    };
    Row rows[5] = {};

    auto local = TRY(local_ring());
    uint8_t payload[kLength] = {};
    rows[0] = {"ring/send+receive 64 B", "insns", TRY(measure([&] {
                   auto at = local.tx.reserve(kLength, kData);
                   if (!at.ok())
                       return check(at.status());
                   memcpy(at.value(), payload, kLength);
                   local.tx.commit();
                   auto m = local.rx.receive();
                   if (!m.ok())
                       return check(m.status());
                   exo::bench::do_not_optimize(m.value().data[0]);
                   local.rx.release();
               }))};
    rows[1] = {"ring/send+receive 64 B, batches of 16", "insns",
               TRY(measure(
                   [&] {
                       for (int i = 0; i < 16; ++i) {
                           auto at = local.tx.reserve(kLength, kData);
                           if (!at.ok())
                               return check(at.status());
                           memcpy(at.value(), payload, kLength);
                       }
                       local.tx.commit();
                       for (int i = 0; i < 16; ++i) {
                           auto m = local.rx.receive();
                           if (!m.ok())
                               return check(m.status());
                           exo::bench::do_not_optimize(m.value().data[0]);
                       }
                       local.rx.release();
                   },
                   16))};
    rows[1].baseline = rows[0].name;
    rows[1].verdict = exo::bench::compare(rows[1].stats, rows[0].stats, {});

    auto echo = TRY(remote(kEcho, 12));
    uint64_t seq = 0;
    rows[2] = {"ring/round trip 64 B, two processes", "insns", TRY(measure([&] {
                   auto at = echo.tx.reserve(kLength, kData);
                   if (!at.ok())
                       return check(at.status());
                   memcpy(at.value(), &seq, sizeof seq);
                   for (uint32_t i = 0; i < kLength - 8; ++i)
                       at.value()[8 + i] = payload_byte(seq, i);
                   ++seq;
                   echo.tx.commit();
                   auto m = echo.rx.receive();
                   if (!m.ok())
                       return check(m.status());
                   echo.rx.release();
               }))};
    TRY(finish(echo));

    // Steady load: the producer never waits unless the 1 MiB ring is full.
    auto stream = TRY(remote(kCount, 20));
    uint64_t syscalls_before = ring_syscalls();
    uint64_t t0 = Clock::now();
    for (uint64_t i = 0; i < kStreamed; ++i) {
        auto at = stream.tx.reserve(kLength, kData);
        if (!at.ok())
            return at.status();
        memcpy(at.value(), &i, sizeof i);
        if (i % 16 == 15)
            stream.tx.commit();
    }
    stream.tx.commit();
    uint64_t t1 = Clock::now();
    uint64_t producer_syscalls = ring_syscalls() - syscalls_before;
    TRY(stream.tx.send(nullptr, 0, kStop));
    auto answer = TRY(stream.rx.receive());
    Reply reply{};
    memcpy(&reply, answer.data, sizeof reply);
    stream.rx.release();
    ExitInfo exit{};
    TRY(wait_process(stream.child.process.slot(), ring::kNoDeadline, &exit));
    if (reply.sequence != kStreamed)
        return Status::BadState;
    rows[3] = {"ring/streamed 64 B per message, two processes", "insns",
               single((t1 - t0) / kStreamed)};
    rows[4] = {"ring/syscalls per 1,000,000 messages, both sides", "syscalls",
               single(producer_syscalls + reply.checksum)};
    print("bench-ring: streamed %lu messages: producer %lu ring syscalls, consumer %lu", kStreamed,
          producer_syscalls, reply.checksum);
    TRY(error);

    return exo::bench::print_table("ring", rows, 5);
}

} // namespace

int exo_main(uint64_t arg) {
    boot = reinterpret_cast<const BootInfo*>(arg);
    Status s = run();
    if (s != Status::Ok)
        print("bench-ring: failed: %s", status_name(s));
    return s == Status::Ok ? 0 : 1;
}
