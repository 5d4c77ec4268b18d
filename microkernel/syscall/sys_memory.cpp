// Memory, frame and address-space syscalls.
#include "lib/page_table.hpp"
#include "object/address_space.hpp"
#include "object/cspace.hpp"
#include "object/frame.hpp"
#include "object/memory.hpp"
#include "syscall/syscalls.hpp"
#include "syscall/user_memory.hpp"

namespace mk::sys {
namespace {

// MapFlags to page-table access: InvalidArgument for unknown bits or Write with Execute (W^X).
exo::Result<uint32_t> access_of(uint64_t flags) {
    if ((flags & ~uint64_t(exo::kMapWrite | exo::kMapExecute)) != 0)
        return exo::Status::InvalidArgument;
    if ((flags & exo::kMapWrite) && (flags & exo::kMapExecute))
        return exo::Status::InvalidArgument;
    uint32_t access = kAccessRead;
    if (flags & exo::kMapWrite)
        access |= kAccessWrite;
    if (flags & exo::kMapExecute)
        access |= kAccessExecute;
    return access;
}

// What a capability with `rights` allows a mapping to become.
uint32_t max_access_of(uint32_t rights) {
    uint32_t access = kAccessRead;
    if (rights & exo::kRightWrite)
        access |= kAccessWrite;
    if (rights & exo::kRightExecute)
        access |= kAccessExecute;
    return access;
}

constexpr uint32_t kNewObjectRights = exo::kRightsAll;

} // namespace

Return memory_split(const Args& a) {
    exo::Slot mem = TRY(slot_arg(a.a0)), dst = TRY(slot_arg(a.a2));
    if (a.a1 == 0)
        return exo::Status::InvalidArgument;
    if (a.a1 % exo::kPageSize != 0)
        return exo::Status::Misaligned;
    caps::Resolved parent =
        TRY(caps::lookup(self(), mem, exo::ObjectType::Memory, exo::kRightManage));
    TRY(caps::check_empty(self(), dst));
    auto child = TRY(Memory::split(*static_cast<Memory*>(parent.object.get()), a.a1));
    // The sub-quota carries no right its parent capability lacked.
    return caps::install_derived(self(), mem, dst, *child, parent.cap.rights);
}

Return memory_info(const Args& a) {
    exo::Slot mem = TRY(slot_arg(a.a0));
    auto memory = TRY(caps::resolve<Memory>(self(), mem, exo::kRightRead));
    TRY(user::write(a.a1, exo::MemoryInfo{memory->limit(), memory->used()}));
    return ok();
}

Return frame_alloc(const Args& a) {
    exo::Slot mem = TRY(slot_arg(a.a0)), dst = TRY(slot_arg(a.a2));
    auto memory = TRY(caps::resolve<Memory>(self(), mem, exo::kRightManage));
    TRY(caps::check_empty(self(), dst));
    auto frame = TRY(Frame::allocate(*memory, a.a1));
    return caps::install(self(), dst, *frame, kNewObjectRights);
}

Return frame_map(const Args& a) {
    exo::Slot as = TRY(slot_arg(a.a0)), frame = TRY(slot_arg(a.a1));
    uint32_t access = TRY(access_of(a.a3));
    auto space = TRY(caps::resolve<AddressSpace>(self(), as, exo::kRightManage));
    caps::Resolved backing =
        TRY(caps::lookup(self(), frame, exo::ObjectType::None, exo::kRightRead));
    uint32_t allowed = max_access_of(backing.cap.rights);
    uint64_t physical, pages;
    if (auto* f = downcast<Frame>(backing.object.get())) {
        physical = f->physical();
        pages = f->pages();
    } else if (auto* d = downcast<DeviceMemory>(backing.object.get())) {
        physical = d->physical();
        pages = d->pages();
        allowed &= ~uint32_t(kAccessExecute); // device registers never hold code
        if (!DeviceMemory::outside_ram(physical, pages))
            return exo::Status::AccessDenied;
        access |= kAccessUncached;
        allowed |= kAccessUncached;
    } else {
        return exo::Status::WrongType;
    }
    if ((access & ~allowed & (kAccessWrite | kAccessExecute)) != 0)
        return exo::Status::AccessDenied;
    TRY(space->map(*backing.object, physical, pages, a.a2, access, allowed));
    return ok();
}

Return frame_unmap(const Args& a) {
    exo::Slot as = TRY(slot_arg(a.a0));
    if (a.a1 % exo::kPageSize != 0)
        return exo::Status::Misaligned;
    auto space = TRY(caps::resolve<AddressSpace>(self(), as, exo::kRightManage));
    TRY(space->unmap(a.a1));
    return ok();
}

Return frame_protect(const Args& a) {
    exo::Slot as = TRY(slot_arg(a.a0));
    uint32_t access = TRY(access_of(a.a2));
    if (a.a1 % exo::kPageSize != 0)
        return exo::Status::Misaligned;
    auto space = TRY(caps::resolve<AddressSpace>(self(), as, exo::kRightManage));
    TRY(space->protect(a.a1, access));
    return ok();
}

Return address_space_create(const Args& a) {
    exo::Slot mem = TRY(slot_arg(a.a0)), dst = TRY(slot_arg(a.a1));
    auto memory = TRY(caps::resolve<Memory>(self(), mem, exo::kRightManage));
    TRY(caps::check_empty(self(), dst));
    auto space = TRY(AddressSpace::create(*memory));
    return caps::install(self(), dst, *space, kNewObjectRights);
}

} // namespace mk::sys
