// Kernel page tables (Intel SDM vol. 3A 4.5, 4.6): text R-X, rodata R--, data and bss RW- NX,
// the direct map RW- NX in 2 MiB pages. Every kernel page is global (CR4.PGE, set at boot).
#include "mm/kernel_space.hpp"

#include "arch/x86_64/cpu.hpp"
#include "arch/x86_64/layout.h"
#include "arch/x86_64/smp.hpp"
#include "arch/x86_64/spinlock.hpp"
#include "core/log.hpp"
#include "core/panic.hpp"
#include "lib/page_table.hpp"
#include "lib/phys_ranges.hpp"
#include "mm/physical.hpp"

extern "C" const uint8_t __text_start[], __text_end[], __rodata_start[], __rodata_end[],
    __data_start[], __data_end[], __ksyms_start[], __kernel_end[];

namespace mk::vm {
namespace {

struct KernelTableEnv {
    exo::Result<uint64_t> allocate_table() {
        uint64_t frame = TRY(pmm::allocate(0));
        __builtin_memset(phys_to_virt(frame), 0, kPageSize);
        return frame;
    }
    uint64_t* table(uint64_t phys) { return phys_to_virt<uint64_t>(phys); }
};

constinit KernelTableEnv env{};
constinit uint64_t kernel_root = 0;
// Serializes changes to the kernel tables (TLB shootdowns happen after it is released: a CPU
// waiting for other CPUs' acknowledgements must not hold a lock they may spin on).
constinit IrqSpinLock tables_lock{};
constinit uint64_t mmio_next = kMmioRegion;
constinit uint64_t direct_map_end_aligned = 0;

uint64_t virt_to_image_phys(const uint8_t* p) {
    return uint64_t(p) - KERNEL_VMA;
}

exo::Result<void> map_image_range(PageTable<KernelTableEnv>& pt, uint64_t start, uint64_t end,
                                  uint32_t access) {
    for (uint64_t v = align_down(start, kPageSize); v < align_up(end, kPageSize); v += kPageSize)
        TRY(pt.map(v, v - KERNEL_VMA, kPageSize, access | kAccessGlobal));
    return {};
}

constexpr uint64_t kEferNxe = 1 << 11;
constexpr uint64_t kCr4Smep = 1 << 20, kCr4Smap = 1 << 21;
constexpr uint64_t kCr0WriteProtect = 1 << 16;

} // namespace

exo::Result<void> init(uint64_t direct_map_end) {
    auto pt = TRY(PageTable<KernelTableEnv>::create(env));
    // The boot section holds the GDT the CPU still uses; it stays readable in the kernel window.
    TRY(map_image_range(pt, KERNEL_VMA + KERNEL_LOAD_PHYS, uint64_t(__text_start), kAccessRead));
    TRY(map_image_range(pt, uint64_t(__text_start), uint64_t(__text_end), kAccessExecute));
    TRY(map_image_range(pt, uint64_t(__rodata_start), uint64_t(__rodata_end), kAccessRead));
    TRY(map_image_range(pt, uint64_t(__data_start), uint64_t(__data_end), kAccessWrite));
    TRY(map_image_range(pt, uint64_t(__ksyms_start), uint64_t(__kernel_end), kAccessRead));

    uint64_t end = align_up(direct_map_end, kLargePageSize);
    direct_map_end_aligned = end;
    for (uint64_t p = 0; p < end; p += kLargePageSize)
        TRY(pt.map(DIRECT_MAP_BASE + p, p, kLargePageSize, kAccessWrite | kAccessGlobal));

    // Every top-level entry of the kernel half exists from now on, so user address spaces can
    // copy them once (object/address_space.cpp) and still see every later kernel mapping.
    uint64_t* top = phys_to_virt<uint64_t>(pt.root());
    for (unsigned i = 256; i < 512; ++i) {
        if (!(top[i] & pte::kPresent))
            top[i] = TRY(env.allocate_table()) | pte::kPresent | pte::kWrite;
    }

    kernel_root = pt.root();
    asm volatile("mov %0, %%cr3" ::"r"(kernel_root) : "memory");
    log::info("vm: kernel tables at 0x%lx: text R-X %lu KiB, rodata R-- %lu KiB, data RW- %lu "
              "KiB, direct map of %lu MiB RW- NX",
              pt.root(), (virt_to_image_phys(__text_end) - virt_to_image_phys(__text_start)) >> 10,
              uint64_t(__rodata_end - __rodata_start) >> 10,
              uint64_t(__data_end - __data_start) >> 10, end >> 20);
    return {};
}

exo::Result<void> map_kernel_page(uint64_t virt, uint64_t phys, uint32_t access) {
    {
        LockGuard guard(tables_lock);
        PageTable<KernelTableEnv> pt(env, kernel_root);
        TRY(pt.map(virt, phys, kPageSize, access | kAccessGlobal));
    }
    // The entry was not present, and x86 caches no not-present entries: no other CPU can hold
    // a stale translation, so a local flush is enough.
    flush_local(virt);
    return {};
}

exo::Result<uint64_t> unmap_kernel_page(uint64_t virt) {
    uint64_t phys;
    TRY(unmap_kernel_pages(virt, 1, &phys));
    return phys;
}

namespace {

// Unmaps [virt, virt + count pages) with one shootdown; with `release_tables`, the page tables
// that the range leaves empty are detached under the lock too, and freed after the shootdown.
exo::Result<void> unmap_range(uint64_t virt, uint64_t count, uint64_t* frames,
                              bool release_tables) {
    exo::Status status = exo::Status::Ok;
    uint64_t done = 0;
    uint64_t tables[8];
    size_t detached = 0;
    {
        LockGuard guard(tables_lock);
        PageTable<KernelTableEnv> pt(env, kernel_root);
        for (; done < count; ++done) {
            auto phys = pt.unmap(virt + done * kPageSize, kPageSize);
            if (!phys.ok()) {
                status = phys.status();
                break;
            }
            frames[done] = phys.value();
        }
        // Each 2 MiB the range touched: its PT, and the PD above it (the PDPTs stay: every
        // address space's top-level entries point to them). Room for a range within 3 PTs.
        if (release_tables && done > 0) {
            uint64_t last = virt + (done - 1) * kPageSize;
            for (uint64_t at = align_down(virt, kLargePageSize); at <= last && detached <= 6;
                 at += kLargePageSize)
                detached += pt.detach_empty(at, 3, tables + detached);
        }
    }
    if (done > 0)
        smp::shootdown(virt, done);
    for (size_t i = 0; i < detached; ++i) {
        auto freed = pmm::free(tables[i], 0);
        EXO_ASSERT(freed.ok(), "a kernel page table was not a buddy frame");
    }
    return status;
}

} // namespace

exo::Result<void> unmap_kernel_pages(uint64_t virt, uint64_t count, uint64_t* frames) {
    return unmap_range(virt, count, frames, false);
}

exo::Result<void> release_kernel_pages(uint64_t virt, uint64_t count, uint64_t* frames) {
    return unmap_range(virt, count, frames, true);
}

void flush_local(uint64_t virt) {
    asm volatile("invlpg (%0)" ::"r"(virt) : "memory");
}

void invalidate_page(uint64_t virt) {
    smp::shootdown(virt, 1);
}

exo::Result<uint64_t> map_mmio(uint64_t phys, uint64_t size) {
    uint64_t first = align_down(phys, kPageSize);
    uint64_t pages = (align_up(phys + size, kPageSize) - first) / kPageSize;
    if (size == 0 || phys + size < phys || pages > kMmioRegionSize / kPageSize)
        return exo::Status::InvalidArgument;
    uint64_t virt;
    {
        LockGuard guard(tables_lock);
        if (mmio_next + pages * kPageSize > kMmioRegion + kMmioRegionSize)
            return exo::Status::NoMemory;
        virt = mmio_next;
        mmio_next += pages * kPageSize;
    }
    for (uint64_t i = 0; i < pages; ++i)
        TRY(map_kernel_page(virt + i * kPageSize, first + i * kPageSize,
                            kAccessWrite | kAccessUncached));
    return virt + (phys - first);
}

uint64_t direct_map_limit() {
    return direct_map_end_aligned;
}

uint64_t kernel_tables() {
    return kernel_root;
}

void enable_protection_features(bool report) {
    if (!(cpu::read_msr(cpu::msr::kEfer) & kEferNxe))
        EXO_PANIC("the CPU has no NX bit: W^X cannot be enforced");
    // Write protection binds ring 0 too: a copy-out to a read-only user page must fault. The
    // boot CPU set it in boot/entry.S; the others start without it (their trampoline page is
    // written to on the way to long mode).
    cpu::write_cr0(cpu::read_cr0() | kCr0WriteProtect);
    auto leaf7 = cpu::cpuid(7, 0);
    uint64_t cr4 = cpu::read_cr4();
    bool smep = leaf7.ebx & (1u << 7), smap = leaf7.ebx & (1u << 20);
    if (smep)
        cr4 |= kCr4Smep;
    if (smap)
        cr4 |= kCr4Smap;
    cpu::write_cr4(cr4);
    if (report)
        log::info("vm: NX on, SMEP %s, SMAP %s", smep ? "on" : "absent", smap ? "on" : "absent");
}

} // namespace mk::vm
