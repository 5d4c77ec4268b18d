// The memsrv protocol (docs/memsrv.md): libexo's malloc asks memsrv, the slab layer, for objects
// in batches and gives them back in batches. A client's heap is a 1 GiB window of its own
// address space; its pages are frames that memsrv allocates from the Memory capability the
// client donated when it attached (charged to the client's quota) and moves to the client over
// the response ring, which maps them. memsrv never maps a client's heap: the span metadata it
// keeps (classes, allocated bitmaps) lives in its own memory, also charged to the donation, so
// a client can corrupt neither memsrv nor another client.
//
// Every heap reply (Refill, Flush, AllocLarge, FreeLarge, Trim) is a HeapReply followed by its
// `runs` ObjectRuns, then `maps` Extents to map, then `unmaps` Extents to unmap. An extent of N
// pages is mapped as frames of N's binary digits, largest first (frame_split); the frames of
// the `maps` extents come before the reply on the response ring's capability queue, in that
// order. The client unmaps the `unmaps` extents (frame by frame, the same split) before it uses
// anything of a later reply: memsrv reuses those addresses.
#pragma once

#include <exo/proto/service.hpp>

namespace exo::proto::memsrv {

inline constexpr uint32_t kProtocol = fourcc("mems");
inline constexpr uint32_t kVersion = 1;

// Request: AttachRequest, with the donated Memory capability (Read, Manage) sent on the
// request ring just before. Reply: AttachReply. Once per connection, before anything else.
inline constexpr uint32_t kMsgAttach = kFirstMessage;
// Request: RefillRequest. Reply: HeapReply with the objects as runs (and the new spans' maps).
inline constexpr uint32_t kMsgRefill = kFirstMessage + 1;
// Request: FlushRequest. Reply: HeapReply (the spans this emptied: unmaps).
inline constexpr uint32_t kMsgFlush = kFirstMessage + 2;
// Request: LargeRequest. Reply: HeapReply, `pointer` the block (one map).
inline constexpr uint32_t kMsgAllocLarge = kFirstMessage + 3;
// Request: FreeLargeRequest. Reply: HeapReply (one unmap).
inline constexpr uint32_t kMsgFreeLarge = kFirstMessage + 4;
// Request: nothing. Reply: HeapReply: every empty span returned (unmaps).
inline constexpr uint32_t kMsgTrim = kFirstMessage + 5;
// Request: nothing. Reply: StatsReply for this client.
inline constexpr uint32_t kMsgStats = kFirstMessage + 6;

inline constexpr uint64_t kWindowBytes = uint64_t{1} << 30;
inline constexpr uint32_t kMaxRuns = 32;   // object runs in one refill reply
inline constexpr uint32_t kMaxFlush = 128; // objects in one flush
inline constexpr uint32_t kMaxFrames = 16; // frames moved with one reply (a ring's cap queue)
inline constexpr uint32_t kMaxMaps = kMaxFrames;
inline constexpr uint32_t kMaxUnmaps = kMaxFlush; // a flush empties at most one span per object

struct AttachRequest {
    uint64_t window; // where the client maps its heap: kWindowBytes-aligned, in the heap area
};
struct AttachReply {
    uint64_t quota; // bytes of the donation
};

struct RefillRequest {
    uint32_t cls;  // size class (exo/alloc/size_class.hpp)
    uint32_t want; // objects, 1 to 256
};

struct FlushRequest {
    uint32_t cls;
    uint32_t count;              // 1 to kMaxFlush
    uint64_t objects[kMaxFlush]; // only `count` are sent
};
inline constexpr uint32_t kFlushHeader = 8;

struct LargeRequest {
    uint64_t bytes;
    uint64_t align; // a power of two, at least 4096
};
struct FreeLargeRequest {
    uint64_t pointer;
};

// What memsrv found wrong in a request. The client's malloc ends the process on anything but
// None (the message names the pointer), as it does on its own detections.
enum class Fault : uint32_t {
    None = 0,
    DoubleFree = 1,
    ForeignPointer = 2,
    InteriorPointer = 3,
    CorruptLink = 4, // a flushed object that is no object of its class
};

struct HeapReply {
    int32_t status;   // Ok; NoMemory when the donation is spent (a refill may still hold some)
    uint32_t fault;   // Fault: the first one found in this request
    uint64_t pointer; // the faulty pointer; AllocLarge: the block
    uint32_t runs;
    uint32_t maps;
    uint32_t unmaps;
    uint32_t reserved;
};
static_assert(sizeof(HeapReply) == 32);

struct ObjectRun {
    uint64_t first; // client address
    uint32_t count; // objects of the class, one after another
    uint32_t reserved;
};
struct Extent {
    uint64_t address; // client address
    uint32_t pages;
    uint32_t cls; // maps: the span's class, or kLargeClass for a page run; unmaps: 0
};
static_assert(sizeof(ObjectRun) == 16 && sizeof(Extent) == 16);

inline constexpr uint32_t kMaxReply =
    sizeof(HeapReply) + kMaxRuns * sizeof(ObjectRun) + (kMaxMaps + kMaxUnmaps) * sizeof(Extent);

struct ClassStats {
    uint32_t spans;
    uint32_t objects_out; // in the client's caches or in use
};
struct StatsReply {
    uint64_t quota_limit;    // bytes donated
    uint64_t quota_used;     // of which charged now (heap frames and memsrv's metadata)
    uint64_t span_pages;     // pages of small-class spans
    uint64_t large_pages;    // pages of page runs
    uint64_t meta_pages;     // memsrv's metadata for this client
    uint64_t pages_returned; // over the connection's life
    uint64_t large_blocks;
    ClassStats classes[48];
};

// The frames an extent of `pages` pages is made of: its binary digits, largest first, at most
// 1024 pages (4 MiB) each. Calls f(offset_pages, frame_pages) for each; the count is returned.
template <typename F>
uint32_t frame_split(uint64_t pages, F f) {
    uint32_t n = 0;
    uint64_t offset = 0;
    while (pages) {
        uint64_t frame = pages >= 1024 ? 1024 : uint64_t{1} << (63 - __builtin_clzll(pages));
        f(offset, frame);
        offset += frame;
        pages -= frame;
        ++n;
    }
    return n;
}

} // namespace exo::proto::memsrv
