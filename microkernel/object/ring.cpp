// Fusion rings in the kernel: creation, sleeping and waking, closing, capabilities in flight,
// and kernel-produced messages.
#include "object/ring.hpp"

#include "core/panic.hpp"
#include "lib/page_table.hpp"
#include "mm/kernel_space.hpp"
#include "object/cspace.hpp"
#include "object/doorbell.hpp"
#include "object/memory.hpp"
#include "object/process.hpp"

namespace mk {

using exo::ring::Control;

namespace {

// Every live ring, for drop_in_flight_from. Lock order: this lock, then the capability lock.
constinit IrqSpinLock rings_lock{};
constinit Ring* rings = nullptr;

} // namespace

Ring::Ring(Ref<Frame> control, Ref<Frame> data, uint64_t size)
    : KernelObject(exo::ObjectType::None), control_(static_cast<Ref<Frame>&&>(control)),
      data_(static_cast<Ref<Frame>&&>(data)), size_(size) {}

exo::Result<Ref<Ring>> Ring::create(Memory& quota, unsigned size_log2) {
    uint64_t size = uint64_t(1) << size_log2;
    if (size_log2 < 12 || size_log2 > 22 || !exo::ring::valid_data_size(size))
        return exo::Status::OutOfRange;
    auto control = TRY(Frame::allocate(quota, 1));
    auto data = TRY(Frame::allocate(quota, size / kPageSize));
    auto* page = vm::phys_to_virt<Control>(control->physical());
    page->data_size = size; // frames arrive zeroed: indices, flags and `closed` start at 0
    Ring* ring = TRY(allocate_object<Ring>(&quota, control, data, size));
    LockGuard guard(rings_lock);
    ring->next_ring_ = rings;
    if (rings)
        rings->prev_ring_ = ring;
    rings = ring;
    return Ref<Ring>(ring);
}

// Keeps the FIFO in order while removing entries: those `sender` sent (deleted here; 0 sends
// nothing) and the slots a revoke or delete emptied behind the queue's back (a capability in
// flight is still in its derivation tree, so revoking its parent empties its slot here).
void Ring::compact_locked(uint64_t drop_sender) {
    CapSlot scratch[kRingCapsInFlight];
    uint64_t senders[kRingCapsInFlight];
    uint32_t kept = 0;
    for (uint32_t i = 0; i < in_flight_count_; ++i) {
        uint32_t at = (in_flight_head_ + i) % kRingCapsInFlight;
        if (in_flight_[at].empty())
            continue;
        if (drop_sender != 0 && senders_[at] == drop_sender) {
            (void)delete_cap(in_flight_[at]);
            continue;
        }
        (void)move_cap(in_flight_[at], scratch[kept]);
        senders[kept++] = senders_[at];
    }
    for (uint32_t i = 0; i < kept; ++i) {
        (void)move_cap(scratch[i], in_flight_[i]);
        senders_[i] = senders[i];
    }
    in_flight_head_ = 0;
    in_flight_count_ = kept;
}

void drop_in_flight_from(uint64_t sender) {
    LockGuard list(rings_lock);
    LockGuard caps(caps::lock());
    for (Ring* r = rings; r; r = r->next_ring_)
        if (r->in_flight_count_)
            r->compact_locked(sender);
}

Control& Ring::control() const {
    return *vm::phys_to_virt<Control>(control_->physical());
}

bool Ring::ready(bool producer, uint64_t seen) const {
    const Control& c = control();
    if (c.closed.load(std::memory_order_acquire) != 0)
        return true;
    return (producer ? c.head : c.tail).load(std::memory_order_acquire) != seen;
}

exo::Status Ring::wait(bool producer, uint64_t seen, uint64_t deadline_ns) {
    WaitQueue& queue = producer ? producers_ : consumers_;
    // A deadline already past does not wait: TimedOut, unless the peer is gone.
    if (deadline_ns != 0 && clock::now_ns() >= deadline_ns)
        return closed_status(producer, seen) == exo::Status::Closed ? exo::Status::Closed
                                                                    : exo::Status::TimedOut;
    TRY(user_wait(
        queue, [&] { return ready(producer, seen); }, deadline_ns));
    return closed_status(producer, seen);
}

// Closed when the peer is gone (for the consumer: and nothing was committed past `seen`).
exo::Status Ring::closed_status(bool producer, uint64_t seen) const {
    const Control& c = control();
    uint32_t closed = c.closed.load(std::memory_order_acquire);
    if (producer && (closed & exo::ring::kClosedConsumer))
        return exo::Status::Closed;
    if (!producer && (closed & exo::ring::kClosedProducer) &&
        c.tail.load(std::memory_order_acquire) == seen)
        return exo::Status::Closed;
    return exo::Status::Ok;
}

// The notifier keeps its CPU: a producer mid-stream goes on filling the ring, and the consumer
// it woke drains a full ring at once when it runs (on another CPU, at once).
void Ring::notify(bool from_producer) {
    (void)(from_producer ? consumers_ : producers_).wake_all_deferred();
    ring_bell(!from_producer);
}

void Ring::close(bool producer) {
    control().closed.fetch_or(producer ? exo::ring::kClosedProducer : exo::ring::kClosedConsumer,
                              std::memory_order_acq_rel);
    producers_.change_and_wake_all([] {});
    consumers_.change_and_wake_all([] {});
    bind(producer, Ref<Doorbell>());
    ring_bell(!producer);
}

void Ring::bind(bool producer_end, Ref<Doorbell> bell) {
    {
        LockGuard guard(bell_lock_);
        Ref<Doorbell>& slot = bells_[producer_end ? 1 : 0];
        Ref<Doorbell> old = static_cast<Ref<Doorbell>&&>(slot);
        slot = static_cast<Ref<Doorbell>&&>(bell);
        bell = static_cast<Ref<Doorbell>&&>(old); // released below, with no lock held
    }
}

void Ring::ring_bell(bool producer_end) {
    Ref<Doorbell> bell;
    {
        LockGuard guard(bell_lock_);
        bell = bells_[producer_end ? 1 : 0];
    }
    if (bell)
        bell->ring();
}

CapSlot* Ring::send_slot() {
    if (in_flight_count_ == kRingCapsInFlight)
        compact_locked(0); // reclaim the slots that revokes emptied
    if (in_flight_count_ == kRingCapsInFlight)
        return nullptr;
    return &in_flight_[(in_flight_head_ + in_flight_count_) % kRingCapsInFlight];
}

void Ring::sent(uint64_t sender) {
    senders_[(in_flight_head_ + in_flight_count_) % kRingCapsInFlight] = sender;
    ++in_flight_count_;
    ++sent_total_;
}

CapSlot* Ring::receive_slot() {
    // Skip what was revoked in flight: it is gone, and the next one is due.
    while (in_flight_count_ != 0 && in_flight_[in_flight_head_].empty())
        received();
    return in_flight_count_ ? &in_flight_[in_flight_head_] : nullptr;
}

void Ring::received() {
    in_flight_head_ = (in_flight_head_ + 1) % kRingCapsInFlight;
    --in_flight_count_;
}

exo::Status Ring::post(uint32_t type, const void* payload, uint32_t length, uint64_t* end,
                       bool may_preempt, bool count_drop) {
    Control& c = control();
    exo::Status s = exo::Status::Ok;
    {
        LockGuard guard(post_lock_);
        uint64_t head = c.head.load(std::memory_order_acquire);
        uint64_t need = exo::ring::record_size(length);
        if (c.closed.load(std::memory_order_acquire) & exo::ring::kClosedConsumer)
            s = exo::Status::Closed;
        else if (kernel_tail_ - head > size_ || head % exo::ring::kRecordAlign != 0)
            s = exo::Status::Malformed;
        else if (size_ - (kernel_tail_ - head) < need)
            s = exo::Status::WouldBlock;
        if (s != exo::Status::Ok) {
            if (count_drop)
                c.dropped.fetch_add(1, std::memory_order_relaxed);
            return s;
        }
        // The kernel sees the data area once (the direct map), so it wraps by hand.
        uint8_t* data = vm::phys_to_virt<uint8_t>(data_->physical());
        exo::ring::RecordHeader header{length, type};
        auto put = [&](uint64_t at, const void* bytes, uint64_t n) {
            const auto* src = static_cast<const uint8_t*>(bytes);
            for (uint64_t i = 0; i < n; ++i)
                data[(at + i) & (size_ - 1)] = src[i];
        };
        put(kernel_tail_, &header, sizeof header);
        put(kernel_tail_ + sizeof header, payload, length);
        kernel_tail_ += need;
        c.tail.store(kernel_tail_, std::memory_order_release);
        if (end)
            *end = kernel_tail_;
    }
    // The Dekker handshake of exo/ring.hpp: publish, fence, then look at the waiter's flag.
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (c.consumer_waiting.load(std::memory_order_relaxed)) {
        if (may_preempt)
            consumers_.change_and_wake_all([] {});
        else
            (void)consumers_.wake_all_deferred();
    }
    return exo::Status::Ok;
}

uint64_t Ring::unread_start() const {
    uint64_t head = control().head.load(std::memory_order_acquire);
    if (kernel_tail_ - head > size_ || head % exo::ring::kRecordAlign != 0)
        return kernel_tail_;
    return head;
}

bool Ring::read_posted(uint64_t& at, uint32_t* type, void* out, uint32_t capacity,
                       uint32_t* length) const {
    if (kernel_tail_ - at < exo::ring::kHeaderSize || kernel_tail_ - at > size_)
        return false;
    const uint8_t* data = vm::phys_to_virt<uint8_t>(data_->physical());
    auto get = [&](uint64_t from, void* bytes, uint64_t n) {
        auto* dst = static_cast<uint8_t*>(bytes);
        for (uint64_t i = 0; i < n; ++i)
            dst[i] = data[(from + i) & (size_ - 1)];
    };
    // The data area is read-only to the consumer: these are the kernel's own bytes.
    exo::ring::RecordHeader header;
    get(at, &header, sizeof header);
    uint64_t need = exo::ring::record_size(header.length);
    if (need > kernel_tail_ - at)
        return false;
    get(at + sizeof header, out, header.length < capacity ? header.length : capacity);
    *type = header.type;
    *length = header.length < capacity ? header.length : capacity;
    at += need;
    return true;
}

void Ring::destroy_contents() {
    {
        LockGuard list(rings_lock);
        if (prev_ring_)
            prev_ring_->next_ring_ = next_ring_;
        else
            rings = next_ring_;
        if (next_ring_)
            next_ring_->prev_ring_ = prev_ring_;
    }
    bind(false, Ref<Doorbell>());
    bind(true, Ref<Doorbell>());
    LockGuard guard(caps::lock());
    for (CapSlot& slot : in_flight_)
        if (!slot.empty())
            (void)delete_cap(slot);
}

void RingEnd::destroy_contents() {
    ring_->close(producer_);
    ring_.reset();
}

} // namespace mk
