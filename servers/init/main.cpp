// init, the root process: it holds every capability the kernel gives out, starts the programs
// that the boot manifest names and gives each only what its line grants (a quota, the log, a
// port range, an interrupt line, the services it serves and those it may connect to, the System
// capability). Then it serves and supervises from one wait on its event ring (exo::Server):
// Connect requests from the programs (exo/proto/init.hpp), control requests (Programs, Kill,
// Restart) from those whose line says `control`, and the end of each program (ProcessWatch). A
// program that faults or exits with a code other than 0 is restarted with the same grants,
// unless its restart budget is spent (restarts=N within=MS): then init gives it up and the rest
// goes on.
//
// Arguments (the kernel's `init=`, comma-separated): `once` waits for every program that serves
// nothing to end, stops the servers, checks that each quota came back empty and exits (the
// guest tests use it); `manifest=NAME` reads the boot module NAME instead of "manifest".
// docs/servers.md describes connections and supervision.
#include "manifest.hpp"

#include <exo/boot_info.hpp>
#include <exo/connect.hpp>
#include <exo/format.hpp>
#include <exo/kv.hpp>
#include <exo/libc.h>
#include <exo/log.hpp>
#include <exo/proto/init.hpp>
#include <exo/runtime.hpp>
#include <exo/server.hpp>
#include <exo/spawn.hpp>

#include <new>

namespace {

using namespace exo;
using srv::init::RestartBudget;
using srv::init::ServerEntry;

constexpr size_t kMaxPrograms = 128;
constexpr unsigned kLinkRingLog2 = 12;        // a program's link to init, each way
constexpr unsigned kAcceptRingLog2 = 12;      // a server's accept ring: 100 NewClient records
constexpr uint64_t kSettleNs = 2'000'000'000; // for an ended program's last frames to come back

enum class State : uint8_t {
    Idle,      // not started yet
    Running,   // started, not ended
    Stopping,  // killed by init (once, at the end): not restarted
    Replacing, // killed by init for a Restart request: started again when its end arrives
    Ended,     // ended for good: exited with 0, or stopped
    GivenUp,   // ended too often within its restart window, or could not be restarted
};

struct Program {
    ServerEntry entry; // its manifest line
    char label[64];    // for the log: its name, and for a server ":" and its first service
    RestartBudget budget;
    State state = State::Idle;
    bool ended_badly = false; // its last end was a fault, a kill or a code other than 0
    uint32_t starts = 0;
    uint32_t restarts = 0; // by supervision, since boot (not those on request)
    uint64_t process_id = 0;
    Child child;               // the running incarnation: process and quota
    Cap<Memory> retired_quota; // the last ended incarnation's, until it is seen to be empty
    uint64_t leaked = 0;       // bytes an ended incarnation's quota still held when checked
    // serve=: init's end of the accept ring (the producer), mapped.
    Cap<Ring> accept;
    MappedEnd accept_map{};
    // connect=: the program's link to init, a client of init's server (-1: none).
    int32_t link = -1;
};

// connect= and control speak to init over a link.
bool has_link(const ServerEntry& e) {
    return e.connect_count > 0 || e.control;
}

class Init {
public:
    Init(const BootInfo& info, bool once) : info_(info), once_(once) {}

    Status start_serving();
    void load(const char* text, size_t size);
    void start_all();
    int run();

private:
    const char* name_of(const Program& p) const { return p.label; }
    bool serves(const Program& p) const { return p.entry.serve_count > 0; }
    Program* provider_of(const char* service);
    Status start(Program& p);
    bool alive(const Program& p) const {
        return p.state == State::Running || p.state == State::Stopping ||
               p.state == State::Replacing;
    }
    void ended(Program& p, const ExitInfo& exit);
    void restart_or_give_up(Program& p);
    void restart_on_request(Program& p);
    void retire_quota(Program& p);
    bool clients_done() const;
    void stop_servers();
    bool all_ended() const;
    bool quotas_came_back();
    Status connect(Program& from, uint32_t link, const Request& request, Reply& reply);
    Status control(const Program& from, const Request& request, Reply& reply);
    Status list_programs(const Request& request, Reply& reply) const;
    Result<uint32_t> kill_by_name(const char* name);
    Result<uint32_t> restart_by_name(const char* name);
    Status hand_over(Program& server, const proto::init::ConnectRequest& request,
                     uint64_t client_process, Cap<Ring>& rx, Cap<Ring>& tx);

    static Status on_request(void* self, Server::Client& client, const Request& request,
                             Reply& reply);
    static void on_event(void* self, uint32_t type, const uint8_t* payload, uint32_t length);
    static void on_drop(void* self, uint32_t index, Status why);

    const BootInfo& info_;
    const bool once_;
    Server server_;
    Program programs_[kMaxPrograms];
    size_t count_ = 0;
    size_t failures_ = 0; // manifest lines skipped, programs that could not start
};

// ---- Starting ---------------------------------------------------------------------------------

Status Init::start_serving() {
    Server::Core::Config config;
    config.protocol = proto::init::kProtocol;
    config.version = proto::init::kVersion;
    config.max_reply = sizeof(proto::init::ProgramsReply);
    config.context = this;
    config.handler = on_request;
    config.on_event = on_event;
    config.on_drop = on_drop;
    // Room for every binding's doorbell (two per link) and every program's end at once.
    return server_.start(kSlotMemory, Cap<Ring>(), config, 15);
}

void Init::load(const char* text, size_t size) {
    srv::init::parse_manifest(
        text, size,
        [&](const ServerEntry& e) {
            for (size_t s = 0; s < e.serve_count; ++s) {
                if (provider_of(e.serve[s]) != nullptr || (e.count > 1)) {
                    print("init: '%s' cannot serve '%s': %s", e.name, e.serve[s],
                          e.count > 1 ? "a service has one server (count=1)"
                                      : "another program serves it");
                    ++failures_;
                    return;
                }
            }
            for (uint32_t instance = 0; instance < e.count; ++instance) {
                if (count_ == kMaxPrograms) {
                    print("init: more than %zu programs; '%s' not started", kMaxPrograms, e.name);
                    ++failures_;
                    return;
                }
                Program& p = programs_[count_++];
                p.entry = e;
                format(p.label, sizeof p.label, e.serve_count ? "%s:%s" : "%s", e.name, e.serve[0]);
                p.budget = RestartBudget(e.restarts, e.within_ms * 1'000'000);
            }
        },
        [&](size_t line, const char* why) {
            print("init: manifest line %zu: %s (skipped)", line, why);
            ++failures_;
        });
}

void Init::start_all() {
    for (size_t i = 0; i < count_; ++i) {
        if (start(programs_[i]) != Status::Ok) {
            programs_[i].state = State::GivenUp;
            ++failures_;
        }
    }
}

Program* Init::provider_of(const char* service) {
    for (size_t i = 0; i < count_; ++i) {
        const ServerEntry& e = programs_[i].entry;
        for (size_t s = 0; s < e.serve_count; ++s)
            if (strcmp(e.serve[s], service) == 0)
                return &programs_[i];
    }
    return nullptr;
}

// One incarnation of `p`, with the capabilities its line grants, narrowed from init's own; init
// keeps no copy of what the program holds, so the program's end is its capabilities' end.
Status Init::start(Program& p) {
    const ServerEntry& e = p.entry;
    const BootModule* module = find_module(info_, e.name);
    if (module == nullptr) {
        print("init: no module '%s' for the manifest", e.name);
        return Status::NotFound;
    }
    // The kernel gives the root the System capability; without it, the line cannot be met.
    CapInfo system{};
    if (e.system_rights && (sys::cap_info(kSlotSystem, &system) != Status::Ok ||
                            system.type != uint16_t(ObjectType::System))) {
        print("init: '%s' not started: its line grants the System capability (system), which "
              "init does not hold",
              e.name);
        return Status::NotFound;
    }
    SpawnGrant grants[6];
    size_t grant_count = 0;
    Cap<IoPorts> ports;
    Cap<Irq> irq;
    if (e.port_count) {
        ports = Cap<IoPorts>::adopt(TRY(allocate_slot()));
        TRY(sys::cap_narrow(kSlotIoPorts, e.port_first, e.port_count, ports.slot()));
        grants[grant_count++] = {ports.slot(), kSlotIoPorts, kRightsAll};
    }
    if (e.has_irq) {
        irq = Cap<Irq>::adopt(TRY(allocate_slot()));
        TRY(sys::cap_narrow(kSlotIrq, e.irq, 1, irq.slot()));
        grants[grant_count++] = {irq.slot(), kSlotIrq, kRightsAll};
    }
    RingPair accept, to_init, from_init;
    if (serves(p)) {
        accept = TRY(ring_create(kSlotMemory, kAcceptRingLog2));
        grants[grant_count++] = {accept.consumer.slot(), kSlotAccept, kRightsAll};
    }
    if (e.system_rights)
        grants[grant_count++] = {kSlotSystem, kSlotSystem, e.system_rights};
    if (has_link(e)) {
        to_init = TRY(ring_create(kSlotMemory, kLinkRingLog2));
        from_init = TRY(ring_create(kSlotMemory, kLinkRingLog2));
        grants[grant_count++] = {to_init.producer.slot(), kSlotInitTx, kRightsAll};
        grants[grant_count++] = {from_init.consumer.slot(), kSlotInitRx, kRightsAll};
    }
    SpawnOptions options;
    options.name = e.name;
    options.quota_bytes = e.quota_bytes;
    options.give_log = e.log;
    options.grants = grants;
    options.grant_count = grant_count;
    options.arg = e.arg;
    auto child = spawn(reinterpret_cast<const void*>(module->address), module->size, options);
    if (!child.ok()) {
        print("init: cannot start '%s': %s", e.name, status_name(child.status()));
        return child.status();
    }
    p.child = child.release_value();
    ProcessInfo pi{};
    (void)sys::process_info(p.child.process.slot(), &pi);
    p.process_id = pi.id;
    p.state = State::Running;
    ++p.starts;
    // Its end comes as an event; at once if it has already ended.
    if (Status s = sys::process_watch(p.child.process.slot(), server_.event_producer());
        s != Status::Ok) {
        print("init: cannot watch '%s': %s; stopping it", e.name, status_name(s));
        (void)sys::process_kill(p.child.process.slot());
        p.child = Child();
        p.state = State::GivenUp;
        return s;
    }
    if (serves(p)) {
        auto mapped = map_ring_end(accept.producer, true);
        if (mapped.ok()) {
            p.accept = static_cast<Cap<Ring>&&>(accept.producer);
            p.accept_map = mapped.value();
        } else {
            print("init: cannot map the accept ring of '%s': %s", e.name,
                  status_name(mapped.status()));
        }
    }
    if (has_link(e)) {
        auto link =
            server_.add(static_cast<Cap<Ring>&&>(to_init.consumer),
                        static_cast<Cap<Ring>&&>(from_init.producer), uint64_t(&p - programs_));
        p.link = link.ok() ? int32_t(link.value()) : -1;
        if (!link.ok())
            print("init: no link to '%s': %s", e.name, status_name(link.status()));
    }
    print("init: started '%s' (quota %lu KiB%s)%s", name_of(p), e.quota_bytes >> 10,
          e.log ? ", log" : "", p.starts > 1 ? " again" : "");
    return Status::Ok;
}

// ---- Supervision ------------------------------------------------------------------------------

void Init::on_event(void* self, uint32_t type, const uint8_t* payload, uint32_t length) {
    auto* init = static_cast<Init*>(self);
    if (type != kEventChild || length != sizeof(ChildEvent))
        return;
    ChildEvent event;
    memcpy(&event, payload, sizeof event);
    for (size_t i = 0; i < init->count_; ++i) {
        Program& p = init->programs_[i];
        // By process id: the end of an incarnation that init already replaced matches nothing.
        if (init->alive(p) && p.process_id == event.process_id) {
            init->ended(p, event.exit);
            return;
        }
    }
}

void Init::ended(Program& p, const ExitInfo& exit) {
    const bool stopping = p.state == State::Stopping;
    const bool replacing = p.state == State::Replacing;
    server_.core().yield_to_owner(); // run() looks at what is left
    const auto reason = ExitReason(exit.reason);
    if (reason == ExitReason::Exited) {
        print("init: '%s' exited with %ld", name_of(p), exit.code);
    } else if (reason == ExitReason::Faulted) {
        print("init: '%s' faulted: vector %u at %#lx (address %#lx)", name_of(p), exit.vector,
              exit.address, exit.fault_address);
    } else {
        print("init: '%s' was killed%s", name_of(p),
              stopping    ? " (stopped by init)"
              : replacing ? " (for a restart on request)"
                          : "");
    }
    // Its link and accept ring go with it: whatever was in flight on them is dropped, and its
    // clients already read Closed (the kernel closed its ends before it told us).
    if (p.link >= 0)
        server_.core().remove(uint32_t(p.link), Status::Closed);
    if (p.accept) {
        unmap_ring_end(p.accept_map);
        p.accept.reset();
    }
    p.child.process.reset();
    retire_quota(p);
    p.ended_badly = !stopping && !replacing && !(reason == ExitReason::Exited && exit.code == 0);
    if (replacing) {
        restart_on_request(p);
        return;
    }
    if (!p.ended_badly) {
        p.state = State::Ended;
        return;
    }
    restart_or_give_up(p);
}

void Init::restart_or_give_up(Program& p) {
    if (!p.budget.allow(sys::clock_ns())) {
        print("init: '%s' ended %u times, more than restarts=%u within %lu ms: given up%s",
              name_of(p), p.restarts + 1, p.entry.restarts, p.entry.within_ms,
              serves(p) ? "; its services are unavailable" : "");
        p.state = State::GivenUp;
        return;
    }
    ++p.restarts;
    print("init: restarting '%s' (restart %u)", name_of(p), p.restarts);
    if (start(p) != Status::Ok) {
        print("init: '%s' could not be restarted: given up", name_of(p));
        p.state = State::GivenUp;
    }
}

// A Restart request's start: with a fresh restart budget, and not counted as a restart.
void Init::restart_on_request(Program& p) {
    p.budget = RestartBudget(p.entry.restarts, p.entry.within_ms * 1'000'000);
    p.ended_badly = false;
    if (start(p) != Status::Ok) {
        print("init: '%s' could not be restarted on request: given up", name_of(p));
        p.state = State::GivenUp;
    }
}

// The ended incarnation's quota is kept until the next end (or the final check) so that its last
// frames, freed as the kernel reaps its threads, can be seen to come back.
void Init::retire_quota(Program& p) {
    if (p.retired_quota) {
        MemoryInfo m{};
        if (sys::memory_info(p.retired_quota.slot(), &m) == Status::Ok && m.used != 0) {
            print("init: an earlier '%s' still holds %lu bytes of its quota", name_of(p), m.used);
            p.leaked += m.used;
        }
    }
    p.retired_quota = static_cast<Cap<Memory>&&>(p.child.quota);
}

void Init::on_drop(void* self, uint32_t index, Status why) {
    auto* init = static_cast<Init*>(self);
    const uint64_t tag = init->server_.tag(index);
    if (tag >= init->count_)
        return;
    Program& p = init->programs_[tag];
    if (p.link == int32_t(index)) {
        p.link = -1;
        if (why != Status::Closed)
            print("init: dropped the link of '%s': %s", init->name_of(p), status_name(why));
    }
}

// ---- Connections ------------------------------------------------------------------------------

Status Init::on_request(void* self, Server::Client& client, const Request& request, Reply& reply) {
    auto* init = static_cast<Init*>(self);
    const uint64_t tag = init->server_.tag(client.index);
    if (tag >= init->count_)
        return Status::BadState;
    Program& from = init->programs_[tag];
    if (request.type == proto::init::kMsgConnect)
        return init->connect(from, client.index, request, reply);
    return init->control(from, request, reply);
}

Status Init::connect(Program& from, uint32_t link, const Request& request, Reply& reply) {
    using proto::init::ConnectRequest;
    if (request.type != proto::init::kMsgConnect)
        return Status::Unsupported;
    if (request.length < sizeof(ConnectRequest))
        return Status::Truncated;
    ConnectRequest r;
    memcpy(&r, request.payload, sizeof r); // once: the client may rewrite the record
    // Exactly the ends the record announces come off the ring, whatever the answer; a client
    // that announces more than two, or fewer than it sent, only confuses its own link.
    if (r.ends > 2)
        return Status::Malformed;
    Cap<Ring> ends[2];
    for (uint32_t i = 0; i < r.ends; ++i) {
        Slot slot = TRY(allocate_slot());
        if (sys::ring_receive_cap(server_.request_end(link), slot) != Status::Ok) {
            free_slot(slot);
            return Status::Malformed; // announced, never sent
        }
        ends[i] = Cap<Ring>::adopt(slot);
    }
    if (r.ends != 2)
        return Status::InvalidArgument;
    CapInfo rx{}, tx{};
    if (sys::cap_info(ends[0].slot(), &rx) != Status::Ok ||
        sys::cap_info(ends[1].slot(), &tx) != Status::Ok || rx.type != uint16_t(ObjectType::Ring) ||
        rx.count != 0 || tx.type != uint16_t(ObjectType::Ring) || tx.count != 1)
        return Status::WrongType;
    // Both must be movable on, or neither is sent (hand_over's pairing).
    if (!(rx.rights & kRightGrant) || !(tx.rights & kRightGrant))
        return Status::AccessDenied;
    if (memchr(r.service, '\0', sizeof r.service) == nullptr)
        return Status::InvalidArgument;
    bool granted = false;
    for (size_t i = 0; i < from.entry.connect_count; ++i)
        granted = granted || strcmp(from.entry.connect[i], r.service) == 0;
    if (!granted) {
        print("init: '%s' may not connect to '%s' (not granted)", name_of(from), r.service);
        return Status::AccessDenied;
    }
    Program* server = provider_of(r.service);
    if (server == nullptr)
        return Status::NotFound;
    if (server->state != State::Running || !server->accept)
        return Status::Unavailable;
    TRY(hand_over(*server, r, from.process_id, ends[0], ends[1]));
    proto::init::ConnectReply answer{int32_t(Status::Ok), 0};
    memcpy(reply.data, &answer, sizeof answer);
    reply.length = sizeof answer;
    return Status::Ok;
}

// The two ends, then a NewClient record, on the server's accept ring. The record's room is taken
// first, so ends never wait there without their record. A server takes the ends of each record
// in order and stops at the first it cannot take, so the ends must go in whole pairs or not at
// all, or one record's end would be taken as the next one's. They do: both carry Grant (checked
// above), so a send can only fail for want of room, and the ring's queue of ends in flight has
// an even size and is filled and emptied in pairs, so room for the first end is room for both.
Status Init::hand_over(Program& server, const proto::init::ConnectRequest& request,
                       uint64_t client_process, Cap<Ring>& rx, Cap<Ring>& tx) {
    const MappedEnd& m = server.accept_map;
    ring::Producer accept(m.control, m.data, m.size);
    auto record = accept.reserve(sizeof(proto::NewClient), proto::kMsgNewClient);
    if (!record.ok())
        return record.status() == Status::WouldBlock ? Status::WouldBlock : Status::Unavailable;
    Status sent = sys::ring_send_cap(server.accept.slot(), rx.slot());
    if (sent == Status::WouldBlock) {
        accept.cancel();
        return Status::WouldBlock; // the server has not taken earlier ends yet
    }
    if (sent == Status::Ok) {
        free_slot(rx.release());
        sent = sys::ring_send_cap(server.accept.slot(), tx.slot());
        if (sent == Status::Ok)
            free_slot(tx.release());
    }
    proto::NewClient hello{client_process, request.protocol, request.version, {}};
    memcpy(hello.service, request.service, sizeof hello.service);
    memcpy(record.value(), &hello, sizeof hello);
    accept.commit();
    if (accept.consumer_waiting())
        (void)sys::ring_notify(server.accept.slot());
    if (sent != Status::Ok)
        return sent == Status::WouldBlock ? Status::WouldBlock : Status::Unavailable;
    return Status::Ok;
}

// ---- Control (`control`: the console) --------------------------------------------------------

// The answer to Programs, Kill or Restart. Kill and Restart act now; the ends they cause come
// later as events, after this answer, and are told apart from other ends by process id.
Status Init::control(const Program& from, const Request& request, Reply& reply) {
    using namespace proto::init;
    if (request.type != kMsgPrograms && request.type != kMsgKill && request.type != kMsgRestart)
        return Status::Unsupported;
    if (!from.entry.control) {
        print("init: '%s' may not control programs (no control)", name_of(from));
        return Status::AccessDenied;
    }
    if (request.type == kMsgPrograms)
        return list_programs(request, reply);
    if (request.length < sizeof(ControlRequest))
        return Status::Truncated;
    ControlRequest r;
    memcpy(&r, request.payload, sizeof r); // once: the client may rewrite the record
    if (memchr(r.name, '\0', sizeof r.name) == nullptr)
        return Status::InvalidArgument;
    auto done = request.type == kMsgKill ? kill_by_name(r.name) : restart_by_name(r.name);
    if (!done.ok())
        return done.status();
    ControlReply answer{int32_t(Status::Ok), done.value()};
    memcpy(reply.data, &answer, sizeof answer);
    reply.length = sizeof answer;
    return Status::Ok;
}

proto::init::ProgramState program_state(State s) {
    using proto::init::ProgramState;
    switch (s) {
    case State::Running:
        return ProgramState::Running;
    case State::Idle: // only before start_all
    case State::Replacing:
        return ProgramState::Restarting;
    case State::GivenUp:
        return ProgramState::GivenUp;
    case State::Stopping:
    case State::Ended:
        break;
    }
    return ProgramState::Ended;
}

// Records of the programs from `first` on, in manifest order, one per instance; written in place
// (up to kProgramsPerReply of them) and only as many as there are.
Status Init::list_programs(const Request& request, Reply& reply) const {
    using namespace proto::init;
    if (request.length < sizeof(ProgramsRequest))
        return Status::Truncated;
    ProgramsRequest r;
    memcpy(&r, request.payload, sizeof r);
    uint32_t count = 0;
    for (size_t i = r.first; i < count_ && count < kProgramsPerReply; ++i, ++count) {
        const Program& p = programs_[i];
        ProgramRecord record{};
        record.process_id = p.process_id;
        record.state = uint32_t(program_state(p.state));
        record.restarts = p.restarts;
        memcpy(record.name, p.entry.name, strnlen(p.entry.name, sizeof record.name - 1));
        memcpy(reply.data + offsetof(ProgramsReply, programs) + count * sizeof record, &record,
               sizeof record);
    }
    const uint32_t header[2] = {count, uint32_t(count_)}; // ProgramsReply's count and total
    static_assert(offsetof(ProgramsReply, programs) == sizeof header);
    memcpy(reply.data, header, sizeof header);
    reply.length = uint32_t(sizeof header + count * sizeof(ProgramRecord));
    return Status::Ok;
}

// Kill: each running instance of `name`; supervision handles their ends as any other kill.
Result<uint32_t> Init::kill_by_name(const char* name) {
    bool found = false;
    uint32_t killed = 0;
    for (size_t i = 0; i < count_; ++i) {
        Program& p = programs_[i];
        if (strcmp(p.entry.name, name) != 0)
            continue;
        found = true;
        if (p.state != State::Running || sys::process_kill(p.child.process.slot()) != Status::Ok)
            continue;
        print("init: '%s' killed on request", name_of(p));
        ++killed;
    }
    if (!found)
        return Status::NotFound;
    if (killed == 0)
        return Status::BadState;
    return killed;
}

// Restart: a running instance is killed and marked Replacing, and ended() starts it again when
// its end arrives (one incarnation at a time: the old one's ports, interrupt line and quota are
// free by then); one that is not running starts now. Either way with a fresh restart budget and
// not counted as a restart. One being stopped by init=once stays stopped.
Result<uint32_t> Init::restart_by_name(const char* name) {
    bool found = false;
    uint32_t restarted = 0;
    for (size_t i = 0; i < count_; ++i) {
        Program& p = programs_[i];
        if (strcmp(p.entry.name, name) != 0)
            continue;
        found = true;
        if (p.state == State::Stopping)
            continue;
        if (p.state == State::Replacing) { // a restart already under way
            ++restarted;
            continue;
        }
        print("init: restarting '%s' on request", name_of(p));
        if (p.state == State::Running) {
            (void)sys::process_kill(p.child.process.slot()); // its end arrives as an event
            p.state = State::Replacing;
            ++restarted;
            continue;
        }
        restart_on_request(p);
        restarted += p.state == State::Running;
    }
    if (!found)
        return Status::NotFound;
    return restarted;
}

// ---- The end (once) ---------------------------------------------------------------------------

bool Init::clients_done() const {
    for (size_t i = 0; i < count_; ++i) {
        const Program& p = programs_[i];
        if (!serves(p) && alive(p))
            return false;
    }
    return true;
}

void Init::stop_servers() {
    for (size_t i = 0; i < count_; ++i) {
        Program& p = programs_[i];
        if (p.state == State::Running || p.state == State::Replacing) {
            p.state = State::Stopping; // a Replacing one is not started again either
            (void)sys::process_kill(p.child.process.slot());
        }
    }
}

bool Init::all_ended() const {
    for (size_t i = 0; i < count_; ++i)
        if (alive(programs_[i]))
            return false;
    return true;
}

// Every quota an ended program had is empty once the kernel has reaped its threads.
bool Init::quotas_came_back() {
    bool all = true;
    const uint64_t deadline = sys::clock_ns() + kSettleNs;
    for (size_t i = 0; i < count_; ++i) {
        Program& p = programs_[i];
        MemoryInfo m{};
        while (p.retired_quota && sys::memory_info(p.retired_quota.slot(), &m) == Status::Ok &&
               m.used != 0 && sys::clock_ns() < deadline)
            pause_until(sys::clock_ns() + 1'000'000);
        const uint64_t held = (p.retired_quota ? m.used : 0) + p.leaked;
        if (held != 0)
            print("init: '%s' left %lu bytes of its quota behind", name_of(p), held);
        all = all && held == 0;
        p.retired_quota.reset();
    }
    return all;
}

int Init::run() {
    bool stopped = false, announced = false;
    for (;;) {
        if (once_ && !stopped && clients_done()) {
            stop_servers();
            stopped = true;
        }
        if (all_ended() && !announced) {
            announced = true;
            bool good = failures_ == 0;
            for (size_t i = 0; i < count_; ++i) {
                const Program& p = programs_[i];
                good = good && (serves(p) || !p.ended_badly);
            }
            good = quotas_came_back() && good;
            print("init: all servers ended%s", good ? "; every quota came back" : " (with errors)");
            if (once_)
                return good ? 0 : 1;
        }
        // Nothing left to supervise outside `once`: init stays, serving connections.
        Status s = server_.core().run_once();
        if (s != Status::Ok) {
            print("init: the event ring failed: %s", status_name(s));
            return 1;
        }
    }
}

// init's state, in static storage and never destroyed (the root process ends with the machine's
// run, or by ProcessExit).
alignas(Init) unsigned char init_storage[sizeof(Init)];

} // namespace

int exo_main(uint64_t arg) {
    const auto& info = *reinterpret_cast<const BootInfo*>(arg);
    if (info.magic != kBootInfoMagic) {
        print("init: no boot information");
        return 1;
    }
    bool once = false;
    char manifest_name[kBootNameLength] = "manifest";
    std::string_view args(info.args, strnlen(info.args, sizeof info.args));
    for (;;) {
        Split word = split_at(args, ',');
        Split kv = split_at(word.head, '=');
        if (word.head == "once") {
            once = true;
        } else if (kv.found && kv.head == "manifest" && !kv.tail.empty() &&
                   kv.tail.size() < sizeof manifest_name) {
            memcpy(manifest_name, kv.tail.data(), kv.tail.size());
            manifest_name[kv.tail.size()] = '\0';
        } else if (!word.head.empty()) {
            print("init: unknown argument '%.*s' (ignored)", int(word.head.size()),
                  word.head.data());
        }
        if (!word.found)
            break;
        args = word.tail;
    }
    print("init: %lu boot modules", info.module_count);
    const BootModule* manifest = find_module(info, manifest_name);
    if (manifest == nullptr) {
        print("init: no manifest module '%s'", manifest_name);
        return 1;
    }
    Init& init = *new (init_storage) Init(info, once);
    if (Status s = init.start_serving(); s != Status::Ok) {
        print("init: cannot serve: %s", status_name(s));
        return 1;
    }
    init.load(reinterpret_cast<const char*>(manifest->address), manifest->size);
    init.start_all();
    return init.run();
}
