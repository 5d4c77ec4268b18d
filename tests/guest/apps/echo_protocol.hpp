// The echo service of the server-loop guest tests: echo-server answers each request with the
// FNV-1a checksum of its payload; echo-client checks every answer. Built on exo/proto/service.hpp
// (Hello first, RpcHeader ids).
#pragma once

#include "ring_protocol.hpp"

#include <exo/proto/service.hpp>

namespace exo::test {

inline constexpr uint32_t kEchoProtocol = proto::fourcc("echo");
inline constexpr uint32_t kEchoVersion = 1;
inline constexpr uint32_t kMsgChecksum = proto::kFirstMessage;  // payload: bytes; reply: u64
inline constexpr uint32_t kMsgStats = proto::kFirstMessage + 1; // reply: EchoStats
// The server faults on purpose (a write to address 0), after logging the time: how the
// supervision test kills a server mid-stream. No reply.
inline constexpr uint32_t kMsgCrash = proto::kFirstMessage + 2;
// echo-server's argument: bit 0 set, it faults as it starts (a server init must give up).
inline constexpr uint64_t kEchoCrashAtStart = 1;

struct EchoStats {
    uint64_t clients;  // connected now
    uint64_t accepted; // since the server started
    uint64_t dropped;  // clients that left or were dropped
    uint64_t sleeps;   // waits on the event ring
    uint64_t served;   // requests answered, all clients
    uint64_t notifies; // RingNotify calls the server made
};
static_assert(sizeof(EchoStats) == 48);

// What echo-client does, by its argument's low byte; the next bytes are a seed.
enum class EchoMode : uint8_t {
    Normal = 0,        // Hello, then kEchoRequests checked requests; exits 0 if all were right
    Garbage = 1,       // Hello, then a record too short for its RpcHeader
    DieMidRequest = 2, // Hello, then a request it never waits for: it exits at once
    WrongVersion = 3,  // Hello with version 2: exits 0 if it was refused with VersionMismatch
    GarbageIndex = 4,  // Hello, then a tail index past anything it sent
    // Under init (a connection to the service "echo" with exo::connect), its seed its process id:
    Supervised = 5, // kEchoRequests checked requests, and more until it has seen the server go
                    // (Closed) once: then it logs the time, reconnects and goes on
    Crasher = 6,    // 200 requests; once every supervised client is connected, kMsgCrash; it
                    // must read Closed, reconnect and make 200 more
    Ungranted = 7,  // connecting to "echo" must be refused with AccessDenied
    GivenUp = 8,    // connecting to "crashy" must end in Unavailable, and stay so
    Load = 9,       // checked requests, 16 in flight, until the server goes (Closed): then it
                    // exits 0 (the steady load of bench-server)
};
inline constexpr uint32_t kEchoRequests = 1000;
// Supervised clients in the supervision test's manifest (tests/guest/manifests/supervise.manifest).
inline constexpr uint64_t kSupervisedClients = 8;

} // namespace exo::test
