// Doorbells: at most one pending DoorbellEvent per bound ring end.
#include "object/doorbell.hpp"

#include <exo/events.hpp>

namespace mk {

exo::Result<Ref<Doorbell>> Doorbell::create(Ref<Ring> events, uint64_t badge) {
    Memory* quota = events->quota();
    return Ref<Doorbell>(
        TRY(allocate_object<Doorbell>(quota, static_cast<Ref<Ring>&&>(events), badge)));
}

// The event ring's head is its consumer's (the binder's own) word: a consumer that lies about it
// only gets more doorbells or fewer, and Ring::post still validates it before writing.
void Doorbell::ring() {
    LockGuard guard(lock_);
    if (posted_at_ != 0) {
        uint64_t head = events_->control().head.load(std::memory_order_acquire);
        if (int64_t(head - posted_at_) < 0)
            return; // the last doorbell is still waiting to be read
    }
    exo::DoorbellEvent event{badge_};
    uint64_t end = 0;
    if (events_->post(exo::kEventDoorbell, &event, sizeof event, &end, false) == exo::Status::Ok)
        posted_at_ = end;
}

} // namespace mk
