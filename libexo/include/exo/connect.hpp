// Connections to services, through init (docs/servers.md): a program reaches the services its
// manifest line grants it (`connect=SVC,...`) and nothing else. The program creates the two
// rings of the connection itself (charged to its own quota), sends init the server's ends with a
// Connect request (exo/proto/init.hpp), and greets the server with Hello.
#pragma once

#include <exo/channel.hpp>

namespace exo {

struct ConnectOptions {
    unsigned ring_log2 = 12;               // each ring: 2^ring_log2 bytes, from kSlotMemory
    uint64_t deadline = ring::kNoDeadline; // sys::clock_ns() time
};

// A channel to `service`, greeted with Hello{protocol, version}. Errors:
//   AccessDenied     the manifest does not grant the service (or grants none: no link to init)
//   NotFound         no program of the manifest serves it
//   Unavailable      its server is down: restarting (try again) or given up
//   VersionMismatch  the server speaks another protocol or version of it
//   Closed           the server went between init's answer and its own (try again)
//   TimedOut         at the deadline (a full accept ring, WouldBlock, is retried until then)
// One thread of a process connects at a time (the link to init is the process's one channel).
Result<Channel> connect(const char* service, uint32_t protocol, uint32_t version,
                        const ConnectOptions& options = {});

// The first half of connect: the connection's client ends, not mapped and not greeted (a
// program may grant them to a child, which maps them and says Hello itself). Same errors but
// VersionMismatch.
Result<RingPair> connect_ends(const char* service, uint32_t protocol, uint32_t version,
                              const ConnectOptions& options = {});

// Says Hello{protocol, version} on a connection's channel (connect does it; a child given
// connect_ends' ends does it itself): Ok, VersionMismatch, or why the call failed.
Status greet(Channel& channel, uint32_t protocol, uint32_t version, uint64_t deadline);

// Sleeps until `deadline` (sys::clock_ns() time) in a ring wait that nothing wakes early.
void pause_until(uint64_t deadline);

} // namespace exo
