// Fusion rings for programs: typed producer and consumer views over an end capability (mapped
// into this process, blocking through the ring syscalls only when the ring is empty or full),
// a bidirectional channel of two rings, and a request/response helper with correlation ids and
// timeouts. The ring layout and the lock-free core are exo/ring.hpp; message formats of the
// kernel's own messages are exo/events.hpp.
#pragma once

#include <exo/cap.hpp>
#include <exo/proto/service.hpp>
#include <exo/ring.hpp>

namespace exo {

// Ring syscalls (RingWait, RingNotify) made by this process's views: under steady load there
// are none; the ring benchmark reads this.
uint64_t ring_syscalls();
// Of those, the RingNotify calls (the server benchmark reads it).
uint64_t ring_notifies();

// The Waiter of exo/ring.hpp for one end: RingWait and RingNotify. Deadlines are absolute, in
// sys::clock_ns() nanoseconds (ring::kNoDeadline: none).
struct RingWaiter {
    Slot end = kNullSlot;
    Status wait(ring::Event event, uint64_t seen, uint64_t deadline);
    void notify(ring::Event event);
};

struct RingPair {
    Cap<Ring> producer;
    Cap<Ring> consumer;
};

// An end mapped into this process (RingMap): the control page, then the data area twice.
struct MappedEnd {
    ring::Control* control;
    uint8_t* data;
    uint64_t size;
};
// WrongType unless `end` is a ring end of that kind (producer or consumer).
Result<MappedEnd> map_ring_end(const Cap<Ring>& end, bool producer);
// Removes the three mappings; the address range is mapped again by a later map_ring_end of the
// same size (so mapping ends per client does not grow the page tables).
void unmap_ring_end(const MappedEnd& mapped);
// A new ring of 2^size_log2 data bytes (12 to 22), charged to `memory`.
Result<RingPair> ring_create(Slot memory, unsigned size_log2);

// The producer end, mapped into this process.
class RingProducer {
public:
    static Result<RingProducer> attach(Cap<Ring> end);

    // One record: reserve (sleeping while full, until `deadline`), fill in place, commit.
    Result<uint8_t*> reserve(uint32_t length, uint32_t type, uint64_t deadline = ring::kNoDeadline);
    // Publishes every reserved record; wakes the consumer if it sleeps, once per sleep: while
    // the consumer we woke has not yet moved its head, it is not woken again.
    void commit();
    Result<void> send(const void* payload, uint32_t length, uint32_t type,
                      uint64_t deadline = ring::kNoDeadline);
    // Moves a capability to the consumer's side; the message that tells it so follows.
    Status send_cap(Slot cap) { return sys::ring_send_cap(end_.slot(), cap); }

    Slot slot() const { return end_.slot(); }
    ring::Producer& view() { return view_; }
    ring::Control* control() const { return control_; }

    RingProducer(RingProducer&&) = default;

private:
    RingProducer(Cap<Ring> end, ring::Control* control, uint8_t* data, uint64_t size)
        : end_(static_cast<Cap<Ring>&&>(end)), control_(control),
          view_(control, data, size), waiter_{end_.slot()} {}
    Cap<Ring> end_;
    ring::Control* control_;
    ring::Producer view_;
    RingWaiter waiter_;
    bool notified_ = false;
    uint64_t notified_head_ = 0; // the consumer's head when we last woke it
};

// The consumer end, mapped into this process.
class RingConsumer {
public:
    static Result<RingConsumer> attach(Cap<Ring> end);

    // The next record (sleeping while empty, until `deadline`); read it in place, then release.
    Result<ring::Consumer::Message> receive(uint64_t deadline = ring::kNoDeadline);
    void release(); // frees every record received so far; wakes the producer if it sleeps
    // The capability sent with the message just received, into a new slot.
    Result<Slot> receive_cap();

    Slot slot() const { return end_.slot(); }
    ring::Consumer& view() { return view_; }
    ring::Control* control() const { return control_; }

    RingConsumer(RingConsumer&&) = default;

private:
    RingConsumer(Cap<Ring> end, ring::Control* control, const uint8_t* data, uint64_t size)
        : end_(static_cast<Cap<Ring>&&>(end)), control_(control),
          view_(control, data, size), waiter_{end_.slot()} {}
    void release_and_notify();
    Cap<Ring> end_;
    ring::Control* control_;
    ring::Consumer view_;
    RingWaiter waiter_;
    bool notified_ = false;
    uint64_t notified_head_ = 0; // what we had released when we last woke it
};

// Two rings, one each way.
struct Channel {
    RingProducer tx;
    RingConsumer rx;
};

// Request/response over a channel: every request and response starts with an RpcHeader
// (exo/proto/service.hpp); the response carries the request's id. Responses to requests that
// timed out are skipped.
using proto::RpcHeader;

class RpcClient {
public:
    explicit RpcClient(Channel& channel) : channel_(&channel) {}
    // Sends `payload` as message `type` and waits for its response until `deadline`; the
    // response's payload (after the header) is copied to `reply` (at most `capacity` bytes).
    // Returns the response's full payload length. The status of the server's ErrorReply if it
    // refused the request; TimedOut, Closed, or a ring error otherwise.
    Result<uint32_t> call(uint32_t type, const void* payload, uint32_t length, void* reply,
                          uint32_t capacity, uint64_t deadline);

private:
    Channel* channel_;
    uint64_t next_id_ = 1;
};

} // namespace exo
