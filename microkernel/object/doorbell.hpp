// Doorbells (RingBind): a ring end bound to an event ring with a badge. When the end's peer
// notifies it or goes away, the kernel posts one DoorbellEvent{badge} on the event ring, and no
// other until the event ring's consumer has released that one, so one wait on the event ring
// serves many rings at a bounded cost (exo/events.hpp, docs/servers.md).
#pragma once

#include "object/ring.hpp"

namespace mk {

class Doorbell final : public KernelObject {
public:
    // Not a capability: rings hold their doorbells.
    static constexpr exo::ObjectType kType = exo::ObjectType::None;

    // Charged to the event ring's quota (its owner's, who asked for the binding).
    static exo::Result<Ref<Doorbell>> create(Ref<Ring> events, uint64_t badge);

    // Posts the doorbell, unless the last one posted is still in the event ring. Never
    // preempts the caller (a client mid-stream).
    void ring();

    Doorbell(Ref<Ring> events, uint64_t badge)
        : KernelObject(kType), events_(static_cast<Ref<Ring>&&>(events)), badge_(badge) {}

private:
    void destroy_contents() override { events_.reset(); }

    Ref<Ring> events_;
    uint64_t badge_;
    IrqSpinLock lock_;
    uint64_t posted_at_ = 0; // the event ring's tail just after our last doorbell; 0: none yet
};

} // namespace mk
