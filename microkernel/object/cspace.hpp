// Capability spaces of processes: the single lookup with its rights check (`resolve`), and the
// kernel's own insertions. One lock serializes every capability space and the derivation tree
// that links them (lib/cap_table.hpp is unsynchronized); object references taken under it
// keep objects alive after it is released.
#pragma once

#include "arch/x86_64/spinlock.hpp"
#include "object/kernel_object.hpp"

namespace mk {
class Process;
class Ring;
} // namespace mk

namespace mk::caps {

IrqSpinLock& lock();

struct Resolved {
    Ref<KernelObject> object;
    Capability cap;
};

// The capability in `slot`: OutOfRange (slot >= kCapSlots), NotFound (empty; slot 0 always
// is), WrongType (`type` is not None and differs), AccessDenied (a right of `rights` missing).
exo::Result<Resolved> lookup(Process& process, exo::Slot slot, exo::ObjectType type,
                             uint32_t rights);

template <typename T>
exo::Result<Ref<T>> resolve(Process& process, exo::Slot slot, uint32_t rights) {
    Resolved r = TRY(lookup(process, slot, T::kType, rights));
    return Ref<T>::adopt(static_cast<T*>(r.object.leak()));
}

// A new original capability (the root of a derivation tree) in an empty slot of `process`.
exo::Status install(Process& process, exo::Slot slot, KernelObject& object, uint32_t rights);
// A new capability to `object` derived from `parent_slot` (revoking the parent removes it).
exo::Status install_derived(Process& process, exo::Slot parent_slot, exo::Slot slot,
                            KernelObject& object, uint32_t rights);
// The capability operations of user mode, each with its rights check under the lock.
// copy (badge 0) and mint need Duplicate on src; grant needs Grant on src and puts the copy in
// another process's space.
exo::Status copy(Process& process, exo::Slot src, exo::Slot dst, uint32_t rights_mask,
                 uint64_t badge, bool mint);
exo::Status move(Process& process, exo::Slot src, exo::Slot dst);
exo::Status erase(Process& process, exo::Slot slot);
exo::Result<size_t> revoke(Process& process, exo::Slot slot);
exo::Status grant(Process& from, exo::Slot src, Process& to, exo::Slot dst, uint32_t rights_mask);
// Capability transfer over a ring: send moves src (which needs Grant) into the ring's slots in
// flight (WouldBlock when they are full); receive moves the oldest one into dst (WouldBlock
// when none). The capability keeps its place in the derivation tree all along.
exo::Status send(Process& from, exo::Slot src, Ring& ring);
exo::Status receive(Process& to, Ring& ring, exo::Slot dst);
// Ok when `slot` is a valid, empty destination: InvalidArgument for slot 0, OutOfRange,
// AlreadyExists. Syscalls check it before they create the object that will go there.
exo::Result<void> check_empty(Process& process, exo::Slot slot);

// Deletes whatever `slot` holds (nothing if empty or out of range).
void remove(Process& process, exo::Slot slot);
// Deletes every capability of `process` (its teardown).
void clear(Process& process);

} // namespace mk::caps
