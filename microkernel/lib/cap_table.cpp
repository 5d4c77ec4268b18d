// Capability tables and the derivation tree: the tree surgery behind copy, mint, move, delete
// and revoke. Every operation checks its arguments before the first write.
#include "lib/cap_table.hpp"

#include <new>

namespace mk {

// The link surgery. Nothing here releases a reference: callers release only after the slot is
// fully detached and empty.
struct CapTree {
    // Makes `child` (empty, unlinked) the first child of `parent`.
    static void link_child(CapSlot& parent, CapSlot& child) {
        child.parent_ = &parent;
        child.prev_sibling_ = nullptr;
        child.next_sibling_ = parent.first_child_;
        if (parent.first_child_)
            parent.first_child_->prev_sibling_ = &child;
        parent.first_child_ = &child;
    }

    // Points whatever linked to `from` (its parent's child list, its siblings, its children's
    // parent links) at `to`, which takes over `from`'s links. O(children).
    static void replace(CapSlot& from, CapSlot& to) {
        to.parent_ = from.parent_;
        to.prev_sibling_ = from.prev_sibling_;
        to.next_sibling_ = from.next_sibling_;
        to.first_child_ = from.first_child_;
        if (to.prev_sibling_)
            to.prev_sibling_->next_sibling_ = &to;
        else if (to.parent_)
            to.parent_->first_child_ = &to;
        if (to.next_sibling_)
            to.next_sibling_->prev_sibling_ = &to;
        for (CapSlot* c = to.first_child_; c; c = c->next_sibling_)
            c->parent_ = &to;
        clear_links(from);
    }

    // Removes `slot` from the tree; its children take its place in its parent's child list (or
    // become roots). O(children).
    static void unlink(CapSlot& slot) {
        CapSlot* parent = slot.parent_;
        CapSlot* prev = slot.prev_sibling_;
        CapSlot* next = slot.next_sibling_;
        CapSlot* first = slot.first_child_;
        if (first == nullptr) {
            splice(parent, prev, next, nullptr, nullptr);
        } else if (parent == nullptr) {
            // A root's children become roots: roots have no siblings.
            for (CapSlot* c = first; c;) {
                CapSlot* following = c->next_sibling_;
                clear_links_keep_children(*c);
                c = following;
            }
        } else {
            CapSlot* last = first;
            for (;; last = last->next_sibling_) {
                last->parent_ = parent;
                if (last->next_sibling_ == nullptr)
                    break;
            }
            splice(parent, prev, next, first, last);
        }
        clear_links(slot);
    }

    // Links [first, last] (or nothing when first is null) between prev and next in parent's
    // child list.
    static void splice(CapSlot* parent, CapSlot* prev, CapSlot* next, CapSlot* first,
                       CapSlot* last) {
        CapSlot* after_prev = first ? first : next;
        CapSlot* before_next = last ? last : prev;
        if (prev)
            prev->next_sibling_ = after_prev;
        else if (parent)
            parent->first_child_ = after_prev;
        if (next)
            next->prev_sibling_ = before_next;
        if (first) {
            first->prev_sibling_ = prev;
            last->next_sibling_ = next;
        }
    }

    static void clear_links_keep_children(CapSlot& slot) {
        slot.parent_ = nullptr;
        slot.prev_sibling_ = nullptr;
        slot.next_sibling_ = nullptr;
    }
    static void clear_links(CapSlot& slot) {
        clear_links_keep_children(slot);
        slot.first_child_ = nullptr;
    }

    static void set_cap(CapSlot& slot, const Capability& cap) { slot.cap_ = cap; }

    // Validated: parent non-empty, dst empty, distinct.
    static void insert_under(CapSlot& parent, CapSlot& dst, const Capability& cap) {
        cap.object->retain();
        dst.cap_ = cap;
        link_child(parent, dst);
    }

    // Validated: slot non-empty.
    static void remove(CapSlot& slot) {
        unlink(slot);
        CapObject* object = slot.cap_.object;
        slot.cap_ = Capability{};
        object->release(); // last: the slot is detached and empty
    }

    static exo::Status check_pair(const CapSlot& src, const CapSlot& dst) {
        if (&src == &dst)
            return exo::Status::InvalidArgument;
        if (src.empty())
            return exo::Status::NotFound;
        if (!dst.empty())
            return exo::Status::AlreadyExists;
        return exo::Status::Ok;
    }
};

size_t CapSlot::child_count() const {
    size_t n = 0;
    for (const CapSlot* c = first_child_; c; c = c->next_sibling_)
        ++n;
    return n;
}

exo::Status insert_original(CapSlot& dst, CapObject& object, uint32_t rights, uint64_t badge) {
    if (!dst.empty())
        return exo::Status::AlreadyExists;
    EXO_ASSERT(dst.parent() == nullptr && !dst.has_children() && dst.next_sibling() == nullptr &&
                   dst.prev_sibling() == nullptr,
               "an empty capability slot has links");
    object.retain();
    CapTree::set_cap(dst, Capability{&object, object.type(), rights, badge});
    return exo::Status::Ok;
}

exo::Status insert_child(CapSlot& parent, CapSlot& dst, CapObject& object, uint32_t rights) {
    exo::Status s = CapTree::check_pair(parent, dst);
    if (s != exo::Status::Ok)
        return s;
    CapTree::insert_under(parent, dst, Capability{&object, object.type(), rights, 0});
    return exo::Status::Ok;
}

exo::Status copy_cap(CapSlot& src, CapSlot& dst, uint32_t rights_mask) {
    exo::Status s = CapTree::check_pair(src, dst);
    if (s != exo::Status::Ok)
        return s;
    Capability cap = src.cap();
    cap.rights &= rights_mask;
    CapTree::insert_under(src, dst, cap);
    return exo::Status::Ok;
}

exo::Status mint_cap(CapSlot& src, CapSlot& dst, uint32_t rights_mask, uint64_t badge) {
    if (badge == 0)
        return exo::Status::InvalidArgument;
    exo::Status s = CapTree::check_pair(src, dst);
    if (s != exo::Status::Ok)
        return s;
    if (src.cap().badge != 0 && src.cap().badge != badge)
        return exo::Status::BadState;
    Capability cap = src.cap();
    cap.rights &= rights_mask;
    cap.badge = badge;
    CapTree::insert_under(src, dst, cap);
    return exo::Status::Ok;
}

exo::Status move_cap(CapSlot& src, CapSlot& dst) {
    exo::Status s = CapTree::check_pair(src, dst);
    if (s != exo::Status::Ok)
        return s;
    CapTree::replace(src, dst);
    CapTree::set_cap(dst, src.cap());
    CapTree::set_cap(src, Capability{});
    return exo::Status::Ok;
}

exo::Status delete_cap(CapSlot& slot) {
    if (slot.empty())
        return exo::Status::NotFound;
    CapTree::remove(slot);
    return exo::Status::Ok;
}

exo::Result<size_t> revoke_cap(CapSlot& slot, size_t limit) {
    if (slot.empty())
        return exo::Status::NotFound;
    // Deleting the first child lifts its children into slot's child list, so every descendant
    // is reparented at most once before its own deletion: O(descendants) in total.
    size_t deleted = 0;
    while (deleted < limit && slot.has_children()) {
        CapTree::remove(*slot.first_child());
        ++deleted;
    }
    return deleted;
}

CapTable::CapTable(CapSlot* slots, uint32_t count) : slots_(slots), count_(count) {
    EXO_ASSERT(slots != nullptr || count == 0, "a capability table without storage");
    for (uint32_t i = 0; i < count; ++i)
        new (&slots[i]) CapSlot();
}

exo::Result<CapSlot*> CapTable::slot(uint32_t index) {
    if (index >= count_)
        return exo::Status::OutOfRange;
    return &slots_[index];
}

exo::Result<uint32_t> CapTable::first_free(uint32_t from) const {
    if (from > count_)
        return exo::Status::OutOfRange;
    for (uint32_t i = from; i < count_; ++i)
        if (slots_[i].empty())
            return i;
    return exo::Status::NoMemory;
}

bool CapTable::contains(const CapSlot& slot) const {
    // Integer comparison: pointers into different arrays are not ordered in C++.
    uintptr_t offset = reinterpret_cast<uintptr_t>(&slot) - reinterpret_cast<uintptr_t>(slots_);
    return offset < uintptr_t(count_) * sizeof(CapSlot) && offset % sizeof(CapSlot) == 0;
}

uint32_t CapTable::index_of(const CapSlot& slot) const {
    EXO_ASSERT(contains(slot), "capability slot of another table");
    return uint32_t(&slot - slots_);
}

uint32_t CapTable::used() const {
    uint32_t n = 0;
    for (uint32_t i = 0; i < count_; ++i)
        n += slots_[i].empty() ? 0 : 1;
    return n;
}

void CapTable::clear() {
    for (uint32_t i = 0; i < count_; ++i)
        if (!slots_[i].empty())
            CapTree::remove(slots_[i]);
}

} // namespace mk
