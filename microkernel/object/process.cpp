// Processes and user threads: start, exit, kill, and the teardown that returns a process's
// memory when its last thread ends.
#include "object/process.hpp"

#include "arch/x86_64/apic.hpp"
#include "arch/x86_64/idt.hpp"
#include "arch/x86_64/percpu.hpp"
#include "core/log.hpp"
#include "core/panic.hpp"
#include "lib/page_table.hpp"
#include "mm/kernel_space.hpp"
#include "mm/physical.hpp"
#include "object/cspace.hpp"
#include "object/memory.hpp"
#include "object/ring.hpp"
#include "object/timers.hpp"
#include "sched/scheduler.hpp"
#include "syscall/user_memory.hpp"

#include <exo/events.hpp>

extern "C" [[noreturn]] void enter_user_mode(uint64_t rip, uint64_t rsp, uint64_t arg);

namespace mk {
namespace {

constinit std::atomic<uint64_t> next_process_id{1};
constinit std::atomic<uint64_t> next_thread_id{1};
// Every process from creation to destruction, in id order. A process leaves the list first
// thing in destroy_contents, so one found in it under the lock is still whole (its count may be
// zero, which try_retain sees).
constinit IrqSpinLock listed_lock{};
constinit Process* listed_head = nullptr;
constinit Process* listed_tail = nullptr;
constinit uint32_t listed_count = 0;

// The buddy order of a table of `count` capability slots.
constexpr unsigned slots_order(uint32_t count) {
    unsigned order = 0;
    while ((kPageSize << order) < uint64_t(count) * sizeof(CapSlot))
        ++order;
    return order;
}
static_assert(slots_order(exo::kRootCapSlots) <= 5, "the root's table: at most 128 KiB");
constexpr uint64_t kIoBitmapPages = 2;

// What a started user thread makes the kernel hold, charged from its start until a reaper has
// freed it (thread::reap_zombies), not merely until it exits: its 16 KiB kernel stack, its
// FPU area (fpu::init refuses one over 4 KiB), its Thread record, and its share of the page
// tables of the stack region (one 4 KiB table per 2 MiB of slots, freed when empty).
constexpr uint64_t kThreadCharge = kKernelStackPages * kPageSize + 2 * kPageSize;
static_assert(sizeof(Thread) + kPageSize * kKernelStackSlot / kLargePageSize <= kPageSize);

void user_thread_main(void* arg) {
    auto* t = static_cast<UserThread*>(arg);
    t->enter();
}

void user_thread_reclaimed(void* owner) {
    static_cast<UserThread*>(owner)->reclaimed();
}

// Makes every other CPU enter the kernel soon, so the threads of a killed process notice.
void interrupt_other_cpus() {
    uint32_t self = this_cpu().index;
    for (uint32_t i = 0; i < percpu::count(); ++i) {
        Cpu& c = percpu::cpu(i);
        if (i != self && c.online.load(std::memory_order_acquire))
            apic::send_ipi(c.apic_id, idt::vector::kReschedule);
    }
}

} // namespace

// ---- Process -------------------------------------------------------------------------------

Process::Process(const char* name, size_t name_length, CapSlot* slots, uint32_t slot_count,
                 unsigned order)
    : KernelObject(kType), id_(next_process_id.fetch_add(1, std::memory_order_relaxed)),
      caps_(slots, slot_count), slots_(slots), slots_order_(order) {
    size_t n = name_length < exo::kMaxProcessName ? name_length : exo::kMaxProcessName;
    __builtin_memcpy(name_, name, n);
    name_[n] = '\0';
}

exo::Result<Ref<Process>> Process::create(Memory& quota, Ref<AddressSpace> space, const char* name,
                                          size_t name_length, uint32_t slot_count) {
    const unsigned order = slots_order(slot_count);
    uint64_t bytes = kPageSize << order;
    TRY(quota.charge(bytes));
    auto storage = pmm::allocate(order);
    if (!storage.ok()) {
        quota.uncharge(bytes);
        return storage.status();
    }
    auto* slots = vm::phys_to_virt<CapSlot>(storage.value()); // CapTable constructs them
    auto process = allocate_object<Process>(&quota, name, name_length, slots, slot_count, order);
    if (!process.ok()) {
        (void)pmm::free(storage.value(), order);
        quota.uncharge(bytes);
        return process.status();
    }
    process.value()->space_ = static_cast<Ref<AddressSpace>&&>(space);
    process.value()->enlist();
    log::debug("process %lu (%s) created", process.value()->id_, process.value()->name_);
    return Ref<Process>(process.value());
}

exo::Result<void> Process::start(UserThread& main, uint64_t entry, uint64_t stack, uint64_t arg) {
    ProcessState expected = ProcessState::Created;
    if (killed() || !state_.compare_exchange_strong(expected, ProcessState::Running))
        return exo::Status::BadState;
    // The process's own capabilities go in before its first instruction can ask for them.
    exo::Status s = caps::install(*this, exo::kSlotSelf, *this,
                                  exo::kRightRead | exo::kRightManage | exo::kRightDuplicate);
    if (s == exo::Status::Ok)
        s = caps::install(*this, exo::kSlotAddressSpace, *space_,
                          exo::kRightRead | exo::kRightManage | exo::kRightDuplicate);
    if (s == exo::Status::Ok) {
        auto launched = main.start(entry, stack, arg);
        if (launched.ok())
            return {};
        s = launched.status();
    }
    caps::remove(*this, exo::kSlotSelf);
    caps::remove(*this, exo::kSlotAddressSpace);
    state_.store(ProcessState::Created, std::memory_order_release);
    return s;
}

bool Process::add_thread(UserThread& t) {
    LockGuard guard(lock_);
    if (killed() || state() != ProcessState::Running)
        return false;
    ++live_threads_;
    t.next_ = threads_;
    t.prev_ = nullptr;
    if (threads_)
        threads_->prev_ = &t;
    threads_ = &t;
    return true;
}

void Process::thread_running(UserThread& t, Thread& thread) {
    LockGuard guard(lock_);
    if (t.left_)
        return; // it ran and ended already: `thread` may be gone
    t.thread_ = &thread;
    if (killed())
        abort_waits(thread);
}

bool Process::thread_left(UserThread& t, uint64_t wakeups) {
    LockGuard guard(lock_);
    EXO_ASSERT(live_threads_ > 0, "a process lost more threads than it started");
    (t.prev_ ? t.prev_->next_ : threads_) = t.next_;
    if (t.next_)
        t.next_->prev_ = t.prev_;
    t.next_ = t.prev_ = nullptr;
    t.thread_ = nullptr;
    t.left_ = true;
    wakeups_ += wakeups;
    return --live_threads_ == 0;
}

// Its waits end at once: a killed thread blocked in the kernel leaves now, not at a timeout.
void Process::abort_waits(Thread& thread) {
    thread.abort_waits.store(true, std::memory_order_relaxed);
    // Store-load, paired with WaitQueue::sleep_locked: it sees the flag or we see it Blocked.
    std::atomic_thread_fence(std::memory_order_seq_cst);
    (void)sched::wake(thread, WakeReason::Woken, false);
}

void Process::enlist() {
    LockGuard guard(listed_lock);
    // Ids are taken before the lock: walk back past any later one that got in first.
    Process* after = listed_tail;
    while (after && after->id_ > id_)
        after = after->prev_listed_;
    prev_listed_ = after;
    next_listed_ = after ? after->next_listed_ : listed_head;
    (after ? after->next_listed_ : listed_head) = this;
    (next_listed_ ? next_listed_->prev_listed_ : listed_tail) = this;
    ++listed_count;
}

void Process::delist() {
    LockGuard guard(listed_lock);
    if (!prev_listed_ && listed_head != this)
        return; // never listed (creation failed half-way)
    (prev_listed_ ? prev_listed_->next_listed_ : listed_head) = next_listed_;
    (next_listed_ ? next_listed_->prev_listed_ : listed_tail) = prev_listed_;
    prev_listed_ = next_listed_ = nullptr;
    --listed_count;
}

size_t Process::list(uint64_t after_id, Ref<Process>* out, size_t max) {
    LockGuard guard(listed_lock);
    size_t n = 0;
    for (Process* p = listed_head; p && n < max; p = p->next_listed_)
        if (p->id_ > after_id && p->try_retain())
            out[n++] = Ref<Process>::adopt(p);
    return n;
}

Ref<Process> Process::find(uint64_t id) {
    LockGuard guard(listed_lock);
    for (Process* p = listed_head; p; p = p->next_listed_)
        if (p->id_ == id)
            return p->try_retain() ? Ref<Process>::adopt(p) : Ref<Process>();
    return {};
}

uint32_t Process::count() {
    LockGuard guard(listed_lock);
    return listed_count;
}

exo::ProcessRecord Process::record() {
    exo::ProcessInfo i = info();
    exo::ProcessRecord r{};
    r.id = i.id;
    r.state = i.state;
    r.threads = i.threads;
    r.wakeups = i.wakeups;
    if (Memory* m = quota()) {
        r.quota_used = m->used();
        r.quota_limit = m->limit();
    }
    r.cap_slots = i.cap_slots;
    {
        LockGuard caps_guard(caps::lock());
        r.caps_used = caps_.used();
    }
    static_assert(sizeof r.name == sizeof i.name);
    __builtin_memcpy(r.name, i.name, sizeof r.name);
    return r;
}

exo::ProcessInfo Process::info() {
    exo::ProcessInfo out{};
    out.id = id_;
    out.cap_slots = caps_.size();
    ProcessState s = state();
    out.state = uint32_t(s == ProcessState::Created   ? exo::ProcessState::Created
                         : s == ProcessState::Running ? exo::ProcessState::Running
                                                      : exo::ProcessState::Exited);
    __builtin_memcpy(out.name, name_,
                     sizeof name_ < sizeof out.name ? sizeof name_ : sizeof out.name);
    out.name[sizeof out.name - 1] = '\0';
    LockGuard guard(lock_);
    out.threads = live_threads_;
    out.wakeups = wakeups_;
    for (UserThread* t = threads_; t; t = t->next_)
        if (t->thread_)
            out.wakeups += __atomic_load_n(&t->thread_->wakeups, __ATOMIC_RELAXED);
    return out;
}

void Process::kill(const exo::ExitInfo& info) {
    bool unstarted;
    {
        LockGuard guard(lock_);
        if (exit_.reason == uint32_t(exo::ExitReason::Running))
            exit_ = info;
        killed_.store(true, std::memory_order_release);
        unstarted = live_threads_ == 0 && state() != ProcessState::Exited;
        for (UserThread* t = threads_; t; t = t->next_)
            if (t->thread_)
                abort_waits(*t->thread_);
    }
    if (unstarted) {
        ProcessState expected = ProcessState::Created;
        // A process with no thread yet ends here; one whose threads are all gone already did.
        if (state_.compare_exchange_strong(expected, ProcessState::Running))
            finish();
        return;
    }
    interrupt_other_cpus();
}

void Process::teardown() {
    {
        LockGuard guard(lock_);
        if (exit_.reason == uint32_t(exo::ExitReason::Running))
            exit_ = exo::ExitInfo{uint32_t(exo::ExitReason::Exited), 0, 0, 0, 0};
        killed_.store(true, std::memory_order_release);
    }
    // Everything the process held goes back before anyone waiting learns that it ended,
    // capabilities it sent that nobody received included.
    caps::clear(*this);
    drop_in_flight_from(id_);
    timers::cancel_owned_by(id_);
    space_.reset();
    reap_dead_objects();
}

// Exited is stored before the watcher is taken under lock_, and watch() reads the state under
// lock_: either watch() sees Exited and posts itself, or this sees its watcher.
void Process::announce_exit() {
    exited_.change_and_wake_all(
        [this] { state_.store(ProcessState::Exited, std::memory_order_release); });
    Ref<Ring> watcher;
    exo::ChildEvent event{id_, {}};
    {
        LockGuard guard(lock_);
        watcher = static_cast<Ref<Ring>&&>(watcher_);
        event.exit = exit_;
    }
    if (watcher)
        (void)watcher->post(exo::kEventChild, &event, sizeof event);
}

exo::Status Process::watch(Ref<Ring> ring) {
    exo::ChildEvent event{id_, {}};
    {
        LockGuard guard(lock_);
        if (!ring) {
            watcher_.reset(); // the last release only queues the ring (reap_dead_objects)
            return exo::Status::Ok;
        }
        if (state() != ProcessState::Exited) {
            if (watcher_)
                return exo::Status::BadState;
            watcher_ = static_cast<Ref<Ring>&&>(ring);
            return exo::Status::Ok;
        }
        event.exit = exit_;
    }
    (void)ring->post(exo::kEventChild, &event, sizeof event);
    return exo::Status::Ok;
}

void Process::finish() {
    teardown();
    announce_exit();
}

exo::Result<exo::ExitInfo> Process::wait(uint64_t deadline_ns) {
    TRY(user_wait(
        exited_, [this] { return state() == ProcessState::Exited; }, deadline_ns));
    LockGuard guard(lock_);
    return exit_;
}

exo::Result<void> Process::open_ports(uint32_t first, uint32_t count) {
    if (count == 0 || first > 65536 || count > 65536 - first)
        return exo::Status::OutOfRange;
    {
        LockGuard guard(lock_);
        if (io_.bitmap == nullptr) {
            TRY(quota()->charge(kIoBitmapPages * kPageSize));
            auto frames = pmm::allocate(1);
            if (!frames.ok()) {
                quota()->uncharge(kIoBitmapPages * kPageSize);
                return frames.status();
            }
            io_.bitmap = vm::phys_to_virt<uint8_t>(frames.value());
            __builtin_memset(io_.bitmap, 0xFF, kIoBitmapPages * kPageSize);
        }
        for (uint32_t port = first; port < first + count; ++port)
            io_.bitmap[port / 8] &= uint8_t(~(1u << (port % 8)));
        // A new key for the new contents: CPUs reload the bitmap when they next switch here.
        uint64_t key = io_.key.load(std::memory_order_relaxed);
        io_.key.store(key ? key + 1 : (id_ << 20) | 1, std::memory_order_release);
    }
    sched::reload_context();
    return {};
}

void Process::destroy_contents() {
    delist();
    log::debug("process %lu (%s) destroyed, state %u", id_, name_, unsigned(state()));
    if (state() != ProcessState::Exited) {
        // Never started (or ended before its first thread): nothing else emptied it.
        caps::clear(*this);
        space_.reset();
    }
    watcher_.reset();
    if (io_.bitmap) {
        (void)pmm::free(uint64_t(io_.bitmap) - DIRECT_MAP_BASE, 1);
        quota()->uncharge(kIoBitmapPages * kPageSize);
    }
    (void)pmm::free(uint64_t(slots_) - DIRECT_MAP_BASE, slots_order_);
    quota()->uncharge(kPageSize << slots_order_);
}

// ---- UserThread ----------------------------------------------------------------------------

UserThread::UserThread(Process& process)
    : KernelObject(kType), process_(&process),
      id_(next_thread_id.fetch_add(1, std::memory_order_relaxed)) {}

exo::Result<Ref<UserThread>> UserThread::create(Memory& quota, Process& process) {
    return Ref<UserThread>(TRY(allocate_object<UserThread>(&quota, process)));
}

exo::Result<void> UserThread::start(uint64_t entry, uint64_t stack, uint64_t arg) {
    // iretq to a non-canonical rip or rsp would fault in ring 0: both must be user addresses.
    if (!user::in_user_space(entry, 1) || !user::in_user_space(stack - 1, 1))
        return exo::Status::OutOfRange;
    ThreadRun expected = ThreadRun::Created;
    if (!run_.compare_exchange_strong(expected, ThreadRun::Running))
        return exo::Status::BadState;
    thread::reap_zombies(); // the charges of this process's exited threads come back first
    if (auto r = quota()->charge(kThreadCharge); !r.ok()) {
        run_.store(ThreadRun::Created, std::memory_order_release);
        return r.status();
    }
    if (!process_->add_thread(*this)) {
        quota()->uncharge(kThreadCharge);
        run_.store(ThreadRun::Created, std::memory_order_release);
        return exo::Status::BadState;
    }
    entry_ = entry;
    stack_ = stack;
    arg_ = arg;
    retain(); // the running thread's reference, dropped in exit_current_thread()
    ThreadOptions options;
    options.name = process_->name();
    options.address_space = process_->space()->root();
    options.io = &process_->io();
    options.user = this;
    auto spawned = thread::spawn(user_thread_main, this, options);
    if (!spawned.ok()) {
        quota()->uncharge(kThreadCharge);
        exo::ThreadEvent event;
        Ref<Ring> watcher = ended(event);
        if (watcher)
            (void)watcher->post(exo::kEventThread, &event, sizeof event);
        if (process_->thread_left(*this, 0))
            process_->finish();
        release();
        return spawned.status();
    }
    // It may have run and even ended already; thread_running() sees to that under the lock.
    process_->thread_running(*this, *spawned.value());
    return {};
}

void UserThread::enter() {
    enter_user_mode(entry_, stack_, arg_);
}

// As for processes: Exited is stored before ended() takes the watcher under the lock, and the
// state is read under it here, so exactly one of the two posts.
exo::Status UserThread::watch(Ref<Ring> ring, uint64_t cookie) {
    {
        LockGuard guard(process_->lock_);
        if (!ring) {
            watcher_.reset();
            return exo::Status::Ok;
        }
        if (run_.load(std::memory_order_acquire) != ThreadRun::Exited) {
            if (watcher_)
                return exo::Status::BadState;
            watcher_ = static_cast<Ref<Ring>&&>(ring);
            watch_cookie_ = cookie;
            return exo::Status::Ok;
        }
    }
    exo::ThreadEvent event{id_, cookie};
    (void)ring->post(exo::kEventThread, &event, sizeof event);
    return exo::Status::Ok;
}

Ref<Ring> UserThread::ended(exo::ThreadEvent& event) {
    run_.store(ThreadRun::Exited, std::memory_order_release);
    LockGuard guard(process_->lock_);
    event = exo::ThreadEvent{id_, watch_cookie_};
    return static_cast<Ref<Ring>&&>(watcher_);
}

void UserThread::destroy_contents() {
    watcher_.reset(); // never started (or never reclaimed): nothing to tell
    process_.reset();
}

UserThread* current_user_thread() {
    return static_cast<UserThread*>(sched::current()->user);
}

Process* current_process() {
    UserThread* t = current_user_thread();
    return t ? &t->process() : nullptr;
}

void exit_current_thread() {
    cpu::enable_interrupts();
    UserThread* t = current_user_thread();
    EXO_ASSERT(t, "exit_current_thread() on a kernel thread");
    // Leave the process's address space first: once the last thread has, it may be freed.
    Thread* self = sched::current();
    self->address_space = 0;
    self->io = nullptr;
    self->user = nullptr;
    sched::reload_context();
    Process* process = t->process_.get();
    t->last_ = process->thread_left(*t, self->wakeups);
    if (t->last_)
        process->teardown();
    // The stack under our feet is what this thread still holds: its quota charge, the running
    // thread's reference and the news of its end pass to whoever reclaims that stack.
    self->owner = t;
    self->reclaimed = user_thread_reclaimed;
    thread::exit();
}

void UserThread::reclaimed() {
    quota()->uncharge(kThreadCharge);
    // Watchers are told only once this thread holds no reference, so that a parent that
    // deletes its Process capability on the event sees the whole quota back: no preemption
    // from here.
    bool enabled = cpu::save_and_disable_interrupts();
    Ref<Process> keep(process_.get());
    bool last = last_;
    exo::ThreadEvent event;
    Ref<Ring> watcher = ended(event);
    release();           // the running thread's reference: `this` may be gone from here
    reap_dead_objects(); // the thread object goes before its end or its process's is told
    if (watcher)
        (void)watcher->post(exo::kEventThread, &event, sizeof event);
    if (last)
        keep->announce_exit();
    watcher.reset();
    keep.reset();
    reap_dead_objects(); // with interrupts off: these objects only free memory
    cpu::restore_interrupts(enabled);
}

void handle_user_fault(InterruptFrame& frame) {
    uint64_t cr2 = frame.vector == 14 ? cpu::read_cr2() : 0;
    cpu::enable_interrupts();
    Process& process = *current_process();
    if (frame.vector == 14) {
        uint64_t e = frame.error_code;
        log::warn("fault: process %s (id %lu) killed: page fault, %s 0x%lx (%s) at rip 0x%lx",
                  process.name(), process.id(),
                  (e & 16)  ? "execute"
                  : (e & 2) ? "write"
                            : "read",
                  cr2, (e & 1) ? "protection violation" : "not mapped", frame.rip);
    } else {
        log::warn("fault: process %s (id %lu) killed: %s (vector %lu, error 0x%lx) at rip 0x%lx",
                  process.name(), process.id(), idt::exception_name(frame.vector), frame.vector,
                  frame.error_code, frame.rip);
    }
    process.kill(exo::ExitInfo{uint32_t(exo::ExitReason::Faulted), uint32_t(frame.vector), 0,
                               frame.rip, cr2});
    exit_current_thread();
}

void leave_kernel() {
    if (thread::zombies_waiting()) {
        // The interrupt path comes here with interrupts disabled; reclaiming needs them on.
        bool enabled = cpu::interrupts_enabled();
        cpu::enable_interrupts();
        thread::reap_zombies();
        if (!enabled)
            cpu::disable_interrupts();
    }
    UserThread* t = current_user_thread();
    if (t && t->process().killed())
        exit_current_thread();
}

} // namespace mk
