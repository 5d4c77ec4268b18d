// The one status type of Exo-OS. Its numeric values are ABI: syscalls return them to user mode,
// so values are only ever appended, never renumbered.
#pragma once

#include <stdint.h>

namespace exo {

enum class [[nodiscard]] Status : int32_t {
    Ok = 0,
    InvalidArgument = 1, // a malformed argument that no state could make valid
    OutOfRange = 2,      // an index, address or length outside what the object covers
    Truncated = 3,       // input ends before the structure it announces
    Malformed = 4,       // input is complete but its content is inconsistent
    NotFound = 5,
    NoMemory = 6,
    AlreadyExists = 7,
    Misaligned = 8,
    BadState = 9,      // the object is not in a state that allows the operation
    AccessDenied = 10, // a capability lacks a right
    WrongType = 11,    // a capability names an object of another type
    Unsupported = 12,  // valid request that this build or machine does not implement
    BufferTooSmall = 13,
    TimedOut = 14,
    Closed = 15,          // the peer is gone
    BadAddress = 16,      // a user pointer to memory that is not mapped (or not writable) there
    WouldBlock = 17,      // nothing to take or no room yet (a ring): wait, then try again
    VersionMismatch = 18, // the peer speaks another protocol, or another version of it
    Unavailable = 19,     // the service is not running now (restarting, or given up)
};

// A stable, human-readable name ("OutOfRange") for logs and test messages.
constexpr const char* status_name(Status s) {
    switch (s) {
    case Status::Ok:
        return "Ok";
    case Status::InvalidArgument:
        return "InvalidArgument";
    case Status::OutOfRange:
        return "OutOfRange";
    case Status::Truncated:
        return "Truncated";
    case Status::Malformed:
        return "Malformed";
    case Status::NotFound:
        return "NotFound";
    case Status::NoMemory:
        return "NoMemory";
    case Status::AlreadyExists:
        return "AlreadyExists";
    case Status::Misaligned:
        return "Misaligned";
    case Status::BadState:
        return "BadState";
    case Status::AccessDenied:
        return "AccessDenied";
    case Status::WrongType:
        return "WrongType";
    case Status::Unsupported:
        return "Unsupported";
    case Status::BufferTooSmall:
        return "BufferTooSmall";
    case Status::TimedOut:
        return "TimedOut";
    case Status::Closed:
        return "Closed";
    case Status::BadAddress:
        return "BadAddress";
    case Status::WouldBlock:
        return "WouldBlock";
    case Status::VersionMismatch:
        return "VersionMismatch";
    case Status::Unavailable:
        return "Unavailable";
    }
    return "Unknown";
}

} // namespace exo
