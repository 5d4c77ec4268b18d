// Building the root process from its ELF module (the portable parser exo/elf.hpp decides what
// is loadable; this file only maps and copies what it has validated).
#include "user/root_process.hpp"

#include "core/log.hpp"
#include "lib/page_table.hpp"
#include "mm/kernel_space.hpp"
#include "mm/physical.hpp"
#include "object/cspace.hpp"
#include "object/device.hpp"
#include "object/frame.hpp"
#include "object/memory.hpp"

#include <exo/boot_info.hpp>
#include <exo/elf.hpp>
#include <exo/layout.hpp>

namespace mk::user {
namespace {

// What the kernel keeps for itself beyond every quota: slab slack, its own stacks and tables.
uint64_t kernel_reserve(uint64_t free) {
    uint64_t eighth = free / 8;
    return eighth > (8ull << 20) ? eighth : (8ull << 20);
}

uint32_t access_of(uint32_t elf_flags) {
    if (elf_flags & exo::elf::kWrite)
        return kAccessWrite;
    if (elf_flags & exo::elf::kExec)
        return kAccessExecute;
    return kAccessRead;
}

// Fresh zeroed pages over [first, last), each filled from the file bytes that fall in it.
exo::Result<void> load_segment(AddressSpace& space, Memory& quota, const uint8_t* file,
                               const exo::elf::Segment& seg) {
    uint64_t first = exo::elf::page_floor(seg.vaddr);
    uint64_t last = exo::elf::page_ceil(seg.vaddr + seg.mem_size);
    uint32_t access = access_of(seg.flags);
    for (uint64_t page = first; page < last; page += kPageSize) {
        auto frame = TRY(Frame::allocate(quota, 1));
        uint8_t* dst = vm::phys_to_virt<uint8_t>(frame->physical());
        uint64_t file_start = seg.vaddr, file_end = seg.vaddr + seg.file_size;
        uint64_t lo = page > file_start ? page : file_start;
        uint64_t hi = page + kPageSize < file_end ? page + kPageSize : file_end;
        if (lo < hi)
            __builtin_memcpy(dst + (lo - page), file + seg.file_offset + (lo - seg.vaddr), hi - lo);
        TRY(space.map(*frame, frame->physical(), 1, page, access, access));
    }
    return {};
}

exo::Result<void> map_zeroed(AddressSpace& space, Memory& quota, uint64_t vaddr, uint64_t pages,
                             uint32_t access, Ref<Frame>* first_frame = nullptr) {
    for (uint64_t i = 0; i < pages; ++i) {
        auto frame = TRY(Frame::allocate(quota, 1));
        TRY(space.map(*frame, frame->physical(), 1, vaddr + i * kPageSize, access, access));
        if (i == 0 && first_frame)
            *first_frame = frame;
    }
    return {};
}

void copy_name(char* dst, size_t capacity, std::string_view src) {
    size_t n = src.size() < capacity - 1 ? src.size() : capacity - 1;
    __builtin_memcpy(dst, src.data(), n);
    dst[n] = '\0';
}

static_assert(mb2::kMaxModules == exo::kBootModules, "every module the loader gave reaches init");

// The boot modules, read-only and cached, one after another from kModuleArea; their
// DeviceMemory objects are held by the mappings alone.
exo::Result<void> map_modules(AddressSpace& space, const mb2::BootInfo& boot, exo::BootInfo& info) {
    uint64_t next = exo::kModuleArea;
    for (size_t i = 0; i < boot.module_count && i < exo::kBootModules; ++i) {
        const mb2::Module& m = boot.modules[i];
        uint64_t start = exo::elf::page_floor(m.start), end = exo::elf::page_ceil(m.end);
        uint64_t pages = (end - start) / kPageSize;
        exo::BootModule& out = info.modules[info.module_count++];
        copy_name(out.name, sizeof out.name, m.name);
        out.address = next + (m.start - start);
        out.size = m.end - m.start;
        if (pages == 0)
            continue;
        auto object = TRY(allocate_object<DeviceMemory>(nullptr, start, pages));
        Ref<DeviceMemory> ref(object);
        TRY(space.map(*object, start, pages, next, kAccessRead, kAccessRead));
        next += (pages + 1) * kPageSize; // a guard page between modules
    }
    return {};
}

const mb2::Module* find_module(const mb2::BootInfo& boot, std::string_view name) {
    for (size_t i = 0; i < boot.module_count; ++i)
        if (std::string_view(boot.modules[i].name) == name)
            return &boot.modules[i];
    return nullptr;
}

exo::Status give_machine(Process& process, Memory& quota) {
    auto log = allocate_object<Log>(nullptr);
    auto ports = allocate_object<IoPorts>(nullptr, Range{0, 65536});
    auto irqs = allocate_object<Irq>(nullptr, Range{0, kIrqLines});
    auto device = DeviceMemory::create_root();
    auto system = allocate_object<System>(nullptr);
    if (!log.ok() || !ports.ok() || !irqs.ok() || !device.ok() || !system.ok())
        return exo::Status::NoMemory;
    Ref<System> system_ref(system.value());
    Ref<Log> log_ref(log.value());
    Ref<IoPorts> ports_ref(ports.value());
    Ref<Irq> irq_ref(irqs.value());
    exo::Status s = caps::install(process, exo::kSlotMemory, quota, exo::kRightsAll);
    if (s == exo::Status::Ok)
        s = caps::install(process, exo::kSlotLog, *log_ref, exo::kRightsAll);
    if (s == exo::Status::Ok)
        s = caps::install(process, exo::kSlotIoPorts, *ports_ref, exo::kRightsAll);
    if (s == exo::Status::Ok)
        s = caps::install(process, exo::kSlotIrq, *irq_ref, exo::kRightsAll);
    if (s == exo::Status::Ok)
        s = caps::install(process, exo::kSlotDeviceMemory, *device.value(),
                          exo::kRightsAll & ~uint32_t(exo::kRightExecute));
    if (s == exo::Status::Ok)
        s = caps::install(process, exo::kSlotSystem, *system_ref,
                          exo::kRightsAll & ~uint32_t(exo::kRightExecute | exo::kRightWrite));
    return s;
}

} // namespace

exo::Result<Ref<Process>> start_root(const mb2::BootInfo& boot, std::string_view name,
                                     std::string_view args) {
    const mb2::Module* module = find_module(boot, name);
    if (module == nullptr) {
        log::error("root: no boot module named '%.*s'", int(name.size()), name.data());
        return exo::Status::NotFound;
    }
    const uint8_t* file = vm::phys_to_virt<uint8_t>(module->start);
    auto image =
        exo::elf::parse(file, module->end - module->start, {exo::kUserBase, exo::kUserTop});
    if (!image.ok()) {
        log::error("root: module '%s' is not a loadable ELF: %s", module->name,
                   exo::status_name(image.status()));
        return image.status();
    }
    uint64_t free = pmm::free_bytes();
    if (free <= kernel_reserve(free)) {
        log::error("root: %lu KiB free is no more than the kernel's reserve", free >> 10);
        return exo::Status::NoMemory;
    }
    auto quota = TRY(Memory::create_root(free - kernel_reserve(free)));
    auto space = TRY(AddressSpace::create(*quota));
    for (size_t i = 0; i < image.value().segment_count; ++i)
        TRY(load_segment(*space, *quota, file, image.value().segments[i]));
    TRY(map_zeroed(*space, *quota, exo::kStackTop - exo::kStackSize, exo::kStackSize / kPageSize,
                   kAccessWrite));
    Ref<Frame> info_frame;
    TRY(map_zeroed(*space, *quota, exo::kBootInfoAddress, 1, kAccessRead, &info_frame));
    auto& info = *vm::phys_to_virt<exo::BootInfo>(info_frame->physical());
    info.magic = exo::kBootInfoMagic;
    copy_name(info.args, sizeof info.args, args);
    TRY(map_modules(*space, boot, info));

    auto process =
        TRY(Process::create(*quota, space, module->name, __builtin_strlen(module->name),
                            exo::kRootCapSlots));
    if (auto s = give_machine(*process, *quota); s != exo::Status::Ok)
        return s;
    auto main = TRY(UserThread::create(*quota, *process));
    TRY(process->start(*main, image.value().entry, exo::kStackTop, exo::kBootInfoAddress));
    log::info("root: started '%s' (id %lu), quota %lu KiB of %lu KiB free", process->name(),
              process->id(), quota->limit() >> 10, free >> 10);
    return process;
}

} // namespace mk::user
