// exo::Server: the portable server loop over the ring syscalls, with an accept ring.
#include <exo/libc.h>
#include <exo/server.hpp>

#include <new>

namespace exo {

Status Server::start(Slot memory, Cap<Ring> accept, const Core::Config& config,
                     unsigned event_log2) {
    user_ = config;
    auto events = TRY(ring_create(memory, event_log2));
    MappedEnd ev = TRY(map_ring_end(events.consumer, false));
    event_producer_ = static_cast<Cap<Ring>&&>(events.producer);
    event_consumer_ = static_cast<Cap<Ring>&&>(events.consumer);
    Core::Config c = config;
    c.context = this;
    c.handler = on_request;
    c.on_event = on_event;
    c.on_drop = on_drop;
    core_ = new (core_storage_)
        Core(ev.control, ev.data, ev.size, RingWaiter{event_consumer_.slot()}, c);
    accept_end_ = static_cast<Cap<Ring>&&>(accept);
    if (accept_end_) {
        accept_map_ = TRY(map_ring_end(accept_end_, false));
        accept_ = new (accept_storage_)
            ring::Consumer(accept_map_.control, accept_map_.data, accept_map_.size);
        TRY(sys::ring_bind(accept_end_.slot(), event_producer_.slot(), kAcceptBadge));
        accept_pending(); // what came before the binding
    }
    return Status::Ok;
}

Status Server::run(uint64_t deadline) {
    for (;;) {
        Status s = core_->run_once(deadline);
        if (s != Status::Ok)
            return s;
    }
}

// The owner's handler, with the owner's context (the core's context is this Server).
Status Server::on_request(void* self, Client& client, const Request& request, Reply& reply) {
    auto* server = static_cast<Server*>(self);
    if (server->user_.handler == nullptr)
        return Status::Unsupported;
    return server->user_.handler(server->user_.context, client, request, reply);
}

void Server::on_event(void* self, uint32_t type, const uint8_t* payload, uint32_t length) {
    auto* server = static_cast<Server*>(self);
    if (type == kEventDoorbell && length == sizeof(DoorbellEvent)) {
        DoorbellEvent bell;
        memcpy(&bell, payload, sizeof bell);
        if (bell.badge == kAcceptBadge) {
            server->accept_pending();
            return;
        }
    }
    if (server->user_.on_event)
        server->user_.on_event(server->user_.context, type, payload, length);
}

// Every NewClient on the accept ring, with its two ends; then the flag is raised and the ring
// looked at once more, so the next NewClient rings the doorbell (the Dekker handshake).
void Server::accept_pending() {
    for (;;) {
        auto m = accept_->peek();
        if (m.status() == Status::WouldBlock) {
            accept_->prepare_wait();
            auto again = accept_->peek();
            if (again.status() == Status::WouldBlock)
                break;
            accept_->finish_wait();
            if (again.ok())
                accept_->put_back(again.value());
            continue;
        }
        if (!m.ok())
            break; // Closed (whoever wired us is gone) or Malformed: accept no more
        if (m.value().type == proto::kMsgNewClient) {
            uint64_t process_id = 0; // the tag: whoever wired us names the client's process
            if (m.value().length >= sizeof process_id)
                memcpy(&process_id, m.value().data, sizeof process_id);
            auto rx = allocate_slot(), tx = allocate_slot();
            // Both ends or neither: with no slot for one, the pair stays in flight, in step
            // with the records (init sends ends in whole pairs, exo/proto/service.hpp).
            if (rx.ok() && tx.ok() &&
                sys::ring_receive_cap(accept_end_.slot(), rx.value()) == Status::Ok &&
                sys::ring_receive_cap(accept_end_.slot(), tx.value()) == Status::Ok) {
                (void)add(Cap<Ring>::adopt(rx.value()), Cap<Ring>::adopt(tx.value()), process_id);
            } else {
                for (auto* s : {&rx, &tx}) {
                    if (s->ok()) {
                        (void)sys::cap_delete(s->value());
                        free_slot(s->value());
                    }
                }
                ++dropped_;
            }
        }
        accept_->release();
    }
    accept_->release();
}

// A client the server cannot map, hold or bind is not served at all (a client without its
// doorbells would be drained once and then never again): its ends are dropped, and counted.
Result<uint32_t> Server::add(Cap<Ring> rx, Cap<Ring> tx, uint64_t tag) {
    auto rx_map = map_ring_end(rx, false);
    if (!rx_map.ok()) {
        ++dropped_;
        return rx_map.status();
    }
    auto tx_map = map_ring_end(tx, true);
    if (!tx_map.ok()) {
        unmap_ring_end(rx_map.value());
        ++dropped_;
        return tx_map.status();
    }
    const MappedEnd r = rx_map.value(), t = tx_map.value();
    auto index = core_->add(ring::Consumer(r.control, r.data, r.size), RingWaiter{rx.slot()},
                            ring::Producer(t.control, t.data, t.size), RingWaiter{tx.slot()});
    if (!index.ok()) {
        unmap_ring_end(r);
        unmap_ring_end(t);
        ++dropped_;
        return index.status();
    }
    uint32_t i = index.value();
    Status bound = sys::ring_bind(rx.slot(), event_producer_.slot(), doorbell_badge(i, false));
    if (bound == Status::Ok)
        bound = sys::ring_bind(tx.slot(), event_producer_.slot(), doorbell_badge(i, true));
    connections_[i] =
        Connection{static_cast<Cap<Ring>&&>(rx), static_cast<Cap<Ring>&&>(tx), r, t, tag};
    ++accepted_;
    if (bound != Status::Ok) {
        core_->remove(i, bound); // on_drop unbinds, unmaps and counts it
        return bound;
    }
    return i;
}

void Server::on_drop(void* self, uint32_t index, Status why) {
    auto* server = static_cast<Server*>(self);
    Connection& c = server->connections_[index];
    (void)sys::ring_bind(c.rx.slot(), kNullSlot, 0);
    (void)sys::ring_bind(c.tx.slot(), kNullSlot, 0);
    unmap_ring_end(c.rx_map);
    unmap_ring_end(c.tx_map);
    c.rx.reset();
    c.tx.reset();
    ++server->dropped_;
    if (server->user_.on_drop)
        server->user_.on_drop(server->user_.context, index, why);
}

} // namespace exo
