// User address spaces (Intel SDM vol. 3A 4.5): 4-level tables whose entries 256-511 are copied
// from the kernel's top-level table; vm::init allocates all of those at boot, so a kernel
// mapping made later is visible in every space without touching them.
#include "object/address_space.hpp"

#include "arch/x86_64/percpu.hpp"
#include "arch/x86_64/smp.hpp"
#include "core/panic.hpp"
#include "lib/page_table.hpp"
#include "mm/kernel_heap.hpp"
#include "mm/kernel_space.hpp"
#include "mm/physical.hpp"
#include "object/memory.hpp"

#include <exo/layout.hpp>

namespace mk {
namespace {

struct UserTableEnv {
    Memory* quota;
    exo::Result<uint64_t> allocate_table() {
        TRY(quota->charge(kPageSize));
        auto frame = pmm::allocate(0);
        if (!frame.ok()) {
            quota->uncharge(kPageSize);
            return frame.status();
        }
        __builtin_memset(vm::phys_to_virt(frame.value()), 0, kPageSize);
        return frame.value();
    }
    uint64_t* table(uint64_t phys) { return vm::phys_to_virt<uint64_t>(phys); }
};

void free_table(Memory* quota, uint64_t phys) {
    EXO_ASSERT(pmm::free(phys, 0).ok(), "a page table frame was not allocated");
    quota->uncharge(kPageSize);
}

// Frees the tables below `table` at `level` (4: the lower half of the root only).
void free_tables(Memory* quota, uint64_t table, int level) {
    uint64_t* entries = vm::phys_to_virt<uint64_t>(table);
    unsigned count = level == 4 ? 256 : 512;
    for (unsigned i = 0; i < count; ++i) {
        uint64_t e = entries[i];
        if (!(e & pte::kPresent) || (e & pte::kHuge) || level == 1)
            continue;
        uint64_t child = e & pte::kAddressMask;
        if (level > 2)
            free_tables(quota, child, level - 1);
        free_table(quota, child);
    }
}

constexpr uint32_t kRegionCharge = 64;

} // namespace

exo::Result<Ref<AddressSpace>> AddressSpace::create(Memory& quota) {
    UserTableEnv env{&quota};
    uint64_t root = TRY(env.allocate_table());
    const uint64_t* kernel = vm::phys_to_virt<uint64_t>(vm::kernel_tables());
    uint64_t* entries = vm::phys_to_virt<uint64_t>(root);
    for (unsigned i = 256; i < 512; ++i)
        entries[i] = kernel[i];
    auto space = allocate_object<AddressSpace>(&quota, root);
    if (!space.ok()) {
        free_table(&quota, root);
        return space.status();
    }
    return Ref<AddressSpace>(space.value());
}

AddressSpace::Region* AddressSpace::find_locked(uint64_t vaddr, Region*** link) {
    for (Region** p = &regions_; *p; p = &(*p)->next) {
        if ((*p)->vaddr == vaddr) {
            if (link)
                *link = p;
            return *p;
        }
    }
    return nullptr;
}

void AddressSpace::remove_pages_locked(uint64_t vaddr, uint64_t pages) {
    UserTableEnv env{quota()};
    PageTable<UserTableEnv> pt(env, root_);
    for (uint64_t i = 0; i < pages; ++i)
        (void)pt.unmap(vaddr + i * kPageSize, kPageSize);
}

exo::Result<void> AddressSpace::map(KernelObject& backing, uint64_t physical, uint64_t pages,
                                    uint64_t vaddr, uint32_t access, uint32_t max_access) {
    if (vaddr % kPageSize != 0)
        return exo::Status::Misaligned;
    if (pages == 0 || pages > (exo::kUserTop - exo::kUserBase) / kPageSize ||
        !(vaddr >= exo::kUserBase && vaddr <= exo::kUserTop &&
          pages * kPageSize <= exo::kUserTop - vaddr))
        return exo::Status::OutOfRange;
    access |= kAccessUser;
    TRY(quota()->charge(kRegionCharge));
    auto memory = heap::allocate(sizeof(Region));
    if (!memory.ok()) {
        quota()->uncharge(kRegionCharge);
        return memory.status();
    }
    auto* region = static_cast<Region*>(memory.value());
    *region = Region{vaddr, pages, physical, &backing, access, max_access | kAccessUser, nullptr};

    exo::Status status = exo::Status::Ok;
    uint64_t done = 0;
    {
        LockGuard guard(lock_);
        uint64_t end = vaddr + pages * kPageSize;
        for (Region* r = regions_; r; r = r->next) {
            if (vaddr < r->vaddr + r->pages * kPageSize && r->vaddr < end) {
                status = exo::Status::AlreadyExists;
                break;
            }
        }
        if (status == exo::Status::Ok) {
            UserTableEnv env{quota()};
            PageTable<UserTableEnv> pt(env, root_);
            for (; done < pages; ++done) {
                auto r = pt.map(vaddr + done * kPageSize, physical + done * kPageSize, kPageSize,
                                access);
                if (!r.ok()) {
                    status = r.status();
                    break;
                }
            }
            if (status == exo::Status::Ok) {
                backing.retain();
                region->next = regions_;
                regions_ = region;
                ++mapping_count_;
                return {};
            }
            remove_pages_locked(vaddr, done);
        }
    }
    // Another thread of the process may have touched the pages mapped before the failure.
    if (done > 0)
        smp::shootdown(vaddr, done);
    heap::free(region, sizeof(Region)).release_value();
    quota()->uncharge(kRegionCharge);
    return status;
}

exo::Result<void> AddressSpace::unmap(uint64_t vaddr) {
    Region* region;
    {
        LockGuard guard(lock_);
        Region** link;
        region = find_locked(vaddr, &link);
        if (region == nullptr)
            return exo::Status::NotFound;
        *link = region->next;
        --mapping_count_;
        remove_pages_locked(region->vaddr, region->pages);
    }
    smp::shootdown(region->vaddr, region->pages);
    region->backing->release();
    heap::free(region, sizeof(Region)).release_value();
    quota()->uncharge(kRegionCharge);
    return {};
}

exo::Result<void> AddressSpace::protect(uint64_t vaddr, uint32_t access) {
    access |= kAccessUser;
    uint64_t pages;
    {
        LockGuard guard(lock_);
        Region* region = find_locked(vaddr, nullptr);
        if (region == nullptr)
            return exo::Status::NotFound;
        access |= region->access & kAccessUncached;
        if ((access & ~region->max_access) != 0)
            return exo::Status::AccessDenied;
        // Same frames, new leaf entries: unmapping never frees tables, so remapping never
        // allocates and cannot fail.
        UserTableEnv env{quota()};
        PageTable<UserTableEnv> pt(env, root_);
        for (uint64_t i = 0; i < region->pages; ++i) {
            uint64_t v = vaddr + i * kPageSize;
            (void)pt.unmap(v, kPageSize);
            EXO_ASSERT(pt.map(v, region->physical + i * kPageSize, kPageSize, access).ok(),
                       "remapping an existing user page failed");
        }
        region->access = access;
        pages = region->pages;
    }
    smp::shootdown(vaddr, pages);
    return {};
}

void AddressSpace::destroy_contents() {
    // No CPU has these tables loaded: a CPU's CR3 is always its current thread's space, and no
    // thread is left that uses this one.
    while (Region* region = regions_) {
        regions_ = region->next;
        region->backing->release();
        heap::free(region, sizeof(Region)).release_value();
        quota()->uncharge(kRegionCharge);
    }
    free_tables(quota(), root_, 4);
    free_table(quota(), root_);
}

} // namespace mk
