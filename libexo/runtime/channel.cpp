// Ring views for programs: mapping an end into this process, the syscall Waiter, channels and
// request/response.
#include <exo/channel.hpp>
#include <exo/layout.hpp>
#include <exo/libc.h>

#include <atomic>

namespace exo {
namespace {

// Rings are mapped one after another from here, each with a guard page after it.
constexpr uint64_t kRingArea = 0x0000600000000000ull;
constinit std::atomic<uint64_t> next_ring_address{kRingArea};
// Spans that unmap_ring_end gave back, mapped again before new address space is taken: a server
// maps and unmaps two ends per client, and fresh addresses would grow its page tables (charged to
// its quota) with every client it ever served.
constexpr size_t kSpareSpans = 256; // two ends of each of a server's 128 clients
struct Spare {
    uint64_t address, size;
};
constinit Spare spares[kSpareSpans] = {};
constinit size_t spare_count = 0;
constinit std::atomic<bool> spares_locked{false};

struct SpareGuard {
    SpareGuard() {
        while (spares_locked.exchange(true, std::memory_order_acquire))
            (void)sys::yield();
    }
    ~SpareGuard() { spares_locked.store(false, std::memory_order_release); }
};

uint64_t take_span(uint64_t size, uint64_t span) {
    {
        SpareGuard guard;
        for (size_t i = 0; i < spare_count; ++i) {
            if (spares[i].size == size) {
                const uint64_t address = spares[i].address;
                spares[i] = spares[--spare_count];
                return address;
            }
        }
    }
    return next_ring_address.fetch_add(span, std::memory_order_relaxed);
}

void give_span(uint64_t address, uint64_t size) {
    SpareGuard guard;
    if (spare_count < kSpareSpans)
        spares[spare_count++] = {address, size};
}

constinit std::atomic<uint64_t> syscalls{0};
constinit std::atomic<uint64_t> notifies{0};

} // namespace

Result<MappedEnd> map_ring_end(const Cap<Ring>& end, bool producer) {
    CapInfo info = TRY(end.info());
    if (info.type != uint16_t(ObjectType::Ring) || (info.count == 1) != producer)
        return Status::WrongType;
    uint64_t size = info.first;
    if (!ring::valid_data_size(size))
        return Status::Malformed;
    const uint64_t address = take_span(size, kPageSize + 2 * size + kPageSize);
    if (Status s = sys::ring_map(end.slot(), kSlotAddressSpace, address); s != Status::Ok) {
        give_span(address, size);
        return s;
    }
    return MappedEnd{reinterpret_cast<ring::Control*>(address),
                     reinterpret_cast<uint8_t*>(address + kPageSize), size};
}

void unmap_ring_end(const MappedEnd& m) {
    const uint64_t control = reinterpret_cast<uint64_t>(m.control);
    const Status a = sys::frame_unmap(kSlotAddressSpace, control);
    const Status b = sys::frame_unmap(kSlotAddressSpace, control + kPageSize);
    const Status c = sys::frame_unmap(kSlotAddressSpace, control + kPageSize + m.size);
    if (a == Status::Ok && b == Status::Ok && c == Status::Ok)
        give_span(control, m.size); // else some of it is still mapped: never used again
}

uint64_t ring_syscalls() {
    return syscalls.load(std::memory_order_relaxed);
}

uint64_t ring_notifies() {
    return notifies.load(std::memory_order_relaxed);
}

Status RingWaiter::wait(ring::Event, uint64_t seen, uint64_t deadline) {
    // RingWait's deadline is absolute, 0 for none; a deadline of 0 itself has passed.
    if (deadline == 0)
        return Status::TimedOut;
    syscalls.fetch_add(1, std::memory_order_relaxed);
    return sys::ring_wait(end, deadline == ring::kNoDeadline ? 0 : deadline, seen);
}

void RingWaiter::notify(ring::Event) {
    syscalls.fetch_add(1, std::memory_order_relaxed);
    notifies.fetch_add(1, std::memory_order_relaxed);
    (void)sys::ring_notify(end);
}

Result<RingPair> ring_create(Slot memory, unsigned size_log2) {
    Slot p = TRY(allocate_slot());
    auto consumer_slot = allocate_slot();
    if (!consumer_slot.ok()) {
        free_slot(p);
        return consumer_slot.status();
    }
    Slot c = consumer_slot.value();
    if (Status s = sys::ring_create(memory, size_log2, p, c); s != Status::Ok) {
        free_slot(p);
        free_slot(c);
        return s;
    }
    return RingPair{Cap<Ring>::adopt(p), Cap<Ring>::adopt(c)};
}

Result<RingProducer> RingProducer::attach(Cap<Ring> end) {
    MappedEnd m = TRY(map_ring_end(end, true));
    return RingProducer(static_cast<Cap<Ring>&&>(end), m.control, m.data, m.size);
}

Result<uint8_t*> RingProducer::reserve(uint32_t length, uint32_t type, uint64_t deadline) {
    auto at = view_.reserve(length, type);
    if (at.status() != Status::WouldBlock)
        return at;
    commit(); // the consumer cannot free space for records it has not seen
    return ring::reserve(view_, waiter_, length, type, deadline);
}

// A consumer that sleeps is woken once: until it has moved its head it has not run since, and
// another RingNotify would only cost a syscall. (Its head moves before it sleeps again: it
// releases what it read before it raises its flag, RingConsumer::receive, RpcServer::serve.)
// A consumer that has already read and released everything committed needs no notify (it
// re-checks the tail after raising its flag), and that skip does not count as a notify: a
// notify it absorbed that way would leave its head where the rule expects it to move, and the
// next commit would skip a notify it needs (the lost wake-up SPIN found, tests/model/).
void RingProducer::commit() {
    view_.commit();
    if (!view_.consumer_waiting())
        return;
    uint64_t head = control_->head.load(std::memory_order_acquire);
    if (head == view_.committed() || (notified_ && head == notified_head_))
        return;
    notified_ = true;
    notified_head_ = head;
    waiter_.notify(ring::Event::Data);
}

Result<void> RingProducer::send(const void* payload, uint32_t length, uint32_t type,
                                uint64_t deadline) {
    uint8_t* at = TRY(reserve(length, type, deadline));
    if (length != 0)
        memcpy(at, payload, length);
    commit();
    return {};
}

Result<RingConsumer> RingConsumer::attach(Cap<Ring> end) {
    MappedEnd m = TRY(map_ring_end(end, false));
    return RingConsumer(static_cast<Cap<Ring>&&>(end), m.control, m.data, m.size);
}

// Before sleeping, the records already received are released: the producer may be waiting for
// exactly that space.
Result<ring::Consumer::Message> RingConsumer::receive(uint64_t deadline) {
    auto message = view_.peek();
    if (message.status() != Status::WouldBlock)
        return message;
    release_and_notify();
    return ring::receive(view_, waiter_, deadline);
}

void RingConsumer::release() {
    release_and_notify();
}

// A sleeping producer is woken for every release that gives it room it has not been told of.
// (Not "once per sleep" as for the consumer: a producer waiting for a large record may wake,
// find too little room and sleep again without committing anything, so its tail would not show
// that it needs another notify, and nothing else would wake it.)
void RingConsumer::release_and_notify() {
    view_.release();
    if (!view_.producer_waiting())
        return;
    if (notified_ && view_.released() == notified_head_)
        return;
    notified_ = true;
    notified_head_ = view_.released();
    waiter_.notify(ring::Event::Space);
}

Result<Slot> RingConsumer::receive_cap() {
    Slot dst = TRY(allocate_slot());
    if (Status s = sys::ring_receive_cap(end_.slot(), dst); s != Status::Ok) {
        free_slot(dst);
        return s;
    }
    return dst;
}

Result<uint32_t> RpcClient::call(uint32_t type, const void* payload, uint32_t length, void* reply,
                                 uint32_t capacity, uint64_t deadline) {
    const uint64_t id = next_id_++;
    uint8_t* at = TRY(channel_->tx.reserve(uint32_t(sizeof(RpcHeader)) + length, type, deadline));
    RpcHeader header{id};
    memcpy(at, &header, sizeof header);
    memcpy(at + sizeof header, payload, length);
    channel_->tx.commit();
    for (;;) {
        auto message = TRY(channel_->rx.receive(deadline));
        if (message.length < sizeof(RpcHeader)) {
            channel_->rx.release();
            return Status::Malformed;
        }
        RpcHeader got;
        memcpy(&got, message.data, sizeof got);
        if (got.id != id) {
            channel_->rx.release(); // the late answer to a request that timed out
            continue;
        }
        uint32_t n = message.length - uint32_t(sizeof(RpcHeader));
        if (message.type == proto::kMsgError) {
            // The server refused the request: its status, never Ok (that would be a lie).
            proto::ErrorReply error{int32_t(Status::Malformed), 0};
            if (n >= sizeof error)
                memcpy(&error, message.data + sizeof(RpcHeader), sizeof error);
            channel_->rx.release();
            return error.status == int32_t(Status::Ok) ? Status::Malformed : Status(error.status);
        }
        memcpy(reply, message.data + sizeof(RpcHeader), n < capacity ? n : capacity);
        channel_->rx.release();
        return n;
    }
}

} // namespace exo
