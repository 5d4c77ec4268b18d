// The user-mode ELF loader: the portable parser (exo/elf.hpp) validates, this file maps.
#include <exo/elf.hpp>
#include <exo/layout.hpp>
#include <exo/libc.h>
#include <exo/spawn.hpp>

#include <atomic>

namespace exo {
namespace {

// Where the loader maps a child's page in its own space while filling it: one window per
// concurrent spawn.
constexpr uint64_t kScratchBase = 0x00007E0000000000ull;
constinit std::atomic<uint64_t> next_window{0};

uint32_t map_flags(uint32_t elf_flags) {
    if (elf_flags & elf::kWrite)
        return kMapWrite;
    if (elf_flags & elf::kExec)
        return kMapExecute;
    return kMapRead;
}

Status load_segment(const uint8_t* file, const elf::Segment& seg, Slot quota, Slot space,
                    uint64_t window) {
    for (uint64_t page = elf::page_floor(seg.vaddr); page < seg.vaddr + seg.mem_size;
         page += kPageSize) {
        auto frame = TRY(frame_alloc(quota, 1));
        uint64_t file_start = seg.vaddr, file_end = seg.vaddr + seg.file_size;
        uint64_t lo = page > file_start ? page : file_start;
        uint64_t hi = page + kPageSize < file_end ? page + kPageSize : file_end;
        if (lo < hi) {
            TRY(sys::frame_map(kSlotAddressSpace, frame.slot(), window, kMapWrite));
            memcpy(reinterpret_cast<void*>(window + (lo - page)),
                   file + seg.file_offset + (lo - seg.vaddr), hi - lo);
            TRY(sys::frame_unmap(kSlotAddressSpace, window));
        }
        // The mapping keeps the frame; our capability goes when `frame` does.
        TRY(sys::frame_map(space, frame.slot(), page, map_flags(seg.flags)));
    }
    return Status::Ok;
}

Result<Cap<Process>> build(const uint8_t* file, const elf::Image& image, Slot quota,
                           const SpawnOptions& o) {
    auto space = TRY(address_space_create(quota));
    uint64_t window = kScratchBase + next_window.fetch_add(1) % 4096 * kPageSize;
    for (size_t i = 0; i < image.segment_count; ++i)
        TRY(load_segment(file, image.segments[i], quota, space.slot(), window));
    auto stack = TRY(frame_alloc(quota, kStackSize / kPageSize));
    TRY(sys::frame_map(space.slot(), stack.slot(), kStackTop - kStackSize, kMapWrite));

    Slot process = TRY(allocate_slot());
    auto child = Cap<Process>::adopt(process);
    if (Status s = sys::process_create(quota, space.slot(), process, o.name, strlen(o.name));
        s != Status::Ok) {
        child.release();
        free_slot(process);
        return s;
    }
    TRY(sys::process_grant(process, quota, kSlotMemory, kRightsAll));
    if (o.give_log)
        TRY(sys::process_grant(process, kSlotLog, kSlotLog, kRightsAll));
    for (size_t i = 0; i < o.grant_count; ++i)
        TRY(sys::process_grant(process, o.grants[i].src, o.grants[i].dst, o.grants[i].rights));
    TRY(sys::process_start(process, image.entry, kStackTop, o.arg).status);
    return child;
}

} // namespace

Result<Child> spawn(const void* elf_data, size_t size, const SpawnOptions& options) {
    auto image = TRY(elf::parse(elf_data, size, {kUserBase, kUserTop}));
    auto quota = TRY(memory_split(options.memory, options.quota_bytes));
    auto process = TRY(build(static_cast<const uint8_t*>(elf_data), image, quota.slot(), options));
    return Child{static_cast<Cap<Process>&&>(process), static_cast<Cap<Memory>&&>(quota)};
}

const BootModule* find_module(const BootInfo& info, const char* name) {
    for (uint64_t i = 0; i < info.module_count && i < kBootModules; ++i)
        if (strcmp(info.modules[i].name, name) == 0)
            return &info.modules[i];
    return nullptr;
}

} // namespace exo
