// Capability tables and the derivation tree: exact errors that change nothing, rights that never
// grow, move/delete/revoke surgery, trees 100,000 deep and 10,000 wide, cross-table derivation,
// clear(), object lifetimes, and seeded random runs checked against the tree invariants.
#include "support.hpp"

#include "lib/cap_table.hpp"

#include <catch2/catch.hpp>
#include <exo/caps.hpp>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <unordered_set>
#include <vector>

using exo::Status;
using mk::CapObject;
using mk::CapSlot;
using mk::CapTable;

namespace {

constexpr uint32_t kR = exo::kRightRead, kW = exo::kRightWrite, kX = exo::kRightExecute;
constexpr uint32_t kAll = exo::kRightsAll;

class TestObject final : public CapObject {
public:
    explicit TestObject(uint16_t type = 2) : CapObject(type) {}
    int drops = 0;
    std::function<void(TestObject&)> on_drop;

private:
    void last_reference_dropped() override {
        ++drops;
        if (on_drop)
            on_drop(*this);
    }
};

// A table with its own storage.
struct Table {
    explicit Table(uint32_t n) : storage(new CapSlot[n]), table(storage.get(), n) {}
    CapSlot& operator[](uint32_t i) { return *table.slot(i).value(); }
    std::unique_ptr<CapSlot[]> storage;
    CapTable table;
};

// Every field a slot exposes: "nothing changed" means all of these are equal.
struct SlotState {
    const CapObject* object;
    uint16_t type;
    uint32_t rights;
    uint64_t badge;
    const CapSlot *parent, *first_child, *next, *prev;
    bool operator==(const SlotState&) const = default;
};

void snapshot(const std::vector<Table*>& tables, std::vector<SlotState>& out) {
    out.clear();
    for (Table* t : tables)
        for (uint32_t i = 0; i < t->table.size(); ++i) {
            const CapSlot& s = t->storage[i];
            const mk::Capability& c = s.cap();
            out.push_back({c.object, c.type, c.rights, c.badge, s.parent(), s.first_child(),
                           s.next_sibling(), s.prev_sibling()});
        }
}

std::vector<SlotState> snapshot(const std::vector<Table*>& tables) {
    std::vector<SlotState> out;
    snapshot(tables, out);
    return out;
}

std::set<const CapSlot*> children_of(const CapSlot& s) {
    std::set<const CapSlot*> out;
    for (const CapSlot* c = s.first_child(); c; c = c->next_sibling())
        out.insert(c);
    return out;
}

// Every descendant of s, iteratively.
std::vector<const CapSlot*> descendants(const CapSlot& s) {
    std::vector<const CapSlot*> out, stack{&s};
    while (!stack.empty()) {
        const CapSlot* n = stack.back();
        stack.pop_back();
        for (const CapSlot* c = n->first_child(); c; c = c->next_sibling()) {
            out.push_back(c);
            stack.push_back(c);
        }
    }
    return out;
}

// Checks the whole forest in O(slots): empty slots have no links; links are symmetric and stay
// inside the tables; every copy (a child naming its parent's object) has at most its parent's
// rights and its badge (when the parent is badged); every node is reachable from a root exactly
// once (no cycle); every object's reference count is the number of slots naming it plus `extra`.
// Returns the first violation, or "" when all hold.
std::string check_invariants(const std::vector<Table*>& tables,
                             const std::vector<TestObject*>& objects,
                             const std::map<const CapObject*, uint32_t>& extra = {}) {
    std::unordered_set<const CapSlot*> all, listed;
    for (Table* t : tables)
        for (uint32_t i = 0; i < t->table.size(); ++i)
            all.insert(&(*t)[i]);
    auto known = [&](const CapSlot* s) { return s == nullptr || all.count(s) == 1; };
    std::map<const CapObject*, uint32_t> holders;
    size_t used = 0, with_parent = 0;
    std::vector<const CapSlot*> roots;
    for (const CapSlot* s : all) {
        const mk::Capability& c = s->cap();
        if (s->empty()) {
            if (s->parent() || s->first_child() || s->next_sibling() || s->prev_sibling() ||
                c.type || c.rights || c.badge)
                return "an empty slot has links or contents";
            continue;
        }
        ++used;
        ++holders[c.object];
        if (c.type != c.object->type())
            return "cached type differs from the object's";
        if (!known(s->parent()) || !known(s->first_child()) || !known(s->next_sibling()) ||
            !known(s->prev_sibling()))
            return "a link leaves the tables";
        if (const CapSlot* p = s->parent()) {
            ++with_parent;
            if (p->empty())
                return "parent is empty";
            // A child naming another object came from insert_child: its own rights, no badge.
            if (p->cap().object == c.object && (c.rights & ~p->cap().rights) != 0)
                return "a copy has a right its parent lacks";
            if (p->cap().object == c.object && p->cap().badge != 0 && c.badge != p->cap().badge)
                return "a copy of a badged capability has another badge";
            if (s->prev_sibling() == nullptr && p->first_child() != s)
                return "first sibling is not its parent's first child";
        } else {
            if (s->prev_sibling() || s->next_sibling())
                return "a root has siblings";
            roots.push_back(s);
        }
        if (s->prev_sibling() && s->prev_sibling()->next_sibling() != s)
            return "prev/next asymmetric";
        if (s->next_sibling() && s->next_sibling()->prev_sibling() != s)
            return "next/prev asymmetric";
        size_t steps = 0;
        for (const CapSlot* ch = s->first_child(); ch; ch = ch->next_sibling()) {
            if (ch->parent() != s || ch->empty())
                return "a listed child has another parent";
            if (!listed.insert(ch).second || ++steps > all.size())
                return "a child is listed twice";
        }
        if (s->first_child() && s->first_child()->prev_sibling() != nullptr)
            return "first child has a previous sibling";
    }
    if (listed.size() != with_parent)
        return "a slot with a parent is missing from its parent's list";
    size_t reached = 0;
    while (!roots.empty()) {
        const CapSlot* n = roots.back();
        roots.pop_back();
        if (++reached > used)
            return "cycle";
        for (const CapSlot* ch = n->first_child(); ch; ch = ch->next_sibling())
            roots.push_back(ch);
    }
    if (reached != used)
        return "a node is not reachable from a root (cycle)";
    for (TestObject* o : objects) {
        auto h = holders.find(o);
        auto e = extra.find(o);
        uint32_t expected =
            (h == holders.end() ? 0 : h->second) + (e == extra.end() ? 0 : e->second);
        if (o->references() != expected)
            return "reference count " + std::to_string(o->references()) +
                   " != " + std::to_string(expected);
    }
    return "";
}

} // namespace

TEST_CASE("cap: insert_original names the object and takes a reference", "[cap]") {
    Table t(4);
    TestObject obj(7);
    REQUIRE(t.table.size() == 4);
    REQUIRE(t.table.used() == 0);
    REQUIRE(mk::insert_original(t[1], obj, kR | kW, 0) == Status::Ok);
    REQUIRE(!t[1].empty());
    REQUIRE(t[1].cap().object == &obj);
    REQUIRE(t[1].cap().type == 7);
    REQUIRE(t[1].cap().rights == (kR | kW));
    REQUIRE(t[1].cap().badge == 0);
    REQUIRE(t[1].parent() == nullptr);
    REQUIRE(t[1].child_count() == 0);
    REQUIRE(obj.references() == 1);
    REQUIRE(mk::insert_original(t[0], obj, kR, 42) == Status::Ok); // slot 0 is a slot here
    REQUIRE(t[0].cap().badge == 42);
    REQUIRE(obj.references() == 2);
    REQUIRE(t.table.used() == 2);
    REQUIRE(check_invariants({&t}, {&obj}) == "");
    t.table.clear();
    REQUIRE(obj.drops == 1);
}

TEST_CASE("cap: copy and mint derive children that never gain rights", "[cap]") {
    Table t(8);
    TestObject obj;
    REQUIRE(mk::insert_original(t[0], obj, kR | kW, 0) == Status::Ok);
    REQUIRE(mk::copy_cap(t[0], t[1], kAll) == Status::Ok); // the mask cannot add kX
    REQUIRE(t[1].cap().rights == (kR | kW));
    REQUIRE(t[1].parent() == &t[0]);
    REQUIRE(t[1].cap().badge == 0);
    REQUIRE(mk::copy_cap(t[1], t[2], kR | kX) == Status::Ok);
    REQUIRE(t[2].cap().rights == kR);
    REQUIRE(mk::copy_cap(t[2], t[3], kAll) == Status::Ok);
    REQUIRE(t[3].cap().rights == kR);
    REQUIRE(mk::copy_cap(t[0], t[4], 0) == Status::Ok); // no rights at all is a valid copy
    REQUIRE(t[4].cap().rights == 0);
    REQUIRE(mk::mint_cap(t[0], t[5], kW | kX, 9) == Status::Ok);
    REQUIRE(t[5].cap().rights == kW);
    REQUIRE(t[5].cap().badge == 9);
    REQUIRE(mk::copy_cap(t[5], t[6], kAll) == Status::Ok); // copies keep the badge
    REQUIRE(t[6].cap().badge == 9);
    REQUIRE(mk::mint_cap(t[5], t[7], kAll, 9) == Status::Ok); // the same badge again is fine
    REQUIRE(t[7].cap().rights == kW);
    REQUIRE(children_of(t[0]) == std::set<const CapSlot*>{&t[1], &t[4], &t[5]});
    REQUIRE(t[0].child_count() == 3);
    REQUIRE(obj.references() == 8);
    REQUIRE(check_invariants({&t}, {&obj}) == "");
}

TEST_CASE("cap: every bad input returns its exact Status and changes nothing", "[cap]") {
    Table t(4), u(2);
    TestObject obj, other;
    REQUIRE(mk::insert_original(t[0], obj, kAll, 0) == Status::Ok);
    REQUIRE(mk::copy_cap(t[0], t[1], kR) == Status::Ok);
    REQUIRE(mk::mint_cap(t[1], u[0], kR, 5) == Status::Ok);
    const auto before = snapshot({&t, &u});
    auto unchanged = [&] { return snapshot({&t, &u}) == before; };

    REQUIRE(mk::insert_original(t[1], other, kR, 0) == Status::AlreadyExists);
    REQUIRE(unchanged());
    REQUIRE(other.references() == 0);

    REQUIRE(mk::copy_cap(t[0], t[0], kR) == Status::InvalidArgument);
    REQUIRE(mk::copy_cap(t[2], t[2], kR) == Status::InvalidArgument); // same slot, even empty
    REQUIRE(mk::copy_cap(t[2], t[3], kR) == Status::NotFound);
    REQUIRE(mk::copy_cap(t[0], t[1], kR) == Status::AlreadyExists);
    REQUIRE(mk::copy_cap(t[0], u[0], kR) == Status::AlreadyExists);
    REQUIRE(unchanged());

    REQUIRE(mk::mint_cap(t[0], t[0], kR, 1) == Status::InvalidArgument);
    REQUIRE(mk::mint_cap(t[0], t[2], kR, 0) == Status::InvalidArgument); // 0 is "no badge"
    REQUIRE(mk::mint_cap(t[2], t[3], kR, 1) == Status::NotFound);
    REQUIRE(mk::mint_cap(t[0], t[1], kR, 1) == Status::AlreadyExists);
    REQUIRE(mk::mint_cap(u[0], t[2], kR, 6) == Status::BadState); // no re-badging
    REQUIRE(unchanged());

    REQUIRE(mk::move_cap(t[0], t[0]) == Status::InvalidArgument);
    REQUIRE(mk::move_cap(t[2], t[3]) == Status::NotFound);
    REQUIRE(mk::move_cap(t[0], t[1]) == Status::AlreadyExists);
    REQUIRE(mk::delete_cap(t[2]) == Status::NotFound);
    REQUIRE(mk::revoke_cap(t[2]).status() == Status::NotFound);
    REQUIRE(unchanged());

    REQUIRE(t.table.slot(4).status() == Status::OutOfRange);
    REQUIRE(t.table.slot(UINT32_MAX).status() == Status::OutOfRange);
    REQUIRE(t.table.slot(3).value() == &t.storage[3]);
    REQUIRE_THROWS_AS(t.table.index_of(u[0]), exo::test::AssertionFailure);
    REQUIRE(obj.references() == 3);
    REQUIRE(check_invariants({&t, &u}, {&obj, &other}) == "");
}

TEST_CASE("cap: first_free finds empty slots and reports exhaustion", "[cap]") {
    Table t(3);
    TestObject obj;
    REQUIRE(t.table.first_free().value() == 0);
    REQUIRE(t.table.first_free(1).value() == 1);
    REQUIRE(t.table.first_free(3).status() == Status::NoMemory);
    REQUIRE(t.table.first_free(4).status() == Status::OutOfRange);
    for (uint32_t i = 0; i < 3; ++i) {
        auto index = t.table.first_free();
        REQUIRE(index.value() == i);
        REQUIRE(mk::insert_original(t[index.value()], obj, kR, 0) == Status::Ok);
        REQUIRE(t.table.index_of(t[i]) == i);
    }
    REQUIRE(t.table.first_free().status() == Status::NoMemory);
    REQUIRE(t.table.used() == 3);
    REQUIRE(mk::delete_cap(t[1]) == Status::Ok);
    REQUIRE(t.table.first_free().value() == 1);
    REQUIRE(t.table.first_free(2).status() == Status::NoMemory);
    REQUIRE(t.table.used() == 2);
    REQUIRE(check_invariants({&t}, {&obj}) == "");
}

TEST_CASE("cap: move keeps the slot's place in the tree and its children", "[cap]") {
    Table t(8);
    TestObject obj;
    // 0 -> {1, 2, 3}, 2 -> {4, 5}
    REQUIRE(mk::insert_original(t[0], obj, kAll, 0) == Status::Ok);
    for (uint32_t i : {1u, 2u, 3u})
        REQUIRE(mk::copy_cap(t[0], t[i], kR | kW) == Status::Ok);
    REQUIRE(mk::copy_cap(t[2], t[4], kR) == Status::Ok);
    REQUIRE(mk::mint_cap(t[2], t[5], kW, 3) == Status::Ok);
    REQUIRE(t[2].prev_sibling() == &t[3]); // newest first: 3, 2, 1
    REQUIRE(obj.references() == 6);

    REQUIRE(mk::move_cap(t[2], t[6]) == Status::Ok); // a middle sibling with children
    REQUIRE(t[2].empty());
    REQUIRE(t[6].cap().rights == (kR | kW));
    REQUIRE(t[6].parent() == &t[0]);
    REQUIRE(children_of(t[0]) == std::set<const CapSlot*>{&t[1], &t[6], &t[3]});
    REQUIRE(children_of(t[6]) == std::set<const CapSlot*>{&t[4], &t[5]});
    REQUIRE(t[4].parent() == &t[6]);
    REQUIRE(obj.references() == 6);
    REQUIRE(check_invariants({&t}, {&obj}) == "");

    REQUIRE(mk::move_cap(t[0], t[7]) == Status::Ok); // the root
    REQUIRE(t[7].parent() == nullptr);
    REQUIRE(t[7].child_count() == 3);
    REQUIRE(mk::move_cap(t[3], t[0]) == Status::Ok); // the first child
    REQUIRE(t[7].first_child() == &t[0]);
    REQUIRE(check_invariants({&t}, {&obj}) == "");

    REQUIRE(mk::revoke_cap(t[7]).value() == 5);
    REQUIRE(t.table.used() == 1);
    REQUIRE(obj.references() == 1);
    REQUIRE(check_invariants({&t}, {&obj}) == "");
}

TEST_CASE("cap: move into another table keeps the derivation", "[cap]") {
    Table a(4), b(4);
    TestObject obj;
    REQUIRE(mk::insert_original(a[0], obj, kAll, 0) == Status::Ok);
    REQUIRE(mk::copy_cap(a[0], a[1], kR | kW) == Status::Ok);
    REQUIRE(mk::copy_cap(a[1], a[2], kR) == Status::Ok);
    REQUIRE(mk::move_cap(a[1], b[3]) == Status::Ok);
    REQUIRE(a[1].empty());
    REQUIRE(b[3].parent() == &a[0]);
    REQUIRE(a[2].parent() == &b[3]);
    REQUIRE(b.table.index_of(b[3]) == 3);
    REQUIRE(check_invariants({&a, &b}, {&obj}) == "");
    REQUIRE(mk::revoke_cap(a[0]).value() == 2);
    REQUIRE(b.table.used() == 0);
    REQUIRE(check_invariants({&a, &b}, {&obj}) == "");
}

TEST_CASE("cap: delete reparents children; revoking the grandparent still reaches them", "[cap]") {
    Table t(8);
    TestObject obj;
    // 0 -> 1 -> {2, 3 -> 4}, 0 -> 5
    REQUIRE(mk::insert_original(t[0], obj, kAll, 0) == Status::Ok);
    REQUIRE(mk::copy_cap(t[0], t[1], kR | kW) == Status::Ok);
    REQUIRE(mk::copy_cap(t[1], t[2], kR) == Status::Ok);
    REQUIRE(mk::copy_cap(t[1], t[3], kW) == Status::Ok);
    REQUIRE(mk::copy_cap(t[3], t[4], kW) == Status::Ok);
    REQUIRE(mk::copy_cap(t[0], t[5], kR) == Status::Ok);

    REQUIRE(mk::delete_cap(t[1]) == Status::Ok);
    REQUIRE(t[1].empty());
    REQUIRE(t[2].parent() == &t[0]);
    REQUIRE(t[3].parent() == &t[0]);
    REQUIRE(t[4].parent() == &t[3]);
    REQUIRE(children_of(t[0]) == std::set<const CapSlot*>{&t[2], &t[3], &t[5]});
    REQUIRE(obj.references() == 5);
    REQUIRE(check_invariants({&t}, {&obj}) == "");

    REQUIRE(mk::revoke_cap(t[0]).value() == 4);
    REQUIRE(t.table.used() == 1);
    REQUIRE(obj.references() == 1);
    REQUIRE(obj.drops == 0);
    REQUIRE(check_invariants({&t}, {&obj}) == "");
}

TEST_CASE("cap: deleting a root makes its children roots", "[cap]") {
    Table t(4);
    TestObject obj;
    REQUIRE(mk::insert_original(t[0], obj, kAll, 0) == Status::Ok);
    REQUIRE(mk::copy_cap(t[0], t[1], kR) == Status::Ok);
    REQUIRE(mk::copy_cap(t[0], t[2], kW) == Status::Ok);
    REQUIRE(mk::copy_cap(t[2], t[3], kW) == Status::Ok);
    REQUIRE(mk::delete_cap(t[0]) == Status::Ok);
    REQUIRE(t[1].parent() == nullptr);
    REQUIRE(t[2].parent() == nullptr);
    REQUIRE(t[1].next_sibling() == nullptr);
    REQUIRE(t[2].prev_sibling() == nullptr);
    REQUIRE(t[3].parent() == &t[2]);
    REQUIRE(obj.references() == 3);
    REQUIRE(check_invariants({&t}, {&obj}) == "");
}

TEST_CASE("cap: revoke deletes every descendant and keeps the slot", "[cap]") {
    Table t(8);
    TestObject obj;
    REQUIRE(mk::insert_original(t[0], obj, kAll, 0) == Status::Ok);
    REQUIRE(mk::revoke_cap(t[0]).value() == 0); // no children: nothing to do
    REQUIRE(mk::copy_cap(t[0], t[1], kAll) == Status::Ok);
    REQUIRE(mk::copy_cap(t[1], t[2], kAll) == Status::Ok);
    REQUIRE(mk::copy_cap(t[1], t[3], kAll) == Status::Ok);
    REQUIRE(mk::copy_cap(t[0], t[4], kAll) == Status::Ok);
    REQUIRE(mk::revoke_cap(t[1]).value() == 2); // a subtree only
    REQUIRE(t.table.used() == 3);
    REQUIRE(children_of(t[0]) == std::set<const CapSlot*>{&t[1], &t[4]});
    REQUIRE(mk::revoke_cap(t[0]).value() == 2);
    REQUIRE(t.table.used() == 1);
    REQUIRE(!t[0].has_children());
    REQUIRE(obj.drops == 0);
    REQUIRE(check_invariants({&t}, {&obj}) == "");
}

TEST_CASE("cap: revoke with a limit stops and resumes", "[cap]") {
    Table t(64);
    TestObject obj;
    REQUIRE(mk::insert_original(t[0], obj, kAll, 0) == Status::Ok);
    // A chain 0 -> 1 -> ... -> 31, and 32..63 children of 10.
    for (uint32_t i = 1; i < 32; ++i)
        REQUIRE(mk::copy_cap(t[i - 1], t[i], kAll) == Status::Ok);
    for (uint32_t i = 32; i < 64; ++i)
        REQUIRE(mk::copy_cap(t[10], t[i], kAll) == Status::Ok);
    size_t total = 0, calls = 0;
    for (;;) {
        size_t n = mk::revoke_cap(t[0], 5).value();
        total += n;
        ++calls;
        REQUIRE(check_invariants({&t}, {&obj}) == "");
        if (n < 5)
            break;
    }
    REQUIRE(total == 63);
    REQUIRE(calls == 13);
    REQUIRE(mk::revoke_cap(t[0], 0).value() == 0);
    REQUIRE(t.table.used() == 1);
    REQUIRE(obj.references() == 1);
}

TEST_CASE("cap: a chain 100,000 deep derives, revokes and deletes without recursion", "[cap]") {
    constexpr uint32_t kDepth = 100'000;
    Table t(kDepth);
    TestObject obj;
    REQUIRE(mk::insert_original(t[0], obj, kAll, 0) == Status::Ok);
    for (uint32_t i = 1; i < kDepth; ++i)
        REQUIRE(mk::copy_cap(t[i - 1], t[i], i % 1000 == 0 ? kAll & ~(1u << (i / 16667)) : kAll) ==
                Status::Ok);
    REQUIRE(t[kDepth - 1].cap().rights == 0); // bits 0..5 dropped along the way, never regained
    REQUIRE(mk::mint_cap(t[kDepth - 1], t[kDepth - 2], kAll, 1) == Status::AlreadyExists);
    REQUIRE(obj.references() == kDepth);
    REQUIRE(check_invariants({&t}, {&obj}) == "");

    REQUIRE(mk::revoke_cap(t[kDepth / 2]).value() == kDepth / 2 - 1);
    REQUIRE(t.table.used() == kDepth / 2 + 1);
    REQUIRE(mk::delete_cap(t[kDepth / 4]) == Status::Ok); // the middle of what remains
    REQUIRE(t[kDepth / 4 + 1].parent() == &t[kDepth / 4 - 1]);
    REQUIRE(mk::revoke_cap(t[0]).value() == kDepth / 2 - 1);
    REQUIRE(t.table.used() == 1);
    REQUIRE(obj.references() == 1);

    // Again, then tear it down from the root: every delete lifts one child.
    for (uint32_t i = 1; i < kDepth; ++i)
        REQUIRE(mk::copy_cap(t[i - 1], t[i], kAll) == Status::Ok);
    for (uint32_t i = 0; i < kDepth; ++i)
        REQUIRE(mk::delete_cap(t[i]) == Status::Ok);
    REQUIRE(obj.references() == 0);
    REQUIRE(obj.drops == 1);
    REQUIRE(check_invariants({&t}, {&obj}) == "");
}

TEST_CASE("cap: 10,000 children and their children revoke in one call", "[cap]") {
    constexpr uint32_t kWide = 10'000;
    Table t(2 * kWide + 1);
    TestObject obj;
    REQUIRE(mk::insert_original(t[0], obj, kR | kW, 0) == Status::Ok);
    for (uint32_t i = 1; i <= kWide; ++i) {
        REQUIRE(mk::mint_cap(t[0], t[i], kAll, i) == Status::Ok);
        REQUIRE(mk::copy_cap(t[i], t[kWide + i], kR) == Status::Ok);
    }
    REQUIRE(t[0].child_count() == kWide);
    REQUIRE(check_invariants({&t}, {&obj}) == "");
    REQUIRE(mk::delete_cap(t[1]) == Status::Ok); // its child joins the 9,999 others
    REQUIRE(t[0].child_count() == kWide);
    REQUIRE(mk::revoke_cap(t[0]).value() == 2 * kWide - 1);
    REQUIRE(t.table.used() == 1);
    REQUIRE(obj.references() == 1);
    REQUIRE(check_invariants({&t}, {&obj}) == "");
}

TEST_CASE("cap: insert_child derives a new object that revoking the parent removes", "[cap]") {
    Table a(4), b(4);
    TestObject memory(1), split(1), other(3);
    REQUIRE(mk::insert_original(a[0], memory, kR | exo::kRightManage, 8) == Status::Ok);
    const auto before = snapshot({&a, &b});
    REQUIRE(mk::insert_child(a[0], a[0], split, kAll) == Status::InvalidArgument);
    REQUIRE(mk::insert_child(a[1], a[2], split, kAll) == Status::NotFound);
    REQUIRE(snapshot({&a, &b}) == before);
    REQUIRE(split.references() == 0);

    // The new object has its own rights (more than the parent's) and no badge.
    REQUIRE(mk::insert_child(a[0], b[0], split, kAll) == Status::Ok);
    REQUIRE(b[0].parent() == &a[0]);
    REQUIRE(b[0].cap().object == &split);
    REQUIRE(b[0].cap().type == 1);
    REQUIRE(b[0].cap().rights == kAll);
    REQUIRE(b[0].cap().badge == 0);
    REQUIRE(split.references() == 1);
    REQUIRE(mk::insert_child(a[0], b[0], other, kR) == Status::AlreadyExists);
    REQUIRE(mk::copy_cap(b[0], b[1], kR | kW) == Status::Ok);
    REQUIRE(mk::insert_child(b[1], b[2], other, kX) == Status::Ok);
    REQUIRE(check_invariants({&a, &b}, {&memory, &split, &other}) == "");

    REQUIRE(mk::delete_cap(b[0]) == Status::Ok); // the copy now hangs from the Memory cap
    REQUIRE(b[1].parent() == &a[0]);
    REQUIRE(split.drops == 0);
    REQUIRE(check_invariants({&a, &b}, {&memory, &split, &other}) == "");
    REQUIRE(mk::revoke_cap(a[0]).value() == 2);
    REQUIRE(split.drops == 1);
    REQUIRE(other.drops == 1);
    REQUIRE(memory.references() == 1);
    REQUIRE(check_invariants({&a, &b}, {&memory, &split, &other}) == "");
}

TEST_CASE("cap: derivation crosses tables and revoke follows it", "[cap]") {
    Table a(4), b(4), c(4);
    TestObject obj;
    REQUIRE(mk::insert_original(a[0], obj, kAll, 0) == Status::Ok);
    REQUIRE(mk::copy_cap(a[0], b[1], kR | kW) == Status::Ok);
    REQUIRE(mk::mint_cap(b[1], c[2], kR, 77) == Status::Ok);
    REQUIRE(mk::copy_cap(c[2], a[3], kAll) == Status::Ok);
    REQUIRE(a[3].cap().rights == kR);
    REQUIRE(a[3].cap().badge == 77);
    REQUIRE(a[3].parent() == &c[2]);
    REQUIRE(check_invariants({&a, &b, &c}, {&obj}) == "");
    REQUIRE(mk::revoke_cap(b[1]).value() == 2);
    REQUIRE(c.table.used() == 0);
    REQUIRE(a.table.used() == 1);
    REQUIRE(b.table.used() == 1);
    REQUIRE(obj.references() == 2);
    REQUIRE(check_invariants({&a, &b, &c}, {&obj}) == "");
}

TEST_CASE("cap: clear() empties a table and keeps descendants in other tables", "[cap]") {
    Table a(4), b(4);
    TestObject obj, alone;
    // a0 -> a1 -> {b0, b1 -> a2 -> b2}; a3 holds another object.
    REQUIRE(mk::insert_original(a[0], obj, kAll, 0) == Status::Ok);
    REQUIRE(mk::copy_cap(a[0], a[1], kAll) == Status::Ok);
    REQUIRE(mk::copy_cap(a[1], b[0], kR) == Status::Ok);
    REQUIRE(mk::copy_cap(a[1], b[1], kR | kW) == Status::Ok);
    REQUIRE(mk::copy_cap(b[1], a[2], kW) == Status::Ok);
    REQUIRE(mk::copy_cap(a[2], b[2], kW) == Status::Ok);
    REQUIRE(mk::insert_original(a[3], alone, kR, 0) == Status::Ok);

    a.table.clear();
    REQUIRE(a.table.used() == 0);
    REQUIRE(alone.drops == 1);
    REQUIRE(obj.drops == 0);
    REQUIRE(b.table.used() == 3);
    REQUIRE(b[0].parent() == nullptr);
    REQUIRE(b[1].parent() == nullptr);
    REQUIRE(b[2].parent() == &b[1]); // a2 was between them
    REQUIRE(obj.references() == 3);
    REQUIRE(check_invariants({&a, &b}, {&obj, &alone}) == "");

    REQUIRE(mk::revoke_cap(b[1]).value() == 1);
    b.table.clear();
    REQUIRE(obj.drops == 1);
    REQUIRE(check_invariants({&a, &b}, {&obj, &alone}) == "");
}

TEST_CASE("cap: an object dies exactly when its last reference goes", "[cap]") {
    Table t(4);
    TestObject obj;
    bool was_detached = true;
    obj.on_drop = [&](TestObject& o) {
        // The slot is empty and unlinked, and the tree consistent, when the callback runs.
        was_detached = was_detached && check_invariants({&t}, {&o}) == "" && t.table.used() == 0;
    };
    REQUIRE(mk::insert_original(t[0], obj, kAll, 0) == Status::Ok);
    REQUIRE(mk::copy_cap(t[0], t[1], kAll) == Status::Ok);
    REQUIRE(mk::copy_cap(t[1], t[2], kAll) == Status::Ok);
    obj.retain(); // the kernel keeps the object alive (a mapping)
    REQUIRE(mk::revoke_cap(t[0]).value() == 2);
    REQUIRE(mk::move_cap(t[0], t[3]) == Status::Ok);
    REQUIRE(obj.references() == 2);
    REQUIRE(mk::delete_cap(t[3]) == Status::Ok);
    REQUIRE(obj.drops == 0);
    REQUIRE(obj.references() == 1);
    obj.release();
    REQUIRE(obj.drops == 1);

    REQUIRE(mk::insert_original(t[0], obj, kAll, 0) == Status::Ok);
    REQUIRE(mk::copy_cap(t[0], t[1], kAll) == Status::Ok);
    REQUIRE(mk::delete_cap(t[0]) == Status::Ok);
    REQUIRE(obj.drops == 1);
    REQUIRE(mk::delete_cap(t[1]) == Status::Ok); // the copy was the last one
    REQUIRE(obj.drops == 2);
    REQUIRE(was_detached);
    REQUIRE_THROWS_AS(obj.release(), exo::test::AssertionFailure); // count would go below 0
}

namespace {

// Random operations over `tables` tables of `slots` slots with `object_count` objects. Every
// operation's Status is predicted from the state before it; a failed one must change nothing, a
// successful one must do exactly what it says; reference counts and last_reference_dropped
// calls are tracked per object; check_invariants runs every `check_every` operations and inside
// every last_reference_dropped.
void random_run(uint64_t seed, int table_count, uint32_t slots, int object_count, int ops,
                int check_every) {
    std::mt19937_64 rng(seed);
    std::vector<std::unique_ptr<Table>> storage;
    std::vector<Table*> tables;
    for (int i = 0; i < table_count; ++i) {
        storage.push_back(std::make_unique<Table>(slots));
        tables.push_back(storage.back().get());
    }
    std::vector<std::unique_ptr<TestObject>> object_storage;
    std::vector<TestObject*> objects;
    std::map<const CapObject*, uint32_t> extra;
    std::string hook_error;
    for (int i = 0; i < object_count; ++i) {
        object_storage.push_back(std::make_unique<TestObject>(uint16_t(1 + i % 10)));
        objects.push_back(object_storage.back().get());
        objects.back()->on_drop = [&](TestObject&) {
            std::string e = check_invariants(tables, objects, extra);
            if (hook_error.empty() && !e.empty())
                hook_error = "inside last_reference_dropped: " + e;
        };
    }
    std::vector<int> expected_drops(object_count, 0);
    std::vector<uint32_t> refs_before(object_count);
    std::vector<SlotState> before, after;
    auto any = [&](uint64_t n) { return uint32_t(rng() % n); };
    auto random_slot = [&](bool want_used, bool want_empty) -> CapSlot& {
        CapSlot* s = nullptr;
        for (int tries = 0; tries < 8; ++tries) {
            s = &tables[any(table_count)]->storage[any(slots)];
            if ((!want_used || !s->empty()) && (!want_empty || s->empty()))
                break;
        }
        return *s;
    };
    auto pair_status = [](const CapSlot& src, const CapSlot& dst) {
        return &src == &dst   ? Status::InvalidArgument
               : src.empty()  ? Status::NotFound
               : !dst.empty() ? Status::AlreadyExists
                              : Status::Ok;
    };
    const uint64_t badges[] = {0, 0, 1, 2, 3};

    for (int op = 0; op < ops; ++op) {
        // Mostly a used source and an empty destination, so that trees grow deep and wide.
        CapSlot& src = random_slot(any(8) != 0, false);
        CapSlot& dst = any(50) == 0 ? src : random_slot(false, any(8) != 0);
        TestObject& obj = *objects[any(object_count)];
        uint32_t rights = any(kAll + 1);
        uint64_t badge = badges[any(5)];
        for (int i = 0; i < object_count; ++i)
            refs_before[i] = objects[i]->references();
        const mk::Capability old = src.cap();
        const CapSlot* old_parent = src.parent();
        Status expected = Status::Ok, got = Status::Ok;
        auto expect = [&](Status s) {
            expected = s;
            if (s != Status::Ok)
                snapshot(tables, before); // a failure must leave it bit-identical
        };
        uint32_t kind = any(100);
        INFO("op " << op << " kind " << kind);
        if (kind < 10) {
            expect(dst.empty() ? Status::Ok : Status::AlreadyExists);
            got = mk::insert_original(dst, obj, rights, badge);
            if (got == Status::Ok)
                REQUIRE((dst.cap().object == &obj && dst.cap().rights == rights &&
                         dst.cap().badge == badge && dst.parent() == nullptr &&
                         !dst.has_children()));
        } else if (kind < 16) {
            // A fresh object: none of src's ancestors (nor src) names it.
            bool related = false;
            for (const CapSlot* a = &src; a && !src.empty() && &src != &dst; a = a->parent())
                related = related || a->cap().object == &obj;
            if (!related) {
                expect(pair_status(src, dst));
                got = mk::insert_child(src, dst, obj, rights);
                if (got == Status::Ok)
                    REQUIRE((dst.parent() == &src && dst.cap().object == &obj &&
                             dst.cap().rights == rights && dst.cap().badge == 0));
            }
        } else if (kind < 40) {
            expect(pair_status(src, dst));
            got = mk::copy_cap(src, dst, rights);
            if (got == Status::Ok)
                REQUIRE((dst.parent() == &src && dst.cap().rights == (old.rights & rights) &&
                         dst.cap().badge == old.badge && dst.cap().object == old.object));
        } else if (kind < 55) {
            Status e = badge == 0 ? Status::InvalidArgument : pair_status(src, dst);
            expect(e == Status::Ok && old.badge != 0 && old.badge != badge ? Status::BadState : e);
            got = mk::mint_cap(src, dst, rights, badge);
            if (got == Status::Ok)
                REQUIRE((dst.parent() == &src && dst.cap().rights == (old.rights & rights) &&
                         dst.cap().badge == badge));
        } else if (kind < 67) {
            expect(pair_status(src, dst));
            const auto old_children = children_of(src);
            got = mk::move_cap(src, dst);
            if (got == Status::Ok) {
                REQUIRE((src.empty() && dst.cap().object == old.object &&
                         dst.cap().rights == old.rights && dst.cap().badge == old.badge &&
                         dst.parent() == old_parent && children_of(dst) == old_children));
                if (old_parent)
                    REQUIRE(children_of(*old_parent).count(&dst) == 1);
            }
        } else if (kind < 88) {
            expect(src.empty() ? Status::NotFound : Status::Ok);
            const auto old_children = children_of(src);
            got = mk::delete_cap(src);
            if (got == Status::Ok) {
                REQUIRE(src.empty());
                for (const CapSlot* c : old_children)
                    REQUIRE(c->parent() == old_parent);
            }
        } else if (kind < 95) {
            expect(src.empty() ? Status::NotFound : Status::Ok);
            std::vector<const CapSlot*> doomed;
            if (!src.empty())
                doomed = descendants(src);
            auto revoked = mk::revoke_cap(src);
            got = revoked.status();
            if (got == Status::Ok) {
                REQUIRE(revoked.value() == doomed.size());
                REQUIRE((!src.has_children() && src.cap().object == old.object));
                for (const CapSlot* d : doomed)
                    REQUIRE(d->empty());
            }
        } else if (kind < 98) { // the kernel's own references
            if (extra[&obj] > 0 && any(2) == 0) {
                --extra[&obj];
                obj.release();
            } else {
                ++extra[&obj];
                obj.retain();
            }
        } else if (any(20) == 0) {
            Table& t = *tables[any(table_count)];
            t.table.clear();
            REQUIRE(t.table.used() == 0);
        }
        REQUIRE(exo::status_name(got) == exo::status_name(expected));
        if (got != Status::Ok) {
            snapshot(tables, after);
            REQUIRE(after == before);
        }
        bool drops_match = true;
        for (int i = 0; i < object_count; ++i) {
            if (refs_before[i] > 0 && objects[i]->references() == 0)
                ++expected_drops[i];
            drops_match = drops_match && objects[i]->drops == expected_drops[i];
        }
        REQUIRE(drops_match);
        REQUIRE(hook_error == "");
        if (op % check_every == 0)
            REQUIRE(check_invariants(tables, objects, extra) == "");
    }
    REQUIRE(check_invariants(tables, objects, extra) == "");

    // Teardown: every object's last reference goes exactly once more.
    for (int i = 0; i < object_count; ++i)
        refs_before[i] = objects[i]->references();
    for (Table* t : tables)
        t->table.clear();
    REQUIRE(hook_error == "");
    for (int i = 0; i < object_count; ++i) {
        TestObject* o = objects[i];
        for (; extra[o] > 0;) {
            --extra[o];
            o->release();
        }
        REQUIRE(o->references() == 0);
        REQUIRE(o->drops == expected_drops[i] + (refs_before[i] > 0 ? 1 : 0));
    }
    REQUIRE(hook_error == "");
}

} // namespace

TEST_CASE("cap: random operations keep rights monotonic and the tree consistent", "[cap]") {
    for (uint64_t seed : {1u, 2u, 3u})
        random_run(seed, 2, 24, 4, 12'000, 1);
}

TEST_CASE("cap: seeded stress, 200,000 operations over 3 tables of 64 slots", "[cap]") {
    random_run(0xc0ffee, 3, 64, 16, 200'000, 97);
}
