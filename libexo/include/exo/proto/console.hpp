// The console's service ("console", protocol "cons"): how a server adds commands to the shell on
// the serial port without the console growing a case per server. The server connects (manifest
// `connect=console`), says Hello, and registers each command word it answers with Register.
// From then on the roles turn round on the same connection: when the user types a line that
// starts with a registered word, the console sends Run on its response ring (an id of its own
// choosing and the whole line), and the server answers on its request ring with any number of
// Output records and then exactly one Done for that id. Ctrl-C sends Cancel; the server ends the
// command (Done) as soon as it can, and the console stops waiting for it at once.
// Every record starts with an RpcHeader. The console trusts nothing in them: a record for an id
// it did not send, or after Done, is dropped; a server that goes away ends its running command
// with Closed; a command that sends nothing for kCommandTimeoutMs ends with TimedOut.
#pragma once

#include <exo/proto/service.hpp>

namespace exo::proto::console {

inline constexpr uint32_t kProtocol = fourcc("cons");
inline constexpr uint32_t kVersion = 1;
inline constexpr uint32_t kCommandTimeoutMs = 30000;
inline constexpr size_t kWordMax = 15;     // a command word: 1 to 15 of [a-z0-9-]
inline constexpr size_t kSummaryMax = 63;  // its line in `help`
inline constexpr size_t kLineMax = 200;    // a command line, as typed
inline constexpr size_t kOutputMax = 240;  // text of one Output record

// server -> console requests (each answered with a response of the same type):
inline constexpr uint32_t kMsgRegister = kFirstMessage; // Register -> RegisterReply
// server -> console, no response:
inline constexpr uint32_t kMsgOutput = kFirstMessage + 1; // Output
inline constexpr uint32_t kMsgDone = kFirstMessage + 2;   // Done
// console -> server, no response:
inline constexpr uint32_t kMsgRun = kFirstMessage + 3;    // Run
inline constexpr uint32_t kMsgCancel = kFirstMessage + 4; // RpcHeader only

struct Register {
    RpcHeader header;
    char word[kWordMax + 1];       // NUL-terminated
    char summary[kSummaryMax + 1]; // NUL-terminated: "blk info|read|write ... : the disk"
};
static_assert(sizeof(Register) == 88);

// Ok; AlreadyExists: the word is taken (a built-in included); InvalidArgument: a bad word;
// NoMemory: the console's table of commands is full.
struct RegisterReply {
    RpcHeader header;
    int32_t status;
    uint32_t reserved;
};
static_assert(sizeof(RegisterReply) == 16);

struct Run {
    RpcHeader header;      // the command's id
    uint32_t length;       // bytes of `line` used
    uint32_t reserved;
    char line[kLineMax];   // the whole line, the word first; not NUL-terminated
};
static_assert(sizeof(Run) == 216);

struct Output {
    RpcHeader header;      // the id of the Run it belongs to
    uint32_t length;       // bytes of `text` used
    uint32_t reserved;
    char text[kOutputMax]; // shown as it is; '\n' ends a line, other control bytes show as '.'
};
static_assert(sizeof(Output) == 256);

struct Done {
    RpcHeader header;
    int32_t status; // Ok: the command succeeded (an autorun counts every other as failed)
    uint32_t reserved;
};
static_assert(sizeof(Done) == 16);

} // namespace exo::proto::console
