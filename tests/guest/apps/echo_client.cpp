// A client of the server-loop guest tests (echo_protocol.hpp says what each mode does). Started
// by server-test: its request ring's producer end is granted in slot kOut, its response ring's
// consumer end in kIn. Started by init (the supervision test's manifest): it connects with
// exo::connect. Exits 0 when its mode's expectations held.
#include "echo_protocol.hpp"

#include <exo/channel.hpp>
#include <exo/connect.hpp>
#include <exo/libc.h>
#include <exo/log.hpp>
#include <exo/runtime.hpp>

#include <new>

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

// Request `n` of client `seed`: a checked checksum request. Ok, Malformed for a wrong answer,
// or the ring's status.
Status checked_request(RpcClient& rpc, uint64_t seed, uint64_t n) {
    uint8_t payload[300];
    const uint64_t sequence = seed * 1'000'003 + n;
    const uint32_t length = uint32_t(sequence % sizeof payload);
    for (uint32_t i = 0; i < length; ++i)
        payload[i] = payload_byte(sequence, i);
    uint64_t sum = 0;
    auto r = rpc.call(kMsgChecksum, payload, length, &sum, sizeof sum, sys::clock_ns() + kTimeout);
    if (!r.ok())
        return r.status();
    return r.value() == sizeof sum && sum == checksum(payload, length) ? Status::Ok
                                                                       : Status::Malformed;
}

int normal(RpcClient& rpc, uint64_t seed) {
    uint64_t wrong = 0;
    for (uint64_t n = 0; n < kEchoRequests; ++n) {
        Status s = checked_request(rpc, seed, n);
        if (s != Status::Ok && s != Status::Malformed) {
            print("echo-client %lu: request %lu: %s", seed, n, status_name(s));
            return 3;
        }
        wrong += s != Status::Ok;
    }
    return wrong == 0 ? 0 : 4;
}

// ---- Under init: connections through exo::connect --------------------------------------------

// A connection to "echo", waiting out a server that is being restarted: Unavailable, or Closed
// when the server went between init's answer and its own answer to Hello.
Result<Channel> connect_echo(uint64_t seed) {
    const uint64_t deadline = sys::clock_ns() + kTimeout;
    for (;;) {
        auto c = connect("echo", kEchoProtocol, kEchoVersion, {12, deadline});
        const bool again = c.status() == Status::Unavailable || c.status() == Status::Closed;
        if (!again || sys::clock_ns() >= deadline) {
            if (!c.ok())
                print("echo-client %lu: cannot connect to 'echo': %s", seed,
                      status_name(c.status()));
            return c;
        }
        pause_until(sys::clock_ns() + 1'000'000);
    }
}

// `count` checked requests from `first` on; when the server goes (Closed), the time is logged
// and the client reconnects and repeats the request that was lost. With `until_closed`, it goes
// on past `count` until it has seen the server go once (the test crashes it only once every
// client is connected, so each one sees it).
int supervised(uint64_t seed, uint64_t first, uint64_t count, uint64_t* reconnections,
               bool until_closed, Channel* keep = nullptr) {
    auto c = connect_echo(seed);
    if (!c.ok())
        return 2;
    alignas(Channel) unsigned char storage[sizeof(Channel)];
    Channel* channel = new (storage) Channel(static_cast<Channel&&>(c.value()));
    const uint64_t deadline = sys::clock_ns() + kTimeout;
    for (uint64_t n = first; n < first + count || (until_closed && *reconnections == 0);) {
        if (n >= first + count && sys::clock_ns() > deadline) {
            print("echo-client %lu: the server never went", seed);
            return 11;
        }
        RpcClient rpc(*channel);
        Status s = checked_request(rpc, seed, n);
        if (s == Status::Ok) {
            ++n;
            continue;
        }
        if (s != Status::Closed) {
            print("echo-client %lu: request %lu: %s", seed, n, status_name(s));
            return s == Status::Malformed ? 4 : 3;
        }
        print("echo-client %lu: Closed at %lu ns (request %lu); reconnecting", seed,
              sys::clock_ns(), n);
        channel->~Channel();
        auto again = connect_echo(seed);
        if (!again.ok())
            return 2;
        channel = new (storage) Channel(static_cast<Channel&&>(again.value()));
        ++*reconnections;
    }
    if (keep != nullptr)
        new (keep) Channel(static_cast<Channel&&>(*channel));
    channel->~Channel();
    return 0;
}

int crasher(uint64_t seed) {
    uint64_t reconnections = 0;
    alignas(Channel) unsigned char storage[sizeof(Channel)];
    auto* channel = reinterpret_cast<Channel*>(storage);
    if (int r = supervised(seed, 0, 200, &reconnections, false, channel); r != 0)
        return r;
    // Every client of the test connected (kSupervisedClients and this one), so that each sees
    // the server go mid-stream.
    RpcClient rpc(*channel);
    const uint64_t deadline = sys::clock_ns() + kTimeout;
    for (EchoStats stats{}; stats.clients < kSupervisedClients + 1;) {
        auto n = rpc.call(kMsgStats, nullptr, 0, &stats, sizeof stats, deadline);
        if (!n.ok()) {
            print("echo-client %lu: statistics: %s", seed, status_name(n.status()));
            return 8;
        }
        pause_until(sys::clock_ns() + 1'000'000);
    }
    uint64_t none = 0;
    auto crash = rpc.call(kMsgCrash, nullptr, 0, &none, sizeof none, sys::clock_ns() + kTimeout);
    channel->~Channel();
    if (crash.status() != Status::Closed) {
        print("echo-client %lu: the crash request answered %s, not Closed", seed,
              status_name(crash.status()));
        return 8;
    }
    print("echo-client %lu: Closed at %lu ns (the crash request); reconnecting", seed,
          sys::clock_ns());
    if (int r = supervised(seed, 200, 200, &reconnections, false); r != 0)
        return r;
    print("echo-client %lu: the restarted server answered 200 more requests", seed);
    return 0;
}

int ungranted(uint64_t seed) {
    auto c = connect("echo", kEchoProtocol, kEchoVersion, {12, sys::clock_ns() + kTimeout});
    print("echo-client %lu: connecting to 'echo' without the grant: %s", seed,
          status_name(c.status()));
    return c.status() == Status::AccessDenied ? 0 : 9;
}

// The server of "crashy" faults at every start: once init gives it up, connections are refused
// with Unavailable, five times in a row 10 ms apart.
int given_up(uint64_t seed) {
    const uint64_t deadline = sys::clock_ns() + kTimeout;
    for (uint32_t in_a_row = 0; sys::clock_ns() < deadline;) {
        auto c = connect("crashy", kEchoProtocol, kEchoVersion, {12, deadline});
        in_a_row = c.status() == Status::Unavailable ? in_a_row + 1 : 0;
        if (in_a_row == 5) {
            print("echo-client %lu: 'crashy' is Unavailable: its server was given up", seed);
            return 0;
        }
        pause_until(sys::clock_ns() + 10'000'000);
    }
    return 10;
}

// Request `n` of client `seed` into its ring (not committed): its payload and the checksum the
// answer must carry.
Result<uint64_t> put_request(Channel& c, uint64_t seed, uint64_t n) {
    const uint64_t sequence = seed * 1'000'003 + n;
    const uint32_t length = uint32_t(sequence % 64);
    uint8_t* at = TRY(c.tx.reserve(uint32_t(sizeof(RpcHeader)) + length, kMsgChecksum,
                                   sys::clock_ns() + kTimeout));
    RpcHeader header{n};
    memcpy(at, &header, sizeof header);
    for (uint32_t i = 0; i < length; ++i)
        at[sizeof header + i] = payload_byte(sequence, i);
    return checksum(at + sizeof header, length);
}

// Checked requests, kLoadWindow of them in flight, until the server goes; anything else is a
// failure. Answers come in order, so the oldest in flight is the one each answer must match.
int load(uint64_t seed) {
    constexpr uint64_t kLoadWindow = 16;
    auto c = connect_echo(seed);
    if (!c.ok())
        return 2;
    Channel& channel = c.value();
    uint64_t expected[kLoadWindow];
    uint64_t sent = 0;
    for (uint64_t answered = 0;; ++answered) {
        for (; sent < answered + kLoadWindow; ++sent) {
            auto sum = put_request(channel, seed, sent);
            if (!sum.ok())
                return sum.status() == Status::Closed ? 0 : 3;
            expected[sent % kLoadWindow] = sum.value();
        }
        channel.tx.commit();
        auto m = channel.rx.receive(sys::clock_ns() + kTimeout);
        if (m.status() == Status::Closed)
            return 0;
        if (!m.ok())
            return 3;
        RpcHeader header{};
        uint64_t sum = 0;
        if (m.value().length == sizeof header + sizeof sum) {
            memcpy(&header, m.value().data, sizeof header);
            memcpy(&sum, m.value().data + sizeof header, sizeof sum);
        }
        if (m.value().type != kMsgChecksum || header.id != answered ||
            sum != expected[answered % kLoadWindow]) {
            print("echo-client %lu: answer %lu is wrong", seed, answered);
            return 4;
        }
        channel.rx.release();
    }
}

int under_init(EchoMode mode) {
    ProcessInfo self{};
    (void)sys::process_info(kSlotSelf, &self);
    const uint64_t seed = self.id;
    switch (mode) {
    case EchoMode::Supervised: {
        uint64_t reconnections = 0;
        int r = supervised(seed, 0, kEchoRequests, &reconnections, true);
        if (r == 0)
            print("echo-client %lu: at least %u checked requests answered, %lu reconnections", seed,
                  kEchoRequests, reconnections);
        return r;
    }
    case EchoMode::Crasher:
        return crasher(seed);
    case EchoMode::Ungranted:
        return ungranted(seed);
    case EchoMode::Load:
        return load(seed);
    default:
        return given_up(seed);
    }
}

} // namespace

int exo_main(uint64_t arg) {
    const auto mode = EchoMode(arg & 0xFF);
    const uint64_t seed = arg >> 8;
    if (mode >= EchoMode::Supervised)
        return under_init(mode);
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
