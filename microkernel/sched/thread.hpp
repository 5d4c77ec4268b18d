// Kernel threads. A thread owns a guarded kernel stack, its FPU state area (if it ever used the
// FPU) and its Thread record; all three go back when it exits. User threads (the user-mode
// issue) add an address space and a user context on top.
#pragma once

#include "lib/sched_policy.hpp"
#include "mm/kernel_stack.hpp"

#include <atomic>
#include <exo/result.hpp>
#include <stdint.h>

namespace mk {

enum class ThreadState : uint8_t {
    Ready,   // in a run queue
    Running, // on a CPU
    Blocked, // waiting (wait queue, sleep)
    Dead,    // exited; reclaimed once off its CPU
};

enum class WakeReason : uint8_t { None, Woken, TimedOut };

struct Thread {
    // Saved stack pointer while switched out (sched/switch.S). Must stay first.
    uint64_t saved_rsp;
    sched::Entity entity; // scheduling policy state
    KernelStack stack;
    uint64_t id;
    const char* name;
    void (*entry)(void*);
    void* arg;

    std::atomic<ThreadState> state;
    // True from the moment a CPU starts switching to this thread until the next thread on that
    // CPU has finished switching away from it: no other CPU may resume it before its registers
    // are saved.
    std::atomic<bool> on_cpu;
    uint32_t cpu;       // where it runs or last ran
    int32_t pinned_cpu; // -1: may migrate

    void* fpu_state; // null until the first FPU instruction (sched/fpu.hpp)

    // Blocking.
    Thread* wait_next; // link in a WaitQueue
    WakeReason wake_reason;
    // Set (once, for good) when the thread's process is killed: its waits end at once and
    // it sleeps in none again (WaitQueue::sleep_locked).
    std::atomic<bool> abort_waits;
    uint64_t wakeups; // times woken from a wait (under its run queue's lock)
    uint64_t wake_deadline;
    Thread* timer_next; // link in a CPU's list of sleepers
    void* timer_list;   // that list, or null (scheduler.cpp)

    // User threads (object/process.hpp): the address space to load (0: the kernel's alone), the
    // I/O ports of its process, and its UserThread object.
    uint64_t address_space;
    const struct IoPermissions* io;
    void* user;

    uint64_t dispatched_at; // ns, when it last started running
    uint64_t woken_at;      // ns, when it last became runnable (the latency probe)
    Thread* zombie_next;

    // Runs once the thread's stack, FPU state and record are free, in the reaper's context
    // (interrupts enabled, no lock held): the owner's last word on the thread, e.g. returning
    // the quota charge that stood for that memory. Set by the thread itself before it exits.
    void (*reclaimed)(void* owner);
    void* owner;
};

// The I/O permission bitmap of a process, as the context switch loads it (gdt::load_io_bitmap).
struct IoPermissions {
    std::atomic<uint64_t> key{0}; // changes whenever the bitmap does; 0 while there is none
    uint8_t* bitmap = nullptr;    // kIoBitmapBytes - 1 bytes, a clear bit opens a port
};

struct ThreadOptions {
    const char* name = "kthread";
    int32_t pinned_cpu = -1; // a CPU index, or -1: may run anywhere
    // User threads only.
    uint64_t address_space = 0;
    const IoPermissions* io = nullptr;
    void* user = nullptr;
};

namespace thread {

// Creates a runnable kernel thread running entry(arg); returns it (owned by the scheduler: it
// is reclaimed after it exits, so the pointer must not be used once it may have exited).
exo::Result<Thread*> spawn(void (*entry)(void*), void* arg, const ThreadOptions& options = {});

// Ends the calling thread; its stack, FPU state and record are reclaimed after the switch away,
// by that CPU's next reap point (reap_zombies), and then its `reclaimed` hook runs.
[[noreturn]] void exit();

// Threads alive (created and not yet reclaimed).
uint64_t live_count();
// Exited threads waiting for a reaper, and the most there have been at once since boot
// (docs/threads.md: what bounds them).
uint64_t zombie_count();
uint64_t zombie_peak();
// True when exited threads wait for this CPU's reaper (cheap: one load; a hint).
bool zombies_waiting();

// Boot-time records: the calling context (already running on `stack`) as a thread, and a CPU's
// idle thread, which starts in `entry` on `stack` when first switched to and is never queued.
exo::Result<Thread*> adopt_current(const KernelStack& stack, const char* name);
exo::Result<Thread*> create_idle(const KernelStack& stack, void (*entry)(void*), uint32_t cpu);

// Frees the records and stacks of the threads that exited on this CPU and runs their hooks.
// Interrupts enabled (unmapping a stack may need a TLB shootdown), no lock held. Cheap when
// there is nothing to reclaim: the idle loop, thread creation, ThreadStart and every return to
// ring 3 (syscall or interrupt) call it.
void reap_zombies();
// Queues `thread` (Dead, switched away from) for reaping on this CPU. Interrupts disabled.
void add_zombie(Thread& thread);

} // namespace thread
} // namespace mk
