// A client of the server-loop guest tests (echo_protocol.hpp says what each mode does): its
// request ring's producer end is granted in slot kOut, its response ring's consumer end in kIn.
// Exits 0 when its mode's expectations held.
#include "echo_protocol.hpp"

#include <exo/channel.hpp>
#include <exo/libc.h>
#include <exo/log.hpp>
#include <exo/runtime.hpp>

using namespace exo;
using namespace exo::test;

namespace {

constexpr uint64_t kTimeout = 30'000'000'000;

Status hello(RpcClient& rpc, uint32_t version) {
    proto::Hello h{kEchoProtocol, version};
    proto::HelloReply r{};
    auto n = rpc.call(proto::kMsgHello, &h, sizeof h, &r, sizeof r, sys::clock_ns() + kTimeout);
    if (!n.ok())
        return n.status();
    return Status(r.status);
}

int normal(RpcClient& rpc, uint64_t seed) {
    uint8_t payload[300];
    uint64_t wrong = 0;
    for (uint64_t n = 0; n < kEchoRequests; ++n) {
        const uint64_t sequence = seed * 1'000'003 + n;
        const uint32_t length = uint32_t(sequence % sizeof payload);
        for (uint32_t i = 0; i < length; ++i)
            payload[i] = payload_byte(sequence, i);
        uint64_t sum = 0;
        auto r =
            rpc.call(kMsgChecksum, payload, length, &sum, sizeof sum, sys::clock_ns() + kTimeout);
        if (!r.ok()) {
            print("echo-client %lu: request %lu: %s", seed, n, status_name(r.status()));
            return 3;
        }
        wrong += r.value() != sizeof sum || sum != checksum(payload, length);
    }
    return wrong == 0 ? 0 : 4;
}

} // namespace

int exo_main(uint64_t arg) {
    const auto mode = EchoMode(arg & 0xFF);
    const uint64_t seed = arg >> 8;
    auto tx = RingProducer::attach(Cap<Ring>::adopt(kOut));
    auto rx = RingConsumer::attach(Cap<Ring>::adopt(kIn));
    if (!tx.ok() || !rx.ok())
        return 1;
    Channel channel{static_cast<RingProducer&&>(tx.value()),
                    static_cast<RingConsumer&&>(rx.value())};
    RpcClient rpc(channel);
    if (mode == EchoMode::WrongVersion)
        return hello(rpc, kEchoVersion + 1) == Status::VersionMismatch ? 0 : 5;
    if (Status s = hello(rpc, kEchoVersion); s != Status::Ok) {
        print("echo-client %lu: Hello: %s", seed, status_name(s));
        return 2;
    }
    if (mode == EchoMode::Normal)
        return normal(rpc, seed);
    if (mode == EchoMode::DieMidRequest) {
        uint8_t payload[64] = {};
        (void)channel.tx.send(payload, sizeof payload, kMsgChecksum);
        return 0; // gone before the answer
    }
    if (mode == EchoMode::Garbage) {
        (void)channel.tx.send("abc", 3, kMsgChecksum); // too short for its RpcHeader
    } else {
        // A tail index past anything sent, then a notify so the server looks.
        channel.tx.control()->tail.store(uint64_t(1) << 40, std::memory_order_release);
        (void)sys::ring_notify(channel.tx.slot());
    }
    // The server must drop us: our response ring reads Closed once it has let go of its end.
    auto m = channel.rx.receive(sys::clock_ns() + kTimeout);
    return m.status() == Status::Closed ? 0 : 6;
}
