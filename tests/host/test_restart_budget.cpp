// init's restart intensity (servers/init/restart_budget.hpp): more than N restarts within the
// window and the server is given up, as Erlang/OTP supervisors count them.
#include "support.hpp"

#include "../../servers/init/restart_budget.hpp"

#include <catch2/catch.hpp>
#include <vector>

using srv::init::RestartBudget;

namespace {
constexpr uint64_t kMs = 1'000'000; // ns
}

TEST_CASE("RestartBudget: N restarts within the window, the (N+1)th refused") {
    RestartBudget budget(3, 5000 * kMs);
    REQUIRE(budget.recent(0) == 0);
    REQUIRE(budget.allow(1 * kMs));
    REQUIRE(budget.allow(2 * kMs));
    REQUIRE(budget.allow(3 * kMs));
    REQUIRE(budget.recent(3 * kMs) == 3);
    REQUIRE_FALSE(budget.allow(4 * kMs));
    REQUIRE_FALSE(budget.allow(5000 * kMs));
    REQUIRE(budget.recent(5000 * kMs) == 3); // a refused restart is not counted
}

TEST_CASE("RestartBudget: allowed again once old restarts age out") {
    RestartBudget budget(2, 1000);
    REQUIRE(budget.allow(0));
    REQUIRE(budget.allow(500));
    REQUIRE_FALSE(budget.allow(999));
    REQUIRE(budget.allow(1001)); // the one at 0 has left the window
    REQUIRE(budget.recent(1001) == 2);
    REQUIRE_FALSE(budget.allow(1500)); // 500 is exactly one window back: it still counts
    REQUIRE(budget.allow(1501));
    REQUIRE(budget.recent(1000000) == 0);
    REQUIRE(budget.allow(1000000));
    REQUIRE(budget.allow(1000000)); // two at the same instant
    REQUIRE_FALSE(budget.allow(1000000));
}

TEST_CASE("RestartBudget: N = 0 never restarts") {
    RestartBudget budget(0, 5000 * kMs);
    REQUIRE_FALSE(budget.allow(0));
    REQUIRE_FALSE(budget.allow(UINT64_MAX));
    REQUIRE(budget.recent(UINT64_MAX) == 0);
}

TEST_CASE("RestartBudget: window edges") {
    SECTION("a restart exactly one window back counts, one ns later it does not") {
        RestartBudget budget(1, 100);
        REQUIRE(budget.allow(50));
        REQUIRE(budget.recent(150) == 1);
        REQUIRE_FALSE(budget.allow(150));
        REQUIRE(budget.recent(151) == 0);
        REQUIRE(budget.allow(151));
    }
    SECTION("a zero window counts only restarts at the same instant") {
        RestartBudget budget(1, 0);
        REQUIRE(budget.allow(7));
        REQUIRE_FALSE(budget.allow(7));
        REQUIRE(budget.allow(8));
    }
    SECTION("the largest window never forgets, times near the clock's end") {
        RestartBudget budget(2, UINT64_MAX);
        REQUIRE(budget.allow(0));
        REQUIRE(budget.allow(UINT64_MAX - 1));
        REQUIRE_FALSE(budget.allow(UINT64_MAX));
    }
    SECTION("the manifest's largest window, one hour, in ns") {
        RestartBudget budget(1, 3'600'000 * kMs);
        REQUIRE(budget.allow(1));
        REQUIRE_FALSE(budget.allow(1 + 3'600'000 * kMs));
        REQUIRE(budget.allow(2 + 3'600'000 * kMs));
    }
}

TEST_CASE("RestartBudget: the full 100 over many windows, as a sliding count") {
    RestartBudget budget(RestartBudget::kMaxRestarts, 1000);
    // A restart every 7 ns for a long time: the window holds 143 of them, so the budget refuses
    // some; check every answer against a direct count of the accepted times.
    std::vector<uint64_t> accepted;
    size_t refused = 0;
    for (uint64_t now = 0; now < 100000; now += 7) {
        size_t in_window = 0;
        for (uint64_t t : accepted)
            in_window += now - t <= 1000;
        bool expected = in_window < RestartBudget::kMaxRestarts;
        REQUIRE(budget.allow(now) == expected);
        if (expected)
            accepted.push_back(now);
        else
            ++refused;
        REQUIRE(budget.recent(now) == in_window + expected);
    }
    REQUIRE(refused > 0);
    REQUIRE(accepted.size() > 1000);
}

TEST_CASE("RestartBudget: more than kMaxRestarts is a caller's bug") {
    REQUIRE_THROWS_AS(RestartBudget(RestartBudget::kMaxRestarts + 1, 1),
                      exo::test::AssertionFailure);
}
