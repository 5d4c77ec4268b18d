// A server for programs: exo::RpcServer over the ring syscalls. It owns an event ring that the
// kernel posts doorbells (and the owner's timers, child exits, interrupts) into, and an accept
// ring on which whoever wires connections (init, or a test's root process) hands it new
// clients: the two ring ends of a connection, then a NewClient record (exo/proto/service.hpp).
// Each client's ends are mapped and bound to the event ring; a client that leaves is unbound and
// unmapped. docs/servers.md describes the protocol.
#pragma once

#include <exo/channel.hpp>
#include <exo/rpc_server.hpp>

namespace exo {

class Server {
public:
    using Core = RpcServer<RingWaiter>;
    using Client = Core::Client;

    // The event ring: 2^event_log2 bytes, charged to `memory`; `accept`: the consumer end of
    // the accept ring (it is bound to the event ring too).
    Status start(Slot memory, Cap<Ring> accept, const Core::Config& config,
                 unsigned event_log2 = 14);

    // Serves until `deadline` (ClockGet ns; ring::kNoDeadline: for ever): TimedOut then.
    Status run(uint64_t deadline = ring::kNoDeadline);

    // A client whose ends the owner holds itself (init's own clients): the consumer end of its
    // request ring and the producer end of its response ring, mapped and bound here. `tag` is
    // the owner's, for tag(). Its index, or why it could not be served (its ends are dropped).
    Result<uint32_t> add(Cap<Ring> rx, Cap<Ring> tx, uint64_t tag = 0);
    // Of a live client: its tag (for clients from the accept ring: NewClient::process_id), and
    // its request ring's end (for RingReceiveCap), its response ring's end (for RingSendCap).
    uint64_t tag(uint32_t index) const { return connections_[index].tag; }
    Slot request_end(uint32_t index) const { return connections_[index].rx.slot(); }
    Slot response_end(uint32_t index) const { return connections_[index].tx.slot(); }

    Core& core() { return *core_; }
    uint64_t accepted() const { return accepted_; }
    uint64_t dropped() const { return dropped_; }
    // The producer end of the event ring, for TimerSet, ProcessWatch and IrqBind.
    Slot event_producer() const { return event_producer_.slot(); }

private:
    static constexpr uint64_t kAcceptBadge = uint64_t(1) << 40;

    struct Connection {
        Cap<Ring> rx, tx;
        MappedEnd rx_map{}, tx_map{};
        uint64_t tag = 0;
    };

    static Status on_request(void* self, Client& client, const Request& request, Reply& reply);
    static void on_event(void* self, uint32_t type, const uint8_t* payload, uint32_t length);
    static void on_drop(void* self, uint32_t index, Status why);
    void accept_pending();

    Core::Config user_{};
    Cap<Ring> event_producer_, event_consumer_;
    Cap<Ring> accept_end_;
    MappedEnd accept_map_{};
    ring::Consumer* accept_ = nullptr;
    alignas(ring::Consumer) unsigned char accept_storage_[sizeof(ring::Consumer)];
    Core* core_ = nullptr;
    alignas(Core) unsigned char core_storage_[sizeof(Core)];
    Connection connections_[Core::kMaxClients];
    uint64_t accepted_ = 0, dropped_ = 0;
};

} // namespace exo
