// x86-64 4-level page tables (Intel SDM vol. 3A 4.5), portable: the environment that supplies
// and addresses table frames is a template parameter, so host tests run the same code on a fake
// physical memory. Every mapping obeys W^X: no page is ever both writable and executable.
#pragma once

#include <exo/result.hpp>

#include <stddef.h>
#include <stdint.h>

namespace mk {

namespace pte {
inline constexpr uint64_t kPresent = 1ull << 0;
inline constexpr uint64_t kWrite = 1ull << 1;
inline constexpr uint64_t kUser = 1ull << 2;
inline constexpr uint64_t kWriteThrough = 1ull << 3;
inline constexpr uint64_t kCacheDisable = 1ull << 4;
inline constexpr uint64_t kHuge = 1ull << 7; // 2 MiB page in a PD entry
inline constexpr uint64_t kGlobal = 1ull << 8;
inline constexpr uint64_t kNoExecute = 1ull << 63;
inline constexpr uint64_t kAddressMask = 0x000FFFFFFFFFF000ull;
} // namespace pte

inline constexpr uint64_t kPageSize = 4096;
inline constexpr uint64_t kLargePageSize = 2ull << 20;
inline constexpr uint64_t kMaxPhysicalAddress = 1ull << 52;

// Access rights of a mapping. Read is implied by presence.
enum Access : uint32_t {
    kAccessRead = 0,
    kAccessWrite = 1u << 0,
    kAccessExecute = 1u << 1,
    kAccessUser = 1u << 2,
    kAccessGlobal = 1u << 3,
    kAccessUncached = 1u << 4, // device memory (PCD|PWT: strong uncacheable with the default PAT)
};

struct Mapping {
    uint64_t physical; // of the byte at the queried address
    uint64_t page_size;
    uint32_t access;
};

inline bool is_canonical(uint64_t virt) {
    uint64_t top = virt >> 47;
    return top == 0 || top == 0x1FFFF;
}

// Env must provide:
//   exo::Result<uint64_t> allocate_table();  a zeroed 4 KiB frame, by physical address
//   uint64_t* table(uint64_t physical);      that frame, addressable by this code
template <typename Env>
class PageTable {
public:
    static exo::Result<PageTable> create(Env& env) {
        uint64_t root = TRY(env.allocate_table());
        return PageTable(env, root);
    }
    // Adopts an existing root (e.g. to extend tables built elsewhere).
    PageTable(Env& env, uint64_t root) : env_(&env), root_(root) {}

    uint64_t root() const { return root_; }

    // Maps one page of `page_size` (4 KiB or 2 MiB) at `virt` to `phys`.
    exo::Result<void> map(uint64_t virt, uint64_t phys, uint64_t page_size, uint32_t access) {
        TRY(validate(virt, phys, page_size, access));
        int leaf_level = page_size == kPageSize ? 1 : 2;
        uint64_t* entry = TRY(walk(virt, leaf_level, access & kAccessUser, true));
        if (*entry & pte::kPresent)
            return exo::Status::AlreadyExists;
        *entry = phys | leaf_flags(access) | (leaf_level == 2 ? pte::kHuge : 0);
        return {};
    }

    // Removes the page that starts at `virt` and has `page_size`; returns its physical address.
    // The caller invalidates the TLB. Tables left empty stay until detach_empty().
    exo::Result<uint64_t> unmap(uint64_t virt, uint64_t page_size) {
        if (!is_canonical(virt) || (page_size != kPageSize && page_size != kLargePageSize) ||
            virt % page_size != 0)
            return exo::Status::InvalidArgument;
        auto found = walk(virt, page_size == kPageSize ? 1 : 2, false, false);
        if (!found.ok())
            return exo::Status::NotFound; // no table, or a large page where a small one was named
        uint64_t* entry = found.value();
        bool huge = (*entry & pte::kHuge) != 0;
        if (!(*entry & pte::kPresent) || huge != (page_size == kLargePageSize))
            return exo::Status::NotFound;
        uint64_t phys = *entry & pte::kAddressMask;
        *entry = 0;
        return phys;
    }

    // Detaches the tables on the way to `virt` that map nothing any more, from the leaf table
    // up to, not including, the table at `keep_level` (3 keeps the tables that top-level
    // entries point to, which user address spaces share). Writes their physical addresses to
    // `freed` (room for keep_level - 1) and returns how many. The caller frees them only once no
    // TLB can hold them: INVLPG also flushes the paging-structure caches (SDM 4.10.4.1).
    size_t detach_empty(uint64_t virt, int keep_level, uint64_t* freed) {
        if (!is_canonical(virt) || keep_level < 2 || keep_level > 4)
            return 0;
        uint64_t path[5] = {}; // path[level]: the table at that level
        path[4] = root_;
        int lowest = 4;
        while (lowest > 1) {
            uint64_t entry = env_->table(path[lowest])[index(virt, lowest)];
            if (!(entry & pte::kPresent) || (entry & pte::kHuge))
                break;
            path[lowest - 1] = entry & pte::kAddressMask;
            --lowest;
        }
        size_t n = 0;
        for (int level = lowest; level < keep_level; ++level) {
            const uint64_t* table = env_->table(path[level]);
            for (unsigned i = 0; i < 512; ++i)
                if (table[i] != 0)
                    return n;
            env_->table(path[level + 1])[index(virt, level + 1)] = 0;
            freed[n++] = path[level];
        }
        return n;
    }

    exo::Result<Mapping> query(uint64_t virt) const {
        if (!is_canonical(virt))
            return exo::Status::InvalidArgument;
        uint64_t table = root_;
        for (int level = 4; level >= 1; --level) {
            uint64_t entry = env_->table(table)[index(virt, level)];
            if (!(entry & pte::kPresent))
                return exo::Status::NotFound;
            bool leaf = level == 1 || (level == 2 && (entry & pte::kHuge));
            if (leaf) {
                uint64_t size = level == 1 ? kPageSize : kLargePageSize;
                uint64_t base = entry & pte::kAddressMask & ~(size - 1);
                return Mapping{base + (virt & (size - 1)), size, access_of(entry)};
            }
            if (level == 3 && (entry & pte::kHuge))
                return exo::Status::Unsupported; // 1 GiB pages are never created here
            table = entry & pte::kAddressMask;
        }
        return exo::Status::NotFound;
    }

private:
    static unsigned index(uint64_t virt, int level) {
        return unsigned(virt >> (12 + 9 * (level - 1))) & 511;
    }

    static exo::Result<void> validate(uint64_t virt, uint64_t phys, uint64_t size,
                                      uint32_t access) {
        if (size != kPageSize && size != kLargePageSize)
            return exo::Status::InvalidArgument;
        if ((access & kAccessWrite) && (access & kAccessExecute))
            return exo::Status::AccessDenied; // W^X
        if (!is_canonical(virt) || phys >= kMaxPhysicalAddress)
            return exo::Status::OutOfRange;
        if (virt % size != 0 || phys % size != 0)
            return exo::Status::Misaligned;
        return {};
    }

    static uint64_t leaf_flags(uint32_t access) {
        uint64_t flags = pte::kPresent;
        if (access & kAccessWrite)
            flags |= pte::kWrite;
        if (!(access & kAccessExecute))
            flags |= pte::kNoExecute;
        if (access & kAccessUser)
            flags |= pte::kUser;
        if (access & kAccessGlobal)
            flags |= pte::kGlobal;
        if (access & kAccessUncached)
            flags |= pte::kCacheDisable | pte::kWriteThrough;
        return flags;
    }

    static uint32_t access_of(uint64_t entry) {
        uint32_t access = kAccessRead;
        if (entry & pte::kWrite)
            access |= kAccessWrite;
        if (!(entry & pte::kNoExecute))
            access |= kAccessExecute;
        if (entry & pte::kUser)
            access |= kAccessUser;
        if (entry & pte::kGlobal)
            access |= kAccessGlobal;
        if (entry & pte::kCacheDisable)
            access |= kAccessUncached;
        return access;
    }

    // Returns the entry for `virt` at `leaf_level` (1 = PT, 2 = PD), creating intermediate tables
    // when `create`. Intermediate entries are permissive (present, writable, user when asked):
    // the rights of a mapping live in its leaf entry alone.
    exo::Result<uint64_t*> walk(uint64_t virt, int leaf_level, bool user, bool create) {
        uint64_t table = root_;
        for (int level = 4; level > leaf_level; --level) {
            uint64_t* entry = &env_->table(table)[index(virt, level)];
            if (!(*entry & pte::kPresent)) {
                if (!create)
                    return exo::Status::NotFound;
                uint64_t next = TRY(env_->allocate_table());
                *entry = next | pte::kPresent | pte::kWrite;
            } else if (*entry & pte::kHuge) {
                return exo::Status::AlreadyExists; // a large page covers this address
            }
            if (user)
                *entry |= pte::kUser;
            table = *entry & pte::kAddressMask;
        }
        return &env_->table(table)[index(virt, leaf_level)];
    }

    Env* env_;
    uint64_t root_;
};

} // namespace mk
