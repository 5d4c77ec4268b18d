// The server of the server-loop guest tests: exo::Server with the echo protocol. Its accept ring
// (the consumer end, in slot kSlotAccept: granted by server-test, or by init for `serve=`)
// brings it clients; it serves them all from one wait on its event ring, for ever: the test
// kills it.
#include "echo_protocol.hpp"

#include <exo/libc.h>
#include <exo/log.hpp>
#include <exo/runtime.hpp>
#include <exo/server.hpp>

#include <new>

using namespace exo;
using namespace exo::test;

namespace {

Server* the_server;

Status handle(void*, Server::Client&, const Request& request, exo::Reply& reply) {
    if (request.type == kMsgChecksum) {
        uint64_t sum = checksum(request.payload, request.length);
        memcpy(reply.data, &sum, sizeof sum);
        reply.length = sizeof sum;
        return Status::Ok;
    }
    if (request.type == kMsgCrash) {
        print("echo-server: crashing at %lu ns", sys::clock_ns());
        *reinterpret_cast<volatile uint64_t*>(0) = 0;
    }
    if (request.type == kMsgStats) {
        EchoStats stats{the_server->core().clients(), the_server->accepted(),
                        the_server->dropped(),        the_server->core().sleeps(),
                        the_server->core().served(),  ring_notifies()};
        memcpy(reply.data, &stats, sizeof stats);
        reply.length = sizeof stats;
        return Status::Ok;
    }
    return Status::Unsupported;
}

void dropped(void*, uint32_t index, Status) {
    print("echo-server: client %u left", index);
}

// Never destroyed: the process ends when killed (a static object would need atexit).
alignas(Server) unsigned char server_storage[sizeof(Server)];

} // namespace

int exo_main(uint64_t arg) {
    if (arg & kEchoCrashAtStart) {
        print("echo-server: crashing as it starts");
        *reinterpret_cast<volatile uint64_t*>(0) = 0;
    }
    Server& server = *new (server_storage) Server();
    the_server = &server;
    Server::Core::Config config;
    config.protocol = kEchoProtocol;
    config.version = kEchoVersion;
    config.max_reply = sizeof(EchoStats);
    config.handler = handle;
    config.on_drop = dropped;
    if (Status s = server.start(kSlotMemory, Cap<Ring>::adopt(kSlotAccept), config);
        s != Status::Ok) {
        print("echo-server: cannot start: %s", status_name(s));
        return 1;
    }
    print("echo-server: serving");
    Status s = server.run();
    print("echo-server: stopped: %s", status_name(s));
    return 2;
}
