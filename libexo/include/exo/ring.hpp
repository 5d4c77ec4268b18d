// Fusion rings: the shared-memory layout (ABI) and the portable single-producer single-consumer
// core both parties run over it. Header only and freestanding: the kernel, the servers and the
// host tests use the same code. The peer is untrusted: every index and header it could have
// written is validated before use, and nothing is ever read outside [data, data + 2 * size).
#pragma once

#include <exo/assert.hpp>
#include <exo/result.hpp>
#include <exo/status.hpp>

#include <atomic>
#include <concepts>
#include <stddef.h>
#include <stdint.h>
#include <type_traits>

namespace exo::ring {

// ---- ABI ---------------------------------------------------------------------------------------
//
// A ring is a control page and a data area of 2^k bytes that the kernel maps twice, back to back,
// in each party's address space: a record starting at any offset below `size` is contiguous up to
// `size` bytes. Indices are free-running byte counts (offset = index & (size - 1)), compared
// modulo 2^64. A record is an 8-byte RecordHeader then `length` payload bytes, padded to 8:
// record_size(length) = 8 + align8(length). Every index is a multiple of 8, so headers are
// aligned. Zero-length messages are allowed; the largest is size - 8 (one record fills the ring).

inline constexpr uint64_t kRecordAlign = 8;
inline constexpr uint64_t kHeaderSize = 8;
inline constexpr uint64_t kMinDataSize = 4096;
inline constexpr uint64_t kMaxDataSize = uint64_t(1) << 30;

struct RecordHeader {
    uint32_t length; // payload bytes, not counting the header or the padding
    uint32_t type;   // the protocol's message type; opaque to the ring
};

// Control::closed bits, set by the kernel when a party's last handle is gone.
inline constexpr uint32_t kClosedProducer = 1u << 0;
inline constexpr uint32_t kClosedConsumer = 1u << 1;

// The control page. Each index has its own cache line, shared only with its owner's waiting flag
// (which the peer only reads); the kernel's fields sit on a third, read-mostly line.
struct alignas(4096) Control {
    alignas(64) std::atomic<uint64_t> head; // bytes consumed; written by the consumer only
    std::atomic<uint32_t> consumer_waiting; // 1 while the consumer sleeps (or is about to)
    alignas(64) std::atomic<uint64_t> tail; // bytes committed; written by the producer only
    std::atomic<uint32_t> producer_waiting; // 1 while the producer sleeps (or is about to)
    alignas(64) uint64_t data_size;         // set once by the kernel; views trust their own
    std::atomic<uint32_t> closed;           // kClosed* bits, set by the kernel
    std::atomic<uint32_t> dropped;          // messages the kernel could not post (ring full)
};

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "a header is read as one 64-bit word");
static_assert(std::atomic<uint64_t>::is_always_lock_free && sizeof(std::atomic<uint64_t>) == 8);
static_assert(std::atomic<uint32_t>::is_always_lock_free && sizeof(std::atomic<uint32_t>) == 4);
static_assert(std::is_standard_layout_v<Control>);
static_assert(sizeof(RecordHeader) == kHeaderSize && offsetof(RecordHeader, type) == 4);
static_assert(sizeof(Control) == 4096 && alignof(Control) == 4096);
static_assert(offsetof(Control, head) == 0 && offsetof(Control, consumer_waiting) == 8);
static_assert(offsetof(Control, tail) == 64 && offsetof(Control, producer_waiting) == 72);
static_assert(offsetof(Control, data_size) == 128 && offsetof(Control, closed) == 136);
static_assert(offsetof(Control, dropped) == 140);

constexpr uint64_t record_size(uint32_t length) {
    return kHeaderSize + ((uint64_t(length) + kRecordAlign - 1) & ~(kRecordAlign - 1));
}

constexpr bool valid_data_size(uint64_t size) {
    return size >= kMinDataSize && size <= kMaxDataSize && (size & (size - 1)) == 0;
}

// The largest payload a ring of `size` bytes carries: its record fills the ring exactly.
constexpr uint64_t max_length(uint64_t size) {
    return size - kHeaderSize;
}

namespace detail {
// Headers are accessed as one 64-bit atomic word: the consumer reads a header exactly once and
// validates that copy, so a peer rewriting it concurrently cannot make a later re-read (a double
// fetch the compiler might otherwise emit) disagree with what was checked.
inline RecordHeader load_header(const uint8_t* at) {
    const uint64_t raw = __atomic_load_n(reinterpret_cast<const uint64_t*>(at), __ATOMIC_RELAXED);
    return {uint32_t(raw), uint32_t(raw >> 32)};
}
inline void store_header(uint8_t* at, RecordHeader h) {
    const uint64_t raw = uint64_t(h.length) | uint64_t(h.type) << 32;
    __atomic_store_n(reinterpret_cast<uint64_t*>(at), raw, __ATOMIC_RELAXED);
}
} // namespace detail

// ---- Ordering ----------------------------------------------------------------------------------
//
// Data: the producer writes records, then release-stores tail; the consumer acquire-loads tail,
// then reads them. Space: the consumer reads records, then release-stores head; the producer
// acquire-loads head, then overwrites them. Nothing else is needed while both sides run.
//
// Sleeping is a Dekker-style handshake, the one place that needs a store-load order, which
// acquire/release does not give (x86 too may let a load pass an earlier store):
//   waiter:   store own waiting = 1; seq_cst fence; re-load the peer's index; sleep if no progress
//   notifier: store own index;       seq_cst fence; load the peer's waiting flag; notify if set
// The two fences are ordered one way or the other: either the waiter's re-load sees the new index,
// or the notifier's load sees the flag (C++20 [atomics.fences]), so no wake-up is lost.
//
// Each side keeps its own index privately and only stores it; it reads its own index from shared
// memory once, when the view attaches (zero for a new ring). A peer index that breaks the
// invariants (0 <= tail - head <= size, each index moving forward only, multiples of 8) or a
// header whose record runs past the committed bytes makes the view Malformed, for good.

class Producer {
public:
    // `data` is the first of the two mappings; `size` comes from a trusted source (the kernel's
    // answer, not the control page) and must be valid_data_size.
    Producer(Control* control, uint8_t* data, uint64_t size)
        : control_(control), data_(data), size_(size), mask_(size - 1) {
        EXO_ASSERT(valid_data_size(size), "ring size must be a power of two in range");
        EXO_ASSERT((reinterpret_cast<uintptr_t>(data) & (kRecordAlign - 1)) == 0, "ring data");
        tail_ = reserved_ = control->tail.load(std::memory_order_relaxed);
        head_ = tail_ - size; // nothing known free until head is read
        broken_ = (tail_ & (kRecordAlign - 1)) != 0;
    }

    // Room for one record after those already reserved: writes its header and returns the payload
    // pointer, valid until commit(). Several reservations may precede one commit (a batch).
    // InvalidArgument if length > max_length(size); WouldBlock if it does not fit yet; Closed if
    // a party is gone; Malformed if the consumer corrupted head.
    Result<uint8_t*> reserve(uint32_t length, uint32_t type = 0) {
        if (broken_)
            return Status::Malformed;
        if (length > max_length(size_))
            return Status::InvalidArgument;
        if (control_->closed.load(std::memory_order_acquire) != 0)
            return Status::Closed;
        const uint64_t bytes = record_size(length);
        if (size_ - (reserved_ - head_) < bytes) {
            TRY(refresh_head());
            if (size_ - (reserved_ - head_) < bytes)
                return Status::WouldBlock;
        }
        uint8_t* record = data_ + (reserved_ & mask_);
        detail::store_header(record, {length, type});
        reserved_ += bytes;
        return record + kHeaderSize;
    }

    // Publishes every reserved record with one release store of tail.
    void commit() {
        if (reserved_ == tail_)
            return;
        tail_ = reserved_;
        control_->tail.store(tail_, std::memory_order_release);
    }

    // Drops the reservations made since the last commit.
    void cancel() { reserved_ = tail_; }

    // Shortens the record reserved last (not yet committed) to `length` bytes, at most its
    // reserved length, and sets its type: a reply reserved at its largest, trimmed once known.
    void trim_last(uint8_t* payload, uint32_t length, uint32_t type) {
        uint8_t* record = payload - kHeaderSize;
        const RecordHeader old = detail::load_header(record);
        EXO_ASSERT(length <= old.length && reserved_ - tail_ >= record_size(old.length) &&
                       record == data_ + ((reserved_ - record_size(old.length)) & mask_),
                   "trim_last of a record that is not the last one reserved");
        reserved_ -= record_size(old.length) - record_size(length);
        detail::store_header(record, {length, type});
    }

    // reserve + copy + commit.
    Result<void> send(const void* payload, uint32_t length, uint32_t type = 0) {
        uint8_t* at = TRY(reserve(length, type));
        if (length != 0)
            __builtin_memcpy(at, payload, length);
        commit();
        return {};
    }

    // After commit: whether the consumer sleeps (or is about to), i.e. needs a notify.
    bool consumer_waiting() const {
        // Store-load: our tail store must be visible before we read the flag (see Ordering).
        std::atomic_thread_fence(std::memory_order_seq_cst);
        return control_->consumer_waiting.load(std::memory_order_relaxed) != 0;
    }

    // Before sleeping for space: raise the flag, then re-check free space (reserve or free_bytes)
    // and sleep only if there is still too little; finish_wait() once awake or not sleeping.
    void prepare_wait() {
        control_->producer_waiting.store(1, std::memory_order_relaxed);
        // Store-load: the flag must be visible before the re-check reads head (see Ordering).
        std::atomic_thread_fence(std::memory_order_seq_cst);
    }
    void finish_wait() { control_->producer_waiting.store(0, std::memory_order_relaxed); }

    // Bytes free for new records now (head re-read); 0 if the ring is Malformed.
    uint64_t free_bytes() {
        if (broken_ || refresh_head() != Status::Ok)
            return 0;
        return size_ - (reserved_ - head_);
    }

    uint64_t observed_head() const { return head_; } // the last valid head read
    uint64_t committed() const { return tail_; }     // the index published in tail
    uint64_t reserved() const { return reserved_; }  // committed() + bytes reserved since
    uint64_t size() const { return size_; }
    bool malformed() const { return broken_; }

private:
    // Valid: the consumer moves forward only and never past what was committed, so head lies in
    // [head_, tail_] (modulo 2^64), on a record boundary's alignment.
    Status refresh_head() {
        const uint64_t head = control_->head.load(std::memory_order_acquire);
        if (head - head_ > tail_ - head_ || (head & (kRecordAlign - 1)) != 0) {
            broken_ = true;
            return Status::Malformed;
        }
        head_ = head;
        return Status::Ok;
    }

    Control* control_;
    uint8_t* data_;
    uint64_t size_;
    uint64_t mask_;
    uint64_t tail_;     // committed, published
    uint64_t reserved_; // tail_ + bytes reserved since the last commit
    uint64_t head_;     // the last valid head read (a lower bound of the consumer's)
    bool broken_;
};

class Consumer {
public:
    // A record in place in the ring: valid until release(). The peer can still rewrite the
    // payload, so copy anything before validating it.
    struct Message {
        const uint8_t* data;
        uint32_t length;
        uint32_t type;
    };

    Consumer(Control* control, const uint8_t* data, uint64_t size)
        : control_(control), data_(data), size_(size), mask_(size - 1) {
        EXO_ASSERT(valid_data_size(size), "ring size must be a power of two in range");
        EXO_ASSERT((reinterpret_cast<uintptr_t>(data) & (kRecordAlign - 1)) == 0, "ring data");
        head_ = read_ = tail_ = control->head.load(std::memory_order_relaxed);
        broken_ = (head_ & (kRecordAlign - 1)) != 0;
    }

    // The next unread record: the first after those already peeked in this batch. WouldBlock if
    // none is committed; Closed if a party is gone and everything committed has been peeked;
    // Malformed if the producer corrupted tail or a header.
    Result<Message> peek() {
        if (broken_)
            return Status::Malformed;
        if (read_ == tail_) {
            TRY(refresh_tail());
            if (read_ == tail_) {
                if (control_->closed.load(std::memory_order_acquire) == 0)
                    return Status::WouldBlock;
                // Drain first: the producer's last commit came before the kernel closed the ring.
                TRY(refresh_tail());
                if (read_ == tail_)
                    return Status::Closed;
            }
        }
        // tail_ - read_ <= tail_ - head_ <= size_: the record ends inside the double mapping.
        const uint64_t available = tail_ - read_;
        const uint8_t* record = data_ + (read_ & mask_);
        const RecordHeader header = detail::load_header(record);
        if (record_size(header.length) > available) {
            broken_ = true;
            return Status::Malformed;
        }
        read_ += record_size(header.length);
        return Message{record + kHeaderSize, header.length, header.type};
    }

    // Un-reads `message`, the record peeked last: the next peek returns it again.
    void put_back(const Message& message) {
        const uint64_t bytes = record_size(message.length);
        EXO_ASSERT(read_ - head_ >= bytes &&
                       message.data - kHeaderSize == data_ + ((read_ - bytes) & mask_),
                   "put_back of a record that is not the last one peeked");
        read_ -= bytes;
    }

    // Frees every record peeked so far with one release store of head.
    void release() {
        if (read_ == head_)
            return;
        head_ = read_;
        control_->head.store(head_, std::memory_order_release);
    }

    // After release: whether the producer sleeps for space (or is about to), i.e. needs a notify.
    bool producer_waiting() const {
        // Store-load: our head store must be visible before we read the flag (see Ordering).
        std::atomic_thread_fence(std::memory_order_seq_cst);
        return control_->producer_waiting.load(std::memory_order_relaxed) != 0;
    }

    // Before sleeping for data: raise the flag, then re-check (peek) and sleep only if the ring is
    // still empty; finish_wait() once awake or not sleeping.
    void prepare_wait() {
        control_->consumer_waiting.store(1, std::memory_order_relaxed);
        // Store-load: the flag must be visible before the re-check reads tail (see Ordering).
        std::atomic_thread_fence(std::memory_order_seq_cst);
    }
    void finish_wait() { control_->consumer_waiting.store(0, std::memory_order_relaxed); }

    uint64_t observed_tail() const { return tail_; } // the last valid tail read
    uint64_t released() const { return head_; }      // the index published in head
    uint64_t unreleased_bytes() const { return read_ - head_; }
    uint64_t size() const { return size_; }
    bool malformed() const { return broken_; }

private:
    // Valid: the producer moves forward only and never more than size ahead of what we released,
    // so tail lies in [tail_, head_ + size_] (modulo 2^64), a multiple of 8.
    Status refresh_tail() {
        const uint64_t tail = control_->tail.load(std::memory_order_acquire);
        if (tail - tail_ > head_ + size_ - tail_ || (tail & (kRecordAlign - 1)) != 0) {
            broken_ = true;
            return Status::Malformed;
        }
        tail_ = tail;
        return Status::Ok;
    }

    Control* control_;
    const uint8_t* data_;
    uint64_t size_;
    uint64_t mask_;
    uint64_t head_; // released, published
    uint64_t read_; // head_ + bytes peeked since the last release
    uint64_t tail_; // the last valid tail read (an upper bound of what may be read)
    bool broken_;
};

// ---- Blocking helpers --------------------------------------------------------------------------
//
// What a side sleeps for: Data (the consumer, for tail to move) or Space (the producer, for head).
enum class Event : uint8_t { Data, Space };

// A Waiter is the environment's sleep and wake-up, bound to one ring: the kernel's ring_wait and
// ring_notify syscalls in Exo-OS, a futex on the host.
//   wait(event, seen, deadline): sleep until the peer's index (tail for Data, head for Space)
//     differs from `seen`, a notify(event), the ring closes, or `deadline` (in the waiter's clock,
//     kNoDeadline: none); spurious returns are allowed. Returns Ok, or TimedOut at the deadline.
//   notify(event): wakes the peer sleeping in wait(event).
// The helpers call wait() only after prepare_wait() and a re-check, and notify() only when the
// peer's flag is set, so a side that keeps up never makes a system call.
inline constexpr uint64_t kNoDeadline = UINT64_MAX;

template <typename W>
concept Waiter = requires(W& w, Event event, uint64_t value) {
    { w.wait(event, value, value) } -> std::same_as<Status>;
    w.notify(event);
};

// commit(), then a notify if the consumer sleeps.
template <Waiter W>
void commit_and_notify(Producer& producer, W& waiter) {
    producer.commit();
    if (producer.consumer_waiting())
        waiter.notify(Event::Data);
}

// release(), then a notify if the producer sleeps.
template <Waiter W>
void release_and_notify(Consumer& consumer, W& waiter) {
    consumer.release();
    if (consumer.producer_waiting())
        waiter.notify(Event::Space);
}

// reserve(), sleeping while the ring is full. Before sleeping it commits (and notifies) the
// records already reserved: the consumer cannot free space for records it has not seen.
template <Waiter W>
Result<uint8_t*> reserve(Producer& producer, W& waiter, uint32_t length, uint32_t type = 0,
                         uint64_t deadline = kNoDeadline) {
    for (;;) {
        auto record = producer.reserve(length, type);
        if (record.status() != Status::WouldBlock)
            return record;
        commit_and_notify(producer, waiter);
        producer.prepare_wait();
        auto again = producer.reserve(length, type);
        if (again.status() != Status::WouldBlock) {
            producer.finish_wait();
            return again;
        }
        const Status woken = waiter.wait(Event::Space, producer.observed_head(), deadline);
        producer.finish_wait();
        if (woken != Status::Ok)
            return woken;
    }
}

// reserve (sleeping while full) + copy + commit_and_notify.
template <Waiter W>
Result<void> send(Producer& producer, W& waiter, const void* payload, uint32_t length,
                  uint32_t type = 0, uint64_t deadline = kNoDeadline) {
    uint8_t* at = TRY(reserve(producer, waiter, length, type, deadline));
    if (length != 0)
        __builtin_memcpy(at, payload, length);
    commit_and_notify(producer, waiter);
    return {};
}

// peek(), sleeping while the ring is empty. It does not release: a consumer holding records
// should release_and_notify() before it blocks, or a producer waiting for that space stalls.
template <Waiter W>
Result<Consumer::Message> receive(Consumer& consumer, W& waiter, uint64_t deadline = kNoDeadline) {
    for (;;) {
        auto message = consumer.peek();
        if (message.status() != Status::WouldBlock)
            return message;
        consumer.prepare_wait();
        auto again = consumer.peek();
        if (again.status() != Status::WouldBlock) {
            consumer.finish_wait();
            return again;
        }
        const Status woken = waiter.wait(Event::Data, consumer.observed_tail(), deadline);
        consumer.finish_wait();
        if (woken != Status::Ok)
            return woken;
    }
}

} // namespace exo::ring
