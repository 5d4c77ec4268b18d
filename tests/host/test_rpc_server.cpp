// The server loop (exo/rpc_server.hpp) on the host: client threads call an echo server over ring
// pairs while a stand-in kernel posts doorbells into the server's event ring exactly as RingBind
// does (at most one pending per bound ring, until the server has released it). Checks: every
// request answered with its checksum by one sleeping server thread, Hello and version refusal,
// a client that writes garbage or leaves mid-stream is dropped while the others go on, a full
// response ring holds back only its client, and an overflowing event ring makes the server look
// at every client again. Built into host-tests (ASan/UBSan) and host-tests-tsan.
#include "support.hpp"

#include "ring_host.hpp"

#include <atomic>
#include <catch2/catch.hpp>
#include <cstring>
#include <exo/rpc_server.hpp>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

using exo::Status;
using namespace exo::ring;
using exo::ring::host::FutexWaiter;
using exo::ring::host::MappedRing;
using exo::ring::host::monotonic_ns;

namespace {

constexpr uint32_t kEcho = exo::proto::fourcc("echo");
constexpr uint32_t kMsgSum = exo::proto::kFirstMessage;
constexpr uint32_t kMsgBig = exo::proto::kFirstMessage + 1; // a 200-byte reply
constexpr uint64_t kSlice = 2'000'000'000; // only a lost wake-up lets a sleep run this long
constexpr uint64_t kCallTimeout = 10'000'000'000;

// The kernel's side of RingBind: the event ring's one producer, and per bound end its pending
// doorbell (exo/events.hpp).
struct Kernel {
    explicit Kernel(uint64_t size)
        : events(size), producer(events.producer()), waiter(events.control(), kSlice) {}
    struct Bell {
        Kernel* kernel;
        uint64_t badge;
        uint64_t posted_at = 0;
    };
    void ring(Bell& bell) {
        std::lock_guard<std::mutex> guard(lock);
        if (bell.posted_at != 0 &&
            int64_t(events.control()->head.load(std::memory_order_acquire) - bell.posted_at) < 0)
            return; // still pending
        if (drop_everything) {
            events.control()->dropped.fetch_add(1, std::memory_order_relaxed);
            return;
        }
        exo::DoorbellEvent event{bell.badge};
        if (!producer.send(&event, sizeof event, exo::kEventDoorbell).ok()) {
            events.control()->dropped.fetch_add(1, std::memory_order_relaxed);
            return;
        }
        bell.posted_at = producer.committed();
        ++posted;
        if (producer.consumer_waiting())
            waiter.notify(Event::Data);
    }
    MappedRing events;
    Producer producer;
    FutexWaiter waiter;
    std::mutex lock;
    uint64_t posted = 0;
    bool drop_everything = false;
};

// A ring's Waiter; a client's notify also rings the server end's doorbell, as the kernel does
// for a bound end.
struct HostWaiter {
    FutexWaiter futex;
    Kernel::Bell* bell = nullptr;
    Status wait(Event e, uint64_t seen, uint64_t deadline) { return futex.wait(e, seen, deadline); }
    void notify(Event e) {
        futex.notify(e);
        if (bell)
            bell->kernel->ring(*bell);
    }
};
static_assert(Waiter<HostWaiter>);

using Server = exo::RpcServer<HostWaiter>;

// Echo with a checksum: the reply is the request's payload sum.
Status echo_sum(void*, Server::Client&, const exo::Request& r, exo::Reply& reply) {
    if (r.type == kMsgBig) {
        std::memset(reply.data, 0xAB, 200);
        reply.length = 200;
        return Status::Ok;
    }
    if (r.type != kMsgSum)
        return Status::Unsupported;
    uint64_t sum = r.length;
    for (uint32_t i = 0; i < r.length; ++i)
        sum = sum * 31 + r.payload[i];
    std::memcpy(reply.data, &sum, sizeof sum);
    reply.length = sizeof sum;
    return Status::Ok;
}

struct Drops {
    std::vector<std::pair<uint32_t, Status>> seen;
};

void on_drop(void* context, uint32_t index, Status why) {
    static_cast<Drops*>(context)->seen.push_back({index, why});
}

// One client's two rings, its bells, and the server-side views.
struct Connection {
    Connection(Kernel& k, uint32_t index, uint64_t size = 4096)
        : requests(size), responses(size), request_bell{&k, exo::doorbell_badge(index, false)},
          response_bell{&k, exo::doorbell_badge(index, true)}, tx(requests.producer()),
          rx(responses.consumer()), tx_waiter{FutexWaiter(requests.control(), kSlice),
                                              &request_bell},
          rx_waiter{FutexWaiter(responses.control(), kSlice), &response_bell} {}

    // Adds the server's ends; the doorbell is rung once, as a new binding would be.
    uint32_t attach(Server& server) {
        auto index = server.add(requests.consumer(), {FutexWaiter(requests.control(), kSlice)},
                                responses.producer(), {FutexWaiter(responses.control(), kSlice)});
        REQUIRE(index.ok());
        return index.value();
    }

    // One call: Ok with the reply's payload in `out`, or the status of the ring or error reply.
    Status call(uint32_t type, const void* payload, uint32_t length, void* out, uint32_t cap,
                uint32_t* reply_type = nullptr) {
        auto reserved = reserve(tx, tx_waiter, 8 + length, type, monotonic_ns() + kCallTimeout);
        if (!reserved.ok())
            return reserved.status();
        uint8_t* at = reserved.value();
        const uint64_t id = ++next_id;
        std::memcpy(at, &id, 8);
        std::memcpy(at + 8, payload, length);
        commit_and_notify(tx, tx_waiter);
        auto m = receive(rx, rx_waiter, monotonic_ns() + kCallTimeout);
        if (!m.ok())
            return m.status();
        uint64_t got = 0;
        std::memcpy(&got, m.value().data, 8);
        const uint32_t n = m.value().length - 8;
        std::memcpy(out, m.value().data + 8, n < cap ? n : cap);
        if (reply_type)
            *reply_type = m.value().type;
        release_and_notify(rx, rx_waiter);
        return got == id ? Status::Ok : Status::Malformed;
    }

    Status hello(uint32_t protocol = kEcho, uint32_t version = 1) {
        exo::proto::Hello h{protocol, version};
        exo::proto::HelloReply r{};
        TRY(call(exo::proto::kMsgHello, &h, sizeof h, &r, sizeof r));
        return Status(r.status);
    }

    MappedRing requests, responses;
    Kernel::Bell request_bell, response_bell;
    Producer tx;
    Consumer rx;
    HostWaiter tx_waiter, rx_waiter;
    uint64_t next_id = 0;
};

uint64_t sum_of(const uint8_t* p, uint32_t n) {
    uint64_t sum = n;
    for (uint32_t i = 0; i < n; ++i)
        sum = sum * 31 + p[i];
    return sum;
}

struct Fixture {
    explicit Fixture(uint64_t event_size = 16384)
        : kernel(event_size),
          server(kernel.events.control(), kernel.events.data(), kernel.events.size(),
                 {FutexWaiter(kernel.events.control(), kSlice)}, config()) {}
    Server::Config config() {
        Server::Config c;
        c.protocol = kEcho;
        c.version = 1;
        c.handler = echo_sum;
        c.on_drop = on_drop;
        c.context = &drops;
        return c;
    }
    // Serves on a thread until `stop` (its waits end every 20 ms to look); any status other
    // than Ok or TimedOut is counted and checked once the thread has ended.
    void start() {
        thread = std::thread([this] {
            while (!stop.load(std::memory_order_acquire)) {
                const Status s = server.run_once(monotonic_ns() + 20'000'000);
                if (s != Status::Ok && s != Status::TimedOut)
                    errors.fetch_add(1);
            }
        });
    }
    void finish() {
        stop.store(true, std::memory_order_release);
        thread.join();
        REQUIRE(errors.load() == 0);
    }
    ~Fixture() { // a failed REQUIRE leaves the test early: the thread must not outlive it
        stop.store(true, std::memory_order_release);
        if (thread.joinable())
            thread.join();
    }
    std::atomic<uint32_t> errors{0};
    Drops drops;
    Kernel kernel;
    Server server;
    std::atomic<bool> stop{false};
    std::thread thread;
};

} // namespace

TEST_CASE("rpc server: many clients, one sleeping server thread, every request answered") {
    constexpr uint32_t kClients = 6, kCalls = 3000;
    Fixture f;
    std::vector<std::unique_ptr<Connection>> clients;
    for (uint32_t i = 0; i < kClients; ++i) {
        clients.push_back(std::make_unique<Connection>(f.kernel, i));
        REQUIRE(clients.back()->attach(f.server) == i);
    }
    f.start();
    std::atomic<uint32_t> failures{0};
    std::vector<std::thread> threads;
    for (uint32_t i = 0; i < kClients; ++i) {
        threads.emplace_back([&, i] {
            Connection& c = *clients[i];
            if (c.hello() != Status::Ok)
                failures.fetch_add(1);
            uint8_t payload[200];
            for (uint32_t n = 0; n < kCalls; ++n) {
                const uint32_t length = (n * 37 + i) % sizeof payload;
                for (uint32_t b = 0; b < length; ++b)
                    payload[b] = uint8_t(n * 7 + b + i);
                uint64_t sum = 0;
                if (c.call(kMsgSum, payload, length, &sum, sizeof sum) != Status::Ok ||
                    sum != sum_of(payload, length))
                    failures.fetch_add(1);
            }
        });
    }
    for (auto& t : threads)
        t.join();
    f.finish();
    REQUIRE(failures.load() == 0);
    uint64_t served = 0;
    for (uint32_t i = 0; i < kClients; ++i)
        served += f.server.client(i)->served;
    REQUIRE(served == kClients * (kCalls + 1));
    REQUIRE(f.drops.seen.empty());
    REQUIRE(f.server.overflows() == 0);
}

TEST_CASE("rpc server: Hello first, with the right protocol and version") {
    Fixture f;
    Connection c(f.kernel, 0);
    c.attach(f.server);
    f.start();
    uint64_t sum = 0;
    uint32_t type = 0;
    exo::proto::ErrorReply error{};
    REQUIRE(c.call(kMsgSum, "x", 1, &error, sizeof error, &type) == Status::Ok);
    REQUIRE(type == exo::proto::kMsgError);
    REQUIRE(Status(error.status) == Status::BadState);
    REQUIRE(c.hello(exo::proto::fourcc("blk "), 1) == Status::VersionMismatch);
    REQUIRE(c.hello(kEcho, 2) == Status::VersionMismatch);
    REQUIRE(c.hello(kEcho, 1) == Status::Ok);
    REQUIRE(c.call(kMsgSum, "x", 1, &sum, sizeof sum, &type) == Status::Ok);
    REQUIRE((type == kMsgSum && sum == sum_of(reinterpret_cast<const uint8_t*>("x"), 1)));
    REQUIRE(c.call(kMsgSum + 7, "x", 1, &error, sizeof error, &type) == Status::Ok);
    REQUIRE((type == exo::proto::kMsgError && Status(error.status) == Status::Unsupported));
    f.finish();
}

TEST_CASE("rpc server: a client that writes garbage or leaves is dropped; the others go on") {
    Fixture f;
    Connection good(f.kernel, 0), garbage(f.kernel, 1), leaving(f.kernel, 2), liar(f.kernel, 3);
    for (Connection* c : {&good, &garbage, &leaving, &liar})
        c->attach(f.server);
    f.start();
    REQUIRE(good.hello() == Status::Ok);
    // A record too short for its RpcHeader.
    REQUIRE(send(garbage.tx, garbage.tx_waiter, "abc", 3, kMsgSum).ok());
    // A tail index past anything the ring holds.
    liar.requests.control()->tail.store(1u << 20, std::memory_order_release);
    liar.tx_waiter.notify(Event::Data);
    // A client that goes away in the middle of its stream (the kernel closes its end).
    REQUIRE(leaving.hello() == Status::Ok);
    REQUIRE(send(leaving.tx, leaving.tx_waiter, "12345678", 8, kMsgSum).ok());
    leaving.tx_waiter.futex.close(kClosedProducer);
    leaving.tx_waiter.notify(Event::Data);
    uint64_t sum = 0;
    for (int n = 0; n < 100; ++n)
        REQUIRE(good.call(kMsgSum, "ok", 2, &sum, sizeof sum) == Status::Ok);
    f.finish();
    REQUIRE(f.drops.seen.size() == 3);
    for (auto [index, why] : f.drops.seen) {
        if (index == 1 || index == 3)
            REQUIRE(why == Status::Malformed);
        else
            REQUIRE((index == 2 && why == Status::Closed));
    }
    REQUIRE(f.server.clients() == 1);
    REQUIRE(f.server.client(0)->served == 101);
}

TEST_CASE("rpc server: a full response ring holds back only its own client") {
    Fixture f;
    Connection slow(f.kernel, 0), fast(f.kernel, 1);
    slow.attach(f.server);
    fast.attach(f.server);
    f.start();
    REQUIRE(slow.hello() == Status::Ok);
    REQUIRE(fast.hello() == Status::Ok);
    // 60 requests without reading a reply: 4 KiB of responses hold 18 of 216 bytes.
    uint8_t payload[8] = {};
    uint32_t sent = 0;
    for (; sent < 60; ++sent) {
        uint64_t id = sent + 100;
        std::memcpy(payload, &id, 8);
        if (!send(slow.tx, slow.tx_waiter, payload, 8, kMsgBig, monotonic_ns() + 200'000'000).ok())
            break;
    }
    uint64_t sum = 0;
    for (int n = 0; n < 50; ++n)
        REQUIRE(fast.call(kMsgSum, "go", 2, &sum, sizeof sum) == Status::Ok);
    // Now read every reply: each arrives, in order, once the ring has room again.
    uint32_t answered = 0;
    for (; answered < sent; ++answered) {
        auto m = receive(slow.rx, slow.rx_waiter, monotonic_ns() + kCallTimeout);
        if (!m.ok())
            break;
        uint64_t id = 0;
        std::memcpy(&id, m.value().data, 8);
        if (id != answered + 100 || m.value().type != kMsgBig || m.value().length != 208)
            break;
        release_and_notify(slow.rx, slow.rx_waiter);
    }
    f.finish();
    REQUIRE(sent == 60);
    REQUIRE(answered == sent);
}

TEST_CASE("rpc server: when the kernel drops events, every client is looked at again") {
    Fixture f;
    Connection c(f.kernel, 0);
    c.attach(f.server);
    REQUIRE(f.server.run_once(monotonic_ns()) == Status::TimedOut); // drains the new client
    f.kernel.drop_everything = true; // its doorbell is lost, and counted
    REQUIRE(send(c.tx, c.tx_waiter, "\1\0\0\0\0\0\0\0", 8, exo::proto::kMsgHello).ok());
    f.kernel.drop_everything = false;
    REQUIRE(f.kernel.events.control()->dropped.load() == 1);
    REQUIRE(f.server.run_once(monotonic_ns()) == Status::TimedOut);
    REQUIRE(f.server.overflows() == 1);
    REQUIRE(f.server.client(0)->served == 1); // the request behind the lost doorbell
}

namespace {

struct Yielder {
    Server* server = nullptr;
};

exo::Status yield_to_owner(void* context, Server::Client&, const exo::Request&, exo::Reply& reply) {
    static_cast<Yielder*>(context)->server->yield_to_owner();
    reply.length = 0;
    return Status::Ok;
}

} // namespace

TEST_CASE("rpc server: a handler's yield_to_owner makes run_once return before it sleeps") {
    Kernel kernel(16384);
    Yielder yielder;
    Server::Config config;
    config.protocol = kEcho;
    config.version = 1;
    config.handler = yield_to_owner;
    config.context = &yielder;
    Server server(kernel.events.control(), kernel.events.data(), kernel.events.size(),
                  {FutexWaiter(kernel.events.control(), kSlice)}, config);
    yielder.server = &server;
    Connection c(kernel, 0);
    c.attach(server);
    REQUIRE(server.run_once(monotonic_ns()) == Status::TimedOut); // nothing to do: it sleeps
    uint8_t hello[16] = {1};
    const exo::proto::Hello h{kEcho, 1};
    std::memcpy(hello + 8, &h, sizeof h);
    REQUIRE(send(c.tx, c.tx_waiter, hello, sizeof hello, exo::proto::kMsgHello).ok());
    REQUIRE(send(c.tx, c.tx_waiter, "\2\0\0\0\0\0\0\0", 8, kMsgSum).ok());
    // Without the yield this would sleep until the deadline and answer TimedOut.
    REQUIRE(server.run_once(monotonic_ns() + 10'000'000'000) == Status::Ok);
    REQUIRE(server.client(0)->served == 2);
    REQUIRE(server.served() == 2);
    REQUIRE(server.run_once(monotonic_ns()) == Status::TimedOut); // the yield was used up
}
