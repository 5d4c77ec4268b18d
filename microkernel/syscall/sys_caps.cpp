// Capability syscalls: info, copy, mint, move, delete, revoke, narrow.
#include "object/cspace.hpp"
#include "object/device.hpp"
#include "object/frame.hpp"
#include "object/memory.hpp"
#include "object/ring.hpp"
#include "syscall/syscalls.hpp"
#include "syscall/user_memory.hpp"

namespace mk::sys {

exo::CapInfo describe(const Capability& cap) {
    exo::CapInfo info{cap.type, 0, cap.rights, cap.badge, 0, 0};
    auto* o = static_cast<KernelObject*>(cap.object);
    if (auto* f = downcast<Frame>(o)) {
        info.first = f->physical();
        info.count = f->pages();
    } else if (auto* d = downcast<DeviceMemory>(o)) {
        info.first = d->physical();
        info.count = d->pages();
    } else if (auto* p = downcast<IoPorts>(o)) {
        info.first = p->range().first;
        info.count = p->range().count;
    } else if (auto* i = downcast<Irq>(o)) {
        info.first = i->range().first;
        info.count = i->range().count;
    } else if (auto* m = downcast<Memory>(o)) {
        info.count = m->limit();
    } else if (auto* r = downcast<RingEnd>(o)) {
        info.first = r->ring().size();
        info.count = r->producer() ? 1 : 0;
    }
    return info;
}

Return cap_info(const Args& a) {
    exo::Slot slot = TRY(slot_arg(a.a0));
    caps::Resolved r = TRY(caps::lookup(self(), slot, exo::ObjectType::None, 0));
    TRY(user::write(a.a1, describe(r.cap)));
    return ok();
}

Return cap_copy(const Args& a) {
    exo::Slot src = TRY(slot_arg(a.a0)), dst = TRY(slot_arg(a.a1));
    if (a.a2 > UINT32_MAX)
        return exo::Status::InvalidArgument;
    return caps::copy(self(), src, dst, uint32_t(a.a2), 0, false);
}

Return cap_mint(const Args& a) {
    exo::Slot src = TRY(slot_arg(a.a0)), dst = TRY(slot_arg(a.a1));
    if (a.a2 > UINT32_MAX)
        return exo::Status::InvalidArgument;
    return caps::copy(self(), src, dst, uint32_t(a.a2), a.a3, true);
}

Return cap_move(const Args& a) {
    exo::Slot src = TRY(slot_arg(a.a0)), dst = TRY(slot_arg(a.a1));
    return caps::move(self(), src, dst);
}

Return cap_delete(const Args& a) {
    exo::Slot slot = TRY(slot_arg(a.a0));
    return caps::erase(self(), slot);
}

Return cap_revoke(const Args& a) {
    exo::Slot slot = TRY(slot_arg(a.a0));
    return ok(TRY(caps::revoke(self(), slot)));
}

// A narrower IoPorts, Irq or DeviceMemory capability, derived from src (revoking src removes
// it). The new object is charged to the caller's quota.
Return cap_narrow(const Args& a) {
    exo::Slot src = TRY(slot_arg(a.a0)), dst = TRY(slot_arg(a.a3));
    caps::Resolved r = TRY(caps::lookup(self(), src, exo::ObjectType::None, exo::kRightDuplicate));
    TRY(caps::check_empty(self(), dst));
    Memory* quota = self().quota();
    Ref<KernelObject> child;
    KernelObject* o = r.object.get();
    if (auto* p = downcast<IoPorts>(o)) {
        Range range = TRY(p->range().narrow(a.a1, a.a2));
        child = Ref<KernelObject>(TRY(allocate_object<IoPorts>(quota, range)));
    } else if (auto* i = downcast<Irq>(o)) {
        Range range = TRY(i->range().narrow(a.a1, a.a2));
        child = Ref<KernelObject>(TRY(allocate_object<Irq>(quota, range)));
    } else if (auto* d = downcast<DeviceMemory>(o)) {
        child = TRY(DeviceMemory::narrow(*quota, *d, a.a1, a.a2));
    } else {
        return exo::Status::WrongType;
    }
    return caps::install_derived(self(), src, dst, *child, r.cap.rights);
}

} // namespace mk::sys
