// memsrv: the slab layer of every process's malloc (docs/memsrv.md, exo/proto/memsrv.hpp).
// One thread serves every client from one wait (exo::Server). A client attaches with a
// donated Memory capability; memsrv runs the allocator core's slab (size classes, spans,
// allocated bitmaps, validation) for its heap window, hands out objects in batches of runs,
// takes them back in batches, and moves the client the frames of new spans and tells it which
// to unmap when spans empty. What a client does wrong (a double free, a pointer that is no
// object) is refused with the fault named, and the client's malloc ends that client; nothing
// of another client is reachable from a request. With `connect=console` it adds the console
// command `malloc` (statistics per size class and per client).
#include "client_heap.hpp"

#include <exo/command.hpp>
#include <exo/events.hpp>
#include <exo/layout.hpp>
#include <exo/libc.h>
#include <exo/log.hpp>
#include <exo/runtime.hpp>
#include <exo/server.hpp>
#include <exo/sys.hpp>

#include <new>

using namespace exo;
using namespace memsrv;
using exo::alloc::HeapError;
using exo::alloc::kClasses;

namespace {

// Clients with a heap at once (each costs ~8 KiB here; its metadata is charged to it).
constexpr uint32_t kMaxHeaps = 32;
// Where memsrv maps the metadata of heap i: 64 MiB each (a full 1 GiB window needs ~7 MiB).
constexpr uint64_t kMetaArea = 0x0000200000000000ull;
constexpr uint64_t kMetaStride = uint64_t{64} << 20;
static_assert(wire::kMaxReply <= 4096);
static_assert(sizeof(wire::StatsReply::classes) / sizeof(wire::ClassStats) == kClasses);

struct HeapSlot {
    bool live = false;
    uint32_t client = 0; // the server's index of its connection
    uint64_t process = 0;
    ClientPages pages;
    ClientHeap heap;
    ReplyChanges changes;
};

HeapSlot heaps[kMaxHeaps];
HeapSlot* heap_of[Server::Core::kMaxClients]; // by connection index
Server* the_server;
uint64_t attached_total = 0;
uint64_t faults_total = 0;

wire::Fault fault_of(HeapError e) {
    switch (e) {
    case HeapError::DoubleFree:
        return wire::Fault::DoubleFree;
    case HeapError::ForeignPointer:
        return wire::Fault::ForeignPointer;
    case HeapError::InteriorPointer:
        return wire::Fault::InteriorPointer;
    case HeapError::CorruptLink:
        return wire::Fault::CorruptLink;
    }
    return wire::Fault::CorruptLink;
}

// The core's detections: the first of a request is answered; the request's other objects go on.
void on_fault(void* context, HeapError error, const void* pointer) {
    auto* h = static_cast<HeapSlot*>(context);
    if (h->changes.fault == wire::Fault::None) {
        h->changes.fault = fault_of(error);
        h->changes.fault_pointer = reinterpret_cast<uint64_t>(pointer) + h->pages.delta();
    }
}

uint64_t random_secret() {
    uint32_t lo, hi;
    asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return (uint64_t(hi) << 32 | lo) * 0x9E3779B97F4A7C15ull ^ sys::clock_ns();
}

Status attach(uint32_t index, const Request& request, Reply& reply) {
    if (heap_of[index])
        return Status::BadState;
    if (request.length != sizeof(wire::AttachRequest))
        return Status::Truncated;
    wire::AttachRequest r;
    memcpy(&r, request.payload, sizeof r);
    if (r.window % wire::kWindowBytes || r.window < kHeapArea ||
        r.window >= kHeapArea + kHeapWindows * wire::kWindowBytes)
        return Status::OutOfRange;
    uint32_t at = kMaxHeaps;
    for (uint32_t i = 0; i < kMaxHeaps && at == kMaxHeaps; ++i)
        if (!heaps[i].live)
            at = i;
    if (at == kMaxHeaps)
        return Status::NoMemory;
    Slot memory = TRY(allocate_slot());
    Status s = sys::ring_receive_cap(the_server->request_end(index), memory);
    CapInfo info{};
    if (s == Status::Ok)
        s = sys::cap_info(memory, &info);
    if (s == Status::Ok &&
        (info.type != uint16_t(ObjectType::Memory) ||
         (info.rights & (kRightRead | kRightManage)) != (kRightRead | kRightManage)))
        s = Status::WrongType;
    if (s != Status::Ok) {
        (void)sys::cap_delete(memory);
        free_slot(memory);
        return s == Status::WouldBlock ? Status::NotFound : s; // no capability came with it
    }
    HeapSlot& h = heaps[at];
    h.live = true;
    h.client = index;
    h.process = the_server->tag(index);
    h.pages.start(memory, the_server->response_end(index), r.window - kHeapArea,
                  kMetaArea + at * kMetaStride);
    new (&h.heap) ClientHeap();
    h.heap.init(&h.pages, random_secret(), on_fault, &h);
    heap_of[index] = &h;
    ++attached_total;
    wire::AttachReply answer{info.count};
    memcpy(reply.data, &answer, sizeof answer);
    reply.length = sizeof answer;
    return Status::Ok;
}

// A client address in its window as the core's address, or 0.
uint64_t to_core(const HeapSlot& h, uint64_t address) {
    uint64_t a = address - h.pages.delta();
    return a >= kHeapArea && a < kHeapArea + wire::kWindowBytes ? a : 0;
}

// The reply of a heap request: the header, `runs`, then what the core mapped and unmapped.
void finish(HeapSlot& h, Reply& reply, Status status, uint64_t pointer, const wire::ObjectRun* runs,
            uint32_t run_count) {
    ReplyChanges& c = h.changes;
    wire::HeapReply head{int32_t(status),
                         uint32_t(c.fault),
                         c.fault != wire::Fault::None ? c.fault_pointer : pointer,
                         run_count,
                         c.map_count,
                         c.unmap_count,
                         0};
    uint8_t* out = reply.data;
    memcpy(out, &head, sizeof head);
    out += sizeof head;
    memcpy(out, runs, run_count * sizeof *runs);
    out += run_count * sizeof *runs;
    for (uint32_t i = 0; i < c.map_count; ++i) {
        alloc::Span* span =
            h.heap.lookup(reinterpret_cast<void*>(c.maps[i].address - h.pages.delta()));
        c.maps[i].cls = span ? span->cls : alloc::kLargeClass;
    }
    memcpy(out, c.maps, c.map_count * sizeof *c.maps);
    out += c.map_count * sizeof *c.maps;
    memcpy(out, c.unmaps, c.unmap_count * sizeof *c.unmaps);
    out += c.unmap_count * sizeof *c.unmaps;
    reply.length = uint32_t(out - reply.data);
    if (c.fault != wire::Fault::None)
        ++faults_total;
}

Status refill(HeapSlot& h, const Request& request, Reply& reply) {
    if (request.length != sizeof(wire::RefillRequest))
        return Status::Truncated;
    wire::RefillRequest r;
    memcpy(&r, request.payload, sizeof r);
    if (r.cls >= kClasses || r.want == 0 || r.want > 256)
        return Status::InvalidArgument;
    alloc::ObjectRun runs[wire::kMaxRuns];
    uint32_t run_count = 0;
    uint32_t got = h.heap.refill_runs(r.cls, r.want, runs, wire::kMaxRuns, &run_count);
    wire::ObjectRun out[wire::kMaxRuns];
    for (uint32_t i = 0; i < run_count; ++i)
        out[i] = {runs[i].first + h.pages.delta(), runs[i].count, 0};
    finish(h, reply, got ? Status::Ok : Status::NoMemory, 0, out, run_count);
    return Status::Ok;
}

Status flush(HeapSlot& h, const Request& request, Reply& reply) {
    wire::FlushRequest r;
    if (request.length < wire::kFlushHeader)
        return Status::Truncated;
    memcpy(&r, request.payload, wire::kFlushHeader);
    if (r.cls >= kClasses || r.count == 0 || r.count > wire::kMaxFlush)
        return Status::InvalidArgument;
    if (request.length != wire::kFlushHeader + r.count * sizeof(uint64_t))
        return Status::Truncated;
    // Copied first: the client may rewrite the ring while we work.
    memcpy(r.objects, request.payload + wire::kFlushHeader, r.count * sizeof(uint64_t));
    uintptr_t core[wire::kMaxFlush];
    uint32_t n = 0;
    for (uint32_t i = 0; i < r.count; ++i) {
        uint64_t a = to_core(h, r.objects[i]);
        if (a)
            core[n++] = a;
        else
            on_fault(&h, HeapError::ForeignPointer,
                     reinterpret_cast<void*>(r.objects[i] - h.pages.delta()));
    }
    h.heap.flush_array(r.cls, core, n);
    finish(h, reply, Status::Ok, 0, nullptr, 0);
    return Status::Ok;
}

Status large(HeapSlot& h, const Request& request, Reply& reply) {
    if (request.length != sizeof(wire::LargeRequest))
        return Status::Truncated;
    wire::LargeRequest r;
    memcpy(&r, request.payload, sizeof r);
    if (r.align < kPageSize || (r.align & (r.align - 1)) || r.align > wire::kWindowBytes / 2 ||
        r.bytes > wire::kWindowBytes)
        return Status::InvalidArgument;
    void* p = h.heap.allocate_large(r.bytes, r.align);
    finish(h, reply, p ? Status::Ok : Status::NoMemory,
           p ? reinterpret_cast<uint64_t>(p) + h.pages.delta() : 0, nullptr, 0);
    return Status::Ok;
}

Status free_large(HeapSlot& h, const Request& request, Reply& reply) {
    if (request.length != sizeof(wire::FreeLargeRequest))
        return Status::Truncated;
    wire::FreeLargeRequest r;
    memcpy(&r, request.payload, sizeof r);
    uint64_t a = to_core(h, r.pointer);
    if (a)
        h.heap.free_large(reinterpret_cast<void*>(a));
    else
        on_fault(&h, HeapError::ForeignPointer,
                 reinterpret_cast<void*>(r.pointer - h.pages.delta()));
    finish(h, reply, Status::Ok, 0, nullptr, 0);
    return Status::Ok;
}

void fill_stats(HeapSlot& h, wire::StatsReply& out) {
    auto s = h.heap.stats();
    MemoryInfo info{};
    (void)sys::memory_info(h.pages.memory(), &info);
    out = {};
    out.quota_limit = info.limit;
    out.quota_used = info.used;
    out.span_pages = s.span_pages;
    out.large_pages = s.large_pages;
    out.meta_pages = s.meta_pages;
    out.pages_returned = s.pages_returned;
    out.large_blocks = s.large_blocks;
    for (unsigned c = 0; c < kClasses; ++c)
        out.classes[c] = {uint32_t(s.classes[c].spans), uint32_t(s.classes[c].objects_out)};
}

Status handle(void*, Server::Client& client, const Request& request, exo::Reply& reply) {
    if (request.type == wire::kMsgAttach)
        return attach(client.index, request, reply);
    HeapSlot* h = heap_of[client.index];
    if (h == nullptr)
        return Status::BadState; // Attach first
    h->changes = ReplyChanges{};
    h->pages.begin(&h->changes);
    Status s;
    switch (request.type) {
    case wire::kMsgRefill:
        s = refill(*h, request, reply);
        break;
    case wire::kMsgFlush:
        s = flush(*h, request, reply);
        break;
    case wire::kMsgAllocLarge:
        s = large(*h, request, reply);
        break;
    case wire::kMsgFreeLarge:
        s = free_large(*h, request, reply);
        break;
    case wire::kMsgTrim:
        h->heap.trim();
        finish(*h, reply, Status::Ok, 0, nullptr, 0);
        s = Status::Ok;
        break;
    case wire::kMsgStats: {
        wire::StatsReply out;
        fill_stats(*h, out);
        memcpy(reply.data, &out, sizeof out);
        reply.length = sizeof out;
        s = Status::Ok;
        break;
    }
    default:
        s = Status::Unsupported;
    }
    h->pages.begin(nullptr);
    if (h->changes.broken)
        return Status::Malformed; // it did not take the frames it was sent: dropped
    return s;
}

void dropped(void*, uint32_t index, Status why) {
    HeapSlot* h = heap_of[index];
    if (h == nullptr)
        return;
    auto s = h->heap.stats();
    print("memsrv: process %lu left (%s): %lu pages of its heap go back with its quota", h->process,
          status_name(why), s.span_pages + s.large_pages + s.meta_pages);
    h->pages.stop();
    h->heap.~ClientHeap();
    h->live = false;
    heap_of[index] = nullptr;
}

// ---- The console command `malloc` -------------------------------------------------------------

constexpr uint64_t kConsoleBadge = uint64_t(1) << 48;
ConsoleCommands* console;
alignas(ConsoleCommands) unsigned char console_storage[sizeof(ConsoleCommands)];

void malloc_command(uint64_t id) {
    wire::StatsReply total{}, one;
    uint32_t clients = 0;
    for (HeapSlot& h : heaps) {
        if (!h.live)
            continue;
        fill_stats(h, one);
        ++clients;
        for (unsigned c = 0; c < kClasses; ++c) {
            total.classes[c].spans += one.classes[c].spans;
            total.classes[c].objects_out += one.classes[c].objects_out;
        }
    }
    (void)console->print(id, "memsrv: %u heap%s (%lu attached since start), %lu faults refused\n",
                         clients, clients == 1 ? "" : "s", attached_total, faults_total);
    (void)console->print(id, "%6s %6s %8s %8s %10s\n", "class", "spans", "capacity", "out",
                         "out bytes");
    for (unsigned c = 0; c < kClasses; ++c) {
        if (total.classes[c].spans == 0 && c >= alloc::kSmallBins)
            continue; // the 16 small bins always, the larger classes when used
        const uint32_t spans = total.classes[c].spans, out = total.classes[c].objects_out;
        (void)console->print(id, "%6lu %6u %8u %8u %10lu\n", alloc::class_size(c), spans,
                             spans * alloc::span_objects(c), out,
                             uint64_t(out) * alloc::class_size(c));
    }
    (void)console->print(id, "%-8s %10s %10s %8s %8s %8s %9s\n", "process", "quota KiB", "used KiB",
                         "spans", "large", "meta", "returned");
    for (HeapSlot& h : heaps) {
        if (!h.live)
            continue;
        fill_stats(h, one);
        (void)console->print(id, "%-8lu %10lu %10lu %8lu %8lu %8lu %9lu\n", h.process,
                             one.quota_limit / 1024, one.quota_used / 1024, one.span_pages,
                             one.large_pages, one.meta_pages, one.pages_returned);
    }
    (void)console->print(
        id, "(out: in use or in the process's cache; spans, large, meta, returned: 4 KiB pages)\n");
}

void serve_console() {
    for (;;) {
        auto c = console->poll();
        if (!c.ok())
            return;
        if (c.value().kind != ConsoleCommand::Kind::Run)
            continue;
        malloc_command(c.value().id);
        (void)console->done(c.value().id, Status::Ok);
    }
}

void on_event(void*, uint32_t type, const uint8_t* payload, uint32_t length) {
    DoorbellEvent bell;
    if (type != kEventDoorbell || length != sizeof bell || !console)
        return;
    memcpy(&bell, payload, sizeof bell);
    if (bell.badge == kConsoleBadge)
        serve_console();
}

void add_console_command(Server& server) {
    if (CapInfo link{}; sys::cap_info(kSlotInitTx, &link) != Status::Ok)
        return;
    uint64_t give_up = sys::clock_ns() + 2'000'000'000;
    for (;;) {
        auto c = ConsoleCommands::connect();
        if (c.ok()) {
            console =
                new (console_storage) ConsoleCommands(static_cast<ConsoleCommands&&>(c.value()));
            break;
        }
        if (sys::clock_ns() > give_up || c.status() == Status::AccessDenied) {
            print("memsrv: no console command: %s", status_name(c.status()));
            return;
        }
        pause_until(sys::clock_ns() + 10'000'000);
    }
    Status s = console->add("malloc", "malloc: heaps, spans per size class, pages (memsrv)");
    if (s == Status::Ok)
        s = sys::ring_bind(console->doorbell_end(), server.event_producer(), kConsoleBadge);
    if (s != Status::Ok)
        print("memsrv: console command 'malloc': %s", status_name(s));
    serve_console();
}

alignas(Server) unsigned char server_storage[sizeof(Server)];

} // namespace

int exo_main(uint64_t) {
    Server& server = *new (server_storage) Server();
    the_server = &server;
    Server::Core::Config config;
    config.protocol = wire::kProtocol;
    config.version = wire::kVersion;
    config.max_reply =
        wire::kMaxReply > sizeof(wire::StatsReply) ? wire::kMaxReply : sizeof(wire::StatsReply);
    config.handler = handle;
    config.on_drop = dropped;
    config.on_event = on_event;
    if (Status s = server.start(kSlotMemory, Cap<Ring>::adopt(kSlotAccept), config);
        s != Status::Ok) {
        print("memsrv: cannot start: %s", status_name(s));
        return 1;
    }
    add_console_command(server);
    print("memsrv: serving");
    Status s = server.run();
    print("memsrv: stopped: %s", status_name(s));
    return 2;
}
