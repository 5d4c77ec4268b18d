// Messages the kernel produces into rings (the only way it tells user mode of anything):
// interrupts (IrqBind), the end of a watched process (ProcessWatch) or thread (ThreadWatch),
// timers (TimerSet) and doorbells of bound rings (RingBind). Each is one ring record whose type
// is the EventType and whose payload is the struct below.
#pragma once

#include <exo/caps.hpp>
#include <stddef.h>
#include <stdint.h>

namespace exo {

enum EventType : uint32_t {
    kEventIrq = 0xE0000001,
    kEventChild = 0xE0000002,
    kEventTimer = 0xE0000003,
    kEventDoorbell = 0xE0000004,
    kEventThread = 0xE0000005,
};

struct IrqEvent {
    uint32_t line;  // the Irq capability's line
    uint32_t count; // interrupts since the last message (the line stays masked until IrqAck)
};
static_assert(sizeof(IrqEvent) == 8);

struct ChildEvent {
    uint64_t process_id;
    ExitInfo exit;
};
static_assert(sizeof(ChildEvent) == 40 && offsetof(ChildEvent, exit) == 8);

struct TimerEvent {
    uint64_t cookie;   // what TimerSet was given
    uint64_t deadline; // ns since boot
    uint64_t fired;    // ns since boot, when the kernel posted it
};
static_assert(sizeof(TimerEvent) == 24);

// The peer of a bound ring end notified it (there is something to read, or room to write) or
// went away. At most one is pending per binding: the next is posted only once the event ring's
// consumer has released this one, so an event ring holding one record per binding plus the
// other events it carries never overflows from doorbells.
struct DoorbellEvent {
    uint64_t badge; // what RingBind was given
};
static_assert(sizeof(DoorbellEvent) == 8);

// A watched thread ended: it had started, ran and left, and the kernel has freed what it held
// for it (kernel stack, FPU area), so its quota no longer carries them.
struct ThreadEvent {
    uint64_t thread_id; // what ThreadStart returned
    uint64_t cookie;    // what ThreadWatch was given
};
static_assert(sizeof(ThreadEvent) == 16);
static_assert(offsetof(ThreadEvent, cookie) == 8);

} // namespace exo
