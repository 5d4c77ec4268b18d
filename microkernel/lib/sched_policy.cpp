// The predictive scheduler policy and its run queue (see sched_policy.hpp and docs/scheduler.md).
// Portable and unlocked: the kernel serializes the calls on each RunQueue.
#include "lib/sched_policy.hpp"

#include <exo/assert.hpp>

namespace mk::sched {

using exo::Result;
using exo::Status;

namespace {

uint64_t saturate(uint64_t ns) {
    return ns < kMaxBurstNs ? ns : kMaxBurstNs;
}

uint64_t max(uint64_t a, uint64_t b) {
    return a > b ? a : b;
}

} // namespace

// ---- Policy ----

Result<void> Policy::validate(const Config& c) {
    if (c.alpha_num == 0 || c.alpha_den == 0 || c.alpha_num > c.alpha_den)
        return Status::InvalidArgument;
    if (c.alpha_den > kMaxAlphaDen || c.affinity_bonus_permille > 1000)
        return Status::OutOfRange;
    if (c.hot_below_ns > kMaxBurstNs || c.cold_above_ns > kMaxBurstNs ||
        c.initial_prediction_ns > kMaxBurstNs)
        return Status::OutOfRange;
    if (c.hot_below_ns > c.cold_above_ns)
        return Status::InvalidArgument;
    for (uint64_t slice : c.slice_ns)
        if (slice == 0 || c.age_limit_ns < slice)
            return Status::InvalidArgument;
    return {};
}

Result<Policy> Policy::create(const Config& config) {
    TRY(validate(config));
    return Policy(config);
}

void Policy::init(Entity& e) const {
    e = Entity{};
    e.prediction_ns = config_.initial_prediction_ns;
}

Class Policy::classify_ns(uint64_t prediction_ns) const {
    if (prediction_ns < config_.hot_below_ns)
        return Class::Hot;
    if (prediction_ns > config_.cold_above_ns)
        return Class::Cold;
    return Class::Normal;
}

Class Policy::classify(const Entity& e) const {
    return classify_ns(max(e.prediction_ns, e.burst_ns));
}

uint64_t Policy::ema(uint64_t prediction_ns, uint64_t burst_ns) const {
    const uint64_t num = config_.alpha_num;
    const uint64_t den = config_.alpha_den;
    // Each term is below 2^40 * 2^16, so the sum cannot overflow.
    return (saturate(prediction_ns) * (den - num) + saturate(burst_ns) * num + den / 2) / den;
}

void Policy::ran(Entity& e, uint64_t ran_ns, StopReason why) const {
    e.burst_ns = saturate(e.burst_ns + saturate(ran_ns));
    e.runtime_ns += ran_ns < UINT64_MAX - e.runtime_ns ? ran_ns : UINT64_MAX - e.runtime_ns;
    if (why == StopReason::Preempted)
        return;
    e.prediction_ns = ema(e.prediction_ns, e.burst_ns);
    e.burst_ns = 0;
}

uint64_t Policy::slice_left_ns(const Entity& e) const {
    return e.slice_used_ns < slice_ns(e) ? slice_ns(e) - e.slice_used_ns : 0;
}

bool Policy::slice_used_up(const Entity& running, uint64_t ran_ns) const {
    return saturate(ran_ns) + running.slice_used_ns >= slice_ns(running);
}

bool Policy::should_preempt(const Entity& running, uint64_t ran_ns, const RunQueue& queue,
                            uint64_t now) const {
    if (queue.size() == 0)
        return false;
    if (slice_used_up(running, ran_ns))
        return true;
    if (running.aged)
        return false;
    const uint64_t burst = saturate(running.burst_ns + saturate(ran_ns));
    const Class current = classify_ns(max(running.prediction_ns, burst));
    return uint32_t(queue.peek(now)->klass) < uint32_t(current);
}

uint32_t Policy::choose_cpu(const Entity& e, const RunQueue* const* queues, uint32_t count) const {
    EXO_ASSERT(count > 0, "choose_cpu needs at least one queue");
    uint32_t least = 0;
    for (uint32_t i = 1; i < count; ++i)
        if (queues[i]->load() < queues[least]->load())
            least = i;
    if (e.last_cpu >= count)
        return least;
    // Loads are thread counts (far below 2^54), so the products cannot overflow.
    const uint64_t last_load = queues[e.last_cpu]->load();
    const uint64_t least_load = queues[least]->load();
    if (last_load * 1000 > least_load * (1000 + config_.affinity_bonus_permille))
        return least;
    return e.last_cpu;
}

bool Policy::is_behind(const Entity& e, Class c, uint64_t since, uint64_t runtime_ns) const {
    const uint64_t gap = config_.slice_ns[uint32_t(c)] / 2;
    return e.enqueued_at <= since && e.runtime_ns < runtime_ns && runtime_ns - e.runtime_ns > gap;
}

uint32_t Policy::find_behind(const RunQueue* const* queues, uint32_t count, uint32_t self, Class c,
                             uint64_t since, uint64_t runtime_ns) const {
    const uint64_t gap = config_.slice_ns[uint32_t(c)] / 2;
    if (runtime_ns <= gap)
        return kNoCpu;
    uint32_t behind = kNoCpu;
    uint64_t least = runtime_ns - gap; // strictly below this
    for (uint32_t i = 0; i < count; ++i) {
        if (i == self || queues[i]->oldest_since(c) > since)
            continue;
        const uint64_t runtime = queues[i]->oldest_runtime(c);
        if (runtime < least) {
            behind = i;
            least = runtime;
        }
    }
    return behind;
}

uint32_t Policy::find_busiest(const RunQueue* const* queues, uint32_t count, uint32_t self) const {
    uint32_t busiest = kNoCpu;
    uint64_t busiest_load = self < count ? queues[self]->load() : 0;
    for (uint32_t i = 0; i < count; ++i) {
        if (i == self || queues[i]->size() == 0)
            continue;
        if (queues[i]->load() > busiest_load) {
            busiest = i;
            busiest_load = queues[i]->load();
        }
    }
    return busiest;
}

bool Policy::is_cache_hot(const Entity& e, uint32_t cpu, uint64_t now) const {
    return e.last_cpu == cpu && now - e.stopped_at < config_.cache_hot_ns;
}

// ---- RunQueue ----

void RunQueue::push(Entity& e, uint64_t now) {
    EXO_ASSERT(e.queue == nullptr && &e != current_, "push of a queued or running thread");
    // A thread preempted here before the end of its slice resumes its turn (and keeps its
    // enqueued_at: it was the oldest of its class when popped, and still is), if it is still
    // in the class it was picked from.
    const bool resume = e.keeps_turn && e.last_cpu == cpu_ && e.klass == policy_.classify(e);
    e.keeps_turn = false;
    if (!resume) {
        e.slice_used_ns = 0;
        e.enqueued_at = now;
    }
    link(e, now, resume);
}

void RunQueue::push_front(Entity& e) {
    EXO_ASSERT(e.queue == nullptr && &e != current_, "push of a queued or running thread");
    e.slice_used_ns = 0;
    e.keeps_turn = false;
    link(e, e.enqueued_at, true);
    // Normally the oldest of its class here; if not, move it back to its place in the FIFO.
    List& list = lists_[uint32_t(e.klass)];
    Entity* after = nullptr;
    for (Entity* n = e.next; n != nullptr && n->enqueued_at < e.enqueued_at; n = n->next)
        after = n;
    if (after == nullptr)
        return;
    list.head = e.next;
    e.next->prev = nullptr;
    e.prev = after;
    e.next = after->next;
    (after->next != nullptr ? after->next->prev : list.tail) = &e;
    after->next = &e;
    update_hints(list);
}

void RunQueue::link(Entity& e, uint64_t now, bool at_head) {
    const uint32_t c = uint32_t(policy_.classify(e));
    List& list = lists_[c];
    e.klass = Class(c);
    e.aged = false;
    e.queue = this;
    if (at_head) {
        e.prev = nullptr;
        e.next = list.head;
        (list.head != nullptr ? list.head->prev : list.tail) = &e;
        list.head = &e;
    } else {
        e.next = nullptr;
        e.prev = list.tail;
        (list.tail != nullptr ? list.tail->next : list.head) = &e;
        list.tail = &e;
    }
    update_hints(list);
    if (list.size++ == 0) {
        list.served_at = now; // its wait for service starts now
        nonempty_ |= uint8_t(1u << c);
    }
    ++size_;
}

uint32_t RunQueue::pick_class(uint64_t now, bool* aged) const {
    const uint64_t limit = policy_.config().age_limit_ns;
    uint32_t starving = kClassCount;
    for (uint32_t c = 0; c < kClassCount; ++c) {
        const List& list = lists_[c];
        if (list.size != 0 && now > list.served_at && now - list.served_at > limit &&
            (starving == kClassCount || list.served_at < lists_[starving].served_at))
            starving = c;
    }
    *aged = starving != kClassCount;
    return *aged ? starving : uint32_t(__builtin_ctz(nonempty_));
}

const Entity* RunQueue::peek(uint64_t now) const {
    if (size_ == 0)
        return nullptr;
    bool aged;
    return lists_[pick_class(now, &aged)].head;
}

Entity* RunQueue::pop(uint64_t now) {
    EXO_ASSERT(current_ == nullptr, "pop while a thread is running");
    if (size_ == 0)
        return nullptr;
    bool aged;
    Entity* e = lists_[pick_class(now, &aged)].head;
    unlink(*e);
    e->aged = aged;
    e->last_cpu = cpu_;
    current_ = e;
    return e;
}

void RunQueue::stop(Entity& e, uint64_t ran_ns, StopReason why, uint64_t now) {
    EXO_ASSERT(&e == current_, "stop of a thread that is not running here");
    current_ = nullptr;
    policy_.ran(e, ran_ns, why);
    e.stopped_at = now;
    const uint64_t used = e.slice_used_ns + saturate(ran_ns);
    e.keeps_turn = why == StopReason::Preempted && used < policy_.slice_ns(e);
    if (e.keeps_turn) {
        e.slice_used_ns = used; // not a completed service: it resumes from the head
        return;
    }
    e.slice_used_ns = 0;
    lists_[uint32_t(e.klass)].served_at = now;
}

Entity* RunQueue::steal_one(uint64_t now) {
    if (size_ == 0)
        return nullptr;
    Entity* fallback = nullptr;
    for (uint32_t c = kClassCount; c-- > 0;) {
        const List& list = lists_[c];
        if (list.size == 0)
            continue;
        Entity* candidate = nullptr;
        if (!policy_.is_cache_hot(*list.tail, cpu_, now))
            candidate = list.tail;
        else if (!policy_.is_cache_hot(*list.head, cpu_, now))
            candidate = list.head;
        if (fallback == nullptr)
            fallback = list.tail;
        if (candidate != nullptr) {
            unlink(*candidate);
            return candidate;
        }
    }
    unlink(*fallback);
    return fallback;
}

Entity* RunQueue::take_behind(Class c, uint64_t since, uint64_t runtime_ns) {
    Entity* e = lists_[uint32_t(c)].head;
    if (e == nullptr || !policy_.is_behind(*e, c, since, runtime_ns))
        return nullptr;
    unlink(*e);
    return e;
}

bool RunQueue::remove(Entity& e) {
    if (e.queue != this)
        return false;
    unlink(e);
    return true;
}

void RunQueue::unlink(Entity& e) {
    const uint32_t c = uint32_t(e.klass);
    List& list = lists_[c];
    (e.prev != nullptr ? e.prev->next : list.head) = e.next;
    (e.next != nullptr ? e.next->prev : list.tail) = e.prev;
    e.next = e.prev = nullptr;
    e.queue = nullptr;
    update_hints(list);
    if (--list.size == 0)
        nonempty_ &= uint8_t(~(1u << c));
    --size_;
}

void RunQueue::update_hints(List& list) {
    list.head_since = list.head != nullptr ? list.head->enqueued_at : UINT64_MAX;
    list.head_runtime = list.head != nullptr ? list.head->runtime_ns : UINT64_MAX;
}

bool RunQueue::check_invariants() const {
    size_t total = 0;
    for (uint32_t c = 0; c < kClassCount; ++c) {
        const List& list = lists_[c];
        size_t n = 0;
        const Entity* prev = nullptr;
        for (const Entity* e = list.head; e != nullptr; prev = e, e = e->next) {
            if (e->prev != prev || e->queue != this || uint32_t(e->klass) != c || e == current_)
                return false;
            if (prev != nullptr && prev->enqueued_at > e->enqueued_at)
                return false;
            if (++n > size_)
                return false; // a cycle, or more entities than counted
        }
        if (list.tail != prev || n != list.size || ((nonempty_ >> c) & 1) != (n != 0 ? 1 : 0))
            return false;
        if (list.head_since != (n != 0 ? list.head->enqueued_at : UINT64_MAX) ||
            list.head_runtime != (n != 0 ? list.head->runtime_ns : UINT64_MAX))
            return false;
        total += n;
    }
    return total == size_ && nonempty_ < (1u << kClassCount) &&
           (current_ == nullptr || current_->queue == nullptr);
}

} // namespace mk::sched
