// Typed, move-only capability handles (Zircon's handles, seL4's caps): a Cap<Frame> owns one
// slot of the process's capability space that holds a Frame capability, and deletes it when it
// goes out of scope. The tag types below only name object types; they have no members.
#pragma once

#include <exo/sys.hpp>

namespace exo {

#define EXO_OBJECT_TAG(Name)                                                                       \
    struct Name {                                                                                  \
        static constexpr ObjectType kType = ObjectType::Name;                                      \
    }
EXO_OBJECT_TAG(Memory);
EXO_OBJECT_TAG(Frame);
EXO_OBJECT_TAG(AddressSpace);
EXO_OBJECT_TAG(Process);
EXO_OBJECT_TAG(Thread);
EXO_OBJECT_TAG(Ring);
EXO_OBJECT_TAG(Irq);
EXO_OBJECT_TAG(IoPorts);
EXO_OBJECT_TAG(DeviceMemory);
EXO_OBJECT_TAG(Log);
#undef EXO_OBJECT_TAG

// Free slots of this process, from kFirstFreeSlot up (lock-free; any thread).
// NoMemory when all are taken.
Result<Slot> allocate_slot();
void free_slot(Slot slot);

template <typename T>
class Cap {
public:
    Cap() = default;
    // Takes ownership of `slot`, which must hold a T capability.
    static Cap adopt(Slot slot) {
        Cap c;
        c.slot_ = slot;
        return c;
    }
    Cap(Cap&& other) : slot_(other.slot_) { other.slot_ = kNullSlot; }
    Cap& operator=(Cap&& other) {
        if (this != &other) {
            reset();
            slot_ = other.slot_;
            other.slot_ = kNullSlot;
        }
        return *this;
    }
    Cap(const Cap&) = delete;
    Cap& operator=(const Cap&) = delete;
    ~Cap() { reset(); }

    Slot slot() const { return slot_; }
    explicit operator bool() const { return slot_ != kNullSlot; }

    // Deletes the capability and frees the slot.
    void reset() {
        if (slot_ == kNullSlot)
            return;
        (void)sys::cap_delete(slot_);
        free_slot(slot_);
        slot_ = kNullSlot;
    }
    // Gives up ownership: the slot stays filled and is no longer freed here.
    Slot release() {
        Slot s = slot_;
        slot_ = kNullSlot;
        return s;
    }

    // A derived capability with at most `rights` (and, for mint, a badge).
    Result<Cap> copy(uint32_t rights = kRightsAll) const { return derive(rights, 0, false); }
    Result<Cap> mint(uint32_t rights, uint64_t badge) const { return derive(rights, badge, true); }
    // Deletes every capability derived from this one; returns how many.
    Result<uint64_t> revoke() const {
        SysResult r = sys::cap_revoke(slot_);
        if (r.status != Status::Ok)
            return r.status;
        return r.value;
    }
    Result<CapInfo> info() const {
        CapInfo info{};
        TRY(sys::cap_info(slot_, &info));
        return info;
    }

private:
    Result<Cap> derive(uint32_t rights, uint64_t badge, bool mint) const {
        Slot dst = TRY(allocate_slot());
        Status s =
            mint ? sys::cap_mint(slot_, dst, rights, badge) : sys::cap_copy(slot_, dst, rights);
        if (s != Status::Ok) {
            free_slot(dst);
            return s;
        }
        return adopt(dst);
    }

    Slot slot_ = kNullSlot;
};

// Creating objects: each call charges `memory` and returns the new capability.
Result<Cap<Memory>> memory_split(Slot memory, uint64_t bytes);
Result<Cap<Frame>> frame_alloc(Slot memory, uint64_t pages);
Result<Cap<AddressSpace>> address_space_create(Slot memory);

} // namespace exo
