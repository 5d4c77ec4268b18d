// The scheduler simulator (see sched_sim.hpp): the event loop, the EMA adapter that drives
// mk::sched the way the kernel does, and the round-robin baseline.
#include "sched_sim.hpp"

#include <algorithm>

namespace sched_sim {

using mk::sched::Entity;
using mk::sched::kNoCpu;
using mk::sched::RunQueue;
using mk::sched::StopReason;

uint64_t Rng::next() {
    uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

uint64_t Rng::uniform(uint64_t lo, uint64_t hi) {
    if (hi - lo == UINT64_MAX)
        return next();
    return lo + next() % (hi - lo + 1);
}

// ---- EmaScheduler: the kernel's call sequence ----

EmaScheduler::EmaScheduler(const mk::sched::Policy& policy, uint32_t cpus, uint32_t threads,
                           EmaOptions options)
    : policy_(policy), entities_(threads), options_(options) {
    for (uint32_t c = 0; c < cpus; ++c) {
        queues_.push_back(std::make_unique<RunQueue>(policy, c));
        queue_ptrs_.push_back(queues_.back().get());
    }
    for (auto& e : entities_)
        policy_.init(e);
}

uint32_t EmaScheduler::wake(uint32_t tid, uint64_t now) {
    Entity& e = entities_[tid];
    const uint32_t cpu = policy_.choose_cpu(e, queue_ptrs_.data(), uint32_t(queues_.size()));
    queues_[cpu]->push(e, now);
    return cpu;
}

uint32_t EmaScheduler::pick(uint32_t cpu, uint64_t now) {
    RunQueue& rq = *queues_[cpu];
    if (rq.size() == 0) {
        if (!options_.steal)
            return kNone;
        // Idle: steal from the busiest queue, then run what was stolen.
        const uint32_t victim =
            policy_.find_busiest(queue_ptrs_.data(), uint32_t(queues_.size()), cpu);
        if (victim == kNoCpu)
            return kNone;
        Entity* stolen = queues_[victim]->steal_one(now);
        rq.push(*stolen, now);
        ++steals_;
    }
    Entity* e = rq.pop(now);
    return uint32_t(e - entities_.data());
}

bool EmaScheduler::should_preempt(uint32_t cpu, uint32_t tid, uint64_t ran_ns, uint64_t now) {
    const Entity& e = entities_[tid];
    const RunQueue& rq = *queues_[cpu];
    if (policy_.should_preempt(e, ran_ns, rq, now))
        return true;
    // Alone here at the end of its slice: make way if another CPU has a thread behind it.
    return options_.balance && rq.size() == 0 && policy_.slice_used_up(e, ran_ns) &&
           policy_.find_behind(queue_ptrs_.data(), uint32_t(queues_.size()), cpu,
                               policy_.classify(e), now, e.runtime_ns + ran_ns) != kNoCpu;
}

void EmaScheduler::stop(uint32_t cpu, uint32_t tid, uint64_t ran_ns, StopReason why, uint64_t now) {
    Entity& e = entities_[tid];
    RunQueue& rq = *queues_[cpu];
    rq.stop(e, ran_ns, why, now);
    if (why == StopReason::Blocked)
        return;
    const bool full_slice = why == StopReason::Preempted && !e.keeps_turn;
    rq.push(e, now);
    if (!full_slice || !options_.balance)
        return;
    // A full slice ended: run next a thread that is behind on another CPU, if there is one.
    const Entity* next = rq.peek(now);
    const uint32_t victim = policy_.find_behind(queue_ptrs_.data(), uint32_t(queues_.size()), cpu,
                                                next->klass, next->enqueued_at, next->runtime_ns);
    if (victim == kNoCpu)
        return;
    if (Entity* behind =
            queues_[victim]->take_behind(next->klass, next->enqueued_at, next->runtime_ns)) {
        rq.push_front(*behind);
        ++pulls_;
    }
}

// ---- RoundRobin ----

RoundRobin::RoundRobin(uint64_t slice_ns, uint32_t cpus, uint32_t threads)
    : slice_ns_(slice_ns), queues_(cpus), running_(cpus, false), last_cpu_(threads, kNone) {}

uint32_t RoundRobin::wake(uint32_t tid, uint64_t) {
    uint32_t best = last_cpu_[tid] != kNone ? last_cpu_[tid] : 0;
    for (uint32_t c = 0; c < queues_.size(); ++c)
        if (load(c) < load(best))
            best = c;
    queues_[best].push_back(tid);
    return best;
}

uint32_t RoundRobin::pick(uint32_t cpu, uint64_t) {
    uint32_t from = cpu;
    if (queues_[cpu].empty())
        for (uint32_t c = 0; c < queues_.size(); ++c)
            if (queues_[c].size() > queues_[from].size())
                from = c;
    if (queues_[from].empty())
        return kNone;
    const uint32_t tid = queues_[from].front();
    queues_[from].pop_front();
    running_[cpu] = true;
    last_cpu_[tid] = cpu;
    return tid;
}

bool RoundRobin::should_preempt(uint32_t cpu, uint32_t, uint64_t ran_ns, uint64_t) {
    return ran_ns >= slice_ns_ && !queues_[cpu].empty();
}

void RoundRobin::stop(uint32_t cpu, uint32_t tid, uint64_t, StopReason why, uint64_t) {
    running_[cpu] = false;
    if (why != StopReason::Blocked)
        queues_[cpu].push_back(tid);
}

// ---- Simulator ----

Simulator::Simulator(const Machine& machine, Scheduler& scheduler, std::vector<Workload> workloads)
    : machine_(machine), scheduler_(scheduler), cpus_(machine.cpus), next_tick_(machine.tick_ns) {
    threads_.resize(workloads.size());
    for (size_t i = 0; i < workloads.size(); ++i) {
        Thread& t = threads_[i];
        t.workload = workloads[i];
        t.rng.state = machine.seed * 0x100000001b3ull + i;
        t.wake_at = t.workload.start_ns;
    }
}

uint64_t Simulator::cpu_time_ns(uint32_t tid) const {
    uint64_t ns = threads_[tid].stats.cpu_ns;
    for (const Cpu& c : cpus_)
        if (c.running == tid)
            ns += now_ - c.picked_at;
    return ns;
}

uint64_t Simulator::longest_wait_ns(uint32_t tid) const {
    const Thread& t = threads_[tid];
    uint64_t open = 0;
    if (t.waiting) {
        uint64_t until = now_;
        for (const Cpu& c : cpus_)
            if (c.running == tid && c.picked_at < now_)
                until = c.picked_at; // it is running: the wait ended when it was picked
        open = until - t.runnable_since;
    }
    return std::max(t.stats.max_wait_ns, open);
}

uint64_t Simulator::next_event() const {
    uint64_t t = next_tick_;
    for (const Cpu& cpu : cpus_) {
        if (cpu.running == kNone)
            continue;
        const uint64_t remaining = threads_[cpu.running].remaining_ns;
        if (remaining != kForever)
            t = std::min(t, cpu.picked_at + remaining);
    }
    for (const Thread& th : threads_)
        if (th.state == State::Sleeping)
            t = std::min(t, th.wake_at);
    return t;
}

void Simulator::end_run(uint32_t cpu, StopReason why) {
    Cpu& c = cpus_[cpu];
    Thread& t = threads_[c.running];
    const uint64_t ran = now_ - c.picked_at;
    t.stats.cpu_ns += ran;
    if (t.remaining_ns != kForever)
        t.remaining_ns -= ran;
    const uint32_t tid = c.running;
    // A wait ends when the thread receives CPU time: a run cut to 0 ns leaves it open.
    if (ran > 0 || why == StopReason::Blocked)
        close_wait(t, c.picked_at);
    c.running = kNone;
    if (why == StopReason::Blocked) {
        t.state = State::Sleeping;
        t.wake_at = now_ + t.rng.uniform(t.workload.sleep_min_ns, t.workload.sleep_max_ns);
    } else {
        t.state = State::Runnable;
        if (!t.waiting) {
            t.waiting = true;
            t.runnable_since = now_;
        }
    }
    scheduler_.stop(cpu, tid, ran, why, now_);
    // A preempting CPU switches at once, as the kernel's schedule() does; a CPU whose thread
    // blocked picks after the wake-ups of the same instant are queued.
    if (why != StopReason::Blocked)
        dispatch(cpu);
}

void Simulator::close_wait(Thread& t, uint64_t ran_from) {
    if (!t.waiting)
        return;
    t.waiting = false;
    t.stats.max_wait_ns = std::max(t.stats.max_wait_ns, ran_from - t.runnable_since);
    if (t.pending_latency) {
        t.stats.wake_latency_ns.push_back(ran_from - t.woke_at);
        t.pending_latency = false;
    }
}

void Simulator::wake(uint32_t tid) {
    Thread& t = threads_[tid];
    const Workload& w = t.workload;
    t.remaining_ns =
        w.burst_min_ns == kForever ? kForever : t.rng.uniform(w.burst_min_ns, w.burst_max_ns);
    t.state = State::Runnable;
    t.runnable_since = t.woke_at = now_;
    t.waiting = true;
    t.pending_latency = true;
    const uint32_t cpu = scheduler_.wake(tid, now_);
    const Cpu& c = cpus_[cpu];
    if (c.running != kNone && scheduler_.should_preempt(cpu, c.running, now_ - c.picked_at, now_))
        end_run(cpu, StopReason::Preempted);
}

void Simulator::dispatch(uint32_t cpu) {
    const uint32_t tid = scheduler_.pick(cpu, now_);
    if (tid == kNone)
        return;
    Thread& t = threads_[tid];
    t.state = State::Running;
    ++t.stats.dispatches;
    if (t.stats.last_cpu != kNone && t.stats.last_cpu != cpu)
        ++t.stats.migrations;
    t.stats.last_cpu = cpu;
    cpus_[cpu] = {tid, now_};
}

void Simulator::run_until(uint64_t end_ns) {
    for (;;) {
        const uint64_t t = next_event();
        const uint64_t until = std::min(t, end_ns);
        // Idle CPUs while a thread waits somewhere: what work stealing should prevent.
        size_t idle = 0, queued = 0;
        for (const Cpu& c : cpus_)
            idle += c.running == kNone;
        for (const Thread& th : threads_)
            queued += th.state == State::Runnable;
        if (queued != 0)
            idle_while_queued_ns_ += (until - now_) * idle;
        now_ = until;
        if (t > end_ns)
            break;

        // Completed bursts block, then due wake-ups are queued (possibly preempting), then the
        // tick asks each CPU whether to preempt, then idle CPUs pick. A CPU whose thread stops
        // picks the next one at once.
        for (uint32_t c = 0; c < cpus_.size(); ++c) {
            const uint32_t tid = cpus_[c].running;
            if (tid != kNone && threads_[tid].remaining_ns != kForever &&
                cpus_[c].picked_at + threads_[tid].remaining_ns == now_)
                end_run(c, StopReason::Blocked);
        }
        for (uint32_t tid = 0; tid < threads_.size(); ++tid)
            if (threads_[tid].state == State::Sleeping && threads_[tid].wake_at == now_)
                wake(tid);
        if (now_ == next_tick_) {
            next_tick_ += machine_.tick_ns;
            for (uint32_t c = 0; c < cpus_.size(); ++c) {
                const Cpu& cpu = cpus_[c];
                if (cpu.running != kNone &&
                    scheduler_.should_preempt(c, cpu.running, now_ - cpu.picked_at, now_))
                    end_run(c, StopReason::Preempted);
            }
        }
        for (uint32_t c = 0; c < cpus_.size(); ++c)
            if (cpus_[c].running == kNone)
                dispatch(c);
    }
}

} // namespace sched_sim
