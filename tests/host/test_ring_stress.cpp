// The ring core across threads: a producer and a consumer streaming sequence-numbered messages
// through the blocking helpers and a futex (order, length, type and every payload byte checked,
// plus a checksum over the whole stream), a ping-pong over two rings, and a wake-up on close.
// Built into host-tests (ASan/UBSan) and into host-tests-tsan (ThreadSanitizer), which sets
// EXO_RING_STRESS_MESSAGES to the long run's 10 million.
#include "support.hpp"

#include "ring_host.hpp"

#include <catch2/catch.hpp>
#include <cstring>
#include <string>
#include <thread>

#ifndef EXO_RING_STRESS_MESSAGES
#define EXO_RING_STRESS_MESSAGES 1000000
#endif

using exo::Status;
using namespace exo::ring;
using exo::ring::host::FutexWaiter;
using exo::ring::host::MappedRing;

namespace {

// Long enough that only a lost wake-up (both sides asleep) lets a futex sleep run out; the
// streams then stop at once instead of crawling on.
constexpr uint64_t kSlice = 1'000'000'000;

uint64_t mix(uint64_t x) { // splitmix64's finalizer
    x += 0x9e3779b97f4a7c15;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9;
    x = (x ^ (x >> 27)) * 0x94d049bb133111eb;
    return x ^ (x >> 31);
}

struct Stream {
    uint64_t messages;
    uint32_t max_length;
    uint64_t seed;

    uint32_t length_of(uint64_t seq) const { return uint32_t(mix(seq ^ seed) % (max_length + 1)); }
    // Payload word i of message seq; the last word may be cut short.
    uint64_t word(uint64_t seq, uint64_t i) const { return mix(seq * 0x100000001b3 + i + seed); }
    bool commit_after(uint64_t seq) const { return (mix(seq + seed) & 7) < 3; }
    bool release_after(uint64_t seq) const { return (mix(seq - seed) & 15) == 0; }
};

// Checksum of a payload, the same function on both sides.
uint64_t checksum(const uint8_t* p, uint32_t length) {
    uint64_t sum = length;
    for (uint32_t i = 0; i < length; i += 8) {
        uint64_t w = 0;
        std::memcpy(&w, p + i, length - i < 8 ? length - i : 8);
        sum = (sum << 7 | sum >> 57) ^ w;
    }
    return sum;
}

struct Outcome {
    uint64_t produced_sum = 0, producer_lost_wakeups = 0; // written by the producer
    uint64_t consumed_sum = 0, consumer_lost_wakeups = 0, received = 0;
    std::string error;
};

void produce(const Stream& s, MappedRing& ring, Outcome& out) {
    Producer p = ring.producer();
    FutexWaiter waiter(ring.control(), kSlice);
    for (uint64_t seq = 0; seq < s.messages; ++seq) {
        const uint32_t length = s.length_of(seq);
        auto at = reserve(p, waiter, length, uint32_t(seq));
        if (!at.ok() || waiter.slices_expired != 0)
            break; // the consumer failed and closed the ring, or a wake-up was lost
        for (uint32_t i = 0; i < length; i += 8) {
            const uint64_t w = s.word(seq, i / 8);
            std::memcpy(at.value() + i, &w, length - i < 8 ? length - i : 8);
        }
        out.produced_sum += checksum(at.value(), length);
        if (s.commit_after(seq))
            commit_and_notify(p, waiter);
    }
    commit_and_notify(p, waiter);
    waiter.close(kClosedProducer); // as the kernel does when the producer is gone
    out.producer_lost_wakeups = waiter.slices_expired;
}

// Verifies message seq; returns an error text or an empty string.
std::string verify(const Stream& s, uint64_t seq, const Consumer::Message& m) {
    if (m.type != uint32_t(seq))
        return "message " + std::to_string(seq) + ": type " + std::to_string(m.type);
    if (m.length != s.length_of(seq))
        return "message " + std::to_string(seq) + ": length " + std::to_string(m.length);
    for (uint32_t i = 0; i < m.length; i += 8) {
        uint64_t got = 0, want = s.word(seq, i / 8);
        const uint32_t n = m.length - i < 8 ? m.length - i : 8;
        std::memcpy(&got, m.data + i, n);
        if (std::memcmp(&got, &want, n) != 0)
            return "message " + std::to_string(seq) + ": payload byte " + std::to_string(i);
    }
    return {};
}

void consume(const Stream& s, MappedRing& ring, Outcome& out) {
    Consumer c = ring.consumer();
    FutexWaiter waiter(ring.control(), kSlice);
    auto next = [&]() -> exo::Result<Consumer::Message> {
        auto m = c.peek();
        if (m.status() != Status::WouldBlock)
            return m;
        release_and_notify(c, waiter); // never sleep holding space
        return receive(c, waiter);
    };
    for (uint64_t seq = 0; seq < s.messages && out.error.empty(); ++seq) {
        auto m = next();
        if (waiter.slices_expired != 0) {
            out.error = "message " + std::to_string(seq) + ": a wake-up was lost";
            break;
        }
        if (!m.ok()) {
            out.error = "message " + std::to_string(seq) + ": " + exo::status_name(m.status());
            break;
        }
        out.error = verify(s, seq, m.value());
        out.consumed_sum += checksum(m.value().data, m.value().length);
        ++out.received;
        if (s.release_after(seq))
            release_and_notify(c, waiter);
    }
    if (out.error.empty()) {
        auto end = next();
        if (end.status() != Status::Closed)
            out.error = std::string("after the last message: ") + exo::status_name(end.status());
    }
    release_and_notify(c, waiter);
    if (!out.error.empty())
        waiter.close(kClosedConsumer); // unblock the producer
    out.consumer_lost_wakeups = waiter.slices_expired;
}

void run_stream(const Stream& s, uint64_t ring_size) {
    MappedRing ring(ring_size);
    Outcome out;
    std::thread consumer([&] { consume(s, ring, out); });
    produce(s, ring, out);
    consumer.join();
    INFO(out.error);
    REQUIRE(out.error.empty());
    REQUIRE(out.received == s.messages);
    REQUIRE(out.consumed_sum == out.produced_sum);
    REQUIRE(out.producer_lost_wakeups + out.consumer_lost_wakeups == 0);
}

} // namespace

TEST_CASE("ring: two threads stream small messages through a 4 KiB ring", "[ring][stress]") {
    run_stream({EXO_RING_STRESS_MESSAGES, 16, 1}, 4096);
}

TEST_CASE("ring: two threads stream messages of 0 to 256 bytes", "[ring][stress]") {
    run_stream({EXO_RING_STRESS_MESSAGES / 10, 256, 2}, 4096);
    run_stream({EXO_RING_STRESS_MESSAGES / 10, 256, 3}, 64 * 1024);
}

TEST_CASE("ring: ping-pong over two rings wakes each side every time", "[ring][stress]") {
    MappedRing request(4096), response(4096);
    constexpr uint64_t kRounds = 20000;
    uint64_t lost = 0;
    std::thread server([&] {
        Consumer in = request.consumer();
        Producer out = response.producer();
        FutexWaiter in_waiter(request.control(), kSlice), out_waiter(response.control(), kSlice);
        for (;;) {
            auto m = receive(in, in_waiter);
            if (!m.ok())
                break;
            uint64_t value;
            std::memcpy(&value, m.value().data, 8);
            release_and_notify(in, in_waiter);
            ++value;
            if (!send(out, out_waiter, &value, 8).ok())
                break;
        }
        lost += in_waiter.slices_expired + out_waiter.slices_expired;
    });
    Producer out = request.producer();
    Consumer in = response.consumer();
    FutexWaiter out_waiter(request.control(), kSlice), in_waiter(response.control(), kSlice);
    uint64_t value = 0;
    for (uint64_t i = 0; i < kRounds; ++i) {
        REQUIRE(send(out, out_waiter, &value, 8).ok());
        auto m = receive(in, in_waiter);
        REQUIRE(m.ok());
        REQUIRE(m.value().length == 8);
        std::memcpy(&value, m.value().data, 8);
        release_and_notify(in, in_waiter);
    }
    out_waiter.close(kClosedProducer);
    server.join();
    REQUIRE(value == kRounds);
    REQUIRE(lost + in_waiter.slices_expired + out_waiter.slices_expired == 0);
}

TEST_CASE("ring: a consumer asleep in receive wakes up when the ring closes", "[ring][stress]") {
    MappedRing ring(4096);
    Status seen = Status::Ok;
    std::thread consumer([&] {
        Consumer c = ring.consumer();
        FutexWaiter waiter(ring.control());
        seen = receive(c, waiter).status();
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    FutexWaiter(ring.control()).close(kClosedProducer);
    consumer.join();
    REQUIRE(seen == Status::Closed);
}
