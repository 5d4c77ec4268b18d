// Hardening of the allocator core: each misuse is reported to the heap's fatal handler (here a
// recorder) and changes nothing else: double frees (while cached, and after a flush), foreign
// and interior pointers (slab objects and page runs), and a write after free that corrupts a
// free-list link.
#include "alloc_support.hpp"

#include <catch2/catch.hpp>

#include <cstdlib>

using namespace exo::alloc;
using exo::test::make_heap;

namespace {

struct Fixture {
    std::unique_ptr<exo::test::RecordingHeap> h = make_heap();
    HostCache cache;
    Fixture() { cache.attach(&h->heap); }
    bool only(HeapError error, const void* pointer) const {
        return h->errors.size() == 1 && h->errors[0].first == error &&
               h->errors[0].second == pointer;
    }
};

} // namespace

TEST_CASE("alloc: a double free of a cached object is detected", "[alloc]") {
    Fixture f;
    void* keep = f.cache.allocate(48);
    void* p = f.cache.allocate(48);
    f.cache.free(p);
    f.cache.free(p);
    REQUIRE(f.only(HeapError::DoubleFree, p));
    // The list is intact: p comes back once, then other objects.
    REQUIRE(f.cache.allocate(48) == p);
    REQUIRE(f.cache.allocate(48) != p);
    f.cache.free(keep);
}

TEST_CASE("alloc: a double free after the object reached the slab is detected", "[alloc]") {
    Fixture f;
    void* p = f.cache.allocate(2000);
    f.cache.free(p);
    f.cache.flush_all(); // p is free in its span's bitmap now
    f.cache.free(p);
    f.cache.flush_all();
    REQUIRE(f.only(HeapError::DoubleFree, p));
    REQUIRE(f.h->live_bytes(f.cache) == 0);
}

TEST_CASE("alloc: foreign pointers are detected", "[alloc]") {
    Fixture f;
    int on_stack = 0;
    void* from_libc = std::malloc(64);
    f.cache.free(&on_stack);
    REQUIRE(f.only(HeapError::ForeignPointer, &on_stack));
    f.h->errors.clear();
    f.cache.free(from_libc);
    REQUIRE(f.only(HeapError::ForeignPointer, from_libc));
    std::free(from_libc);
    // A freed page run is foreign again (a double free of a large block reads so).
    void* large = f.cache.allocate(100000);
    f.cache.free(large);
    f.h->errors.clear();
    f.cache.free(large);
    REQUIRE(f.only(HeapError::ForeignPointer, large));
}

TEST_CASE("alloc: interior pointers are detected", "[alloc]") {
    Fixture f;
    char* p = static_cast<char*>(f.cache.allocate(64));
    f.cache.free(p + 8);
    REQUIRE(f.only(HeapError::InteriorPointer, p + 8));
    f.h->errors.clear();
    char* large = static_cast<char*>(f.cache.allocate(100000));
    f.cache.free(large + kPageSize);
    REQUIRE(f.only(HeapError::InteriorPointer, large + kPageSize));
    // Nothing was freed: both are still live and free cleanly.
    f.h->errors.clear();
    f.cache.free(p);
    f.cache.free(large);
    REQUIRE(f.h->errors.empty());
    REQUIRE(f.h->live_bytes(f.cache) == 0);
}

TEST_CASE("alloc: a write after free that corrupts a free-list link is detected", "[alloc]") {
    Fixture f;
    void* other = f.cache.allocate(24);
    void* p = f.cache.allocate(24);
    f.cache.free(p);
    SECTION("with a small integer") {
        *static_cast<uint64_t*>(p) = 0x1234;
    }
    SECTION("with a valid heap pointer") {
        *static_cast<void**>(p) = other;
    }
    SECTION("with zero") {
        *static_cast<uint64_t*>(p) = 0;
    }
    void* q = f.cache.allocate(24); // pops p, whose link no longer decodes
    REQUIRE(f.only(HeapError::CorruptLink, p));
    REQUIRE(q != nullptr);
    REQUIRE(q != p);
    f.cache.free(q);
    f.cache.free(other);
}

TEST_CASE("alloc: a corrupted link is detected when the cache flushes", "[alloc]") {
    Fixture f;
    void* a = f.cache.allocate(16);
    void* b = f.cache.allocate(16);
    f.cache.free(a);
    f.cache.free(b);
    *static_cast<uint64_t*>(b) = 0xDEADBEEF; // b is the head; its link leads to a
    f.cache.flush_all();
    REQUIRE(f.only(HeapError::CorruptLink, b));
}
