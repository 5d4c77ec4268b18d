// For root test programs that play init's part: start a server with an accept ring and wire
// connections to it (the two rings of each, their server ends sent over the accept ring with a
// NewClient record, exo/proto/service.hpp).
#pragma once

#include <exo/boot_info.hpp>
#include <exo/channel.hpp>
#include <exo/libc.h>
#include <exo/proto/memsrv.hpp>
#include <exo/spawn.hpp>

#include <new>

namespace exo::test {

struct Wiring {
    RingProducer* accept;
    uint64_t connections = 0;
};

// Moves `end` into the accept ring. A ring carries 16 capabilities in flight: while the server
// has not taken them, give it the CPU (there is no wait for room in that queue).
inline Status send_end(Wiring& w, Cap<Ring>& end) {
    Status s;
    for (int tries = 0; (s = w.accept->send_cap(end.slot())) == Status::WouldBlock; ++tries) {
        if (tries == 1'000'000)
            return s;
        (void)sys::yield();
    }
    if (s == Status::Ok)
        free_slot(end.release()); // moved into the ring: the slot is empty
    return s;
}

// A new connection to `service` of the server: the client ends are returned.
inline Result<RingPair> wire_connection(Wiring& w, uint64_t process_id, uint32_t protocol,
                                        uint32_t version, const char* service,
                                        unsigned ring_log2 = 12,
                                        uint64_t timeout = 120'000'000'000) {
    auto requests = TRY(ring_create(kSlotMemory, ring_log2));
    auto responses = TRY(ring_create(kSlotMemory, ring_log2));
    TRY(send_end(w, requests.consumer));
    TRY(send_end(w, responses.producer));
    proto::NewClient hello{process_id, protocol, version, {}};
    memcpy(hello.service, service, strnlen(service, proto::kServiceNameMax));
    TRY(w.accept->send(&hello, sizeof hello, proto::kMsgNewClient, sys::clock_ns() + timeout));
    ++w.connections;
    return RingPair{static_cast<Cap<Ring>&&>(requests.producer),
                    static_cast<Cap<Ring>&&>(responses.consumer)};
}

// A server started from its boot module with an accept ring (as init does for `serve=`), and
// our producer end of that ring.
struct StartedServer {
    Child child;
    RingProducer* accept = nullptr;
    alignas(RingProducer) unsigned char storage[sizeof(RingProducer)];
    Wiring wiring{nullptr};

    StartedServer() = default;
    StartedServer(const StartedServer&) = delete;
    ~StartedServer() { stop_accepting(); }
    void stop_accepting() {
        if (accept)
            accept->~RingProducer();
        accept = nullptr;
    }
};

inline Status start_server(const BootInfo& boot, const char* module_name, uint64_t quota,
                           StartedServer& out) {
    const BootModule* module = find_module(boot, module_name);
    if (module == nullptr)
        return Status::NotFound;
    auto accept = TRY(ring_create(kSlotMemory, 14));
    SpawnGrant grant{accept.consumer.slot(), kSlotAccept, kRightsAll};
    SpawnOptions o;
    o.name = module_name;
    o.quota_bytes = quota;
    o.grants = &grant;
    o.grant_count = 1;
    out.child = TRY(spawn(reinterpret_cast<const void*>(module->address), module->size, o));
    accept.consumer.reset();
    auto producer = TRY(RingProducer::attach(static_cast<Cap<Ring>&&>(accept.producer)));
    out.stop_accepting();
    out.accept = new (out.storage) RingProducer(static_cast<RingProducer&&>(producer));
    out.wiring = Wiring{out.accept};
    return Status::Ok;
}

// A connection to memsrv for this process's own malloc, where libexo looks for one (the slots
// are free again once malloc has taken the ends).
inline Status wire_own_malloc(StartedServer& memsrv, uint64_t id = 0) {
    namespace wire = proto::memsrv;
    RingPair ends =
        TRY(wire_connection(memsrv.wiring, id, wire::kProtocol, wire::kVersion, "memsrv", 14));
    TRY(sys::cap_move(ends.producer.slot(), kSlotMemsrvTx));
    free_slot(ends.producer.release());
    TRY(sys::cap_move(ends.consumer.slot(), kSlotMemsrvRx));
    free_slot(ends.consumer.release());
    return Status::Ok;
}

} // namespace exo::test
