// What every service connection starts with, whatever the service: the client's Hello names the
// protocol and its version, and the server answers before anything else is accepted. Requests
// and responses both begin with an RpcHeader (exo/channel.hpp) whose id the response repeats;
// the record type is the message type, the same in the request and its response.
#pragma once

#include <exo/status.hpp>
#include <stddef.h>
#include <stdint.h>

namespace exo::proto {

// The first 8 bytes of every request and response payload.
struct RpcHeader {
    uint64_t id; // chosen by the client; its response repeats it
};
static_assert(sizeof(RpcHeader) == 8);

// Message types below kFirstMessage belong to the connection; each protocol numbers its own
// messages from kFirstMessage up.
inline constexpr uint32_t kMsgHello = 1; // request: Hello; response: HelloReply
inline constexpr uint32_t kMsgError = 2; // response only: ErrorReply, to any request
// On a server's accept ring (whoever wires connections to the server): NewClient, after the
// two capabilities of the connection were sent on that ring in this order: the consumer end of
// the request ring and the producer end of the response ring. Ends go on that ring in whole
// pairs, and the server takes both or neither, so each pair stays with its record.
inline constexpr uint32_t kMsgNewClient = 3;
inline constexpr uint32_t kFirstMessage = 16;

// A protocol's name as a 32-bit tag: fourcc("echo").
constexpr uint32_t fourcc(const char (&s)[5]) {
    return uint32_t(uint8_t(s[0])) | uint32_t(uint8_t(s[1])) << 8 | uint32_t(uint8_t(s[2])) << 16 |
           uint32_t(uint8_t(s[3])) << 24;
}

struct Hello {
    uint32_t protocol; // fourcc of the protocol
    uint32_t version;  // the client's version of it
};
static_assert(sizeof(Hello) == 8 && offsetof(Hello, version) == 4);

struct HelloReply {
    int32_t status;   // Ok, or VersionMismatch (wrong protocol or version)
    uint32_t version; // the server's version of the protocol
};
static_assert(sizeof(HelloReply) == 8 && offsetof(HelloReply, version) == 4);

// A request the server could not serve: the status says why (Unsupported for an unknown
// message type, Truncated for a payload shorter than its type needs, ...).
struct ErrorReply {
    int32_t status;
    uint32_t request_type;
};
static_assert(sizeof(ErrorReply) == 8 && offsetof(ErrorReply, request_type) == 4);

inline constexpr size_t kServiceNameMax = 15; // 1 to 15 of [a-z0-9-]

// What the client asked for when it connected (exo::connect): the server still checks the
// protocol and version in the client's Hello.
struct NewClient {
    uint64_t process_id; // the client's, for logs
    uint32_t protocol;   // fourcc the client asked for
    uint32_t version;
    char service[kServiceNameMax + 1]; // NUL-terminated: which of the server's services
};
static_assert(sizeof(NewClient) == 32 && offsetof(NewClient, service) == 16);

} // namespace exo::proto
