// Host benchmark of the Fusion ring core (exo/ring.hpp) against the IPC a Linux program would
// otherwise use, in the same run: a pipe (the baseline), an eventfd-signalled mutex queue, a Unix
// SOCK_SEQPACKET socket pair, and boost::lockfree::spsc_queue (libboost-dev, a build requirement).
// Two threads pinned to two CPUs; messages of 8, 64, 512 and 4096 bytes; each one is copied in by
// the sender and out by the receiver. Throughput: ns per message while messages stream one way
// (a sample per 4096 messages). Latency: one way, half a ping-pong round trip. Prints Markdown;
// writes CSV to the path given as argv[1].
#include "support.hpp"

#include "../../tests/host/ring_host.hpp" // the ring over a memfd double mapping, a futex waiter

#include <atomic>
#include <boost/lockfree/spsc_queue.hpp>
#include <cstdio>
#include <cstring>
#include <exo/bench/compare.hpp>
#include <exo/bench/report.hpp>
#include <exo/bench/runner.hpp>
#include <memory>
#include <mutex>
#include <pthread.h>
#include <sched.h>
#include <string>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>
#include <vector>

using namespace exo::bench;
using exo::bench::host::MonotonicClock;
using exo::ring::host::FutexWaiter;
using exo::ring::host::MappedRing;
using namespace exo::ring;

namespace {

constexpr uint64_t kBufferBytes = 64 * 1024; // every channel holds at most this much in flight
constexpr uint64_t kChunk = 4096;            // messages per throughput sample
constexpr uint64_t kStreamNs = 400'000'000;  // how long each throughput run streams
constexpr size_t kRoundTrips = 20000;        // latency samples per channel and size
constexpr uint64_t kLast = UINT64_MAX;       // sequence number that ends a run
constexpr int kSpins = 4096;                 // polls before a side sleeps

[[noreturn]] void die(const char* what) {
    std::perror(what);
    std::abort();
}

void check(bool ok, const char* what) {
    if (!ok)
        die(what);
}

void spin_pause(int& spins) {
    __builtin_ia32_pause();
    if (++spins % kSpins == 0)
        sched_yield(); // a single CPU, or a descheduled peer
}

// The ring core: the sender polls, then sleeps on the futex until space; the receiver releases
// when a quarter of the ring is held or before it waits, polls, then sleeps until data.
class RingChannel {
public:
    explicit RingChannel(uint32_t)
        : ring_(kBufferBytes), producer_(ring_.producer()), consumer_(ring_.consumer()),
          send_waiter_(ring_.control()), recv_waiter_(ring_.control()) {}

    void send(const uint8_t* msg, uint32_t n) {
        auto at = poll_reserve(n);
        uint8_t* to = at.ok() ? at.value() : reserve(producer_, send_waiter_, n).value();
        std::memcpy(to, msg, n);
        commit_and_notify(producer_, send_waiter_);
    }

    void recv(uint8_t* out, uint32_t n) {
        auto m = poll_peek();
        const Message message = m.ok() ? m.value() : receive(consumer_, recv_waiter_).value();
        check(message.length == n, "ring: length");
        std::memcpy(out, message.data, n);
        if (consumer_.unreleased_bytes() >= kBufferBytes / 4)
            release_and_notify(consumer_, recv_waiter_);
    }

private:
    using Message = exo::ring::Consumer::Message;

    exo::Result<uint8_t*> poll_reserve(uint32_t n) {
        for (int spins = 0;; ++spins) {
            auto at = producer_.reserve(n);
            if (at.status() != exo::Status::WouldBlock || spins == kSpins)
                return at;
            __builtin_ia32_pause();
        }
    }
    exo::Result<Message> poll_peek() {
        for (int spins = 0;; ++spins) {
            auto m = consumer_.peek();
            if (m.status() != exo::Status::WouldBlock || spins == kSpins)
                return m;
            if (spins == 0)
                release_and_notify(consumer_, recv_waiter_); // never wait holding space
            __builtin_ia32_pause();
        }
    }

    MappedRing ring_;
    exo::ring::Producer producer_;
    exo::ring::Consumer consumer_;
    FutexWaiter send_waiter_, recv_waiter_;
};

class PipeChannel {
public:
    explicit PipeChannel(uint32_t) { check(pipe(fds_) == 0, "pipe"); }
    ~PipeChannel() {
        close(fds_[0]);
        close(fds_[1]);
    }
    void send(const uint8_t* msg, uint32_t n) {
        for (uint32_t done = 0; done < n;) {
            const ssize_t r = write(fds_[1], msg + done, n - done);
            check(r > 0, "write");
            done += uint32_t(r);
        }
    }
    void recv(uint8_t* out, uint32_t n) {
        for (uint32_t done = 0; done < n;) {
            const ssize_t r = read(fds_[0], out + done, n - done);
            check(r > 0, "read");
            done += uint32_t(r);
        }
    }

private:
    int fds_[2];
};

class SocketChannel {
public:
    explicit SocketChannel(uint32_t) {
        check(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, fds_) == 0, "socketpair");
    }
    ~SocketChannel() {
        close(fds_[0]);
        close(fds_[1]);
    }
    void send(const uint8_t* msg, uint32_t n) { check(::send(fds_[0], msg, n, 0) == n, "send"); }
    void recv(uint8_t* out, uint32_t n) { check(::recv(fds_[1], out, n, 0) == n, "recv"); }

private:
    int fds_[2];
};

// A mutex-protected queue of fixed-size slots; the sender signals an eventfd after every message,
// the receiver sleeps on it when the queue is empty (and the other way round for space).
class EventfdChannel {
public:
    explicit EventfdChannel(uint32_t size)
        : size_(size), items_(eventfd(0, EFD_CLOEXEC)), space_(eventfd(0, EFD_CLOEXEC)) {
        check(items_ >= 0 && space_ >= 0, "eventfd");
    }
    ~EventfdChannel() {
        close(items_);
        close(space_);
    }
    void send(const uint8_t* msg, uint32_t n) {
        for (;;) {
            {
                std::lock_guard lock(mutex_);
                if (count_ < capacity()) {
                    std::memcpy(slot((head_ + count_) % capacity()), msg, n);
                    ++count_;
                    break;
                }
            }
            wait(space_);
        }
        signal(items_);
    }
    void recv(uint8_t* out, uint32_t n) {
        for (;;) {
            bool was_full = false, taken = false;
            {
                std::lock_guard lock(mutex_);
                if (count_ > 0) {
                    std::memcpy(out, slot(head_), n);
                    was_full = count_ == capacity();
                    head_ = (head_ + 1) % capacity();
                    --count_;
                    taken = true;
                }
            }
            if (taken) {
                if (was_full)
                    signal(space_);
                return;
            }
            wait(items_);
        }
    }

private:
    static void signal(int fd) {
        const uint64_t one = 1;
        check(write(fd, &one, 8) == 8, "eventfd write");
    }
    static void wait(int fd) {
        uint64_t count;
        check(read(fd, &count, 8) == 8, "eventfd read");
    }
    uint64_t capacity() const { return kBufferBytes / size_; }
    uint8_t* slot(uint64_t i) { return buffer_.get() + i * size_; }

    const uint64_t size_;
    std::mutex mutex_;
    std::unique_ptr<uint8_t[]> buffer_{new uint8_t[kBufferBytes]};
    uint64_t head_ = 0, count_ = 0;
    int items_, space_;
};

// A byte queue: bulk push and pop, polling (spsc_queue cannot sleep).
class BoostChannel {
public:
    explicit BoostChannel(uint32_t) {}
    void send(const uint8_t* msg, uint32_t n) {
        int spins = 0;
        for (uint32_t done = 0; done < n;) {
            const size_t pushed = queue_.push(msg + done, n - done);
            done += uint32_t(pushed);
            if (pushed == 0)
                spin_pause(spins);
        }
    }
    void recv(uint8_t* out, uint32_t n) {
        int spins = 0;
        for (uint32_t done = 0; done < n;) {
            const size_t popped = queue_.pop(out + done, n - done);
            done += uint32_t(popped);
            if (popped == 0)
                spin_pause(spins);
        }
    }

private:
    boost::lockfree::spsc_queue<uint8_t> queue_{kBufferBytes};
};

// The first two CPUs this process may run on (the same one twice on a single CPU), read once
// before any thread is pinned: a thread inherits its creator's affinity.
const std::vector<int>& cpus() {
    static const std::vector<int> found = [] {
        cpu_set_t set;
        check(sched_getaffinity(0, sizeof set, &set) == 0, "sched_getaffinity");
        std::vector<int> first;
        for (int c = 0; c < CPU_SETSIZE && first.size() < 2; ++c)
            if (CPU_ISSET(c, &set))
                first.push_back(c);
        if (first.size() == 1)
            first.push_back(first[0]);
        return first;
    }();
    return found;
}

void pin(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    check(pthread_setaffinity_np(pthread_self(), sizeof set, &set) == 0, "pin");
}

void put_seq(uint8_t* msg, uint64_t seq) {
    std::memcpy(msg, &seq, 8);
}
uint64_t get_seq(const uint8_t* msg) {
    uint64_t seq;
    std::memcpy(&seq, msg, 8);
    return seq;
}

// Streams messages one way for kStreamNs; ns per message, from one sample per kChunk messages.
template <typename Channel>
Stats throughput(uint32_t size, std::vector<uint64_t>& samples) {
    Channel channel(size);
    std::atomic<bool> stop{false};
    size_t count = 0;
    std::thread receiver([&] {
        pin(cpus()[1]);
        std::vector<uint8_t> msg(size);
        uint64_t expected = 0, last = MonotonicClock::now();
        const uint64_t end = last + kStreamNs;
        for (;;) {
            channel.recv(msg.data(), size);
            const uint64_t seq = get_seq(msg.data());
            if (seq == kLast)
                break;
            check(seq == expected++, "out of order");
            if (expected % kChunk != 0)
                continue;
            const uint64_t now = MonotonicClock::now();
            if (expected > kChunk && count < samples.size()) // the first chunk warms up
                samples[count++] = now - last;
            last = now;
            if (now >= end)
                stop.store(true, std::memory_order_relaxed);
        }
    });
    pin(cpus()[0]);
    std::vector<uint8_t> msg(size, 0x5a);
    for (uint64_t seq = 0; !stop.load(std::memory_order_relaxed); ++seq) {
        put_seq(msg.data(), seq);
        channel.send(msg.data(), size);
    }
    put_seq(msg.data(), kLast);
    channel.send(msg.data(), size);
    receiver.join();
    return per_iteration(compute_stats(samples.data(), count).value(), kChunk);
}

// Ping-pong over two channels; one way = half a round trip, the clock's cost subtracted.
template <typename Channel>
Stats latency(uint32_t size, std::vector<uint64_t>& samples) {
    Channel request(size), response(size);
    std::thread server([&] {
        pin(cpus()[1]);
        std::vector<uint8_t> msg(size);
        for (;;) {
            request.recv(msg.data(), size);
            response.send(msg.data(), size);
            if (get_seq(msg.data()) == kLast)
                break;
        }
    });
    pin(cpus()[0]);
    std::vector<uint8_t> msg(size, 0xa5);
    uint64_t seq = 0;
    RunConfig config;
    config.warmup = 1000;
    config.min_samples = kRoundTrips;
    Runner<MonotonicClock> runner(samples.data(), kRoundTrips, config);
    auto m = runner.run([&] {
        put_seq(msg.data(), seq);
        request.send(msg.data(), size);
        response.recv(msg.data(), size);
        check(get_seq(msg.data()) == seq++, "ping-pong");
    });
    put_seq(msg.data(), kLast);
    request.send(msg.data(), size);
    response.recv(msg.data(), size);
    server.join();
    return per_iteration(m.value().stats, 2);
}

struct Measured {
    std::string mechanism;
    uint32_t size;
    Stats throughput, latency;
};

template <typename Channel>
void measure(const char* mechanism, std::vector<Measured>& results,
             std::vector<uint64_t>& samples) {
    for (uint32_t size : {8u, 64u, 512u, 4096u})
        results.push_back(
            {mechanism, size, throughput<Channel>(size, samples), latency<Channel>(size, samples)});
}

} // namespace

int main(int argc, char** argv) {
    std::vector<uint64_t> samples(1 << 17);
    std::vector<Measured> results;
    printf("threads pinned to CPUs %d and %d\n\n", cpus()[0], cpus()[1]);
    measure<PipeChannel>("pipe", results, samples);
    measure<RingChannel>("ring", results, samples);
    measure<EventfdChannel>("eventfd queue", results, samples);
    measure<SocketChannel>("unix seqpacket", results, samples);
    measure<BoostChannel>("boost spsc_queue", results, samples);

    // Rows: throughput then latency per mechanism and size, each against the pipe's.
    std::vector<std::string> names;
    names.reserve(results.size() * 2);
    for (const Measured& r : results)
        for (const char* kind : {"throughput", "latency"})
            names.push_back(r.mechanism + " " + std::to_string(r.size) + "B " + kind);
    std::vector<Row> rows;
    for (size_t i = 0; i < results.size(); ++i) {
        const Measured& pipe = results[i % 4]; // the pipe's results come first, same size order
        for (int k = 0; k < 2; ++k) {
            const Stats& s = k == 0 ? results[i].throughput : results[i].latency;
            const Stats& base = k == 0 ? pipe.throughput : pipe.latency;
            Row row{names[2 * i + k].c_str(), k == 0 ? "ns/msg" : "ns one-way", s};
            if (i >= 4) {
                row.baseline = names[2 * (i % 4) + k].c_str();
                row.verdict = compare(s, base, 1000);
            }
            rows.push_back(row);
        }
    }

    printf("## Fusion ring vs Linux IPC (host; 2 threads pinned to 2 CPUs, 64 KiB buffers)\n\n");
    printf("| mechanism | size | M msg/s | vs pipe | one-way p50 ns | p99 ns | vs pipe |\n");
    printf("|---|---:|---:|---:|---:|---:|---:|\n");
    for (size_t i = 0; i < results.size(); ++i) {
        const Measured& r = results[i];
        const Measured& pipe = results[i % 4];
        printf("| %s | %u | %.2f | %.1fx | %.0f | %.0f | %.1fx |\n", r.mechanism.c_str(), r.size,
               1e6 / double(r.throughput.median),
               double(pipe.throughput.median) / double(r.throughput.median),
               double(r.latency.median) / 1000, double(r.latency.p99) / 1000,
               double(pipe.latency.median) / double(r.latency.median));
    }
    printf("\n");
    exo::FormatSink out = exo::bench::host::file_sink(stdout);
    write_markdown(out, rows.data(), rows.size());
    printf("\nThroughput: median ns per message over samples of %llu messages streamed one way "
           "(M msg/s = 1000 / that). Latency: half a ping-pong round trip, %zu samples. The ring "
           "and boost poll; the ring then sleeps on a futex; the others sleep in the kernel.\n",
           (unsigned long long)kChunk, kRoundTrips);

    if (argc > 1) {
        FILE* csv = fopen(argv[1], "w");
        if (!csv)
            return 1;
        write_csv(exo::bench::host::file_sink(csv), rows.data(), rows.size());
        fclose(csv);
    }
    return 0;
}
