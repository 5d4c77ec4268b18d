// Fusion rings, the kernel's side: the Ring (a control page and a 2^k-byte data area, charged to
// a quota), its two ends (the capabilities: producer and consumer), sleeping and waking, the
// capabilities in flight, and messages the kernel itself produces (IRQs, child exits, timers).
// The ring's contents belong to user mode and are never trusted: the kernel reads indices only
// to decide whether a waiter may sleep, and validates them before writing a message of its own.
#pragma once

#include "object/frame.hpp"
#include "sched/wait_queue.hpp"

#include <exo/ring.hpp>

namespace mk {

class Doorbell;
inline constexpr uint32_t kRingCapsInFlight = 16;

class Ring final : public KernelObject {
public:
    // Not a capability type of its own: its ends are.
    static constexpr exo::ObjectType kType = exo::ObjectType::None;

    static exo::Result<Ref<Ring>> create(Memory& quota, unsigned size_log2);

    uint64_t size() const { return size_; }
    Frame& control_frame() const { return *control_; }
    Frame& data_frame() const { return *data_; }
    exo::ring::Control& control() const;

    // Sleeps until the peer's index (tail for the consumer, head for the producer) differs from
    // `seen`, the peer is gone (Closed), or the deadline (TimedOut): the Waiter contract of
    // exo/ring.hpp.
    exo::Status wait(bool producer, uint64_t seen, uint64_t deadline_ns);
    // Wakes the waiters of the other end and rings its doorbell.
    void notify(bool from_producer);
    // An end's last capability is gone: the peer sees Closed from now on (and its doorbell
    // rings); the gone end's doorbell goes with it.
    void close(bool producer);
    // Binds an end to a doorbell (null: unbinds); the previous one is released.
    void bind(bool producer_end, Ref<Doorbell> bell);

    // Capabilities in flight, first in first out (under the capability lock). A capability in
    // flight stays in its derivation tree: revoking its parent empties its slot here, and the
    // queue skips and reclaims such holes, so a revoke never jams the queue.
    CapSlot* send_slot();       // the slot for the next capability sent, or null when full
    void sent(uint64_t sender); // the capability is in send_slot(): count it (sender: process id)
    CapSlot* receive_slot();    // the oldest capability still in flight, or null
    void received();
    uint64_t sent_count() const { return sent_total_; }

    // Appends a message as the ring's producer (kernel events). Closed when the consumer is
    // gone, WouldBlock when full, Malformed when the consumer corrupted the indices; the
    // event is dropped in every case and counted in the control page (`dropped`), where the
    // consumer sees it, unless `count_drop` is false (the caller tries again). `end`: the
    // tail just after the message. `may_preempt`: whether waking the consumer may preempt the
    // caller. It does not ring the consumer's doorbell (a doorbell posts into a ring, which
    // must not ring one in turn: a ring bound to itself would take its doorbell's lock twice);
    // ring_consumer_bell() does, for a producer whose consumer waits on an event ring.
    exo::Status post(uint32_t type, const void* payload, uint32_t length, uint64_t* end = nullptr,
                     bool may_preempt = true, bool count_drop = true);
    // Reading back what the kernel posted and the consumer has not released (the kernel log
    // replays it when its console goes): unread_start() is the consumer's head if it is a valid
    // one, else the kernel's tail (nothing); read_posted() copies the record at `at` (its
    // header's type and length, and up to `capacity` payload bytes) and advances `at`; false
    // at the kernel's tail.
    void ring_consumer_bell() { ring_bell(false); }
    uint64_t unread_start() const;
    bool read_posted(uint64_t& at, uint32_t* type, void* out, uint32_t capacity,
                     uint32_t* length) const;

    Ring(Ref<Frame> control, Ref<Frame> data, uint64_t size);

private:
    void destroy_contents() override;
    bool ready(bool producer, uint64_t seen) const;
    exo::Status closed_status(bool producer, uint64_t seen) const;
    void ring_bell(bool producer_end);

    Ref<Frame> control_;
    Ref<Frame> data_;
    uint64_t size_;
    WaitQueue producers_; // waiting for space
    WaitQueue consumers_; // waiting for data
    IrqSpinLock post_lock_;
    uint64_t kernel_tail_ = 0; // the kernel's own index when it produces
    IrqSpinLock bell_lock_;
    Ref<Doorbell> bells_[2]; // of the consumer end [0] and the producer end [1]
    friend void drop_in_flight_from(uint64_t sender);
    void compact_locked(uint64_t drop_sender);

    CapSlot in_flight_[kRingCapsInFlight];
    uint64_t senders_[kRingCapsInFlight] = {};
    uint32_t in_flight_head_ = 0, in_flight_count_ = 0;
    uint64_t sent_total_ = 0;
    Ring* next_ring_ = nullptr; // in the list of all rings
    Ring* prev_ring_ = nullptr;
};

// A process has ended: the capabilities it sent that are still in flight are deleted. An
// undelivered transfer dies with its sender, which is what keeps a ring whose own capabilities
// are in flight inside another ring (and back) from keeping both alive after everyone left.
void drop_in_flight_from(uint64_t sender);

// A capability's object: one end of a ring. Its death (the last capability to it) closes it.
class RingEnd final : public KernelObject {
public:
    static constexpr exo::ObjectType kType = exo::ObjectType::Ring;
    RingEnd(Ref<Ring> ring, bool producer)
        : KernelObject(kType), ring_(static_cast<Ref<Ring>&&>(ring)), producer_(producer) {}
    Ring& ring() const { return *ring_; }
    bool producer() const { return producer_; }

private:
    void destroy_contents() override;
    Ref<Ring> ring_;
    bool producer_;
};

} // namespace mk
