// Carving reserved ranges out of available memory.
#include "support.hpp"

#include "lib/phys_ranges.hpp"

#include <catch2/catch.hpp>
#include <random>
#include <utility>
#include <vector>

using mk::PhysRange;

namespace {

std::vector<std::pair<uint64_t, uint64_t>>
free_parts(PhysRange range, std::vector<PhysRange> reserved, uint64_t align = 1) {
    std::vector<std::pair<uint64_t, uint64_t>> out;
    mk::for_each_free_part(range, reserved.data(), reserved.size(), align,
                           [&](uint64_t s, uint64_t e) { out.emplace_back(s, e); });
    return out;
}

using Parts = std::vector<std::pair<uint64_t, uint64_t>>;

} // namespace

TEST_CASE("phys ranges: reserved parts are carved out, overlapping and unsorted") {
    REQUIRE(free_parts({0, 100}, {}) == Parts{{0, 100}});
    REQUIRE(free_parts({0, 100}, {{10, 20}, {50, 60}}) == Parts{{0, 10}, {20, 50}, {60, 100}});
    REQUIRE(free_parts({0, 100}, {{50, 60}, {10, 20}, {15, 55}}) == Parts{{0, 10}, {60, 100}});
    REQUIRE(free_parts({0, 100}, {{0, 100}}).empty());
    REQUIRE(free_parts({0, 100}, {{200, 300}, {0, 0}}) == Parts{{0, 100}});
    REQUIRE(free_parts({10, 20}, {{0, 15}}) == Parts{{15, 20}});
    REQUIRE(free_parts({0, UINT64_MAX}, {{0, 4096}}) == Parts{{4096, UINT64_MAX}});
}

TEST_CASE("phys ranges: parts shrink inward to the alignment") {
    REQUIRE(free_parts({0x100, 0x3100}, {}, 0x1000) == Parts{{0x1000, 0x3000}});
    REQUIRE(free_parts({0, 0x5000}, {{0x1800, 0x2100}}, 0x1000) ==
            Parts{{0, 0x1000}, {0x3000, 0x5000}});
    REQUIRE(free_parts({0x100, 0x900}, {}, 0x1000).empty());
    REQUIRE(mk::align_up(UINT64_MAX - 5, 0x1000) == mk::align_down(UINT64_MAX, 0x1000));
}

TEST_CASE("phys ranges: random cases agree with a byte map") {
    std::mt19937 rng(42);
    for (int round = 0; round < 2000; ++round) {
        std::vector<bool> used(256, false);
        std::vector<PhysRange> reserved;
        for (int i = int(rng() % 6); i > 0; --i) {
            uint64_t s = rng() % 256, e = s + rng() % 64;
            reserved.push_back({s, e});
            for (uint64_t b = s; b < e && b < 256; ++b)
                used[b] = true;
        }
        uint64_t start = rng() % 128, end = start + rng() % 128;
        std::vector<bool> expect(256, false), got(256, false);
        for (uint64_t b = start; b < end; ++b)
            expect[b] = !used[b];
        for (auto [s, e] : free_parts({start, end}, reserved)) {
            REQUIRE(s < e);
            for (uint64_t b = s; b < e; ++b) {
                REQUIRE_FALSE(got[b]);
                got[b] = true;
            }
        }
        REQUIRE(got == expect);
    }
}
