// Raw syscall wrappers of libexo: one inline function per call of exo/syscall.hpp (the retired
// numbers have none), returning the Status (and the value, where the call has one) exactly as
// the kernel gave them. Typed, owning handles are in exo/cap.hpp; most code wants those.
#pragma once

#include <exo/caps.hpp>
#include <exo/result.hpp>
#include <exo/status.hpp>
#include <exo/syscall.hpp>
#include <exo/system.hpp>
#include <stddef.h>
#include <stdint.h>

namespace exo {

struct SysResult {
    Status status;
    uint64_t value;
};

// The `syscall` instruction: rax, rdi, rsi, rdx, r10, r8, r9 in; rax, rdx out.
inline SysResult syscall(Sys n, uint64_t a0 = 0, uint64_t a1 = 0, uint64_t a2 = 0, uint64_t a3 = 0,
                         uint64_t a4 = 0, uint64_t a5 = 0) {
    uint64_t rax = uint64_t(n), rdx = a2;
    register uint64_t r10 asm("r10") = a3;
    register uint64_t r8 asm("r8") = a4;
    register uint64_t r9 asm("r9") = a5;
    asm volatile("syscall"
                 : "+a"(rax), "+d"(rdx), "+r"(r10), "+r"(r8), "+r"(r9)
                 : "D"(a0), "S"(a1)
                 : "rcx", "r11", "memory");
    return {Status(int32_t(rax)), rdx};
}

namespace sys {

inline Status null() {
    return syscall(Sys::Null).status;
}
inline Status yield() {
    return syscall(Sys::Yield).status;
}
inline uint64_t clock_ns() {
    return syscall(Sys::ClockGet).value;
}
inline Status log_write(Slot log, const char* text, size_t length) {
    return syscall(Sys::LogWrite, log, uint64_t(text), length).status;
}
inline Status cap_info(Slot slot, CapInfo* out) {
    return syscall(Sys::CapInfo, slot, uint64_t(out)).status;
}
inline Status cap_copy(Slot src, Slot dst, uint32_t rights) {
    return syscall(Sys::CapCopy, src, dst, rights).status;
}
inline Status cap_mint(Slot src, Slot dst, uint32_t rights, uint64_t badge) {
    return syscall(Sys::CapMint, src, dst, rights, badge).status;
}
inline Status cap_move(Slot src, Slot dst) {
    return syscall(Sys::CapMove, src, dst).status;
}
inline Status cap_delete(Slot slot) {
    return syscall(Sys::CapDelete, slot).status;
}
inline SysResult cap_revoke(Slot slot) {
    return syscall(Sys::CapRevoke, slot);
}
inline Status cap_narrow(Slot src, uint64_t first, uint64_t count, Slot dst) {
    return syscall(Sys::CapNarrow, src, first, count, dst).status;
}
inline Status memory_split(Slot memory, uint64_t bytes, Slot dst) {
    return syscall(Sys::MemorySplit, memory, bytes, dst).status;
}
inline Status memory_info(Slot memory, MemoryInfo* out) {
    return syscall(Sys::MemoryInfo, memory, uint64_t(out)).status;
}
inline Status frame_alloc(Slot memory, uint64_t pages, Slot dst) {
    return syscall(Sys::FrameAlloc, memory, pages, dst).status;
}
inline Status frame_map(Slot space, Slot frame, uint64_t vaddr, uint32_t flags) {
    return syscall(Sys::FrameMap, space, frame, vaddr, flags).status;
}
inline Status frame_unmap(Slot space, uint64_t vaddr) {
    return syscall(Sys::FrameUnmap, space, vaddr).status;
}
inline Status frame_protect(Slot space, uint64_t vaddr, uint32_t flags) {
    return syscall(Sys::FrameProtect, space, vaddr, flags).status;
}
inline Status address_space_create(Slot memory, Slot dst) {
    return syscall(Sys::AddressSpaceCreate, memory, dst).status;
}
inline Status process_create(Slot memory, Slot space, Slot dst, const char* name, size_t length) {
    return syscall(Sys::ProcessCreate, memory, space, dst, uint64_t(name), length).status;
}
inline Status process_grant(Slot process, Slot src, Slot dst, uint32_t rights) {
    return syscall(Sys::ProcessGrant, process, src, dst, rights).status;
}
inline SysResult process_start(Slot process, uint64_t entry, uint64_t stack, uint64_t arg) {
    return syscall(Sys::ProcessStart, process, entry, stack, arg);
}
[[noreturn]] inline void process_exit(int64_t code) {
    syscall(Sys::ProcessExit, uint64_t(code));
    __builtin_unreachable();
}
inline Status process_kill(Slot process) {
    return syscall(Sys::ProcessKill, process).status;
}
inline Status thread_create(Slot process, Slot memory, Slot dst) {
    return syscall(Sys::ThreadCreate, process, memory, dst).status;
}
inline SysResult thread_start(Slot thread, uint64_t entry, uint64_t stack, uint64_t arg) {
    return syscall(Sys::ThreadStart, thread, entry, stack, arg);
}
[[noreturn]] inline void thread_exit() {
    syscall(Sys::ThreadExit);
    __builtin_unreachable();
}
inline Status irq_bind(Slot irq, Slot ring_producer) {
    return syscall(Sys::IrqBind, irq, ring_producer).status;
}
inline Status irq_ack(Slot irq) {
    return syscall(Sys::IrqAck, irq).status;
}
inline Status io_port_grant(Slot ports) {
    return syscall(Sys::IoPortGrant, ports).status;
}
inline Status ring_create(Slot memory, uint64_t size_log2, Slot producer, Slot consumer) {
    return syscall(Sys::RingCreate, memory, size_log2, producer, consumer).status;
}
inline Status ring_map(Slot end, Slot space, uint64_t vaddr) {
    return syscall(Sys::RingMap, end, space, vaddr).status;
}
// deadline: ns since boot, as clock_ns() counts (0: none).
inline Status ring_wait(Slot end, uint64_t deadline_ns, uint64_t seen) {
    return syscall(Sys::RingWait, end, deadline_ns, seen).status;
}
inline Status ring_notify(Slot end) {
    return syscall(Sys::RingNotify, end).status;
}
inline Status ring_send_cap(Slot producer, Slot src) {
    return syscall(Sys::RingSendCap, producer, src).status;
}
inline Status ring_receive_cap(Slot consumer, Slot dst) {
    return syscall(Sys::RingReceiveCap, consumer, dst).status;
}
// The watches: kNullSlot as the ring end removes the watch.
inline Status process_watch(Slot process, Slot ring_producer) {
    return syscall(Sys::ProcessWatch, process, ring_producer).status;
}
inline Status thread_watch(Slot thread, Slot ring_producer, uint64_t cookie) {
    return syscall(Sys::ThreadWatch, thread, ring_producer, cookie).status;
}
// The operator's calls (exo/system.hpp).
inline Status system_info(Slot system, SystemInfo* out) {
    return syscall(Sys::SystemInfo, system, uint64_t(out)).status;
}
inline SysResult process_list(Slot system, ProcessRecord* out, size_t max, uint64_t after_id) {
    return syscall(Sys::ProcessList, system, uint64_t(out), max, after_id);
}
inline SysResult process_caps(Slot system, uint64_t process_id, CapRecord* out, size_t max,
                              Slot after) {
    return syscall(Sys::ProcessCaps, system, process_id, uint64_t(out), max, after);
}
inline SysResult log_attach(Slot system, Slot ring_producer) {
    return syscall(Sys::LogAttach, system, ring_producer);
}
inline Status log_level(Slot system, LogLevel level) {
    return syscall(Sys::LogLevel, system, uint64_t(level)).status;
}
inline SysResult log_print(Slot system, uint64_t max_records) {
    return syscall(Sys::LogPrint, system, max_records);
}
inline Status system_shutdown(Slot system, uint32_t code) {
    return syscall(Sys::SystemShutdown, system, code).status;
}
inline Status timer_set(Slot ring_producer, uint64_t timeout_ns, uint64_t cookie) {
    return syscall(Sys::TimerSet, ring_producer, timeout_ns, cookie).status;
}
inline Status ring_bind(Slot end, Slot event_producer, uint64_t badge) {
    return syscall(Sys::RingBind, end, event_producer, badge).status;
}
inline Status process_info(Slot process, ProcessInfo* out) {
    return syscall(Sys::ProcessInfo, process, reinterpret_cast<uint64_t>(out)).status;
}

} // namespace sys
} // namespace exo
