// For root test programs that play init's part: start a server with an accept ring and wire
// connections to it (the two rings of each, their server ends sent over the accept ring with a
// NewClient record, exo/proto/service.hpp).
#pragma once

#include <exo/channel.hpp>
#include <exo/libc.h>
#include <exo/spawn.hpp>

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

} // namespace exo::test
