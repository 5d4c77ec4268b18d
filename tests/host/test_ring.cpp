// The ring core (exo/ring.hpp), single-threaded: empty, full and exact fit, records straddling
// the end of a real double mapping, zero and maximum lengths, batches, a hostile peer writing
// indices and headers (Malformed, never a read out of bounds), closing, and a seeded random run
// against a std::deque model. The threaded tests are in test_ring_stress.cpp.
#include "support.hpp"

#include "ring_host.hpp"

#include <catch2/catch.hpp>
#include <cstring>
#include <deque>
#include <memory>
#include <random>
#include <vector>

using exo::Status;
using namespace exo::ring;
using exo::ring::host::MappedRing;

namespace {

constexpr uint64_t kSize = 4096;

// A ring on the heap without the double mapping, exactly 2 * size bytes of data: ASan reports
// any access past it. Both views compute the same addresses, so records past `size` still work;
// only the aliasing of the two halves is missing.
struct HeapRing {
    explicit HeapRing(uint64_t size = kSize) : data(2 * size), size(size) {
        control->data_size = size;
    }
    Producer producer() { return Producer(control.get(), data.data(), size); }
    Consumer consumer() { return Consumer(control.get(), data.data(), size); }

    std::unique_ptr<Control> control = std::make_unique<Control>();
    std::vector<uint8_t> data;
    uint64_t size;
};

std::vector<uint8_t> pattern(uint32_t length, uint8_t seed) {
    std::vector<uint8_t> bytes(length);
    for (uint32_t i = 0; i < length; ++i)
        bytes[i] = uint8_t(seed + i * 7);
    return bytes;
}

void send_pattern(Producer& p, uint32_t length, uint8_t seed, uint32_t type = 0) {
    auto bytes = pattern(length, seed);
    REQUIRE(p.send(bytes.data(), length, type).ok());
}

// Peeks one message and checks it, reading every payload byte (ASan checks the range).
void expect_pattern(Consumer& c, uint32_t length, uint8_t seed, uint32_t type = 0) {
    auto m = c.peek();
    REQUIRE(m.ok());
    REQUIRE(m.value().length == length);
    REQUIRE(m.value().type == type);
    REQUIRE(std::vector<uint8_t>(m.value().data, m.value().data + length) == pattern(length, seed));
}

} // namespace

TEST_CASE("ring: record sizes, data sizes and the control page layout", "[ring]") {
    REQUIRE(record_size(0) == 8);
    REQUIRE(record_size(1) == 16);
    REQUIRE(record_size(8) == 16);
    REQUIRE(record_size(9) == 24);
    REQUIRE(record_size(UINT32_MAX) == 8 + (uint64_t(1) << 32));
    REQUIRE(valid_data_size(4096));
    REQUIRE(valid_data_size(1 << 20));
    REQUIRE_FALSE(valid_data_size(2048));
    REQUIRE_FALSE(valid_data_size(4096 + 8));
    REQUIRE_FALSE(valid_data_size(kMaxDataSize * 2));
    HeapRing ring;
    REQUIRE_THROWS_AS(Producer(ring.control.get(), ring.data.data(), 6000),
                      exo::test::AssertionFailure);
    REQUIRE_THROWS_AS(Consumer(ring.control.get(), ring.data.data() + 4, kSize),
                      exo::test::AssertionFailure);
}

TEST_CASE("ring: an empty ring would block", "[ring]") {
    HeapRing ring;
    Consumer c = ring.consumer();
    REQUIRE(c.peek().status() == Status::WouldBlock);
    REQUIRE(c.peek().status() == Status::WouldBlock);
    c.release();
    REQUIRE(ring.control->head.load() == 0);
    Producer p = ring.producer();
    REQUIRE(p.free_bytes() == kSize);
    p.commit(); // nothing reserved: nothing published
    REQUIRE(ring.control->tail.load() == 0);
    REQUIRE(c.peek().status() == Status::WouldBlock);
}

TEST_CASE("ring: messages cross in order with their length and type", "[ring]") {
    HeapRing ring;
    Producer p = ring.producer();
    Consumer c = ring.consumer();
    send_pattern(p, 5, 1, 42);
    send_pattern(p, 100, 2, 7);
    REQUIRE(ring.control->tail.load() == record_size(5) + record_size(100));
    expect_pattern(c, 5, 1, 42);
    expect_pattern(c, 100, 2, 7);
    REQUIRE(c.peek().status() == Status::WouldBlock);
    c.release();
    REQUIRE(ring.control->head.load() == ring.control->tail.load());
}

TEST_CASE("ring: a full ring would block until the consumer releases", "[ring]") {
    HeapRing ring;
    Producer p = ring.producer();
    Consumer c = ring.consumer();
    uint64_t sent = 0;
    while (p.send(pattern(64, 0).data(), 64).ok())
        ++sent;
    REQUIRE(sent == kSize / record_size(64)); // 56 records, 64 bytes left
    REQUIRE(p.free_bytes() == kSize - sent * record_size(64));
    REQUIRE(p.reserve(64).status() == Status::WouldBlock);
    expect_pattern(c, 64, 0);
    REQUIRE(p.reserve(64).status() == Status::WouldBlock); // peeked is not released
    c.release();
    REQUIRE(p.reserve(64).ok());
    REQUIRE(p.reserve(64).status() == Status::WouldBlock);
    REQUIRE(p.reserve(56).ok()); // the last 64 bytes
    REQUIRE(p.reserve(0).status() == Status::WouldBlock);
}

TEST_CASE("ring: records that fill the ring exactly", "[ring]") {
    HeapRing ring;
    Producer p = ring.producer();
    Consumer c = ring.consumer();

    SECTION("one record of the maximum length") {
        const uint32_t max = uint32_t(max_length(kSize));
        send_pattern(p, max, 3);
        REQUIRE(ring.control->tail.load() == kSize);
        REQUIRE(p.reserve(0).status() == Status::WouldBlock);
        expect_pattern(c, max, 3);
        c.release();
        send_pattern(p, max, 4); // starts at offset 0 again
        expect_pattern(c, max, 4);
    }
    SECTION("the last record takes exactly the space left") {
        send_pattern(p, 1000, 5); // 1008 bytes
        const uint64_t left = kSize - record_size(1000);
        send_pattern(p, uint32_t(left - kHeaderSize), 6);
        REQUIRE(p.free_bytes() == 0);
        REQUIRE(p.reserve(0).status() == Status::WouldBlock);
        expect_pattern(c, 1000, 5);
        expect_pattern(c, uint32_t(left - kHeaderSize), 6);
    }
}

TEST_CASE("ring: zero-length and maximum-length messages", "[ring]") {
    HeapRing ring;
    Producer p = ring.producer();
    Consumer c = ring.consumer();
    REQUIRE(p.send(nullptr, 0, 9).ok());
    REQUIRE(ring.control->tail.load() == 8);
    auto m = c.peek();
    REQUIRE(m.ok());
    REQUIRE(m.value().length == 0);
    REQUIRE(m.value().type == 9);
    c.release();
    REQUIRE(p.reserve(uint32_t(max_length(kSize)) + 1).status() == Status::InvalidArgument);
    REQUIRE(p.reserve(UINT32_MAX).status() == Status::InvalidArgument);
    REQUIRE(p.reserve(uint32_t(max_length(kSize))).ok());
}

TEST_CASE("ring: a record straddling the end is contiguous in the double mapping", "[ring]") {
    MappedRing ring(kSize);
    Producer p = ring.producer();
    Consumer c = ring.consumer();
    // Move both indices to 4008: the next record (208 bytes) crosses the end of the first mapping.
    send_pattern(p, 4000, 0);
    expect_pattern(c, 4000, 0);
    c.release();
    send_pattern(p, 200, 11, 3);
    auto m = c.peek();
    REQUIRE(m.ok());
    REQUIRE(m.value().data == ring.data() + 4008 + kHeaderSize);
    REQUIRE(std::vector<uint8_t>(m.value().data, m.value().data + 200) == pattern(200, 11));
    // The part past the end is the same memory as the start of the first mapping.
    const uint64_t past = 4016 + 200 - kSize;
    REQUIRE(std::memcmp(ring.data(), m.value().data + 200 - past, past) == 0);
    c.release();
    // And round and round: 300 more records of varied lengths over the seam.
    for (uint32_t i = 0; i < 300; ++i) {
        send_pattern(p, (i * 37) % 1500, uint8_t(i), i);
        expect_pattern(c, (i * 37) % 1500, uint8_t(i), i);
        c.release();
    }
}

TEST_CASE("ring: batches publish and free with one store each", "[ring]") {
    HeapRing ring;
    Producer p = ring.producer();
    Consumer c = ring.consumer();
    for (uint32_t i = 0; i < 10; ++i) {
        auto at = p.reserve(16, i);
        REQUIRE(at.ok());
        std::memcpy(at.value(), pattern(16, uint8_t(i)).data(), 16);
    }
    REQUIRE(ring.control->tail.load() == 0);
    REQUIRE(c.peek().status() == Status::WouldBlock);
    p.commit();
    REQUIRE(ring.control->tail.load() == 10 * record_size(16));
    for (uint32_t i = 0; i < 10; ++i) {
        expect_pattern(c, 16, uint8_t(i), i);
        REQUIRE(ring.control->head.load() == 0);
    }
    REQUIRE(c.unreleased_bytes() == 10 * record_size(16));
    REQUIRE(c.peek().status() == Status::WouldBlock);
    c.release();
    REQUIRE(ring.control->head.load() == 10 * record_size(16));

    // cancel() drops what was reserved since the last commit.
    REQUIRE(p.reserve(100).ok());
    p.cancel();
    p.commit();
    REQUIRE(ring.control->tail.load() == 10 * record_size(16));
    REQUIRE(c.peek().status() == Status::WouldBlock);
}

TEST_CASE("ring: views attach at the indices in the control page", "[ring]") {
    HeapRing ring;
    ring.control->head = 8 * 1000;
    ring.control->tail = 8 * 1000;
    {
        Producer p = ring.producer();
        Consumer c = ring.consumer();
        send_pattern(p, 30, 1);
        expect_pattern(c, 30, 1);
        c.release();
        REQUIRE(ring.control->head.load() == 8000 + record_size(30));
    }
    SECTION("wrapping modulo 2^64") {
        ring.control->head = uint64_t(0) - 16;
        ring.control->tail = uint64_t(0) - 16;
        Producer p = ring.producer();
        Consumer c = ring.consumer();
        for (uint8_t i = 0; i < 4; ++i) {
            send_pattern(p, 20, i);
            expect_pattern(c, 20, i);
            c.release();
        }
        REQUIRE(ring.control->tail.load() == 4 * record_size(20) - 16);
    }
    SECTION("a misaligned index is Malformed") {
        ring.control->head = 12;
        ring.control->tail = 12;
        Producer p = ring.producer();
        Consumer c = ring.consumer();
        REQUIRE(p.reserve(0).status() == Status::Malformed);
        REQUIRE(c.peek().status() == Status::Malformed);
    }
}

TEST_CASE("ring: a hostile consumer moving head", "[ring]") {
    HeapRing ring;
    Producer p = ring.producer();
    // Fill the ring, so the next reserve has to read head.
    while (p.send(pattern(56, 1).data(), 56).ok()) {
    }
    const auto before = ring.data;
    const uint64_t tail = ring.control->tail.load();

    SECTION("past tail") {
        ring.control->head = tail + 64;
    }
    SECTION("far past tail") {
        ring.control->head = tail + kSize * 5;
    }
    SECTION("backwards after a valid move") {
        ring.control->head = 64;
        REQUIRE(p.reserve(56).ok());
        p.commit();
        ring.control->head = 0;
        while (p.reserve(56).ok())
            p.commit();
    }
    SECTION("to a misaligned index") {
        ring.control->head = 60;
    }
    REQUIRE(p.reserve(56).status() == Status::Malformed);
    REQUIRE(p.reserve(0).status() == Status::Malformed); // for good
    REQUIRE(p.free_bytes() == 0);
    REQUIRE(p.malformed());
    // Nothing was written and nothing published after the corruption.
    p.commit();
    REQUIRE(ring.control->tail.load() == p.committed());
    if (p.committed() == tail)
        REQUIRE(ring.data == before);
}

TEST_CASE("ring: a hostile producer moving tail", "[ring]") {
    HeapRing ring;
    Producer p = ring.producer();
    Consumer c = ring.consumer();
    send_pattern(p, 24, 1);
    send_pattern(p, 24, 2);
    expect_pattern(c, 24, 1);
    c.release(); // head = 32
    expect_pattern(c, 24, 2);

    SECTION("beyond head + size") {
        ring.control->tail = 32 + kSize + 8;
    }
    SECTION("far beyond") {
        ring.control->tail = uint64_t(1) << 40;
    }
    SECTION("behind head") {
        ring.control->tail = 24;
    }
    SECTION("behind what was already seen") {
        ring.control->tail = 40;
    }
    SECTION("to a misaligned index") {
        ring.control->tail = 68;
    }
    REQUIRE(c.peek().status() == Status::Malformed);
    REQUIRE(c.malformed());
    ring.control->tail = 64 + 32; // even a valid value now: the ring stays broken
    REQUIRE(c.peek().status() == Status::Malformed);
}

TEST_CASE("ring: a hostile producer writing headers", "[ring]") {
    HeapRing ring;
    Producer p = ring.producer();
    Consumer c = ring.consumer();
    send_pattern(p, 16, 1); // 24 bytes at 0
    send_pattern(p, 16, 2); // 24 bytes at 24

    SECTION("a length past the committed bytes") {
        detail::store_header(ring.data.data(), {41, 0}); // a 56-byte record: 48 are committed
        REQUIRE(c.peek().status() == Status::Malformed);
    }
    SECTION("a length past the ring") {
        detail::store_header(ring.data.data(), {uint32_t(kSize), 0});
        REQUIRE(c.peek().status() == Status::Malformed);
    }
    SECTION("the largest length") {
        detail::store_header(ring.data.data(), {UINT32_MAX, 0});
        REQUIRE(c.peek().status() == Status::Malformed);
    }
    SECTION("a bad second header after a good first one") {
        detail::store_header(ring.data.data() + 24, {25, 0});
        expect_pattern(c, 16, 1);
        REQUIRE(c.peek().status() == Status::Malformed);
    }
    REQUIRE(c.peek().status() == Status::Malformed);
}

TEST_CASE("ring: a header at the end of the mapping never reads past it", "[ring]") {
    HeapRing ring;
    // Head and tail at size - 8, then a full ring: the last record starts 8 bytes before the
    // end of the first half and may reach the last byte of the second, not one byte further.
    ring.control->head = kSize - 8;
    ring.control->tail = kSize - 8;
    Producer p = ring.producer();
    Consumer c = ring.consumer();

    SECTION("a valid record filling the ring ends at data + 2 * size - 8") {
        send_pattern(p, uint32_t(max_length(kSize)), 9);
        expect_pattern(c, uint32_t(max_length(kSize)), 9);
    }
    SECTION("a forged length one byte longer") {
        ring.control->tail = 2 * kSize - 8; // full, valid
        detail::store_header(ring.data.data() + kSize - 8, {uint32_t(max_length(kSize)) + 1, 0});
        REQUIRE(c.peek().status() == Status::Malformed);
    }
    SECTION("a forged length past both mappings") {
        ring.control->tail = 2 * kSize - 8;
        detail::store_header(ring.data.data() + kSize - 8, {uint32_t(2 * kSize), 0});
        REQUIRE(c.peek().status() == Status::Malformed);
    }
}

TEST_CASE("ring: closing", "[ring]") {
    HeapRing ring;
    Producer p = ring.producer();
    Consumer c = ring.consumer();
    send_pattern(p, 10, 1);
    send_pattern(p, 20, 2);

    SECTION("the consumer drains what was committed, then sees Closed") {
        ring.control->closed = kClosedProducer;
        expect_pattern(c, 10, 1);
        c.release();
        expect_pattern(c, 20, 2);
        REQUIRE(c.peek().status() == Status::Closed);
        c.release();
        REQUIRE(c.peek().status() == Status::Closed);
    }
    SECTION("a commit the consumer had not seen before the close is drained too") {
        expect_pattern(c, 10, 1);
        expect_pattern(c, 20, 2);
        REQUIRE(c.peek().status() == Status::WouldBlock);
        send_pattern(p, 30, 3);
        ring.control->closed = kClosedProducer;
        expect_pattern(c, 30, 3);
        REQUIRE(c.peek().status() == Status::Closed);
    }
    SECTION("the producer cannot send once the consumer is gone") {
        ring.control->closed = kClosedConsumer;
        REQUIRE(p.reserve(0).status() == Status::Closed);
        REQUIRE(p.send("x", 1).status() == Status::Closed);
    }
}

TEST_CASE("ring: waiting flags", "[ring]") {
    HeapRing ring;
    Producer p = ring.producer();
    Consumer c = ring.consumer();
    REQUIRE_FALSE(p.consumer_waiting());
    REQUIRE_FALSE(c.producer_waiting());
    c.prepare_wait();
    REQUIRE(ring.control->consumer_waiting.load() == 1);
    REQUIRE(p.consumer_waiting());
    c.finish_wait();
    REQUIRE_FALSE(p.consumer_waiting());
    p.prepare_wait();
    REQUIRE(c.producer_waiting());
    p.finish_wait();
    REQUIRE_FALSE(c.producer_waiting());

    // The blocking helpers time out instead of sleeping forever.
    exo::ring::host::FutexWaiter waiter(ring.control.get());
    const uint64_t soon = exo::ring::host::monotonic_ns() + 2'000'000;
    REQUIRE(receive(c, waiter, soon).status() == Status::TimedOut);
    REQUIRE(ring.control->consumer_waiting.load() == 0);
    while (p.reserve(1000).ok()) {
    }
    REQUIRE(reserve(p, waiter, 1000, 0, soon).status() == Status::TimedOut);
    REQUIRE(ring.control->producer_waiting.load() == 0);
    REQUIRE(ring.control->tail.load() == 4 * record_size(1000)); // committed before sleeping
}

TEST_CASE("ring: random operations match a deque model", "[ring]") {
    const uint64_t seed = GENERATE(1, 2, 3);
    std::mt19937_64 rng(seed);
    const uint64_t size = kSize << (seed % 3); // 4, 8 and 16 KiB
    MappedRing ring(size);
    Producer p = ring.producer();
    Consumer c = ring.consumer();

    struct Msg {
        uint32_t type;
        std::vector<uint8_t> bytes;
    };
    std::deque<Msg> committed; // committed and not yet peeked
    std::vector<Msg> reserved; // reserved and not yet committed
    uint64_t in_flight = 0;    // bytes of every record reserved and not yet released
    uint64_t reserved_bytes = 0, peeked_bytes = 0, sent = 0, received = 0;

    auto random_length = [&]() -> uint32_t {
        const uint64_t pick = rng() % 100;
        if (pick < 70)
            return uint32_t(rng() % 65);
        if (pick < 95)
            return uint32_t(rng() % 1025);
        return uint32_t(rng() % (size + 16)); // now and then too long
    };
    for (int step = 0; step < 100000; ++step) {
        const uint64_t op = rng() % 100;
        if (op < 40) {
            const uint32_t length = random_length();
            const uint32_t type = uint32_t(rng());
            auto at = p.reserve(length, type);
            if (length > max_length(size)) {
                REQUIRE(at.status() == Status::InvalidArgument);
            } else if (record_size(length) <= size - in_flight) {
                REQUIRE(at.ok());
                Msg m{type, std::vector<uint8_t>(length)};
                for (auto& b : m.bytes)
                    b = uint8_t(rng());
                if (length != 0)
                    std::memcpy(at.value(), m.bytes.data(), length);
                reserved.push_back(std::move(m));
                in_flight += record_size(length);
                reserved_bytes += record_size(length);
            } else {
                REQUIRE(at.status() == Status::WouldBlock);
            }
        } else if (op < 52) {
            p.commit();
            for (auto& m : reserved)
                committed.push_back(std::move(m));
            sent += reserved.size();
            reserved.clear();
            reserved_bytes = 0;
        } else if (op < 54) {
            p.cancel();
            in_flight -= reserved_bytes;
            reserved_bytes = 0;
            reserved.clear();
        } else if (op < 85) {
            auto m = c.peek();
            if (committed.empty()) {
                REQUIRE(m.status() == Status::WouldBlock);
                continue;
            }
            REQUIRE(m.ok());
            const Msg& want = committed.front();
            REQUIRE(m.value().type == want.type);
            REQUIRE(m.value().length == want.bytes.size());
            REQUIRE(std::equal(want.bytes.begin(), want.bytes.end(), m.value().data));
            peeked_bytes += record_size(m.value().length);
            committed.pop_front();
            ++received;
        } else if (op < 97) {
            c.release();
            in_flight -= peeked_bytes;
            peeked_bytes = 0;
        } else {
            REQUIRE(p.free_bytes() == size - in_flight);
        }
        REQUIRE(c.unreleased_bytes() == peeked_bytes);
    }
    REQUIRE(sent > 10000);
    REQUIRE(received + committed.size() == sent);
}
