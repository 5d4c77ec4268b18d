// The server of the server-loop guest tests: exo::Server with the echo protocol. Its accept ring
// (the consumer end, in slot kSlotAccept: granted by server-test, or by init for `serve=`)
// brings it clients; it serves them all from one wait on its event ring, for ever: the test
// kills it. Granted connect=console (the console guest tests), it also adds the console command
// `echo WORDS`, which prints the words back (exo/command.hpp).
#include "echo_protocol.hpp"

#include <exo/command.hpp>
#include <exo/events.hpp>
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

// The console command: its records ring a doorbell of ours on the server's event ring.
constexpr uint64_t kConsoleBadge = uint64_t(1) << 48;
ConsoleCommands* console;

void serve_console() {
    for (;;) {
        auto c = console->poll();
        if (!c.ok())
            return; // WouldBlock: the next record rings the doorbell; Closed: the console went
        if (c.value().kind != ConsoleCommand::Kind::Run)
            continue; // Cancel: nothing runs for long here
        std::string_view words = c.value().args();
        (void)console->print(c.value().id, "%.*s\n", int(words.size()), words.data());
        (void)console->done(c.value().id, Status::Ok);
    }
}

void on_event(void*, uint32_t type, const uint8_t* payload, uint32_t length) {
    DoorbellEvent bell;
    if (type != kEventDoorbell || length != sizeof bell || !console)
        return;
    memcpy(&bell, payload, sizeof bell);
    if (bell.badge == kConsoleBadge)
        serve_console();
}

alignas(ConsoleCommands) unsigned char console_storage[sizeof(ConsoleCommands)];

// With a link to init (connect=console): registers `echo`. The console may start after us, or
// be restarting: try for 2 s.
void add_console_command(Server& server) {
    if (CapInfo link{}; sys::cap_info(kSlotInitTx, &link) != Status::Ok)
        return;
    uint64_t give_up = sys::clock_ns() + 2'000'000'000;
    for (;;) {
        auto c = ConsoleCommands::connect();
        if (c.ok()) {
            console = new (console_storage) ConsoleCommands(static_cast<ConsoleCommands&&>(c.value()));
            break;
        }
        if (sys::clock_ns() > give_up || c.status() == Status::AccessDenied) {
            print("echo-server: no console command: %s", status_name(c.status()));
            return;
        }
        pause_until(sys::clock_ns() + 10'000'000);
    }
    Status s = console->add("echo", "echo WORDS: prints the words back (echo-server)");
    if (s == Status::Ok)
        s = sys::ring_bind(console->doorbell_end(), server.event_producer(), kConsoleBadge);
    print("echo-server: console command 'echo': %s", status_name(s));
    serve_console(); // what came before the binding
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
    config.on_event = on_event;
    if (Status s = server.start(kSlotMemory, Cap<Ring>::adopt(kSlotAccept), config);
        s != Status::Ok) {
        print("echo-server: cannot start: %s", status_name(s));
        return 1;
    }
    add_console_command(server);
    print("echo-server: serving");
    Status s = server.run();
    print("echo-server: stopped: %s", status_name(s));
    return 2;
}
