// Restart intensity as Erlang/OTP supervisors count it: more than N restarts within a window and
// init gives the server up. Portable (host-tested), no allocation: a ring of recent restart times.
#pragma once

#include <exo/assert.hpp>
#include <stdint.h>

namespace srv::init {

class RestartBudget {
public:
    static constexpr uint32_t kMaxRestarts = 100; // the manifest's `restarts=` limit

    constexpr RestartBudget() = default; // no restarts at all
    // At most `max_restarts` (0 to kMaxRestarts) restarts within any `window_ns`.
    RestartBudget(uint32_t max_restarts, uint64_t window_ns)
        : max_(max_restarts), window_(window_ns) {
        EXO_ASSERT(max_restarts <= kMaxRestarts, "restart budget above kMaxRestarts");
    }

    // Whether the server may be restarted at `now` (ns of a clock that never goes back), and if
    // so the restart is counted. False when it would make more than max_restarts within the
    // window ending at `now`: give the server up. As in OTP (supervisor.erl), a restart exactly
    // window_ns before `now` still counts; a refused restart is not recorded.
    bool allow(uint64_t now) {
        expire(now);
        if (count_ >= max_)
            return false;
        times_[(first_ + count_) % kMaxRestarts] = now;
        ++count_;
        return true;
    }

    // The restarts counted within the window ending at `now`.
    uint32_t recent(uint64_t now) const {
        uint32_t n = 0;
        for (uint32_t i = 0; i < count_; ++i)
            n += !expired(times_[(first_ + i) % kMaxRestarts], now);
        return n;
    }

private:
    bool expired(uint64_t time, uint64_t now) const { return now > time && now - time > window_; }

    // Drops the restarts older than the window; times are recorded in order, oldest first.
    void expire(uint64_t now) {
        while (count_ > 0 && expired(times_[first_], now)) {
            first_ = (first_ + 1) % kMaxRestarts;
            --count_;
        }
    }

    uint64_t times_[kMaxRestarts] = {};
    uint32_t max_ = 0, first_ = 0, count_ = 0;
    uint64_t window_ = 0;
};

} // namespace srv::init
