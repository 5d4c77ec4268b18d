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

// Supervision by request, for a program whose manifest line says `control` (the console); any
// other program gets AccessDenied. NAME is a program's name as the manifest spells it; every
// instance of it is meant.
//   Programs: ProgramsRequest -> ProgramsReply, up to kProgramsPerReply records from `first`
//             on (page with first += count until count is 0).
//   Kill:     ControlRequest -> ControlReply: ProcessKill on each running instance; supervision
//             then does what it does for any kill (a restart, counted against restarts=).
//   Restart:  ControlRequest -> ControlReply: each instance is stopped and started again with
//             the same grants; not counted against restarts=, and a program given up is
//             started again.
// Errors: NotFound (no such program), BadState (Kill: none of it is running).
inline constexpr uint32_t kMsgPrograms = kFirstMessage + 1;
inline constexpr uint32_t kMsgKill = kFirstMessage + 2;
inline constexpr uint32_t kMsgRestart = kFirstMessage + 3;

enum class ProgramState : uint32_t {
    Running = 0,
    Restarting = 1, // ended; init starts it again
    GivenUp = 2,    // ended more often than restarts= allows
    Ended = 3,      // exited with code 0, or stopped by init=once
};

constexpr const char* program_state_name(uint32_t s) {
    constexpr const char* kNames[] = {"running", "restarting", "given-up", "ended"};
    return s < 4 ? kNames[s] : "?";
}

struct ProgramsRequest {
    uint32_t first; // index of the first record wanted
    uint32_t reserved;
};
static_assert(sizeof(ProgramsRequest) == 8);

struct ProgramRecord {
    uint64_t process_id; // of its current (or last) process; 0 if it never started
    uint32_t state;      // ProgramState
    uint32_t restarts;   // times init started it again since boot
    char name[32];       // NUL-terminated
};
static_assert(sizeof(ProgramRecord) == 48);

inline constexpr uint32_t kProgramsPerReply = 16;
struct ProgramsReply {
    uint32_t count; // records that follow in `programs`
    uint32_t total; // programs init supervises
    ProgramRecord programs[kProgramsPerReply];
};
static_assert(sizeof(ProgramsReply) == 8 + 48 * kProgramsPerReply);

struct ControlRequest {
    char name[32]; // NUL-terminated program name
};
static_assert(sizeof(ControlRequest) == 32);

struct ControlReply {
    int32_t status;     // Ok
    uint32_t processes; // instances killed or restarted
};
static_assert(sizeof(ControlReply) == 8);

} // namespace exo::proto::init
