// AddressSpace: the lower half of a set of page tables (the upper half is the kernel's, shared by
// every space) and the list of its mappings. Each mapping holds a reference to the Frame or
// DeviceMemory it maps; table frames and mapping records are charged to the space's quota.
#pragma once

#include "arch/x86_64/spinlock.hpp"
#include "object/kernel_object.hpp"

namespace mk {

class AddressSpace final : public KernelObject {
public:
    static constexpr exo::ObjectType kType = exo::ObjectType::AddressSpace;

    static exo::Result<Ref<AddressSpace>> create(Memory& quota);

    // Maps `pages` pages of `backing`, from physical `physical`, at `vaddr` with `access`
    // (lib/page_table.hpp Access bits; kAccessUser is added). `max_access` bounds later
    // protect() calls (what the capability allowed). Misaligned, OutOfRange (not inside user
    // space), AlreadyExists (overlaps a mapping), NoMemory (quota or tables).
    exo::Result<void> map(KernelObject& backing, uint64_t physical, uint64_t pages, uint64_t vaddr,
                          uint32_t access, uint32_t max_access);
    // Removes the mapping that starts at `vaddr` (NotFound otherwise); TLBs are flushed before
    // the backing's reference goes.
    exo::Result<void> unmap(uint64_t vaddr);
    // New access for the mapping at `vaddr`; AccessDenied beyond its max_access.
    exo::Result<void> protect(uint64_t vaddr, uint32_t access);

    uint64_t root() const { return root_; }
    uint64_t mapping_count() const { return mapping_count_; }

    explicit AddressSpace(uint64_t root) : KernelObject(kType), root_(root) {}

private:
    struct Region {
        uint64_t vaddr;
        uint64_t pages;
        uint64_t physical;
        KernelObject* backing; // holds a reference
        uint32_t access;
        uint32_t max_access;
        Region* next;
    };

    void destroy_contents() override;
    Region* find_locked(uint64_t vaddr, Region*** link);
    void remove_pages_locked(uint64_t vaddr, uint64_t pages);

    IrqSpinLock lock_;
    uint64_t root_;
    Region* regions_ = nullptr;
    uint64_t mapping_count_ = 0;
};

} // namespace mk
