// Scheduler mechanism around the portable policy (see scheduler.hpp for the locking rules).
#include "sched/scheduler.hpp"

#include "arch/x86_64/apic.hpp"
#include "arch/x86_64/clock.hpp"
#include "arch/x86_64/cpu.hpp"
#include "arch/x86_64/gdt.hpp"
#include "arch/x86_64/idt.hpp"
#include "arch/x86_64/spinlock.hpp"
#include "core/log.hpp"
#include "core/panic.hpp"
#include "mm/kernel_space.hpp"
#include "sched/fpu.hpp"
#include "sched/preempt.hpp"

#include <exo/assert.hpp>
#include <new>
#include <stddef.h>

extern "C" mk::Thread* switch_context(mk::Thread* prev, mk::Thread* next);

namespace mk::sched {
namespace {

// What a CPU needs to run `t`: its kernel stack for interrupts (TSS) and syscalls, its address
// space (the kernel's for kernel threads: a CPU's CR3 is always its current thread's, so an
// address space no thread uses is loaded nowhere and may be freed), and its process's ports.
void load_thread_context(Cpu& cpu, Thread& t) {
    cpu.tss.rsp[0] = t.stack.top;
    cpu.kernel_rsp = t.stack.top;
    uint64_t root = t.address_space ? t.address_space : vm::kernel_tables();
    if (cpu.cr3 != root) {
        cpu.cr3 = root;
        cpu::write_cr3(root);
    }
    if (t.io)
        gdt::load_io_bitmap(cpu, t.io->key.load(std::memory_order_acquire), t.io->bitmap);
}

// Threads sleeping until a deadline on one CPU, sorted by deadline; its timer interrupt wakes
// them. Taken with interrupts disabled.
struct TimerList {
    SpinLock lock;
    Thread* head = nullptr;
};

struct CpuSched {
    SpinLock lock; // guards rq
    RunQueue* rq = nullptr;
    TimerList timers;
    uint64_t slice_end = 0;
    uint64_t dispatches = 0;
    uint32_t position = 0; // index in the online arrays below
};

alignas(Policy) constinit unsigned char policy_storage[sizeof(Policy)] = {};
alignas(RunQueue) constinit unsigned char queue_storage[kMaxCpus][sizeof(RunQueue)] = {};
constinit const Policy* the_policy = nullptr;
constinit CpuSched cpus[kMaxCpus] = {};

// The run queues of online CPUs, in the order they came online: what the policy's cross-queue
// decisions (placement, stealing) see. Appended under online_lock; read lock-free up to
// online_count (acquire).
constinit const RunQueue* online_queues[kMaxCpus] = {};
constinit uint32_t online_cpu[kMaxCpus] = {};
constinit std::atomic<uint32_t> online_count{0};
constinit SpinLock online_lock{};

constinit std::atomic<uint64_t> idle_mask{0}; // bit i: CPU i is halted in its idle loop
constinit LatencyProbe* probe = nullptr;

Thread* thread_of(const Entity* e) {
    return reinterpret_cast<Thread*>(reinterpret_cast<uintptr_t>(e) - offsetof(Thread, entity));
}

CpuSched& sched_of(uint32_t cpu) {
    return cpus[cpu];
}

void publish_online(uint32_t cpu) {
    LockGuard guard(online_lock);
    uint32_t n = online_count.load(std::memory_order_relaxed);
    online_queues[n] = cpus[cpu].rq;
    online_cpu[n] = cpu;
    cpus[cpu].position = n;
    online_count.store(n + 1, std::memory_order_release);
}

// Asks `cpu` to reschedule: at the next preemption point if it is this CPU, else by IPI.
void kick(uint32_t cpu) {
    Cpu& self = this_cpu();
    if (cpu == self.index) {
        self.need_resched = true;
        return;
    }
    apic::send_ipi(percpu::cpu(cpu).apic_id, idt::vector::kReschedule);
}

// Threads wait on this CPU while another is halted: wake one idle CPU so it steals.
void kick_an_idle_cpu(uint32_t self) {
    uint64_t idle = idle_mask.load(std::memory_order_relaxed) & ~(1ull << self);
    if (idle == 0)
        return;
    uint32_t target = uint32_t(__builtin_ctzll(idle));
    if (idle_mask.fetch_and(~(1ull << target), std::memory_order_relaxed) & (1ull << target))
        apic::send_ipi(percpu::cpu(target).apic_id, idt::vector::kReschedule);
}

void arm_timer(CpuSched& cs, bool running_thread) {
    uint64_t deadline = running_thread ? cs.slice_end : UINT64_MAX;
    cs.timers.lock.lock();
    if (cs.timers.head && cs.timers.head->wake_deadline < deadline)
        deadline = cs.timers.head->wake_deadline;
    cs.timers.lock.unlock();
    if (deadline == UINT64_MAX)
        apic::timer_stop(); // tickless: nothing to preempt, nobody to wake
    else
        apic::timer_arm(deadline);
}

// Places a runnable thread that is in no queue: its pinned CPU, else where the policy says.
void place(Thread& t, uint64_t now, bool may_preempt) {
    uint32_t target;
    if (t.pinned_cpu >= 0) {
        target = uint32_t(t.pinned_cpu);
    } else {
        uint32_t n = online_count.load(std::memory_order_acquire);
        target = online_cpu[the_policy->choose_cpu(t.entity, online_queues, n)];
    }
    CpuSched& cs = sched_of(target);
    cs.lock.lock();
    __atomic_store_n(&t.cpu, target, __ATOMIC_RELAXED);
    cs.rq->push(t.entity, now);
    const Entity* running = cs.rq->current();
    // A deferred wake only spares the waker's own CPU; another CPU decides as usual.
    may_preempt = may_preempt || target != this_cpu().index;
    bool preempt =
        running == nullptr ||
        (may_preempt && the_policy->should_preempt(
                            *running, now - thread_of(running)->dispatched_at, *cs.rq, now));
    cs.lock.unlock();
    if (preempt)
        kick(target);
}

// Whether CPU `self` may take `t` from another CPU's queue: not if it is pinned elsewhere, and
// not while its CPU is still switching away from it (on_cpu). That CPU queued it before the
// switch; a thief would then wait for it in schedule() with interrupts off, and two CPUs that
// took each other's threads that way would wait for each other for ever (and leave every TLB
// shootdown unanswered).
bool may_take(const Thread& t, uint32_t self) {
    if (t.pinned_cpu >= 0 && uint32_t(t.pinned_cpu) != self)
        return false;
    return !t.on_cpu.load(std::memory_order_acquire);
}

// Takes a thread from the busiest CPU for `self`, or null. No run-queue lock held on entry.
Entity* steal(Cpu& self, uint64_t now) {
    uint32_t n = online_count.load(std::memory_order_acquire);
    uint32_t victim = the_policy->find_busiest(online_queues, n, sched_of(self.index).position);
    if (victim == kNoCpu)
        return nullptr;
    CpuSched& v = sched_of(online_cpu[victim]);
    v.lock.lock();
    Entity* e = v.rq->steal_one(now);
    if (e && !may_take(*thread_of(e), self.index)) {
        // Give it back where it was, keeping its age. (A push would make it the youngest: idle
        // CPUs that keep trying to steal it would starve it.)
        v.rq->push_front(*e);
        e = nullptr;
    }
    v.lock.unlock();
    return e;
}

// Takes the oldest thread of class `c` from the CPU where it is furthest behind (it waited at
// least since `since` and got less CPU than `runtime_ns` minus half a slice) and queues it at
// the head of this CPU's class. No run-queue lock held on entry.
void pull_behind(Cpu& self, Class c, uint64_t since, uint64_t runtime_ns) {
    uint32_t n = online_count.load(std::memory_order_acquire);
    uint32_t victim = the_policy->find_behind(online_queues, n, sched_of(self.index).position, c,
                                              since, runtime_ns);
    if (victim == kNoCpu)
        return;
    CpuSched& v = sched_of(online_cpu[victim]);
    v.lock.lock();
    Entity* e = v.rq->take_behind(c, since, runtime_ns);
    if (e && !may_take(*thread_of(e), self.index)) {
        v.rq->push_front(*e); // put it back where it was
        e = nullptr;
    }
    v.lock.unlock();
    if (e == nullptr)
        return;
    CpuSched& cs = sched_of(self.index);
    cs.lock.lock();
    __atomic_store_n(&thread_of(e)->cpu, self.index, __ATOMIC_RELAXED);
    cs.rq->push_front(*e);
    cs.lock.unlock();
}

void record_latency(Thread& next, uint64_t now) {
    LatencyProbe* p = probe;
    if (p == nullptr || p->thread != &next || next.woken_at == 0)
        return;
    size_t i = p->count.load(std::memory_order_relaxed);
    if (i < p->capacity) {
        p->samples[i] = now - next.woken_at;
        p->count.store(i + 1, std::memory_order_release);
    }
}

// In the context of the thread just switched to: let go of the one switched away from.
void finish_switch(Thread& prev) {
    if (prev.state.load(std::memory_order_relaxed) == ThreadState::Dead)
        thread::add_zombie(prev);
    prev.on_cpu.store(false, std::memory_order_release);
}

// The one path every switch takes. Interrupts disabled.
void schedule(StopReason why) {
    Cpu& cpu = this_cpu();
    CpuSched& cs = sched_of(cpu.index);
    Thread* prev = cpu.current;
    bool prev_is_idle = prev == cpu.idle;
    uint64_t now = clock::now_ns();
    cpu.need_resched = false;
    if (prev_is_idle)
        idle_mask.fetch_and(~(1ull << cpu.index), std::memory_order_relaxed);

    cs.lock.lock();
    if (!prev_is_idle) {
        ThreadState state = prev->state.load(std::memory_order_relaxed);
        StopReason reason = why;
        if (state == ThreadState::Blocked || state == ThreadState::Dead) {
            reason = StopReason::Blocked;
        } else {
            // Still Running: preempted, yielding, or woken before it could block (a yield).
            if (reason == StopReason::Blocked)
                reason = StopReason::Yielded;
            prev->state.store(ThreadState::Ready, std::memory_order_relaxed);
        }
        cs.rq->stop(prev->entity, now - prev->dispatched_at, reason, now);
        if (reason != StopReason::Blocked)
            cs.rq->push(prev->entity, now);
    }
    // After a full slice, pull a thread that is behind from another CPU (keeps uneven thread
    // counts fair, docs/scheduler.md "Balancing"); with nothing queued, steal.
    const Entity* head = cs.rq->peek(now);
    bool full_slice = !prev_is_idle && why == StopReason::Preempted && !prev->entity.keeps_turn;
    Class head_class = head ? head->klass : Class::Normal;
    uint64_t head_since = head ? head->enqueued_at : 0;
    uint64_t head_runtime = head ? head->runtime_ns : 0;
    cs.lock.unlock();

    uint32_t n = online_count.load(std::memory_order_acquire);
    if (n > 1 && head == nullptr) {
        if (Entity* stolen = steal(cpu, now)) {
            cs.lock.lock();
            __atomic_store_n(&thread_of(stolen)->cpu, cpu.index, __ATOMIC_RELAXED);
            cs.rq->push(*stolen, now);
            cs.lock.unlock();
        }
    } else if (n > 1 && full_slice) {
        pull_behind(cpu, head_class, head_since, head_runtime);
    }

    cs.lock.lock();
    Entity* picked = cs.rq->pop(now);
    Thread* next = picked ? thread_of(picked) : cpu.idle;
    if (picked) {
        next->state.store(ThreadState::Running, std::memory_order_relaxed);
        __atomic_store_n(&next->cpu, cpu.index, __ATOMIC_RELAXED);
        next->dispatched_at = now;
        cs.slice_end = now + the_policy->slice_left_ns(*picked);
    }
    bool others_wait = cs.rq->size() > 0;
    cs.lock.unlock();
    if (others_wait)
        kick_an_idle_cpu(cpu.index);

    arm_timer(cs, picked != nullptr);
    if (next == prev)
        return;

    // Another CPU may still be saving next's registers (it was switched away from there).
    while (next->on_cpu.load(std::memory_order_acquire))
        cpu::pause();
    next->on_cpu.store(true, std::memory_order_relaxed);
    ++cs.dispatches;
    record_latency(*next, now);
    next->woken_at = 0;
    cpu.current = next;
    load_thread_context(cpu, *next);
    fpu::switch_out(*prev);
    fpu::switch_in(*next);
    Thread* from = switch_context(prev, next);
    finish_switch(*from);
}

void timer_interrupt(InterruptFrame&) {
    Cpu& cpu = this_cpu();
    CpuSched& cs = sched_of(cpu.index);
    ++cpu.timer_ticks;
    uint64_t now = clock::now_ns();
    for (;;) {
        cs.timers.lock.lock();
        Thread* t = cs.timers.head;
        if (t == nullptr || t->wake_deadline > now) {
            cs.timers.lock.unlock();
            break;
        }
        cs.timers.head = t->timer_next;
        t->timer_next = nullptr;
        t->timer_list = nullptr;
        cs.timers.lock.unlock();
        wake(*t, WakeReason::TimedOut);
    }
    Thread* running = cpu.current;
    bool is_thread = running != cpu.idle;
    if (is_thread) {
        uint64_t ran = now - running->dispatched_at;
        cs.lock.lock();
        bool preempt = the_policy->should_preempt(running->entity, ran, *cs.rq, now);
        bool alone = cs.rq->size() == 0;
        cs.lock.unlock();
        // Alone after a full slice: give way if a thread on another CPU is behind this one.
        uint32_t n = online_count.load(std::memory_order_acquire);
        if (!preempt && alone && n > 1 && the_policy->slice_used_up(running->entity, ran))
            preempt = the_policy->find_behind(online_queues, n, cs.position,
                                              the_policy->classify(running->entity), now,
                                              running->entity.runtime_ns + ran) != kNoCpu;
        if (preempt)
            cpu.need_resched = true;
        else if (now >= cs.slice_end)
            cs.slice_end = now + the_policy->slice_ns(running->entity); // nobody waits
    }
    if (!cpu.need_resched)
        arm_timer(cs, is_thread);
}

void reschedule_interrupt(InterruptFrame&) {
    this_cpu().need_resched = true;
}

[[noreturn]] void idle_loop() {
    // A steal that found nothing it may take (a thread pinned elsewhere) is not retried until
    // this CPU has halted once: a busy CPU kicks an idle one whenever threads wait there, and an
    // idle CPU that kept retrying would hammer the busy CPU's queue lock (and, emulated, steal
    // the host's time from the CPU doing the work).
    bool steal_failed = false;
    for (;;) {
        thread::reap_zombies();
        cpu::disable_interrupts();
        Cpu& cpu = this_cpu(); // the idle thread never migrates
        CpuSched& cs = sched_of(cpu.index);
        uint32_t n = online_count.load(std::memory_order_acquire);
        cs.lock.lock();
        bool queued = cs.rq->size() > 0;
        cs.lock.unlock();
        bool busy_elsewhere = n > 1 && !steal_failed &&
                              the_policy->find_busiest(online_queues, n, cs.position) != kNoCpu;
        if (queued || cpu.need_resched || busy_elsewhere) {
            uint64_t dispatches = cs.dispatches;
            schedule(StopReason::Yielded);
            steal_failed = !queued && cs.dispatches == dispatches;
            cpu::enable_interrupts();
            continue;
        }
        // A thread that ran (after an interrupt between the reaping above and the cli) and
        // exited left a zombie: reap it before halting.
        if (thread::zombies_waiting()) {
            cpu::enable_interrupts();
            continue;
        }
        idle_mask.fetch_or(1ull << cpu.index, std::memory_order_relaxed);
        cpu::enable_interrupts_and_halt();
        idle_mask.fetch_and(~(1ull << cpu.index), std::memory_order_relaxed);
        steal_failed = false;
    }
}

void idle_entry(void*) {
    idle_loop();
}

exo::Result<void> init_cpu_queue(uint32_t index) {
    cpus[index].rq = new (queue_storage[index]) RunQueue(*the_policy, index);
    return {};
}

} // namespace

exo::Result<void> init(const Config& config, const KernelStack& stack) {
    the_policy = new (policy_storage) Policy(TRY(Policy::create(config)));
    TRY(init_cpu_queue(0));
    Cpu& cpu = this_cpu();

    // The calling context becomes the thread "boot", current on this CPU's queue.
    Thread* boot = TRY(thread::adopt_current(stack, "boot"));
    CpuSched& cs = sched_of(0);
    uint64_t now = clock::now_ns();
    cs.rq->push(boot->entity, now);
    EXO_ASSERT(cs.rq->pop(now) == &boot->entity, "the boot thread was not picked");
    boot->state.store(ThreadState::Running, std::memory_order_relaxed);
    boot->dispatched_at = now;
    cs.slice_end = now + the_policy->slice_ns(boot->entity);
    cpu.current = boot;

    auto idle_stack = TRY(allocate_kernel_stack());
    cpu.idle = TRY(thread::create_idle(idle_stack, idle_entry, 0));
    publish_online(0);
    cpu.online.store(true, std::memory_order_release);

    idt::set_handler(idt::vector::kTimer, timer_interrupt);
    idt::set_handler(idt::vector::kReschedule, reschedule_interrupt);
    arm_timer(cs, true);
    log::info("sched: EMA alpha %u/%u, Hot < %lu us, Cold > %lu us, slices %lu/%lu/%lu us, "
              "age limit %lu us, affinity bonus %u permille",
              config.alpha_num, config.alpha_den, config.hot_below_ns / 1000,
              config.cold_above_ns / 1000, config.slice_ns[0] / 1000, config.slice_ns[1] / 1000,
              config.slice_ns[2] / 1000, config.age_limit_ns / 1000,
              config.affinity_bonus_permille);
    return {};
}

exo::Result<void> prepare_secondary_cpu(Cpu& cpu, const KernelStack& stack) {
    TRY(init_cpu_queue(cpu.index));
    cpu.idle = TRY(thread::create_idle(stack, idle_entry, cpu.index));
    return {};
}

void run_secondary_cpu(Cpu& cpu) {
    cpu.current = cpu.idle;
    cpu.idle->on_cpu.store(true, std::memory_order_relaxed);
    load_thread_context(cpu, *cpu.idle);
    fpu::switch_in(*cpu.idle);
    publish_online(cpu.index);
    cpu.online.store(true, std::memory_order_release);
    cpu::enable_interrupts();
    idle_loop();
}

const Policy& policy() {
    return *the_policy;
}

void enqueue_new(Thread& thread) {
    bool enabled = cpu::save_and_disable_interrupts();
    place(thread, clock::now_ns(), true);
    cpu::restore_interrupts(enabled);
    if (enabled)
        preempt_if_needed();
}

void reload_context() {
    bool enabled = cpu::save_and_disable_interrupts();
    Cpu& cpu = this_cpu();
    load_thread_context(cpu, *cpu.current);
    cpu::restore_interrupts(enabled);
}

void yield() {
    bool enabled = cpu::save_and_disable_interrupts();
    schedule(StopReason::Yielded);
    cpu::restore_interrupts(enabled);
}

void preempt() {
    schedule(StopReason::Preempted);
}

void block_current() {
    EXO_ASSERT(!cpu::interrupts_enabled(), "block_current with interrupts enabled");
    schedule(StopReason::Blocked);
}

bool wake(Thread& t, WakeReason reason, bool may_preempt) {
    bool enabled = cpu::save_and_disable_interrupts();
    uint64_t now = clock::now_ns();
    CpuSched* cs;
    for (;;) {
        uint32_t c = __atomic_load_n(&t.cpu, __ATOMIC_RELAXED);
        cs = &sched_of(c);
        cs->lock.lock();
        if (__atomic_load_n(&t.cpu, __ATOMIC_RELAXED) == c)
            break;
        cs->lock.unlock();
    }
    if (t.state.load(std::memory_order_relaxed) != ThreadState::Blocked) {
        cs->lock.unlock();
        cpu::restore_interrupts(enabled);
        return false;
    }
    t.wake_reason = reason;
    t.woken_at = now;
    ++t.wakeups;
    if (cs->rq->current() == &t.entity) {
        // Not yet switched away: it keeps running (its schedule() sees Running: a yield).
        t.state.store(ThreadState::Running, std::memory_order_relaxed);
        cs->lock.unlock();
        cpu::restore_interrupts(enabled);
        return true;
    }
    t.state.store(ThreadState::Ready, std::memory_order_relaxed);
    cs->lock.unlock();
    // Its old CPU may still be switching away from it: wait until it has, before it can be
    // queued anywhere (as Linux's try_to_wake_up waits for on_cpu). With stealing that skips
    // such threads too, a queued thread is never still on a CPU, so schedule() never waits on
    // another CPU's switch (which waits on nothing in turn).
    while (t.on_cpu.load(std::memory_order_acquire))
        cpu::pause();
    place(t, now, may_preempt);
    cpu::restore_interrupts(enabled);
    if (enabled)
        preempt_if_needed();
    return true;
}

void preempt_if_needed() {
    if (!cpu::interrupts_enabled())
        return; // an interrupt return or the caller's unlock comes later
    cpu::disable_interrupts();
    Cpu& self = this_cpu();
    if (self.need_resched && self.interrupt_depth == 0)
        schedule(StopReason::Preempted);
    cpu::enable_interrupts();
}

void timer_add(Thread& t, uint64_t deadline_ns) {
    Cpu& cpu = this_cpu();
    CpuSched& cs = sched_of(cpu.index);
    t.wake_deadline = deadline_ns;
    cs.timers.lock.lock();
    Thread** link = &cs.timers.head;
    while (*link && (*link)->wake_deadline <= deadline_ns)
        link = &(*link)->timer_next;
    t.timer_next = *link;
    *link = &t;
    t.timer_list = &cs.timers;
    bool first = cs.timers.head == &t;
    cs.timers.lock.unlock();
    if (first)
        arm_timer(cs, cpu.current != cpu.idle);
}

void timer_cancel(Thread& t) {
    bool enabled = cpu::save_and_disable_interrupts();
    auto* list = static_cast<TimerList*>(t.timer_list);
    if (list != nullptr) {
        list->lock.lock();
        if (t.timer_list == list) {
            Thread** link = &list->head;
            while (*link && *link != &t)
                link = &(*link)->timer_next;
            if (*link)
                *link = t.timer_next;
            t.timer_next = nullptr;
            t.timer_list = nullptr;
        }
        list->lock.unlock();
    }
    cpu::restore_interrupts(enabled);
}

void sleep_ns(uint64_t ns) {
    bool enabled = cpu::save_and_disable_interrupts();
    Thread* self = this_cpu().current;
    self->state.store(ThreadState::Blocked, std::memory_order_relaxed);
    timer_add(*self, clock::now_ns() + ns);
    block_current();
    cpu::restore_interrupts(enabled);
    timer_cancel(*self);
}

Thread* current() {
    return this_cpu().current;
}

void current_stack_bounds(uint64_t& low, uint64_t& high) {
    Thread* t = this_cpu().current;
    if (t != nullptr) {
        low = t->stack.bottom;
        high = t->stack.top;
    }
}

void finish_switch_from_new(Thread& prev) {
    finish_switch(prev);
}

void set_latency_probe(LatencyProbe* p) {
    __atomic_store_n(&probe, p, __ATOMIC_RELEASE);
}

void log_state() {
    uint64_t now = clock::now_ns();
    log::info("sched: now %lu us, idle mask 0x%lx, %lu threads live, %lu exited awaiting reclaim",
              now / 1000, idle_mask.load(std::memory_order_relaxed), thread::live_count(),
              thread::zombie_count());
    for (uint32_t i = 0; i < online_count.load(std::memory_order_acquire); ++i) {
        uint32_t c = online_cpu[i];
        CpuSched& cs = sched_of(c);
        Cpu& cpu = percpu::cpu(c);
        Thread* running = cpu.current;
        Thread* sleeper = cs.timers.head;
        log::info("sched: CPU %u: running %s#%lu, %zu queued, %lu dispatches, %lu timer ticks, "
                  "first sleeper deadline %ld us from now, need_resched %d",
                  c, running ? running->name : "-", running ? running->id : 0, cs.rq->size(),
                  cs.dispatches, cpu.timer_ticks,
                  sleeper ? int64_t(sleeper->wake_deadline - now) / 1000 : 0, cpu.need_resched);
    }
}

uint64_t dispatch_count(uint32_t cpu) {
    return __atomic_load_n(&cpus[cpu].dispatches, __ATOMIC_RELAXED);
}

} // namespace mk::sched

// First code of a new thread, from thread_start (switch.S), interrupts still disabled.
extern "C" [[noreturn]] void thread_entry(mk::Thread* prev, mk::Thread* self) {
    mk::sched::finish_switch_from_new(*prev);
    mk::cpu::enable_interrupts();
    self->entry(self->arg);
    mk::thread::exit();
}
