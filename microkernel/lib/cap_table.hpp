// Capability tables and the derivation tree (capability layer, portable core): seL4-style
// insert/copy/mint/move/delete/revoke over caller-provided slots, with no allocation and no
// recursion. Built freestanding into the kernel and natively into the host tests.
#pragma once

#include <exo/assert.hpp>
#include <exo/result.hpp>
#include <exo/status.hpp>

#include <atomic>
#include <stddef.h>
#include <stdint.h>

namespace mk {

// The base of every object a capability can name. Reference-counted: each non-empty slot holds
// one reference, and the kernel may hold others (a mapping holds its frame). retain() and
// release() are atomic and may run outside the capability lock, from any CPU.
class CapObject {
public:
    explicit CapObject(uint16_t type) : type_(type) {} // starts with no reference
    CapObject(const CapObject&) = delete;
    CapObject& operator=(const CapObject&) = delete;

    uint16_t type() const { return type_; }
    uint32_t references() const { return references_.load(std::memory_order_relaxed); }

    // Taking a reference needs no ordering: the caller already reaches the object through
    // another reference (or creates it).
    void retain() {
        uint32_t before = references_.fetch_add(1, std::memory_order_relaxed);
        EXO_ASSERT(before != UINT32_MAX, "capability object reference count overflow");
    }
    // A reference to an object found through a registry that does not own one (the list of
    // all processes): fails once the count has reached zero, when the object is on its way out.
    bool try_retain() {
        uint32_t n = references_.load(std::memory_order_relaxed);
        while (n != 0)
            if (references_.compare_exchange_weak(n, n + 1, std::memory_order_relaxed))
                return true;
        return false;
    }
    // acq_rel: every use through any reference happens-before last_reference_dropped().
    void release() {
        uint32_t before = references_.fetch_sub(1, std::memory_order_acq_rel);
        EXO_ASSERT(before != 0, "capability object released more often than retained");
        if (before == 1)
            last_reference_dropped();
    }

protected:
    // Runs once the count reaches zero. It must not destroy in place nor touch any capability
    // table (the capability lock may be held): the kernel queues the object for destruction.
    virtual void last_reference_dropped() = 0;
    ~CapObject() = default; // no delete through the base

private:
    std::atomic<uint32_t> references_{0};
    uint16_t type_;
};

// What a slot holds. `type` is the object's type() (cached for the syscall decoders); a badge of
// 0 means "no badge".
struct Capability {
    CapObject* object = nullptr;
    uint16_t type = 0;
    uint32_t rights = 0;
    uint64_t badge = 0;
};
static_assert(sizeof(Capability) == 24);

// One slot and its node in the derivation tree. A node's parent is the capability it was
// derived from (copy, mint, insert_child); originals (insert_original) and capabilities whose
// ancestors were all deleted are roots. Links are plain pointers and may cross tables. An empty
// slot has no links. Slots have identity: they are never copied.
class CapSlot {
public:
    CapSlot() = default;
    CapSlot(const CapSlot&) = delete;
    CapSlot& operator=(const CapSlot&) = delete;

    bool empty() const { return cap_.object == nullptr; }
    const Capability& cap() const { return cap_; }

    // The derivation tree, for the kernel's queries, tests and diagnostics.
    CapSlot* parent() const { return parent_; }
    CapSlot* first_child() const { return first_child_; }
    CapSlot* next_sibling() const { return next_sibling_; }
    CapSlot* prev_sibling() const { return prev_sibling_; }
    bool has_children() const { return first_child_ != nullptr; }
    size_t child_count() const; // O(children)

private:
    friend struct CapTree; // the tree surgery, in cap_table.cpp

    Capability cap_;
    CapSlot* parent_ = nullptr;
    CapSlot* first_child_ = nullptr; // children form a doubly linked list, in no order
    CapSlot* next_sibling_ = nullptr;
    CapSlot* prev_sibling_ = nullptr;
};

// A capability space: `count` slots in caller-provided storage, addressed by index. Slot 0 is an
// ordinary slot here; the syscall layer reserves it as the null slot.
class CapTable {
public:
    // Makes every slot empty; the storage must not hold live capabilities (they would leak).
    CapTable(CapSlot* slots, uint32_t count);
    CapTable(const CapTable&) = delete;
    CapTable& operator=(const CapTable&) = delete;

    uint32_t size() const { return count_; }
    // OutOfRange when index >= size().
    exo::Result<CapSlot*> slot(uint32_t index);
    // The lowest empty slot at or after `from`. NoMemory when there is none (the table is full
    // from there); OutOfRange when from > size(). O(size).
    exo::Result<uint32_t> first_free(uint32_t from = 0) const;
    bool contains(const CapSlot& slot) const;
    // Asserts that the slot belongs to this table.
    uint32_t index_of(const CapSlot& slot) const;
    // Non-empty slots. O(size).
    uint32_t used() const;
    // Deletes every capability of the table, as delete_cap does (process teardown). Descendants
    // in other tables survive, reparented to their nearest ancestor outside this table (or
    // made roots): teardown of one process never revokes what another process holds.
    // O(size + children reparented).
    void clear();

private:
    CapSlot* slots_;
    uint32_t count_;
};

// Operations on slots of any tables. Each validates all its arguments first, then changes state
// with steps that cannot fail: on error nothing has changed. Common errors, in order of checking:
//   InvalidArgument  src and dst are the same slot
//   NotFound         the source (or parent) slot is empty
//   AlreadyExists    the destination slot is not empty
// Rights never grow along a derivation path of one object: copy and mint keep
// src.rights & rights_mask, and delete lifts children only to ancestors with more rights.
//
// Locking: none inside; the kernel serializes every call (and all reads of slots) with its one
// global capability lock. Objects are released only after their slot is fully detached, so the
// tree is consistent whenever last_reference_dropped() runs.

// dst becomes a root naming `object` (object creation). Retains the object.
[[nodiscard]] exo::Status insert_original(CapSlot& dst, CapObject& object, uint32_t rights,
                                          uint64_t badge);
// dst becomes a child of `parent` naming another, new `object` (one that no ancestor names) with
// `rights` and no badge: an object made from the parent's (a quota split from a Memory, a
// narrower IoPorts range), removed when the parent is revoked, as seL4's retype. Retains the
// object. The rights are the new object's own: the rights rule binds copies of one object.
[[nodiscard]] exo::Status insert_child(CapSlot& parent, CapSlot& dst, CapObject& object,
                                       uint32_t rights);
// dst becomes a child of src: same object and badge, rights src.rights & rights_mask.
[[nodiscard]] exo::Status copy_cap(CapSlot& src, CapSlot& dst, uint32_t rights_mask);
// Like copy_cap but dst carries `badge`. InvalidArgument when badge is 0; BadState when src is
// already badged with a different badge (badges are never changed, as in seL4).
[[nodiscard]] exo::Status mint_cap(CapSlot& src, CapSlot& dst, uint32_t rights_mask,
                                   uint64_t badge);
// dst takes src's place in the tree (same parent, the children follow) and src becomes empty.
// No reference count changes. O(children).
[[nodiscard]] exo::Status move_cap(CapSlot& src, CapSlot& dst);
// Empties the slot and releases its reference. Its children survive, reparented to the slot's
// parent (or made roots), so revoking an ancestor still reaches them. NotFound when empty.
// O(children).
[[nodiscard]] exo::Status delete_cap(CapSlot& slot);
// Deletes descendants of `slot` (never the slot itself), at most `limit` of them, and returns
// how many it deleted; the slot has no children left once that count is below `limit`. Each
// step deletes the slot's first child and lifts the grandchildren into its place (each
// descendant is lifted at most once): no recursion, no extra memory, O(descendants) in total,
// and a call with a small `limit` resumes at no cost (a preemption point for the kernel).
// NotFound when the slot is empty.
[[nodiscard]] exo::Result<size_t> revoke_cap(CapSlot& slot, size_t limit = SIZE_MAX);

} // namespace mk
