// libexo's malloc (exo/malloc.hpp, docs/memsrv.md): the allocator core's ThreadCache over a
// RemoteHeap whose slab is memsrv. The cache serves hits without leaving the process; misses
// become one Refill or Flush message each, carrying a batch. The process keeps its own map of
// its heap's spans (address -> class and geometry) so that free can check a pointer and find
// its class without asking; memsrv checks everything again against its own records.
#include <exo/alloc/thread_cache.hpp>
#include <exo/channel.hpp>
#include <exo/connect.hpp>
#include <exo/layout.hpp>
#include <exo/libc.h>
#include <exo/log.hpp>
#include <exo/malloc.hpp>
#include <exo/sys.hpp>

#include <new>

namespace exo {
namespace {

namespace wire = proto::memsrv;
using alloc::HeapError;

// What the process knows of one span or page run of its heap.
struct SpanInfo {
    uintptr_t base = 0;
    uint64_t reciprocal = 0;
    uint32_t size = 0;
    uint32_t objects = 0;
    uint32_t pages = 0;
    uint32_t cls = 0;
    SpanInfo* next_free = nullptr;
};
using SpanMap = alloc::BasicPageMap<SpanInfo, kHeapArea, 30, 9>;
static_assert(wire::kWindowBytes == uint64_t{1} << 30);

void abandon_cache();

[[noreturn]] void fatal(const char* what, const void* pointer, const char* who) {
    print("malloc: %s of %p%s: ending the process", what, pointer, who);
    sys::process_exit(kMallocFaultExit);
}

const char* fault_name(wire::Fault f) {
    switch (f) {
    case wire::Fault::DoubleFree:
        return "double free";
    case wire::Fault::ForeignPointer:
        return "free of a pointer memsrv never gave out";
    case wire::Fault::InteriorPointer:
        return "free of an interior pointer";
    default:
        return "free of a corrupted free list's link";
    }
}

class RemoteHeap {
public:
    constexpr RemoteHeap() = default;

    uint64_t secret() {
        if (secret_ == 0) {
            uint32_t lo, hi;
            asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
            secret_ = ((uint64_t(hi) << 32 | lo) * 0x9E3779B97F4A7C15ull ^ sys::clock_ns()) |
                      uint64_t{1} << 63;
        }
        return secret_;
    }

    SpanInfo* lookup(const void* pointer) const {
        return map_.lookup(static_cast<const char*>(pointer) - delta_);
    }

    [[gnu::noinline, gnu::cold]] void report(HeapError error, const void* pointer) {
        uintptr_t p = reinterpret_cast<uintptr_t>(pointer);
        if (error == HeapError::ForeignPointer && generation_ > 1 && p >= kHeapArea &&
            p < window_) {
            ++info_.orphaned_frees; // from before memsrv restarted: it stays where it is
            return;
        }
        fatal(alloc::heap_error_name(error), pointer, "");
    }

    // The cache's slow paths: out of line, so that its hit paths need no stack frame.
    [[gnu::noinline]] uint32_t refill(unsigned cls, uint32_t want, void** head);
    [[gnu::noinline]] void flush(unsigned cls, void* head, uint32_t count);
    [[gnu::noinline]] void* allocate_large(size_t size, size_t align);
    [[gnu::noinline]] void free_large(void* pointer);

    Result<wire::StatsReply> stats();
    Status trim();
    MallocInfo info() const { return info_; }
    // Set when memsrv went away; the cache then drops what it holds before the next refill.
    bool lost() const { return lost_; }

private:
    Status connect();
    Result<Channel*> channel();
    // One heap request: the reply's header in `head`, its runs in `runs`; the maps and unmaps
    // are applied before it returns and a fault ends the process.
    Status call(uint32_t type, const void* payload, uint32_t length, wire::HeapReply& head);
    Status apply(const uint8_t* body, uint32_t length, const wire::HeapReply& head);
    Result<SpanInfo*> new_info();
    Result<void*> meta_pages(uint64_t pages);

    uint64_t secret_ = 0;
    uint64_t window_ = 0; // the current window's client address
    uint64_t delta_ = 0;  // window_ - kHeapArea
    uint32_t generation_ = 0;
    bool lost_ = false;
    Channel* channel_ = nullptr;
    alignas(Channel) unsigned char channel_storage_[sizeof(Channel)] = {};
    Slot scratch_ = kNullSlot; // where frames arrive before they are mapped
    SpanMap map_{};
    SpanInfo* free_infos_ = nullptr;
    uint64_t meta_chunk_ = kMallocMetaArea; // where the next chunk goes
    uint64_t meta_next_ = 0;
    uint64_t meta_left_ = 0; // pages left in the newest chunk
    MallocInfo info_{};
    alignas(8) uint8_t reply_[wire::kMaxReply] = {};
    uint32_t reply_length_ = 0;
    wire::FlushRequest flush_{};
};

constinit RemoteHeap heap;
constinit alloc::ThreadCache<RemoteHeap> cache{&heap};

// The ends the creator wired (kSlotMemsrvTx/Rx), else a connection through init.
Result<Channel> open_channel() {
    constexpr uint64_t kDeadline = ring::kNoDeadline;
    CapInfo tx{}, rx{};
    if (sys::cap_info(kSlotMemsrvTx, &tx) == Status::Ok &&
        sys::cap_info(kSlotMemsrvRx, &rx) == Status::Ok && tx.type == uint16_t(ObjectType::Ring) &&
        rx.type == uint16_t(ObjectType::Ring)) {
        // Moved out of the well-known slots, so that the creator can wire a new connection
        // there if memsrv restarts.
        Slot ts = TRY(allocate_slot()), rs = TRY(allocate_slot());
        TRY(sys::cap_move(kSlotMemsrvTx, ts));
        TRY(sys::cap_move(kSlotMemsrvRx, rs));
        auto p = TRY(RingProducer::attach(Cap<Ring>::adopt(ts)));
        auto c = TRY(RingConsumer::attach(Cap<Ring>::adopt(rs)));
        Channel ch{static_cast<RingProducer&&>(p), static_cast<RingConsumer&&>(c)};
        TRY(greet(ch, wire::kProtocol, wire::kVersion, kDeadline));
        return ch;
    }
    ConnectOptions options;
    options.ring_log2 = 14;
    return exo::connect("memsrv", wire::kProtocol, wire::kVersion, options);
}

Status RemoteHeap::connect() {
    if (generation_ == kHeapWindows)
        return Status::NoMemory; // every window used: memsrv restarted 64 times
    if (scratch_ == kNullSlot)
        scratch_ = TRY(allocate_slot());
    if (channel_) { // memsrv went away: keep the old heap as it is, start a new one
        channel_->~Channel();
        channel_ = nullptr;
        abandon_cache(); // its objects are the old heap's: they stay where they are, unused
    }
    Channel ch = TRY(open_channel());
    channel_ = new (channel_storage_) Channel{static_cast<Channel&&>(ch)};

    uint64_t bytes = &exo_malloc_quota ? exo_malloc_quota : 0;
    if (bytes == 0) {
        MemoryInfo own{};
        TRY(sys::memory_info(kSlotMemory, &own));
        bytes = (own.limit - own.used) / 2;
        if (bytes < 64 * 1024)
            bytes = 64 * 1024;
    }
    bytes &= ~(kPageSize - 1);
    Slot quota = TRY(allocate_slot());
    if (Status s = sys::memory_split(kSlotMemory, bytes, quota); s != Status::Ok) {
        free_slot(quota);
        return s;
    }
    uint64_t window = kHeapArea + uint64_t(generation_) * wire::kWindowBytes;
    Status s = channel_->tx.send_cap(quota);
    if (s != Status::Ok) {
        (void)sys::cap_delete(quota);
        free_slot(quota);
        return s;
    }
    free_slot(quota); // moved into the ring
    RpcClient rpc(*channel_);
    wire::AttachRequest request{window};
    wire::AttachReply answer{};
    TRY(rpc.call(wire::kMsgAttach, &request, sizeof request, &answer, sizeof answer,
                 ring::kNoDeadline));
    window_ = window;
    delta_ = window - kHeapArea;
    ++generation_;
    new (&map_) SpanMap(); // the old window's spans are forgotten: their frees are orphans
    lost_ = false;
    info_.connected = true;
    info_.generation = generation_;
    info_.donated = answer.quota;
    return Status::Ok;
}

Result<Channel*> RemoteHeap::channel() {
    if (channel_ == nullptr || lost_)
        TRY(connect());
    return channel_;
}

// Metadata pages of our own (the span map's leaves, SpanInfo records), from our own quota.
Result<void*> RemoteHeap::meta_pages(uint64_t pages) {
    constexpr uint64_t kChunk = 16;
    if (pages > kChunk)
        return Status::NoMemory;
    if (meta_left_ < pages) { // the old chunk's rest is skipped
        auto frame = TRY(frame_alloc(kSlotMemory, kChunk));
        TRY(sys::frame_map(kSlotAddressSpace, frame.slot(), meta_chunk_, kMapWrite));
        meta_next_ = meta_chunk_; // the mapping keeps the frame; our capability goes
        meta_chunk_ += kChunk * kPageSize;
        meta_left_ = kChunk;
    }
    void* p = reinterpret_cast<void*>(meta_next_);
    meta_next_ += pages * kPageSize;
    meta_left_ -= pages;
    return p;
}

Result<SpanInfo*> RemoteHeap::new_info() {
    if (!free_infos_) {
        auto* page = static_cast<SpanInfo*>(TRY(meta_pages(1)));
        for (size_t i = 0; i < kPageSize / sizeof(SpanInfo); ++i) {
            page[i].next_free = free_infos_;
            free_infos_ = &page[i];
        }
    }
    SpanInfo* s = free_infos_;
    free_infos_ = s->next_free;
    return s;
}

Status RemoteHeap::apply(const uint8_t* body, uint32_t length, const wire::HeapReply& head) {
    const uint64_t need = uint64_t(head.runs) * sizeof(wire::ObjectRun) +
                          (uint64_t(head.maps) + head.unmaps) * sizeof(wire::Extent);
    if (head.runs > wire::kMaxRuns || head.maps > wire::kMaxMaps ||
        head.unmaps > wire::kMaxUnmaps || need != length)
        return Status::Malformed;
    const uint8_t* at = body + head.runs * sizeof(wire::ObjectRun);
    wire::Extent e;
    // Unmaps first: a map of this same reply may reuse their addresses.
    for (uint32_t i = 0; i < head.unmaps; ++i) {
        memcpy(&e, at + (head.maps + i) * sizeof e, sizeof e);
        if (SpanInfo* s = lookup(reinterpret_cast<void*>(e.address))) {
            map_.set(s->base - delta_, s->pages, nullptr);
            s->next_free = free_infos_;
            free_infos_ = s;
        }
        wire::frame_split(e.pages, [&](uint64_t offset, uint64_t) {
            if (sys::frame_unmap(kSlotAddressSpace, e.address + offset * kPageSize) == Status::Ok)
                ++info_.frames_unmapped;
        });
    }
    for (uint32_t i = 0; i < head.maps; ++i) {
        memcpy(&e, at + i * sizeof e, sizeof e);
        if (e.address < window_ ||
            e.address + uint64_t(e.pages) * kPageSize > window_ + wire::kWindowBytes ||
            e.pages == 0 || (e.cls >= alloc::kClasses && e.cls != alloc::kLargeClass))
            return Status::Malformed;
        Status s = Status::Ok;
        wire::frame_split(e.pages, [&](uint64_t offset, uint64_t) {
            if (s == Status::Ok)
                s = sys::ring_receive_cap(channel_->rx.slot(), scratch_);
            if (s == Status::Ok) {
                s = sys::frame_map(kSlotAddressSpace, scratch_, e.address + offset * kPageSize,
                                   kMapWrite);
                (void)sys::cap_delete(scratch_); // the mapping keeps the frame
                ++info_.frames_mapped;
            }
        });
        TRY(s);
        SpanInfo* info = TRY(new_info());
        *info = {};
        info->base = e.address;
        info->pages = e.pages;
        info->cls = e.cls;
        if (e.cls == alloc::kLargeClass) {
            info->objects = 1;
        } else {
            info->size = uint32_t(alloc::class_size(e.cls));
            info->reciprocal = alloc::reciprocal(info->size);
            info->objects = alloc::span_objects(e.cls);
        }
        // The map's leaves, then the entries.
        const uintptr_t leaf_span = uintptr_t{1} << (SpanMap::kLeafBits + alloc::kPageShift);
        uintptr_t first = e.address - delta_, last = first + uint64_t(e.pages) * kPageSize - 1;
        for (uintptr_t a = first & ~(leaf_span - 1); a <= last; a += leaf_span)
            if (!map_.has_leaf(a))
                map_.install_leaf(a, TRY(meta_pages(SpanMap::kLeafBytes / kPageSize)));
        map_.set(first, e.pages, info);
    }
    return Status::Ok;
}

Status RemoteHeap::call(uint32_t type, const void* payload, uint32_t length,
                        wire::HeapReply& head) {
    Channel* ch = TRY(channel());
    RpcClient rpc(*ch);
    auto n = rpc.call(type, payload, length, reply_, sizeof reply_, ring::kNoDeadline);
    if (!n.ok()) {
        if (n.status() == Status::Closed) {
            lost_ = true;
            info_.connected = false;
            print("malloc: memsrv went away; the next allocation connects again");
        }
        return n.status();
    }
    if (n.value() < sizeof head || n.value() > sizeof reply_)
        return Status::Malformed;
    memcpy(&head, reply_, sizeof head);
    TRY(apply(reply_ + sizeof head, n.value() - uint32_t(sizeof head), head));
    if (head.fault != uint32_t(wire::Fault::None))
        fatal(fault_name(wire::Fault(head.fault)), reinterpret_cast<void*>(head.pointer),
              " (found by memsrv)");
    return Status(head.status);
}

uint32_t RemoteHeap::refill(unsigned cls, uint32_t want, void** head) {
    *head = nullptr;
    wire::RefillRequest request{cls, want};
    wire::HeapReply reply;
    Status s = call(wire::kMsgRefill, &request, sizeof request, reply);
    if (s == Status::Closed) // once more, on a fresh connection
        s = call(wire::kMsgRefill, &request, sizeof request, reply);
    if (s != Status::Ok)
        return 0;
    ++info_.refills;
    const size_t size = alloc::class_size(cls);
    void* list = nullptr;
    uint32_t taken = 0;
    for (uint32_t i = 0; i < reply.runs; ++i) {
        wire::ObjectRun run;
        memcpy(&run, reply_ + sizeof reply + i * sizeof run, sizeof run);
        SpanInfo* span = lookup(reinterpret_cast<void*>(run.first));
        // Each run inside one span of this class (memsrv is trusted with our heap, but a bad
        // answer must not make us write outside it).
        if (!span || span->cls != cls || run.count == 0 ||
            run.first + run.count * size > span->base + span->objects * size ||
            (run.first - span->base) % size)
            fatal("refill with a run outside its span", reinterpret_cast<void*>(run.first),
                  " (from memsrv)");
        for (uint32_t k = run.count; k-- > 0;) {
            void* object = reinterpret_cast<void*>(run.first + k * size);
            *static_cast<uintptr_t*>(object) = alloc::encode_link(list, object, secret_);
            list = object;
            ++taken;
        }
    }
    *head = list;
    return taken;
}

void RemoteHeap::flush(unsigned cls, void* head, uint32_t count) {
    flush_.cls = cls;
    flush_.count = 0;
    auto send = [&] {
        if (flush_.count == 0)
            return;
        wire::HeapReply reply;
        if (!lost_) {
            Status s = call(wire::kMsgFlush, &flush_,
                            wire::kFlushHeader + flush_.count * uint32_t(sizeof(uint64_t)), reply);
            if (s == Status::Ok)
                ++info_.flushes;
        }
        if (lost_)
            info_.orphaned_frees += flush_.count;
        flush_.count = 0;
    };
    void* object = head;
    for (uint32_t i = 0; i < count && object; ++i) {
        flush_.objects[flush_.count++] = reinterpret_cast<uint64_t>(object);
        uintptr_t next = alloc::decode_link(object, secret_);
        if (i + 1 < count && !alloc::link_plausible(next))
            fatal("write after free: a corrupted free-list link", object, "");
        object = reinterpret_cast<void*>(next);
        if (flush_.count == wire::kMaxFlush)
            send();
    }
    send();
}

void* RemoteHeap::allocate_large(size_t size, size_t align) {
    if (size > wire::kWindowBytes)
        return nullptr;
    wire::LargeRequest request{size, align < kPageSize ? kPageSize : align};
    wire::HeapReply reply;
    Status s = call(wire::kMsgAllocLarge, &request, sizeof request, reply);
    if (s == Status::Closed)
        s = call(wire::kMsgAllocLarge, &request, sizeof request, reply);
    if (s != Status::Ok)
        return nullptr;
    ++info_.large;
    return reinterpret_cast<void*>(reply.pointer);
}

void RemoteHeap::free_large(void* pointer) {
    wire::FreeLargeRequest request{reinterpret_cast<uint64_t>(pointer)};
    wire::HeapReply reply;
    if (lost_ || call(wire::kMsgFreeLarge, &request, sizeof request, reply) == Status::Closed)
        ++info_.orphaned_frees;
    else
        ++info_.large;
}

Result<wire::StatsReply> RemoteHeap::stats() {
    Channel* ch = TRY(channel());
    RpcClient rpc(*ch);
    wire::StatsReply out{};
    auto n = TRY(rpc.call(wire::kMsgStats, nullptr, 0, &out, sizeof out, ring::kNoDeadline));
    if (n != sizeof out)
        return Status::Malformed;
    return out;
}

Status RemoteHeap::trim() {
    wire::HeapReply reply;
    return call(wire::kMsgTrim, nullptr, 0, reply);
}

// Called only where the cache has no list in flight: a refill (whose bin is empty and is set
// from the refill's result), a large allocation, or statistics and trim after a flush.
void abandon_cache() {
    cache.abandon();
}

inline alloc::ThreadCache<RemoteHeap>& the_cache() {
    return cache;
}

} // namespace

MallocInfo malloc_info() {
    return heap.info();
}

void malloc_flush() {
    cache.flush_all();
}

Result<wire::StatsReply> malloc_stats(bool flush_cache) {
    if (flush_cache)
        malloc_flush();
    return heap.stats();
}

Status malloc_trim() {
    malloc_flush();
    return heap.trim();
}

} // namespace exo

using exo::the_cache;

extern "C" {

void* malloc(size_t size) {
    return the_cache().allocate(size);
}

void free(void* pointer) {
    if (pointer)
        the_cache().free(pointer);
}

void* calloc(size_t count, size_t size) {
    return the_cache().allocate_zeroed(count, size);
}

void* realloc(void* pointer, size_t size) {
    if (pointer && size == 0) {
        free(pointer);
        return nullptr;
    }
    return the_cache().reallocate(pointer, size);
}

void* aligned_alloc(size_t align, size_t size) {
    if (align == 0 || (align & (align - 1)))
        return nullptr;
    return the_cache().allocate_aligned(align, size);
}

int posix_memalign(void** out, size_t align, size_t size) {
    constexpr int kEinval = 22, kEnomem = 12;
    if (align < sizeof(void*) || (align & (align - 1)))
        return kEinval;
    void* p = the_cache().allocate_aligned(align, size);
    if (!p)
        return kEnomem;
    *out = p;
    return 0;
}

size_t malloc_usable_size(void* pointer) {
    return pointer ? the_cache().usable_size(pointer) : 0;
}

} // extern "C"

// The C++ runtime's nothrow tag (libsupc++ would define it; ring-3 programs link no C++
// runtime library).
namespace std {
const nothrow_t nothrow{};
}

// C++: no exceptions, so a failed new ends the process (as -fno-exceptions code expects), and
// the nothrow forms return nullptr.
namespace {
[[noreturn]] void out_of_memory(size_t size) {
    exo::print("operator new: no memory for %zu bytes: ending the process", size);
    exo::sys::process_exit(exo::kMallocFaultExit);
}
void* checked(void* p, size_t size) {
    if (!p) [[unlikely]]
        out_of_memory(size);
    return p;
}
} // namespace

void* operator new(size_t size) {
    return checked(malloc(size), size);
}
void* operator new[](size_t size) {
    return checked(malloc(size), size);
}
void* operator new(size_t size, std::align_val_t a) {
    return checked(aligned_alloc(size_t(a), size), size);
}
void* operator new[](size_t size, std::align_val_t a) {
    return checked(aligned_alloc(size_t(a), size), size);
}
void* operator new(size_t size, const std::nothrow_t&) noexcept {
    return malloc(size);
}
void* operator new[](size_t size, const std::nothrow_t&) noexcept {
    return malloc(size);
}
void operator delete(void* p) noexcept {
    free(p);
}
void operator delete[](void* p) noexcept {
    free(p);
}
void operator delete(void* p, size_t) noexcept {
    free(p);
}
void operator delete[](void* p, size_t) noexcept {
    free(p);
}
void operator delete(void* p, std::align_val_t) noexcept {
    free(p);
}
void operator delete[](void* p, std::align_val_t) noexcept {
    free(p);
}
void operator delete(void* p, size_t, std::align_val_t) noexcept {
    free(p);
}
void operator delete[](void* p, size_t, std::align_val_t) noexcept {
    free(p);
}
