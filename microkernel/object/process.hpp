// Process: a capability space, an address space and threads. UserThread: a capability to one
// user thread, which runs as a scheduler Thread (sched/thread.hpp) once started.
//
// Lifetime: a running thread holds a reference to its UserThread, which holds one to its
// Process. When the last thread of a process ends (exit, fault or kill), the process empties
// its capability space and drops its address space at once, so its memory comes back even
// while a parent still holds the Process capability to read the exit status.
#pragma once

#include "arch/x86_64/clock.hpp"
#include "arch/x86_64/interrupt_frame.hpp"
#include "arch/x86_64/spinlock.hpp"
#include "object/address_space.hpp"
#include "sched/thread.hpp"
#include "sched/wait_queue.hpp"

#include <exo/caps.hpp>
#include <exo/events.hpp>
#include <exo/syscall.hpp>
#include <exo/system.hpp>

namespace mk {

class UserThread;
class Ring;

enum class ProcessState : uint8_t { Created, Running, Exited };

[[noreturn]] void exit_current_thread();

class Process final : public KernelObject {
public:
    static constexpr exo::ObjectType kType = exo::ObjectType::Process;

    // With `slot_count` capability slots (kCapSlots; the root has kRootCapSlots), charged.
    static exo::Result<Ref<Process>> create(Memory& quota, Ref<AddressSpace> space,
                                            const char* name, size_t name_length,
                                            uint32_t slot_count = exo::kCapSlots);

    uint64_t id() const { return id_; }
    const char* name() const { return name_; }
    CapTable& caps() { return caps_; }
    // Null once the process has exited.
    AddressSpace* space() const { return space_.get(); }
    ProcessState state() const { return state_.load(std::memory_order_acquire); }
    bool killed() const { return killed_.load(std::memory_order_acquire); }
    IoPermissions& io() { return io_; }

    // Created -> Running, with `main` as its first thread. BadState if already started.
    exo::Result<void> start(UserThread& main, uint64_t entry, uint64_t stack, uint64_t arg);
    // Ends the process: records `info` (the first end wins) and makes every thread leave at its
    // next kernel entry or exit (at most a scheduling slice). Returns at once.
    void kill(const exo::ExitInfo& info);
    // Waits for the end (deadline 0: none); TimedOut, or the exit record. For kernel threads
    // (the root process's runner); user mode learns of the end on a ring (watch()).
    exo::Result<exo::ExitInfo> wait(uint64_t deadline_ns);

    // Posts a ChildEvent on `ring` when the process ends (at once if it has). One watcher:
    // BadState while another is set; a null ring removes it.
    exo::Status watch(Ref<Ring> ring);

    // Opens ports [first, first + count) to this process's threads.
    exo::Result<void> open_ports(uint32_t first, uint32_t count);

    // Its id, state, name, threads and how often they were woken (ProcessInfo).
    exo::ProcessInfo info();
    // All that, its quota's use and limit and its used capability slots (ProcessList).
    exo::ProcessRecord record();

    // Every process that exists, in id order, for the System capability's calls: up to `max`
    // of those with an id above `after_id` (references taken), and the one with `id` (null if
    // none, or on its way out).
    static size_t list(uint64_t after_id, Ref<Process>* out, size_t max);
    static Ref<Process> find(uint64_t id);
    static uint32_t count();

    Process(const char* name, size_t name_length, CapSlot* slots, uint32_t slot_count,
            unsigned order);

private:
    friend class UserThread;
    friend void exit_current_thread();
    void destroy_contents() override;
    // A thread's life in its process, under lock_: added before it is spawned (false once
    // killed or exited), given its scheduler Thread once spawned, removed when it ends (true
    // for the last thread); `wakeups` it had are added to the process's count.
    bool add_thread(UserThread& t);
    void thread_running(UserThread& t, Thread& thread);
    bool thread_left(UserThread& t, uint64_t wakeups);
    static void abort_waits(Thread& thread);
    // The end of a process: teardown() gives back everything it holds (capabilities, address
    // space); announce_exit() then wakes those waiting and tells its watcher; finish() does
    // both.
    void teardown();
    void announce_exit();
    void finish();

    uint64_t id_;
    char name_[exo::kMaxProcessName + 1];
    CapTable caps_;
    CapSlot* slots_;
    unsigned slots_order_;
    Ref<AddressSpace> space_;
    std::atomic<ProcessState> state_{ProcessState::Created};
    std::atomic<bool> killed_{false};
    IrqSpinLock lock_;
    uint32_t live_threads_ = 0;     // started and not ended; guarded by lock_
    UserThread* threads_ = nullptr; // those threads; guarded by lock_
    uint64_t wakeups_ = 0;          // of its ended threads; guarded by lock_
    exo::ExitInfo exit_{};          // guarded by lock_; reason Running until the end
    WaitQueue exited_;
    IoPermissions io_;
    Ref<Ring> watcher_; // guarded by lock_
    Process* next_listed_ = nullptr; // the list of all processes, under its own lock
    Process* prev_listed_ = nullptr;
    void enlist();
    void delist();
};

enum class ThreadRun : uint8_t { Created, Running, Exited };

class UserThread final : public KernelObject {
public:
    static constexpr exo::ObjectType kType = exo::ObjectType::Thread;

    static exo::Result<Ref<UserThread>> create(Memory& quota, Process& process);

    Process& process() const { return *process_; }
    // Runs the thread at `entry` on `stack` with `arg` in rdi. BadState unless Created and the
    // process is alive; NoMemory if its quota cannot hold a kernel stack.
    exo::Result<void> start(uint64_t entry, uint64_t stack, uint64_t arg);
    // Posts a ThreadEvent{id, cookie} on `ring` once the thread has ended and been reclaimed (at
    // once if it has); nothing while it has not started. One watcher: BadState while another is
    // set; a null ring removes it.
    exo::Status watch(Ref<Ring> ring, uint64_t cookie);
    uint64_t id() const { return id_; }

    explicit UserThread(Process& process);
    // The new thread's first step: into ring 3.
    [[noreturn]] void enter();
    // Its kernel stack, FPU state and record are free (thread::reap_zombies): the quota charge
    // for them ends, its watcher is told, and the last thread announces the process's end.
    void reclaimed();

private:
    friend class Process;
    friend void exit_current_thread();

    void destroy_contents() override;
    exo::Result<void> launch(uint64_t entry, uint64_t stack, uint64_t arg);
    // Marks it Exited and takes its watcher (the event to post in `event`).
    Ref<Ring> ended(exo::ThreadEvent& event);

    Ref<Process> process_;
    uint64_t id_;
    std::atomic<ThreadRun> run_{ThreadRun::Created};
    bool last_ = false; // the last thread of its process to end
    // In its process's list while it runs (Process::lock_).
    UserThread* next_ = nullptr;
    UserThread* prev_ = nullptr;
    Thread* thread_ = nullptr; // its scheduler thread, once spawned and until it ends
    bool left_ = false;
    uint64_t entry_ = 0, stack_ = 0, arg_ = 0;
    Ref<Ring> watcher_;         // guarded by the process's lock_
    uint64_t watch_cookie_ = 0; // likewise
};

// The UserThread and Process of the calling thread (null for kernel threads).
UserThread* current_user_thread();
Process* current_process();
// Ends the calling user thread (the process with it if it was the last one). Thread context.
[[noreturn]] void exit_current_thread();
// At every return to ring 3: reclaims exited threads (so a CPU busy in ring 3 still does), then
// ends the calling thread if its process was killed.
void leave_kernel();
// A CPU exception in ring 3: logs it, kills the process and ends the calling thread.
[[noreturn]] void handle_user_fault(InterruptFrame& frame);

// Waits on `queue` until `ready()`, the deadline (0: none), or the calling process is killed:
// Ok, TimedOut or Closed. Blocking syscalls use it: Process::kill ends the waits of the
// process's threads at once (Thread::abort_waits).
template <typename Ready>
exo::Status user_wait(WaitQueue& queue, Ready&& ready, uint64_t deadline_ns) {
    Process* self = current_process();
    exo::Status s =
        queue.wait_until([&] { return (self && self->killed()) || ready(); }, deadline_ns);
    return self && self->killed() ? exo::Status::Closed : s;
}

} // namespace mk
