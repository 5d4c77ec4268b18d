// Page-table core on a fake physical memory: mapping, W^X, validation, unmapping.
#include "support.hpp"

#include "lib/page_table.hpp"

#include <catch2/catch.hpp>
#include <memory>
#include <vector>

using exo::Status;
using namespace mk;

namespace {

// Table frames come from a fixed pool of zeroed 4 KiB blocks at a fake physical base.
struct FakeEnv {
    static constexpr uint64_t kBase = 0x200000;
    explicit FakeEnv(size_t frames) : memory(new uint64_t[frames * 512]()), capacity(frames) {}
    exo::Result<uint64_t> allocate_table() {
        if (used == capacity)
            return Status::NoMemory;
        return kBase + kPageSize * used++;
    }
    uint64_t* table(uint64_t phys) {
        REQUIRE(phys >= kBase);
        REQUIRE((phys - kBase) / kPageSize < used);
        return &memory[(phys - kBase) / 8];
    }
    std::unique_ptr<uint64_t[]> memory;
    size_t capacity;
    size_t used = 0;
};

constexpr uint64_t kKernel = 0xFFFFFFFF80000000;

} // namespace

TEST_CASE("page table: small and large pages map, query and unmap") {
    FakeEnv env(64);
    auto pt = PageTable<FakeEnv>::create(env).release_value();
    REQUIRE(pt.map(kKernel + 0x1000, 0x5000, kPageSize, kAccessExecute | kAccessGlobal).ok());
    REQUIRE(pt.map(0xFFFF800000200000, 0x200000, kLargePageSize, kAccessWrite).ok());
    REQUIRE(pt.map(0x400000, 0x9000, kPageSize, kAccessUser | kAccessWrite).ok());

    auto text = pt.query(kKernel + 0x1234).value();
    REQUIRE(text.physical == 0x5234);
    REQUIRE(text.page_size == kPageSize);
    REQUIRE(text.access == (kAccessExecute | kAccessGlobal));

    auto direct = pt.query(0xFFFF800000200000 + 0x12345).value();
    REQUIRE(direct.physical == 0x212345);
    REQUIRE(direct.page_size == kLargePageSize);
    REQUIRE(direct.access == kAccessWrite); // and NX

    REQUIRE(pt.query(0x400010).value().access == (kAccessUser | kAccessWrite));
    REQUIRE(pt.query(0x401000).status() == Status::NotFound);
    REQUIRE(pt.query(kKernel + 0x2000).status() == Status::NotFound);

    REQUIRE(pt.unmap(kKernel + 0x1000, kPageSize).value() == 0x5000);
    REQUIRE(pt.query(kKernel + 0x1000).status() == Status::NotFound);
    REQUIRE(pt.unmap(kKernel + 0x1000, kPageSize).status() == Status::NotFound);
    REQUIRE(pt.unmap(0xFFFF800000200000, kPageSize).status() == Status::NotFound);
    REQUIRE(pt.unmap(0xFFFF800000200000, kLargePageSize).value() == 0x200000);
}

TEST_CASE("page table: W^X holds and bad arguments are refused without side effects") {
    FakeEnv env(64);
    auto pt = PageTable<FakeEnv>::create(env).release_value();
    size_t tables = env.used;
    REQUIRE(pt.map(kKernel, 0x1000, kPageSize, kAccessWrite | kAccessExecute).status() ==
            Status::AccessDenied);
    REQUIRE(pt.map(0x0000800000000000, 0x1000, kPageSize, 0).status() == Status::OutOfRange);
    REQUIRE(pt.map(kKernel, 1ull << 52, kPageSize, 0).status() == Status::OutOfRange);
    REQUIRE(pt.map(kKernel + 0x800, 0x1000, kPageSize, 0).status() == Status::Misaligned);
    REQUIRE(pt.map(kKernel, 0x1800, kPageSize, 0).status() == Status::Misaligned);
    REQUIRE(pt.map(kKernel + 0x1000, 0x200000, kLargePageSize, 0).status() == Status::Misaligned);
    REQUIRE(pt.map(kKernel, 0x1000, 8192, 0).status() == Status::InvalidArgument);
    REQUIRE(env.used == tables); // nothing was allocated for refused mappings
    REQUIRE(pt.query(0x0000800000000000).status() == Status::InvalidArgument);
}

TEST_CASE("page table: overlapping mappings are refused") {
    FakeEnv env(64);
    auto pt = PageTable<FakeEnv>::create(env).release_value();
    REQUIRE(pt.map(kKernel, 0x1000, kPageSize, 0).ok());
    REQUIRE(pt.map(kKernel, 0x2000, kPageSize, 0).status() == Status::AlreadyExists);
    REQUIRE(pt.map(kKernel + 0x200000, 0x400000, kLargePageSize, 0).ok());
    // A small page inside a large one, and a large page over a table of small ones.
    REQUIRE(pt.map(kKernel + 0x201000, 0x1000, kPageSize, 0).status() == Status::AlreadyExists);
    REQUIRE(pt.map(kKernel, 0x600000, kLargePageSize, 0).status() == Status::AlreadyExists);
}

TEST_CASE("page table: running out of table frames is an error, not a crash") {
    FakeEnv env(3); // root + PDPT + PD: no room for a PT
    auto pt = PageTable<FakeEnv>::create(env).release_value();
    REQUIRE(pt.map(kKernel, 0x1000, kPageSize, 0).status() == Status::NoMemory);
    REQUIRE(pt.query(kKernel).status() == Status::NotFound);
    REQUIRE(pt.map(kKernel, 0x200000, kLargePageSize, 0).ok()); // fits without a PT
}

TEST_CASE("page table: uncached device mappings set PCD and PWT, and only them") {
    FakeEnv env(16);
    auto pt = PageTable<FakeEnv>::create(env).release_value();
    REQUIRE(pt.map(0xFFFFFE0000000000, 0xFEE00000, kPageSize, kAccessWrite | kAccessUncached).ok());
    REQUIRE(pt.map(0xFFFFFE0000001000, 0x1000, kPageSize, kAccessWrite).ok());
    REQUIRE(pt.query(0xFFFFFE0000000010).value().access == (kAccessWrite | kAccessUncached));
    REQUIRE(pt.query(0xFFFFFE0000001010).value().access == kAccessWrite);
}

TEST_CASE("page table: detach_empty frees the tables that map nothing, up to the level kept") {
    FakeEnv env(64);
    auto pt = PageTable<FakeEnv>::create(env).release_value();
    constexpr uint64_t kStacks = 0xFFFFFF0000000000;
    REQUIRE(pt.map(kStacks + 0x1000, 0x5000, kPageSize, kAccessWrite).ok());
    REQUIRE(pt.map(kStacks + 0x2000, 0x6000, kPageSize, kAccessWrite).ok());
    REQUIRE(pt.map(kStacks + kLargePageSize, 0x7000, kPageSize, kAccessWrite).ok());
    REQUIRE(env.used == 5); // root, PDPT, PD, and two PTs
    uint64_t freed[3] = {};

    // A table that still maps a page stays.
    REQUIRE(pt.unmap(kStacks + 0x1000, kPageSize).ok());
    REQUIRE(pt.detach_empty(kStacks + 0x1000, 3, freed) == 0);
    REQUIRE(pt.query(kStacks + 0x2000).value().physical == 0x6000);

    // Its last page gone, the PT goes; the PD still holds the other PT.
    REQUIRE(pt.unmap(kStacks + 0x2000, kPageSize).ok());
    REQUIRE(pt.detach_empty(kStacks + 0x2000, 3, freed) == 1);
    REQUIRE(freed[0] == FakeEnv::kBase + 3 * kPageSize);
    REQUIRE(pt.query(kStacks + 0x2000).status() == Status::NotFound);
    REQUIRE(pt.query(kStacks + kLargePageSize).value().physical == 0x7000);
    REQUIRE(pt.detach_empty(kStacks + 0x2000, 3, freed) == 0); // nothing left to detach there

    // The last PT under the PD goes, and the PD with it; the PDPT (level 3) is kept.
    REQUIRE(pt.unmap(kStacks + kLargePageSize, kPageSize).ok());
    REQUIRE(pt.detach_empty(kStacks + kLargePageSize, 3, freed) == 2);
    REQUIRE(freed[0] == FakeEnv::kBase + 4 * kPageSize);
    REQUIRE(freed[1] == FakeEnv::kBase + 2 * kPageSize);
    REQUIRE(env.table(FakeEnv::kBase + kPageSize)[(kStacks >> 30) & 511] == 0);
    REQUIRE(env.table(pt.root())[(kStacks >> 39) & 511] != 0);

    // The tables come back when the address is mapped again.
    REQUIRE(pt.map(kStacks + 0x1000, 0x5000, kPageSize, kAccessWrite).ok());
    REQUIRE(pt.query(kStacks + 0x1000).value().physical == 0x5000);

    // Large pages are leaves: their PD is not empty, and bad arguments detach nothing.
    REQUIRE(pt.map(0xFFFF800000200000, 0x200000, kLargePageSize, kAccessWrite).ok());
    REQUIRE(pt.detach_empty(0xFFFF800000200000, 3, freed) == 0);
    REQUIRE(pt.detach_empty(0x0000800000000000, 3, freed) == 0); // not canonical
    REQUIRE(pt.detach_empty(kStacks, 1, freed) == 0);
}
