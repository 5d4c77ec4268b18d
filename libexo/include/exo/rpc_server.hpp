// The server side of request/response over fusion rings, portable (exo::Server in libexo runs
// it over the ring syscalls; the host tests run it with a futex waiter). One thread serves many
// clients and its kernel events from one wait on an event ring. The server ends of each client's
// ring pair are bound to that event ring (RingBind): a client's notify posts one doorbell, the
// server drains that client in batches, and it sleeps only once every ready ring is empty with
// its waiting flag raised, so the client's next commit rings the doorbell again. The wake-up
// protocol and its model check are in docs/servers.md.
#pragma once

#include <exo/events.hpp>
#include <exo/proto/service.hpp>
#include <exo/ring.hpp>

#include <new>

namespace exo {

// A request in place in its ring; the client can still rewrite it, so a handler copies what it
// validates before trusting it.
struct Request {
    uint32_t type;
    uint64_t id;
    const uint8_t* payload; // after the RpcHeader
    uint32_t length;
};

// Where a handler writes its response payload (after the RpcHeader), in place in the ring.
struct Reply {
    uint8_t* data;
    uint32_t capacity; // the server's max_reply
    uint32_t length = 0;
};

// The doorbell badge of a client's request ring (data to read) or response ring (room to write).
constexpr uint64_t doorbell_badge(uint32_t client, bool response_ring) {
    return uint64_t(client) << 1 | (response_ring ? 1 : 0);
}

struct NoClientState {};

template <ring::Waiter W, typename State = NoClientState>
class RpcServer {
public:
    static constexpr uint32_t kMaxClients = 128;
    static constexpr uint32_t kBatch = 64; // requests of one client per turn, then the next

    struct Client {
        ring::Consumer rx; // requests
        ring::Producer tx; // responses
        W rx_waiter, tx_waiter;
        State state{};
        uint32_t index = 0; // its slot: what add() returned
        uint64_t served = 0;
        bool greeted = false;
        bool ready = true;    // may have requests to read
        bool blocked = false; // its response ring is full: waits for room
    };

    // Ok: `reply` holds the response. Another status: the client gets an ErrorReply with it.
    // Malformed: the client broke the protocol and is dropped.
    using Handler = Status (*)(void* context, Client& client, const Request& request, Reply& reply);
    // A kernel event other than a doorbell (a timer, a child's end, an interrupt).
    using EventHandler = void (*)(void* context, uint32_t type, const uint8_t* payload,
                                  uint32_t length);
    // A client left (Closed) or was dropped (Malformed, or anything else that ended it): the
    // owner unbinds and unmaps its rings. Its slot is free again when this returns.
    using DropHandler = void (*)(void* context, uint32_t index, Status why);

    struct Config {
        uint32_t protocol = 0; // fourcc; a Hello naming another, or another version, is refused
        uint32_t version = 0;
        uint32_t max_reply = 256; // bytes a handler may write
        void* context = nullptr;
        Handler handler = nullptr;
        EventHandler on_event = nullptr;
        DropHandler on_drop = nullptr;
    };

    // The event ring: its control page (for the kernel's `dropped` count too), data and size.
    RpcServer(ring::Control* events, const uint8_t* data, uint64_t size, W events_waiter,
              const Config& config)
        : events_control_(events), events_(events, data, size), events_waiter_(events_waiter),
          config_(config), dropped_seen_(events->dropped.load(std::memory_order_relaxed)) {}
    ~RpcServer() {
        for (uint32_t i = 0; i < kMaxClients; ++i)
            if (live_[i])
                slot(i).~Client();
    }
    RpcServer(const RpcServer&) = delete;
    RpcServer& operator=(const RpcServer&) = delete;

    // A new client over its two ring views; the owner has bound both server ends to the event
    // ring with doorbell_badge(index, ...). NoMemory when every slot is taken.
    Result<uint32_t> add(ring::Consumer rx, W rx_waiter, ring::Producer tx, W tx_waiter) {
        for (uint32_t i = 0; i < kMaxClients; ++i) {
            if (live_[i])
                continue;
            new (&storage_[i]) Client{rx, tx, rx_waiter, tx_waiter};
            slot(i).index = i;
            live_[i] = true;
            ++clients_;
            return i;
        }
        return Status::NoMemory;
    }

    // Ends client `index` now, as if it had left with `why` (on_drop runs).
    void remove(uint32_t index, Status why) {
        if (index < kMaxClients && live_[index])
            drop(index, why);
    }

    // Serves until every ready ring is drained, then sleeps in one wait on the event ring until
    // something arrives or `deadline` (TimedOut); returns Ok after that one wait, or before it
    // if yield_to_owner() was called. Malformed if the event ring itself is corrupt.
    Status run_once(uint64_t deadline = ring::kNoDeadline) {
        for (;;) {
            TRY(drain_events());
            bool any = false;
            for (uint32_t i = 0; i < kMaxClients; ++i) {
                if (live_[i] && slot(i).ready && !slot(i).blocked) {
                    serve(i);
                    any = true;
                }
            }
            if (any)
                continue;
            if (yield_) { // a handler asked the owner to look at its state first
                yield_ = false;
                return Status::Ok;
            }
            // Nothing ready: sleep once, with the event ring's flag raised and re-checked.
            events_.prepare_wait();
            auto next = events_.peek();
            if (next.status() != Status::WouldBlock) {
                events_.finish_wait();
                if (next.ok())
                    events_.put_back(next.value());
                continue;
            }
            const Status woken =
                events_waiter_.wait(ring::Event::Data, events_.observed_tail(), deadline);
            events_.finish_wait();
            ++sleeps_;
            if (woken != Status::Ok)
                return woken;
        }
    }

    // From a handler or callback: run_once returns Ok before it next sleeps, so that its owner
    // can act on what the handler changed.
    void yield_to_owner() { yield_ = true; }

    Client* client(uint32_t index) {
        return index < kMaxClients && live_[index] ? &slot(index) : nullptr;
    }
    uint32_t clients() const { return clients_; }
    uint64_t sleeps() const { return sleeps_; }       // waits on the event ring
    uint64_t served() const { return served_; }       // requests answered, all clients
    uint64_t overflows() const { return overflows_; } // times the kernel dropped events

private:
    Client& slot(uint32_t i) { return *std::launder(reinterpret_cast<Client*>(&storage_[i])); }

    // Every doorbell marks its client ready; other events go to on_event. All are released
    // before any client is drained, so a notify that comes during the drain rings again. The
    // owner's own doorbells (an accept ring) are handed over after the release too, for the
    // same reason.
    Status drain_events() {
        bool any = false;
        uint64_t owner_bells[8];
        uint32_t owner_count = 0;
        for (;;) {
            auto m = events_.peek();
            if (m.status() == Status::WouldBlock)
                break;
            if (!m.ok())
                return m.status();
            any = true;
            const auto& e = m.value();
            if (e.type == kEventDoorbell && e.length == sizeof(DoorbellEvent)) {
                DoorbellEvent bell;
                __builtin_memcpy(&bell, e.data, sizeof bell);
                const uint64_t index = bell.badge >> 1;
                if (index >= kMaxClients) {
                    // At most one is pending per binding, and the owner binds only a few.
                    bool known = false;
                    for (uint32_t k = 0; k < owner_count; ++k)
                        known = known || owner_bells[k] == bell.badge;
                    if (!known) {
                        EXO_ASSERT(owner_count < 8, "more than 8 doorbells of the owner's own");
                        owner_bells[owner_count++] = bell.badge;
                    }
                } else if (live_[index]) {
                    Client& c = slot(uint32_t(index));
                    if (bell.badge & 1) {
                        c.blocked = false;
                        c.tx.finish_wait();
                    } else {
                        c.ready = true;
                    }
                }
            } else if (config_.on_event) {
                config_.on_event(config_.context, e.type, e.data, e.length);
            }
        }
        if (any)
            events_.release();
        for (uint32_t k = 0; k < owner_count && config_.on_event; ++k) {
            DoorbellEvent bell{owner_bells[k]};
            config_.on_event(config_.context, kEventDoorbell,
                             reinterpret_cast<const uint8_t*>(&bell), sizeof bell);
        }
        // Events the kernel could not post (a full event ring): a doorbell may be among them,
        // so every client is looked at again. Store-load: the release above must be visible
        // before `dropped` is read, or the kernel may still see a full ring and drop a
        // doorbell this load misses (found by the model under TSO, tests/model/).
        std::atomic_thread_fence(std::memory_order_seq_cst);
        const uint32_t dropped = events_control_->dropped.load(std::memory_order_relaxed);
        if (dropped != dropped_seen_) {
            dropped_seen_ = dropped;
            ++overflows_;
            for (uint32_t i = 0; i < kMaxClients; ++i) {
                if (live_[i]) {
                    slot(i).ready = true;
                    slot(i).blocked = false;
                }
            }
        }
        return Status::Ok;
    }

    // One turn of client `i`: up to kBatch requests, one commit and one release at the end, and
    // at most one notify each way.
    void serve(uint32_t i) {
        Client& c = slot(i);
        c.rx.finish_wait(); // draining: the client need not notify meanwhile
        const uint32_t need = uint32_t(sizeof(proto::RpcHeader)) + config_.max_reply;
        Status end = Status::Ok;
        for (uint32_t n = 0; n < kBatch; ++n) {
            auto m = c.rx.peek();
            if (m.status() == Status::WouldBlock) {
                // Empty: release what was read, raise the flag, then look once more (the
                // Dekker handshake). The release comes first: a client notifies once per
                // sleep, and takes a head that has not moved since its last notify to mean
                // that we have not run since (RingProducer::commit).
                release(c);
                c.rx.prepare_wait();
                auto again = c.rx.peek();
                if (again.status() == Status::WouldBlock) {
                    c.ready = false;
                    break;
                }
                c.rx.finish_wait();
                if (again.ok())
                    c.rx.put_back(again.value());
                continue;
            }
            if (!m.ok()) {
                end = m.status(); // Closed, or Malformed indices or headers
                break;
            }
            auto at = c.tx.reserve(need, 0);
            if (at.status() == Status::WouldBlock) {
                // Its responses fill the ring: read no more of it until it makes room. The
                // flag first, then the re-check, so its release rings the response doorbell.
                c.rx.put_back(m.value());
                commit(c); // before the flag, as for the release above
                c.tx.prepare_wait();
                if (c.tx.free_bytes() < ring::record_size(need))
                    c.blocked = true;
                else
                    c.tx.finish_wait();
                break;
            }
            if (!at.ok()) {
                end = at.status();
                break;
            }
            end = handle(c, m.value(), at.value());
            if (end != Status::Ok) {
                c.tx.cancel(); // it is dropped: no half-written answer
                break;
            }
        }
        commit_and_release(c);
        if (end != Status::Ok)
            drop(i, end);
    }

    Status handle(Client& c, const ring::Consumer::Message& m, uint8_t* out) {
        if (m.length < sizeof(proto::RpcHeader))
            return Status::Malformed;
        proto::RpcHeader header;
        __builtin_memcpy(&header, m.data, sizeof header);
        __builtin_memcpy(out, &header, sizeof header);
        Request request{m.type, header.id, m.data + sizeof header,
                        m.length - uint32_t(sizeof header)};
        Reply reply{out + sizeof header, config_.max_reply};
        Status s;
        if (m.type == proto::kMsgHello) {
            s = hello(c, request, reply);
        } else if (!c.greeted) {
            s = Status::BadState; // Hello comes first
        } else {
            s = config_.handler(config_.context, c, request, reply);
        }
        if (s == Status::Malformed)
            return s;
        uint32_t type = m.type;
        if (s != Status::Ok || reply.length > reply.capacity) {
            proto::ErrorReply error{int32_t(s != Status::Ok ? s : Status::BufferTooSmall), m.type};
            __builtin_memcpy(reply.data, &error, sizeof error);
            reply.length = sizeof error;
            type = proto::kMsgError;
        }
        c.tx.trim_last(out, uint32_t(sizeof header) + reply.length, type);
        ++c.served;
        ++served_;
        return Status::Ok;
    }

    Status hello(Client& c, const Request& request, Reply& reply) {
        if (request.length < sizeof(proto::Hello))
            return Status::Truncated;
        proto::Hello h;
        __builtin_memcpy(&h, request.payload, sizeof h);
        const bool match = h.protocol == config_.protocol && h.version == config_.version;
        c.greeted = c.greeted || match;
        proto::HelloReply answer{int32_t(match ? Status::Ok : Status::VersionMismatch),
                                 config_.version};
        __builtin_memcpy(reply.data, &answer, sizeof answer);
        reply.length = sizeof answer;
        return Status::Ok;
    }

    void commit(Client& c) {
        if (c.tx.committed() == c.tx.reserved())
            return;
        c.tx.commit();
        if (c.tx.consumer_waiting())
            c.tx_waiter.notify(ring::Event::Data);
    }
    void release(Client& c) {
        if (c.rx.unreleased_bytes() == 0)
            return;
        c.rx.release();
        if (c.rx.producer_waiting())
            c.rx_waiter.notify(ring::Event::Space);
    }
    void commit_and_release(Client& c) {
        commit(c);
        release(c);
    }

    void drop(uint32_t i, Status why) {
        slot(i).~Client();
        live_[i] = false;
        --clients_;
        if (config_.on_drop)
            config_.on_drop(config_.context, i, why);
    }

    ring::Control* events_control_;
    ring::Consumer events_;
    W events_waiter_;
    Config config_;
    uint32_t dropped_seen_;
    uint64_t sleeps_ = 0, overflows_ = 0, served_ = 0;
    uint32_t clients_ = 0;
    bool yield_ = false;
    bool live_[kMaxClients] = {};
    alignas(Client) unsigned char storage_[kMaxClients][sizeof(Client)];
};

} // namespace exo
