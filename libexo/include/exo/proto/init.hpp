// init's service: how a program reaches the services its manifest line grants it (connect=).
// A program started with connect= grants holds a connection to init (kSlotInitTx, kSlotInitRx);
// exo::connect (exo/connect.hpp) speaks this protocol, and init (servers/init/) serves it.
#pragma once

#include <exo/proto/service.hpp>

namespace exo::proto::init {

inline constexpr uint32_t kProtocol = fourcc("init");
inline constexpr uint32_t kVersion = 1;

// Connect: the client created two rings and sent, with RingSendCap on its request ring to init,
// the consumer end of the request ring and then the producer end of the response ring; this
// record follows. init hands both ends to the server with a NewClient record and answers
// ConnectReply{Ok}, or refuses (and deletes the ends) with an ErrorReply:
//   AccessDenied  the manifest does not grant this program the service
//   NotFound      no program of the manifest serves it
//   Unavailable   its server is down (restarting, or given up)
//   WouldBlock    its accept ring is full for now: try again
//   InvalidArgument, WrongType  a bad name or `ends`; the ends are not a request ring's
//                               consumer and a response ring's producer
//   Truncated                   a short record
inline constexpr uint32_t kMsgConnect = kFirstMessage;

struct ConnectRequest {
    char service[kServiceNameMax + 1]; // NUL-terminated
    uint32_t protocol;                 // fourcc, passed on to the server in NewClient
    uint32_t version;
    uint32_t ends; // capabilities sent before this record (2; fewer if a send failed): init
                   // takes exactly these off the ring, so the next request finds its own
    uint32_t reserved;
};
static_assert(sizeof(ConnectRequest) == 32 && offsetof(ConnectRequest, protocol) == 16 &&
              offsetof(ConnectRequest, version) == 20 && offsetof(ConnectRequest, ends) == 24);

struct ConnectReply {
    int32_t status; // Ok
    uint32_t reserved;
};
static_assert(sizeof(ConnectReply) == 8);

} // namespace exo::proto::init
