// The EMA scheduler policy (microkernel/lib/sched_policy): unit tests of the EMA, classes, pick
// order, ageing, stealing and placement, then simulations on a virtual clock (sched_sim) for
// fairness, interactive latency against round robin, the wait bound, and cache affinity.
#include "sched_sim.hpp"
#include "support.hpp"

#include "lib/sched_policy.hpp"

#include <algorithm>
#include <catch2/catch.hpp>
#include <memory>
#include <vector>

using exo::Status;
using mk::sched::Class;
using mk::sched::Config;
using mk::sched::Entity;
using mk::sched::kNoCpu;
using mk::sched::Policy;
using mk::sched::RunQueue;
using mk::sched::StopReason;
using namespace sched_sim;

namespace {

Policy make_policy(const Config& config) {
    auto p = Policy::create(config);
    REQUIRE(p.ok());
    return p.release_value();
}

// An entity with a given prediction, ready to be pushed.
Entity entity(const Policy& policy, uint64_t prediction_ns) {
    Entity e;
    policy.init(e);
    e.prediction_ns = prediction_ns;
    return e;
}

// Pops everything; returns indexes into `es` in pop order (each popped thread is stopped at
// once, as preempted after running 0 ns, and not queued again).
std::vector<size_t> drain(RunQueue& rq, std::vector<Entity>& es, uint64_t now) {
    std::vector<size_t> order;
    while (Entity* e = rq.pop(now)) {
        order.push_back(size_t(e - es.data()));
        rq.stop(*e, 0, StopReason::Preempted, now);
    }
    return order;
}

// Loads for choose_cpu/find_busiest: queue i holds loads[i] queued threads.
struct Cpus {
    Cpus(const Policy& policy, std::vector<uint32_t> loads) {
        size_t total = 0;
        for (uint32_t l : loads)
            total += l;
        threads.resize(total);
        size_t next = 0;
        for (uint32_t c = 0; c < loads.size(); ++c) {
            queues.push_back(std::make_unique<RunQueue>(policy, c));
            ptrs.push_back(queues.back().get());
            for (uint32_t i = 0; i < loads[c]; ++i) {
                policy.init(threads[next]);
                queues[c]->push(threads[next++], 0);
            }
        }
    }
    uint32_t count() const { return uint32_t(ptrs.size()); }
    std::vector<Entity> threads;
    std::vector<std::unique_ptr<RunQueue>> queues;
    std::vector<const RunQueue*> ptrs;
};

uint64_t p99(std::vector<uint64_t> v) {
    REQUIRE(!v.empty());
    std::sort(v.begin(), v.end());
    return v[(v.size() * 99 + 99) / 100 - 1]; // nearest rank
}

uint64_t max_slice(const Config& c) {
    return std::max({c.slice_ns[0], c.slice_ns[1], c.slice_ns[2]});
}

// The wait bound of docs/scheduler.md with n runnable threads and a timer tick of `tick`:
// n * (age_limit + 4 * (max slice + tick)).
uint64_t wait_bound(const Config& c, uint64_t n, uint64_t tick) {
    return n * (c.age_limit_ns + 4 * (max_slice(c) + tick));
}

} // namespace

// ---- Unit tests ----

TEST_CASE("sched: config validation") {
    REQUIRE(Policy::validate(Config{}).ok());
    auto check = [](auto edit, Status expected) {
        Config c;
        edit(c);
        REQUIRE(Policy::validate(c).status() == expected);
        REQUIRE(Policy::create(c).status() == expected);
    };
    check([](Config& c) { c.alpha_den = 0; }, Status::InvalidArgument);
    check([](Config& c) { c.alpha_num = 0; }, Status::InvalidArgument);
    check([](Config& c) { c.alpha_num = 5; }, Status::InvalidArgument); // > den
    check([](Config& c) { c.alpha_den = mk::sched::kMaxAlphaDen + 1; }, Status::OutOfRange);
    check([](Config& c) { c.affinity_bonus_permille = 1001; }, Status::OutOfRange);
    check([](Config& c) { c.hot_below_ns = 11'000'000; }, Status::InvalidArgument);
    check([](Config& c) { c.cold_above_ns = mk::sched::kMaxBurstNs + 1; }, Status::OutOfRange);
    check([](Config& c) { c.initial_prediction_ns = mk::sched::kMaxBurstNs + 1; },
          Status::OutOfRange);
    check([](Config& c) { c.slice_ns[1] = 0; }, Status::InvalidArgument);
    check([](Config& c) { c.age_limit_ns = c.slice_ns[2] - 1; }, Status::InvalidArgument);

    // The edges that are accepted: alpha = 1, equal thresholds, the largest denominator.
    Config c;
    c.alpha_num = c.alpha_den = mk::sched::kMaxAlphaDen;
    c.hot_below_ns = c.cold_above_ns = 5'000'000;
    c.age_limit_ns = c.slice_ns[2];
    c.affinity_bonus_permille = 1000;
    auto p = Policy::create(c);
    REQUIRE(p.ok());
    REQUIRE(p.value().config().alpha_den == mk::sched::kMaxAlphaDen);
    REQUIRE(p.value().classify_ns(5'000'000) == Class::Normal);
}

TEST_CASE("sched: the EMA in exact integers") {
    Policy policy;
    // prediction + (burst - prediction) / 4, rounded to nearest, halves up.
    REQUIRE(policy.ema(3'000'000, 1'000'000) == 2'500'000);
    REQUIRE(policy.ema(1'000'000, 9'000'000) == 3'000'000);
    REQUIRE(policy.ema(0, 1) == 0);                                        // 0.25
    REQUIRE(policy.ema(0, 2) == 1);                                        // 0.5 rounds up
    REQUIRE(policy.ema(0, 3) == 1);                                        // 0.75
    REQUIRE(policy.ema(1, 0) == 1);                                        // 0.75
    REQUIRE(policy.ema(7, 7) == 7);                                        // a fixed point
    REQUIRE(policy.ema(UINT64_MAX, UINT64_MAX) == mk::sched::kMaxBurstNs); // saturates

    // Repeated 1 ms bursts from the initial 3 ms: 1 ms + 2 ms * (3/4)^k, rounded at each step.
    Entity e;
    policy.init(e);
    REQUIRE(e.prediction_ns == 3'000'000);
    const uint64_t expected[] = {2'500'000, 2'125'000, 1'843'750, 1'632'813};
    for (uint64_t want : expected) {
        policy.ran(e, 1'000'000, StopReason::Blocked);
        REQUIRE(e.prediction_ns == want);
        REQUIRE(e.burst_ns == 0);
    }

    // A preemption does not end the burst: 4 + 4 ms then a block is one 8 ms burst.
    policy.init(e);
    policy.ran(e, 4'000'000, StopReason::Preempted);
    REQUIRE(e.prediction_ns == 3'000'000);
    REQUIRE(e.burst_ns == 4'000'000);
    policy.ran(e, 4'000'000, StopReason::Preempted);
    policy.ran(e, 0, StopReason::Yielded); // a yield ends it
    REQUIRE(e.prediction_ns == 4'250'000); // 3 + (8 - 3) / 4
    REQUIRE(e.burst_ns == 0);
    REQUIRE(e.runtime_ns == 8'000'000);

    // Another alpha: 1/2, and alpha = 1 (the last burst is the prediction).
    Config c;
    c.alpha_num = 1;
    c.alpha_den = 2;
    REQUIRE(make_policy(c).ema(3, 0) == 2); // 1.5 rounds up
    c.alpha_num = c.alpha_den = 3;
    REQUIRE(make_policy(c).ema(123'456, 42) == 42);
}

TEST_CASE("sched: classes by max(prediction, burst in progress)") {
    Policy policy;
    REQUIRE(policy.classify_ns(0) == Class::Hot);
    REQUIRE(policy.classify_ns(2'999'999) == Class::Hot);
    REQUIRE(policy.classify_ns(3'000'000) == Class::Normal);
    REQUIRE(policy.classify_ns(10'000'000) == Class::Normal);
    REQUIRE(policy.classify_ns(10'000'001) == Class::Cold);

    Entity e = entity(policy, 1'000'000);
    REQUIRE(policy.classify(e) == Class::Hot);
    policy.ran(e, 2'999'999, StopReason::Preempted);
    REQUIRE(policy.classify(e) == Class::Hot);
    policy.ran(e, 1, StopReason::Preempted); // a hog is reclassified while its burst runs
    REQUIRE(policy.classify(e) == Class::Normal);
    policy.ran(e, 7'000'001, StopReason::Preempted);
    REQUIRE(policy.classify(e) == Class::Cold);
    policy.ran(e, 0, StopReason::Blocked); // 1 + (10.000001 - 1) / 4 = 3.25 ms
    REQUIRE(e.prediction_ns == 3'250'000);
    REQUIRE(policy.classify(e) == Class::Normal);
}

TEST_CASE("sched: pop serves Hot, then Normal, then Cold, FIFO within a class") {
    Policy policy;
    RunQueue rq(policy, 0);
    const uint64_t preds[] = {20'000'000, 1'000'000, 5'000'000, 2'000'000,
                              30'000'000, 4'000'000, 0,         11'000'000};
    std::vector<Entity> es;
    for (uint64_t p : preds)
        es.push_back(entity(policy, p));
    for (size_t i = 0; i < es.size(); ++i)
        rq.push(es[i], 1000 + i);
    REQUIRE(rq.size() == 8);
    REQUIRE(rq.size(Class::Hot) == 3);
    REQUIRE(rq.size(Class::Normal) == 2);
    REQUIRE(rq.size(Class::Cold) == 3);
    REQUIRE(rq.load() == 8);
    REQUIRE(rq.check_invariants());
    REQUIRE(rq.peek(2000) == &es[1]);

    Entity* first = rq.pop(2000);
    REQUIRE(first == &es[1]);
    REQUIRE(rq.current() == first);
    REQUIRE(first->last_cpu == 0);
    REQUIRE(first->queue == nullptr);
    REQUIRE(rq.load() == 8); // 7 queued + the running one
    REQUIRE(rq.check_invariants());
    rq.stop(*first, 0, StopReason::Blocked, 2000);
    REQUIRE(rq.current() == nullptr);
    REQUIRE(rq.load() == 7);

    const std::vector<size_t> want = {3, 6, 2, 5, 0, 4, 7};
    REQUIRE(drain(rq, es, 2000) == want);
    REQUIRE(rq.size() == 0);
    REQUIRE(rq.pop(2000) == nullptr);
    REQUIRE(rq.peek(2000) == nullptr);
    REQUIRE(rq.check_invariants());
}

TEST_CASE("sched: a thread preempted early resumes first; after its slice it queues last") {
    Policy policy;
    RunQueue rq(policy, 0);
    std::vector<Entity> es = {entity(policy, 1'000'000), entity(policy, 1'000'000),
                              entity(policy, 5'000'000)};
    for (auto& e : es)
        rq.push(e, 0);
    Entity* a = rq.pop(0);
    REQUIRE(a == &es[0]);
    rq.stop(*a, 1'000'000, StopReason::Preempted, 1'000'000); // by a more urgent thread
    REQUIRE(a->slice_used_ns == 1'000'000);
    rq.push(*a, 1'000'000);
    REQUIRE(rq.peek(1'000'000) == a); // back at the head of Hot, before es[1]
    REQUIRE(rq.pop(1'000'000) == a);
    REQUIRE(policy.slice_left_ns(*a) == 2'000'000);
    REQUIRE_FALSE(policy.should_preempt(*a, 1'999'999, rq, 2'999'999));
    REQUIRE(policy.should_preempt(*a, 2'000'000, rq, 3'000'000)); // 1 + 2 ms: slice used up
    rq.stop(*a, 2'000'000, StopReason::Preempted, 3'000'000);
    REQUIRE(a->slice_used_ns == 0);
    REQUIRE_FALSE(a->keeps_turn);
    rq.push(*a, 3'000'000); // a 3 ms burst: Normal now, behind es[2]
    REQUIRE(a->klass == Class::Normal);
    REQUIRE(rq.check_invariants());
    REQUIRE(drain(rq, es, 3'000'000) == std::vector<size_t>{1, 2, 0});

    // Preempted early, but its burst has moved it to another class: the tail, slice dropped.
    Entity b = entity(policy, 1'000'000);
    Entity c = entity(policy, 5'000'000);
    policy.ran(b, 1'000'000, StopReason::Preempted);
    rq.push(c, 0);
    rq.push(b, 0);
    REQUIRE(rq.pop(0) == &b);
    rq.stop(b, 2'500'000, StopReason::Preempted, 2'500'000);
    REQUIRE(b.slice_used_ns == 2'500'000);
    rq.push(b, 2'500'000);
    REQUIRE(b.klass == Class::Normal);
    REQUIRE(b.slice_used_ns == 0);
    REQUIRE(rq.peek(2'500'000) == &c);

    // Preempted early here but queued on another CPU: the tail there, slice dropped.
    RunQueue other(policy, 1);
    Entity d = entity(policy, 5'000'000);
    other.push(d, 0);
    REQUIRE(rq.remove(b));
    REQUIRE(rq.pop(2'500'000) == &c);
    rq.stop(c, 1'000'000, StopReason::Preempted, 3'500'000);
    REQUIRE(c.slice_used_ns == 1'000'000);
    other.push(c, 3'500'000);
    REQUIRE(c.slice_used_ns == 0);
    REQUIRE(other.peek(3'500'000) == &d);
    REQUIRE(other.check_invariants());
}

TEST_CASE("sched: ageing serves a starved class within age_limit") {
    Policy policy; // age limit 100 ms
    const uint64_t limit = policy.config().age_limit_ns;
    RunQueue rq(policy, 0);
    std::vector<Entity> hot = {entity(policy, 100'000), entity(policy, 100'000)};
    Entity normal = entity(policy, 5'000'000);
    Entity cold = entity(policy, 50'000'000);
    rq.push(cold, 0);
    rq.push(normal, 10);
    rq.push(hot[0], 20);
    rq.push(hot[1], 20);

    // Hot keeps being served while the lower classes wait up to the limit.
    uint64_t now = 0;
    for (int i = 0; i < 10; ++i) {
        now = limit * uint64_t(i) / 10;
        Entity* e = rq.pop(now);
        REQUIRE(e->klass == Class::Hot);
        REQUIRE_FALSE(e->aged);
        rq.stop(*e, 100'000, StopReason::Blocked, now);
        rq.push(*e, now);
    }
    // Past the limit: Cold has waited longest (since 0), then Normal (since 10).
    REQUIRE(rq.peek(limit) == &hot[0]); // exactly at the limit is not past it
    Entity* e = rq.pop(limit + 1);
    REQUIRE(e == &cold);
    REQUIRE(e->aged);
    // An aged pick keeps the CPU for its slice although Hot waits...
    REQUIRE_FALSE(policy.should_preempt(*e, 1'000'000, rq, limit + 1'000'001));
    REQUIRE(policy.should_preempt(*e, policy.slice_ns(*e), rq, limit + 20'000'001));
    rq.stop(*e, 20'000'000, StopReason::Preempted, limit + 20'000'001);
    rq.push(*e, limit + 20'000'001);
    e = rq.pop(limit + 20'000'001);
    REQUIRE(e == &normal);
    REQUIRE(e->aged);
    rq.stop(*e, 0, StopReason::Blocked, limit + 20'000'001);
    // Both lower classes were just served: Hot again.
    e = rq.pop(limit + 20'000'002);
    REQUIRE(e->klass == Class::Hot);
    REQUIRE_FALSE(e->aged);
    rq.stop(*e, 0, StopReason::Blocked, limit + 20'000'002);
    REQUIRE(rq.check_invariants());
}

TEST_CASE("sched: a service cut short by a more urgent thread does not reset the age") {
    Policy policy;
    const uint64_t limit = policy.config().age_limit_ns;
    RunQueue rq(policy, 0);
    Entity c0 = entity(policy, 50'000'000);
    Entity c1 = entity(policy, 50'000'000);
    Entity hot = entity(policy, 100'000);
    rq.push(c0, 0);
    rq.push(c1, 0);
    REQUIRE(rq.pop(limit - 5'000'000) == &c0); // Hot is empty: Cold runs, not aged
    REQUIRE_FALSE(c0.aged);
    rq.push(hot, limit - 4'000'000);
    REQUIRE(policy.should_preempt(c0, 1'000'000, rq, limit - 4'000'000));
    rq.stop(c0, 1'000'000, StopReason::Preempted, limit - 4'000'000);
    rq.push(c0, limit - 4'000'000);
    // Cold's last completed service is still its arrival at 0: past the limit it goes first,
    // and c0 resumes its turn.
    REQUIRE(rq.peek(limit) == &hot);
    Entity* e = rq.pop(limit + 1);
    REQUIRE(e == &c0);
    REQUIRE(e->aged);
    REQUIRE(e->slice_used_ns == 1'000'000);
    REQUIRE_FALSE(policy.should_preempt(c0, 18'999'999, rq, limit + 19'000'000));
    REQUIRE(policy.should_preempt(c0, 19'000'000, rq, limit + 19'000'001));
}

TEST_CASE("sched: should_preempt") {
    Policy policy;
    RunQueue rq(policy, 0);
    Entity running = entity(policy, 50'000'000);
    Entity waiting = entity(policy, 50'000'000);
    rq.push(running, 0);
    REQUIRE(rq.pop(0) == &running);
    REQUIRE(running.klass == Class::Cold);

    // Nothing waits: never, whatever the time used.
    REQUIRE_FALSE(policy.should_preempt(running, 1'000'000'000, rq, 1'000'000'000));
    // A Cold thread waits: at the end of the Cold slice.
    rq.push(waiting, 0);
    REQUIRE_FALSE(policy.should_preempt(running, 19'999'999, rq, 19'999'999));
    REQUIRE(policy.should_preempt(running, 20'000'000, rq, 20'000'000));
    // A Hot thread waits: at once.
    Entity hot = entity(policy, 1'000);
    rq.push(hot, 5);
    REQUIRE(policy.should_preempt(running, 0, rq, 5));

    // A thread picked as Hot whose burst (1 ms before this pick + the time since) passes 3 ms
    // is preempted by a waiting Hot thread before its Hot slice is used up.
    RunQueue rq2(policy, 1);
    Entity hog = entity(policy, 1'000'000);
    Entity hot2 = entity(policy, 1'000'000);
    policy.ran(hog, 1'000'000, StopReason::Preempted);
    rq2.push(hog, 0);
    REQUIRE(rq2.pop(0) == &hog);
    REQUIRE(hog.klass == Class::Hot);
    REQUIRE(policy.slice_ns(hog) == 3'000'000); // the slice of the class it was picked from
    REQUIRE_FALSE(policy.should_preempt(hog, 1'999'999, rq2, 1'999'999)); // nothing waits
    rq2.push(hot2, 0);
    REQUIRE_FALSE(policy.should_preempt(hog, 1'999'999, rq2, 1'999'999));
    REQUIRE(policy.should_preempt(hog, 2'000'000, rq2, 2'000'000));
}

TEST_CASE("sched: remove unlinks anywhere and refuses foreign entities") {
    Policy policy;
    RunQueue rq(policy, 0), other(policy, 1);
    std::vector<Entity> es(5);
    for (auto& e : es) {
        policy.init(e);
        rq.push(e, 0);
    }
    Entity stranger;
    policy.init(stranger);
    REQUIRE_FALSE(rq.remove(stranger)); // not queued
    REQUIRE_FALSE(other.remove(es[0])); // queued elsewhere
    REQUIRE(rq.size() == 5);
    REQUIRE(rq.remove(es[2])); // middle
    REQUIRE(rq.remove(es[0])); // head
    REQUIRE(rq.remove(es[4])); // tail
    REQUIRE_FALSE(rq.remove(es[4]));
    REQUIRE(es[4].queue == nullptr);
    REQUIRE(rq.size() == 2);
    REQUIRE(rq.check_invariants());
    REQUIRE(drain(rq, es, 0) == std::vector<size_t>{1, 3});
    REQUIRE(rq.check_invariants());
    // Removed entities can be queued again.
    rq.push(es[2], 0);
    REQUIRE(rq.pop(0) == &es[2]);
}

TEST_CASE("sched: misuse of a queue is caught") {
    Policy policy;
    RunQueue rq(policy, 0), other(policy, 1);
    Entity a, b;
    policy.init(a);
    policy.init(b);
    rq.push(a, 0);
    REQUIRE_THROWS_AS(rq.push(a, 0), exo::test::AssertionFailure);    // already queued
    REQUIRE_THROWS_AS(other.push(a, 0), exo::test::AssertionFailure); // queued elsewhere
    rq.push(b, 0);
    REQUIRE(rq.pop(0) == &a);
    REQUIRE_THROWS_AS(rq.pop(0), exo::test::AssertionFailure);     // a is still running
    REQUIRE_THROWS_AS(rq.push(a, 0), exo::test::AssertionFailure); // running: stop() first
    REQUIRE_THROWS_AS(rq.stop(b, 0, StopReason::Blocked, 0), exo::test::AssertionFailure);
    rq.stop(a, 0, StopReason::Blocked, 0);
    REQUIRE(rq.check_invariants());
}

TEST_CASE("sched: steal_one takes the least urgent, cache-cold thread") {
    Policy policy; // cache-hot for 0.5 ms
    RunQueue rq(policy, 3);
    REQUIRE(rq.steal_one(0) == nullptr);

    std::vector<Entity> es = {entity(policy, 1'000), entity(policy, 50'000'000),
                              entity(policy, 50'000'000), entity(policy, 50'000'000)};
    es[3].last_cpu = 3;
    es[3].stopped_at = 9'800'000; // ran here until 0.2 ms before now
    rq.push(es[0], 0);            // Hot
    rq.push(es[1], 0);            // Cold head
    rq.push(es[2], 0);
    rq.push(es[3], 9'800'000); // Cold tail
    const uint64_t now = 10'000'000;
    REQUIRE(policy.is_cache_hot(es[3], 3, now));
    REQUIRE_FALSE(policy.is_cache_hot(es[3], 2, now));
    REQUIRE_FALSE(policy.is_cache_hot(es[3], 3, 10'300'000));
    REQUIRE_FALSE(policy.is_cache_hot(es[2], 3, now)); // never ran

    // The Cold tail is cache-hot: the Cold head goes instead, twice; then a cache-cold thread
    // of a more urgent class before the cache-hot one.
    REQUIRE(rq.steal_one(now) == &es[1]);
    REQUIRE(es[1].queue == nullptr);
    REQUIRE(rq.steal_one(now) == &es[2]);
    REQUIRE(rq.steal_one(now) == &es[0]); // Cold holds only the hot es[3]: a cold Hot thread
    REQUIRE(rq.steal_one(now) == &es[3]);
    REQUIRE(rq.size() == 0);
    REQUIRE(rq.check_invariants());
}

TEST_CASE("sched: steal_one order and fallback") {
    Policy policy;
    const uint64_t now = 10'000'000;
    RunQueue rq(policy, 3);
    std::vector<Entity> es = {entity(policy, 1'000), entity(policy, 1'000),
                              entity(policy, 50'000'000), entity(policy, 50'000'000),
                              entity(policy, 50'000'000)};
    const uint64_t stopped[] = {0, now, 0, 0, now - 1}; // hot: es[1] and es[4]
    for (size_t i = 0; i < es.size(); ++i) {
        es[i].last_cpu = 3;
        es[i].stopped_at = stopped[i];
        rq.push(es[i], i);
    }
    REQUIRE(rq.steal_one(now) == &es[2]); // Cold tail es[4] hot: the head
    REQUIRE(rq.steal_one(now) == &es[3]); // tail hot, head es[3] cold
    REQUIRE(rq.steal_one(now) == &es[0]); // Cold holds only hot es[4]: Hot's cold head
    REQUIRE(rq.steal_one(now) == &es[4]); // all hot: the tail of the least urgent class
    REQUIRE(rq.steal_one(now) == &es[1]);
    REQUIRE(rq.steal_one(now) == nullptr);
    REQUIRE(rq.check_invariants());

    // A cold-cache tail is preferred to the head.
    std::vector<Entity> fs = {entity(policy, 50'000'000), entity(policy, 50'000'000)};
    rq.push(fs[0], 0);
    rq.push(fs[1], 0);
    REQUIRE(rq.steal_one(now) == &fs[1]);
}

TEST_CASE("sched: find_busiest names the queue an idle CPU steals from") {
    Policy policy;
    Cpus cpus(policy, {0, 3, 5, 5, 1});
    REQUIRE(policy.find_busiest(cpus.ptrs.data(), cpus.count(), 0) == 2);      // lowest index of 5s
    REQUIRE(policy.find_busiest(cpus.ptrs.data(), cpus.count(), 2) == kNoCpu); // none busier
    REQUIRE(policy.find_busiest(cpus.ptrs.data(), cpus.count(), 4) == 2);
    Cpus quiet(policy, {0, 0, 0});
    REQUIRE(policy.find_busiest(quiet.ptrs.data(), quiet.count(), 0) == kNoCpu);

    // A CPU whose only thread is running has nothing to steal.
    Cpus running(policy, {0, 1});
    REQUIRE(running.queues[1]->pop(0) != nullptr);
    REQUIRE(running.ptrs[1]->load() == 1);
    REQUIRE(policy.find_busiest(running.ptrs.data(), running.count(), 0) == kNoCpu);
}

TEST_CASE("sched: choose_cpu keeps a thread on its CPU within the affinity bonus") {
    Policy policy; // bonus 20 %
    Entity e;
    policy.init(e);
    auto choose = [&](const Policy& p, std::vector<uint32_t> loads, uint32_t last) {
        Cpus cpus(p, loads);
        e.last_cpu = last;
        return p.choose_cpu(e, cpus.ptrs.data(), cpus.count());
    };
    REQUIRE(choose(policy, {2, 2, 2, 2}, 2) == 2);   // balanced: stays
    REQUIRE(choose(policy, {2, 3, 2, 2}, 1) == 0);   // 3 > 2 * 1.2: moves to the least
    REQUIRE(choose(policy, {6, 5, 5, 5}, 0) == 0);   // 6 <= 5 * 1.2: stays
    REQUIRE(choose(policy, {7, 5, 6, 5}, 0) == 1);   // 7 > 6: moves
    REQUIRE(choose(policy, {1, 0}, 0) == 1);         // an idle CPU beats any load
    REQUIRE(choose(policy, {0, 0}, 1) == 1);         // both idle: stays
    REQUIRE(choose(policy, {4, 1, 1}, kNoCpu) == 1); // never ran: the least loaded
    REQUIRE(choose(policy, {4, 3, 1}, 7) == 2);      // last CPU out of range: same
    REQUIRE(choose(policy, {1}, 0) == 0);

    Config no_bonus;
    no_bonus.affinity_bonus_permille = 0;
    Policy greedy = make_policy(no_bonus);
    REQUIRE(choose(greedy, {6, 5, 5, 5}, 0) == 1);
    REQUIRE(choose(greedy, {5, 5, 5, 5}, 3) == 3);
}

TEST_CASE("sched: find_behind, take_behind and push_front balance by runtime") {
    Policy policy; // Cold slice 20 ms: behind = queued no later, and over 10 ms less runtime
    constexpr uint64_t kMsNs = 1'000'000;
    std::vector<std::unique_ptr<RunQueue>> queues;
    std::vector<const RunQueue*> ptrs;
    for (uint32_t c = 0; c < 5; ++c) {
        queues.push_back(std::make_unique<RunQueue>(policy, c));
        ptrs.push_back(queues.back().get());
    }
    // CPU 0's next Cold thread: queued at 60, 100 ms of runtime.
    struct Spec {
        uint32_t cpu;
        uint64_t queued, runtime;
    };
    const Spec specs[] = {{0, 60, 100 * kMsNs},
                          {1, 50, 90 * kMsNs - 1},
                          {2, 40, 85 * kMsNs},
                          {3, 70, 0} /* younger */,
                          {4, 10, 90 * kMsNs} /* exactly 10 ms */};
    std::vector<Entity> es(5);
    for (size_t i = 0; i < 5; ++i) {
        es[i] = entity(policy, 50'000'000);
        es[i].runtime_ns = specs[i].runtime;
        queues[specs[i].cpu]->push(es[i], specs[i].queued);
    }
    REQUIRE(ptrs[2]->oldest_since(Class::Cold) == 40);
    REQUIRE(ptrs[2]->oldest_runtime(Class::Cold) == 85 * kMsNs);
    REQUIRE(ptrs[2]->oldest_since(Class::Hot) == UINT64_MAX);

    auto find = [&](uint32_t self, Class c, uint64_t since, uint64_t runtime) {
        return policy.find_behind(ptrs.data(), uint32_t(ptrs.size()), self, c, since, runtime);
    };
    REQUIRE(find(0, Class::Cold, 60, 100 * kMsNs) == 2); // the least runtime of 1 and 2
    REQUIRE(find(2, Class::Cold, 60, 100 * kMsNs) == 1); // never itself
    REQUIRE(find(0, Class::Cold, 45, 100 * kMsNs) == 2); // CPU 1's thread is younger than 45
    REQUIRE(find(0, Class::Cold, 60, 95 * kMsNs) == kNoCpu);
    REQUIRE(find(0, Class::Normal, 60, 100 * kMsNs) == kNoCpu);
    REQUIRE(find(0, Class::Cold, 60, 5 * kMsNs) == kNoCpu);

    // take_behind checks again under the victim's lock.
    REQUIRE(queues[4]->take_behind(Class::Cold, 60, 100 * kMsNs) == nullptr);
    REQUIRE(queues[1]->take_behind(Class::Cold, 45, 100 * kMsNs) == nullptr);
    REQUIRE(queues[1]->size() == 1);
    Entity* behind = queues[2]->take_behind(Class::Cold, 60, 100 * kMsNs);
    REQUIRE(behind == &es[2]);
    REQUIRE(queues[2]->size() == 0);
    REQUIRE(ptrs[2]->oldest_since(Class::Cold) == UINT64_MAX);

    // push_front: it runs next on CPU 0, still queued since 40.
    queues[0]->push_front(*behind);
    REQUIRE(behind->enqueued_at == 40);
    REQUIRE(queues[0]->peek(100) == behind);
    REQUIRE(queues[0]->oldest(Class::Cold) == behind);
    REQUIRE(ptrs[0]->oldest_since(Class::Cold) == 40);
    REQUIRE(queues[0]->check_invariants());
    // A thread younger than the head (the queue changed since the caller looked) goes in its
    // place by enqueued_at, not at the head: the FIFO order holds.
    Entity young = entity(policy, 50'000'000);
    young.enqueued_at = 41;
    queues[0]->push_front(young);
    REQUIRE(queues[0]->peek(100) == behind);
    REQUIRE(behind->next == &young);
    REQUIRE(queues[0]->check_invariants());
    Entity younger = entity(policy, 50'000'000);
    younger.enqueued_at = 1000;
    queues[0]->push_front(younger);
    REQUIRE(queues[0]->oldest(Class::Cold) == behind);
    REQUIRE(queues[0]->check_invariants());
    REQUIRE(queues[0]->remove(young));
    REQUIRE(queues[0]->remove(younger));
    REQUIRE(queues[0]->check_invariants());
}

// ---- Simulations ----

namespace {

struct CpuShare {
    uint64_t min = UINT64_MAX, max = 0, total = 0;
};
CpuShare cpu_share(const Simulator& sim, uint32_t first, uint32_t count) {
    CpuShare s;
    for (uint32_t t = first; t < first + count; ++t) {
        const uint64_t ns = sim.cpu_time_ns(t);
        s.min = std::min(s.min, ns);
        s.max = std::max(s.max, ns);
        s.total += ns;
    }
    return s;
}

// "Within 10 % of each other": the largest share is at most 1.1 times the smallest.
bool within_10_percent(const CpuShare& s) {
    return s.max * 10 <= s.min * 11;
}

} // namespace

TEST_CASE("sched sim: equal CPU hogs share the CPUs within 10 %") {
    Policy policy;
    struct Case {
        uint32_t cpus, hogs;
    };
    // Uneven counts are the hard part: a CPU with one thread fewer must hand its spare time
    // around, or its threads get 50 % more than the others.
    for (Case c : {Case{1, 8}, Case{4, 10}, Case{4, 13}, Case{3, 7}, Case{8, 13}, Case{4, 8}}) {
        CAPTURE(c.cpus, c.hogs);
        EmaScheduler ema(policy, c.cpus, c.hogs);
        Simulator sim({c.cpus, kMs, 7}, ema, std::vector<Workload>(c.hogs, hog()));
        sim.run_until(10'000 * kMs);
        CpuShare share = cpu_share(sim, 0, c.hogs);
        CAPTURE(share.min, share.max);
        REQUIRE(within_10_percent(share));
        REQUIRE(share.total == uint64_t(c.cpus) * sim.now()); // no CPU ever idle
        if (c.hogs % c.cpus == 0)
            REQUIRE(ema.pulls() == 0); // balanced queues move nothing
    }

    // The control: without the balance at the end of slices, 10 hogs on 4 CPUs stay split
    // 3/3/2/2 and the pairs get 50 % more.
    EmaScheduler unbalanced(policy, 4, 10, {.balance = false});
    Simulator sim({4, kMs, 7}, unbalanced, std::vector<Workload>(10, hog()));
    sim.run_until(10'000 * kMs);
    REQUIRE_FALSE(within_10_percent(cpu_share(sim, 0, 10)));
}

TEST_CASE("sched sim: work stealing keeps every CPU busy while a thread waits") {
    Policy policy;
    // 16 threads with random bursts and sleeps, about 5.5 CPUs of demand on 4 CPUs: queues
    // empty and fill unevenly.
    std::vector<Workload> w(16, interactive(500 * kUs, 4 * kMs, 500 * kUs, 8 * kMs));
    EmaScheduler ema(policy, 4, 16);
    Simulator sim({4, kMs, 3}, ema, w);
    sim.run_until(5'000 * kMs);
    REQUIRE(ema.steals() > 100);
    REQUIRE(sim.idle_while_queued_ns() == 0);

    // The control: without stealing, CPUs idle while threads wait elsewhere.
    EmaScheduler no_steal(policy, 4, 16, {.steal = false});
    Simulator sim2({4, kMs, 3}, no_steal, w);
    sim2.run_until(5'000 * kMs);
    REQUIRE(sim2.idle_while_queued_ns() > 50 * kMs);
}

TEST_CASE("sched sim: an interactive thread among 16 hogs waits less than under round robin") {
    Policy policy;
    for (uint32_t cpus : {1u, 4u}) {
        CAPTURE(cpus);
        std::vector<Workload> w(16, hog());
        w.push_back(interactive(100 * kUs, 500 * kUs, 1 * kMs, 20 * kMs, 5 * kMs));
        const uint32_t probe = 16;

        EmaScheduler ema(policy, cpus, 17);
        Simulator ema_sim({cpus, kMs, 11}, ema, w);
        ema_sim.run_until(10'000 * kMs);
        RoundRobin rr(10 * kMs, cpus, 17);
        Simulator rr_sim({cpus, kMs, 11}, rr, w);
        rr_sim.run_until(10'000 * kMs);

        const auto& ema_lat = ema_sim.stats(probe).wake_latency_ns;
        const auto& rr_lat = rr_sim.stats(probe).wake_latency_ns;
        REQUIRE(ema_lat.size() > 300);
        REQUIRE(rr_lat.size() > 50);
        const uint64_t ema_p99 = p99(ema_lat), rr_p99 = p99(rr_lat);
        CAPTURE(ema_p99, rr_p99);
        REQUIRE(ema_p99 * 2 <= rr_p99);
        REQUIRE(rr_p99 >= 10 * kMs); // the baseline does make it wait behind hogs
        REQUIRE(ema.entity(probe).prediction_ns < policy.config().hot_below_ns);

        // The hogs still get the rest of the machine, evenly.
        CpuShare hogs = cpu_share(ema_sim, 0, 16);
        REQUIRE(within_10_percent(hogs));
        REQUIRE(hogs.total + ema_sim.cpu_time_ns(probe) == uint64_t(cpus) * ema_sim.now());
    }
}

TEST_CASE("sched sim: no thread waits longer than the bound, even under Hot overload") {
    Policy policy;
    const Config& config = policy.config();
    struct Case {
        uint32_t cpus, hot_threads;
    };
    for (Case c : {Case{1, 4}, Case{4, 16}}) {
        CAPTURE(c.cpus, c.hot_threads);
        // 64 hogs, and Hot threads whose demand alone is twice the machine (2 ms of CPU per
        // 4 ms): without ageing the hogs would never run again once they are all Cold.
        std::vector<Workload> w(64, hog());
        for (uint32_t i = 0; i < c.hot_threads; ++i)
            w.push_back(interactive(2 * kMs, 2 * kMs, 2 * kMs, 2 * kMs, 1 * kMs));
        const uint32_t n = uint32_t(w.size());
        const uint64_t bound = wait_bound(config, n, kMs);

        EmaScheduler ema(policy, c.cpus, n);
        Simulator sim({c.cpus, kMs, 5}, ema, w);
        sim.run_until(30'000 * kMs);
        uint64_t longest = 0;
        for (uint32_t t = 0; t < n; ++t) {
            REQUIRE(sim.cpu_time_ns(t) > 0);
            longest = std::max(longest, sim.longest_wait_ns(t));
        }
        CAPTURE(longest, bound);
        REQUIRE(longest <= bound);
        REQUIRE(longest > bound / 10); // the overload does make hogs wait

        // The control: with ageing effectively off, some hog waits far beyond the bound.
        Config no_ageing;
        no_ageing.age_limit_ns = mk::sched::kMaxBurstNs;
        Policy unaged = make_policy(no_ageing);
        EmaScheduler starving(unaged, c.cpus, n);
        Simulator sim2({c.cpus, kMs, 5}, starving, w);
        sim2.run_until(30'000 * kMs);
        uint64_t longest2 = 0;
        for (uint32_t t = 0; t < n; ++t)
            longest2 = std::max(longest2, sim2.longest_wait_ns(t));
        REQUIRE(longest2 > bound);
    }

    // Hogs alone are served FIFO: each waits at most (n - 1) * (max slice + tick).
    EmaScheduler ema(policy, 1, 64);
    Simulator sim({1, kMs, 5}, ema, std::vector<Workload>(64, hog()));
    sim.run_until(10'000 * kMs);
    for (uint32_t t = 0; t < 64; ++t)
        REQUIRE(sim.longest_wait_ns(t) <= 63 * (max_slice(config) + kMs));
}

TEST_CASE("sched sim: the affinity bonus keeps a waking thread on its CPU") {
    // 4 CPUs, hogs started first (CPU 0 gets the extra ones), then a thread that wakes every
    // few ms and last ran on CPU 0. Balance off, so that the loads stay as placed.
    auto migrations = [](uint32_t bonus, uint32_t hogs) {
        Config config;
        config.affinity_bonus_permille = bonus;
        Policy policy = make_policy(config);
        std::vector<Workload> w(hogs, hog());
        w.push_back(interactive(200 * kUs, 200 * kUs, 1 * kMs, 5 * kMs, 3 * kMs));
        EmaScheduler ema(policy, 4, hogs + 1, {.balance = false});
        ema.set_last_cpu(hogs, 0);
        Simulator sim({4, kMs, 21}, ema, w);
        sim.run_until(2'000 * kMs);
        REQUIRE(sim.stats(hogs).dispatches > 400);
        return sim.stats(hogs).migrations + (sim.stats(hogs).last_cpu != 0 ? 1 : 0);
    };
    // Balanced, 5/5/5/5: it stays on CPU 0, bonus or not.
    REQUIRE(migrations(200, 20) == 0);
    REQUIRE(migrations(0, 20) == 0);
    // 6/5/5/5, within the 20 % bonus: it stays; without the bonus it moves once, to a CPU
    // that has become as loaded as any, and stays there.
    REQUIRE(migrations(200, 21) == 0);
    REQUIRE(migrations(0, 21) == 1);
    // 3/2/2/2, beyond the bonus: it moves once.
    REQUIRE(migrations(200, 9) == 1);

    // With balancing on, the hogs move between CPUs, yet it moves on few of its wake-ups.
    Policy policy;
    std::vector<Workload> w(8, hog());
    w.push_back(interactive(200 * kUs, 200 * kUs, 1 * kMs, 5 * kMs, 3 * kMs));
    EmaScheduler ema(policy, 4, 9);
    Simulator sim({4, kMs, 21}, ema, w);
    sim.run_until(5'000 * kMs);
    REQUIRE(ema.pulls() > 0);
    REQUIRE(sim.stats(8).migrations * 50 <= sim.stats(8).dispatches);
}
