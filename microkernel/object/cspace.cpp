// Capability lookups and the kernel's insertions, under the one capability lock.
#include "object/cspace.hpp"

#include "object/process.hpp"
#include "object/ring.hpp"

namespace mk::caps {
namespace {

constinit IrqSpinLock cap_lock{};

// The slot, or OutOfRange. Slot 0 exists (and is always empty).
exo::Result<CapSlot*> slot_of(Process& process, exo::Slot slot) {
    return process.caps().slot(slot);
}

} // namespace

IrqSpinLock& lock() {
    return cap_lock;
}

exo::Result<Resolved> lookup(Process& process, exo::Slot slot, exo::ObjectType type,
                             uint32_t rights) {
    LockGuard guard(cap_lock);
    CapSlot* s = TRY(slot_of(process, slot));
    if (s->empty())
        return exo::Status::NotFound;
    const Capability& cap = s->cap();
    if (type != exo::ObjectType::None && cap.type != uint16_t(type))
        return exo::Status::WrongType;
    if ((cap.rights & rights) != rights)
        return exo::Status::AccessDenied;
    return Resolved{Ref<KernelObject>(static_cast<KernelObject*>(cap.object)), cap};
}

exo::Status install(Process& process, exo::Slot slot, KernelObject& object, uint32_t rights) {
    if (slot == exo::kNullSlot)
        return exo::Status::InvalidArgument;
    LockGuard guard(cap_lock);
    auto s = slot_of(process, slot);
    if (!s.ok())
        return s.status();
    return insert_original(*s.value(), object, rights, 0);
}

exo::Status install_derived(Process& process, exo::Slot parent_slot, exo::Slot slot,
                            KernelObject& object, uint32_t rights) {
    if (slot == exo::kNullSlot)
        return exo::Status::InvalidArgument;
    LockGuard guard(cap_lock);
    auto parent = slot_of(process, parent_slot);
    if (!parent.ok())
        return parent.status();
    auto s = slot_of(process, slot);
    if (!s.ok())
        return s.status();
    return insert_child(*parent.value(), *s.value(), object, rights);
}

// src and dst slots of one operation: OutOfRange for either, InvalidArgument for dst 0.
exo::Status two_slots(CapTable& from, exo::Slot src, CapTable& to, exo::Slot dst,
                      CapSlot*& src_slot, CapSlot*& dst_slot) {
    auto s = from.slot(src);
    auto d = to.slot(dst);
    if (!s.ok())
        return s.status();
    if (!d.ok())
        return d.status();
    if (dst == exo::kNullSlot)
        return exo::Status::InvalidArgument;
    src_slot = s.value();
    dst_slot = d.value();
    return exo::Status::Ok;
}

exo::Status copy(Process& process, exo::Slot src, exo::Slot dst, uint32_t rights_mask,
                 uint64_t badge, bool mint) {
    if ((rights_mask & ~uint32_t(exo::kRightsAll)) != 0)
        return exo::Status::InvalidArgument;
    LockGuard guard(cap_lock);
    CapSlot *s, *d;
    if (auto st = two_slots(process.caps(), src, process.caps(), dst, s, d); st != exo::Status::Ok)
        return st;
    if (s->empty())
        return exo::Status::NotFound;
    if (!(s->cap().rights & exo::kRightDuplicate))
        return exo::Status::AccessDenied;
    return mint ? mint_cap(*s, *d, rights_mask, badge) : copy_cap(*s, *d, rights_mask);
}

exo::Status move(Process& process, exo::Slot src, exo::Slot dst) {
    LockGuard guard(cap_lock);
    CapSlot *s, *d;
    if (auto st = two_slots(process.caps(), src, process.caps(), dst, s, d); st != exo::Status::Ok)
        return st;
    return move_cap(*s, *d);
}

exo::Status erase(Process& process, exo::Slot slot) {
    LockGuard guard(cap_lock);
    CapSlot* s = TRY(slot_of(process, slot));
    return delete_cap(*s);
}

exo::Result<size_t> revoke(Process& process, exo::Slot slot) {
    LockGuard guard(cap_lock);
    CapSlot* s = TRY(slot_of(process, slot));
    return revoke_cap(*s);
}

exo::Status grant(Process& from, exo::Slot src, Process& to, exo::Slot dst, uint32_t rights_mask) {
    if ((rights_mask & ~uint32_t(exo::kRightsAll)) != 0)
        return exo::Status::InvalidArgument;
    LockGuard guard(cap_lock);
    CapSlot *s, *d;
    if (auto st = two_slots(from.caps(), src, to.caps(), dst, s, d); st != exo::Status::Ok)
        return st;
    if (s->empty())
        return exo::Status::NotFound;
    if (!(s->cap().rights & exo::kRightGrant))
        return exo::Status::AccessDenied;
    return copy_cap(*s, *d, rights_mask);
}

exo::Status send(Process& from, exo::Slot src, Ring& ring) {
    LockGuard guard(cap_lock);
    CapSlot* s = TRY(slot_of(from, src));
    if (s->empty())
        return exo::Status::NotFound;
    if (!(s->cap().rights & exo::kRightGrant))
        return exo::Status::AccessDenied;
    // An end of this very ring would keep the ring alive from inside itself (as in Zircon, a
    // channel cannot be written into itself).
    auto* end = downcast<RingEnd>(static_cast<KernelObject*>(s->cap().object));
    if (end && &end->ring() == &ring)
        return exo::Status::InvalidArgument;
    CapSlot* in_flight = ring.send_slot();
    if (in_flight == nullptr)
        return exo::Status::WouldBlock;
    TRY(move_cap(*s, *in_flight));
    ring.sent(from.id());
    return exo::Status::Ok;
}

exo::Status receive(Process& to, Ring& ring, exo::Slot dst) {
    if (dst == exo::kNullSlot)
        return exo::Status::InvalidArgument;
    LockGuard guard(cap_lock);
    CapSlot* d = TRY(slot_of(to, dst));
    if (!d->empty())
        return exo::Status::AlreadyExists;
    CapSlot* in_flight = ring.receive_slot();
    if (in_flight == nullptr)
        return exo::Status::WouldBlock;
    TRY(move_cap(*in_flight, *d));
    ring.received();
    return exo::Status::Ok;
}

exo::Result<void> check_empty(Process& process, exo::Slot slot) {
    if (slot == exo::kNullSlot)
        return exo::Status::InvalidArgument;
    LockGuard guard(cap_lock);
    CapSlot* s = TRY(slot_of(process, slot));
    if (!s->empty())
        return exo::Status::AlreadyExists;
    return {};
}

void remove(Process& process, exo::Slot slot) {
    LockGuard guard(cap_lock);
    auto s = slot_of(process, slot);
    if (s.ok() && !s.value()->empty())
        (void)delete_cap(*s.value());
}

void clear(Process& process) {
    LockGuard guard(cap_lock);
    process.caps().clear();
}

} // namespace mk::caps
