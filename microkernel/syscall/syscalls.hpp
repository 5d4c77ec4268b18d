// The syscall handlers (one small file per group), in seL4's decode-then-invoke shape: each
// resolves its capabilities and copies in its arguments first, and only then changes state.
#pragma once

#include "object/process.hpp"

#include <exo/status.hpp>
#include <exo/syscall.hpp>

namespace mk::sys {

struct Args {
    uint64_t a0, a1, a2, a3, a4, a5;
};

// rax and rdx on the way back to user mode.
struct Return {
    Return(exo::Status s) : status(s), value(0) {}
    Return(exo::Status s, uint64_t v) : status(s), value(v) {}
    exo::Status status;
    uint64_t value;
};

inline Return ok(uint64_t value = 0) {
    return Return(exo::Status::Ok, value);
}

// The calling process (syscalls only come from user threads).
inline Process& self() {
    return *current_process();
}

// A capability slot argument: beyond the largest table (the root's) is OutOfRange here; the
// process's own table checks its size.
inline exo::Result<exo::Slot> slot_arg(uint64_t value) {
    if (value >= exo::kRootCapSlots)
        return exo::Status::OutOfRange;
    return exo::Slot(value);
}

// A timeout in ns as a deadline (0: none); saturates instead of wrapping.
uint64_t deadline_after(uint64_t timeout_ns);

using Handler = Return (*)(const Args&);

Return null(const Args&);
Return yield(const Args&);
Return clock_get(const Args&);
Return log_write(const Args&);
Return cap_info(const Args&);
Return cap_copy(const Args&);
Return cap_mint(const Args&);
Return cap_move(const Args&);
Return cap_delete(const Args&);
Return cap_revoke(const Args&);
Return cap_narrow(const Args&);
Return memory_split(const Args&);
Return memory_info(const Args&);
Return frame_alloc(const Args&);
Return frame_map(const Args&);
Return frame_unmap(const Args&);
Return frame_protect(const Args&);
Return address_space_create(const Args&);
Return process_create(const Args&);
Return process_grant(const Args&);
Return process_start(const Args&);
Return process_exit(const Args&);
Return process_kill(const Args&);
Return thread_create(const Args&);
Return thread_start(const Args&);
Return thread_exit(const Args&);
Return irq_bind(const Args&);
Return irq_ack(const Args&);
Return io_port_grant(const Args&);
Return ring_create(const Args&);
Return ring_map(const Args&);
Return ring_wait(const Args&);
Return ring_notify(const Args&);
Return ring_send_cap(const Args&);
Return ring_receive_cap(const Args&);
Return process_watch(const Args&);
Return timer_set(const Args&);
Return ring_bind(const Args&);
Return process_info(const Args&);
Return thread_watch(const Args&);
// What CapInfo says of a capability (its object's kind-specific fields): sys_caps.cpp.
exo::CapInfo describe(const Capability& cap);
// The autorun= kernel option, for SystemInfo (boot, before the root starts).
void set_autorun(std::string_view text);
// The operator's calls (sys_system.cpp), each on a System capability.
Return system_info(const Args&);
Return process_list(const Args&);
Return process_caps(const Args&);
Return log_attach(const Args&);
Return log_level(const Args&);
Return system_shutdown(const Args&);
Return log_print(const Args&);

} // namespace mk::sys
