// ELF64 executable parser (System V gABI 4.1 and the x86-64 psABI): validates an untrusted image
// and describes its loadable segments. Portable libexo core: the kernel loads init with it and
// init loads the servers; it reads only the input bytes and allocates nothing.
#pragma once

#include <exo/layout.hpp>
#include <exo/result.hpp>
#include <stddef.h>
#include <stdint.h>

namespace exo::elf {

// exo::kPageSize (exo/layout.hpp) is the granularity of the alignment and overlap rules.

// Loadable segments an Image can describe (PT_LOAD entries with p_memsz > 0).
inline constexpr size_t kMaxSegments = 16;
// Program headers an image may have at all, whatever their type (PN_XNUM = 0xffff is above it).
inline constexpr size_t kMaxProgramHeaders = 256;

// Segment permissions: the ELF PF_* values.
enum SegmentFlags : uint32_t { kExec = 1, kWrite = 2, kRead = 4 };

struct Segment {
    uint64_t vaddr;       // first byte of the segment in the new address space
    uint64_t mem_size;    // never 0
    uint64_t file_offset; // the first file_size bytes come from the input at file_offset...
    uint64_t file_size;   // ...the rest up to mem_size are zero (.bss); file_size <= mem_size
    uint32_t flags;       // kRead | kWrite | kExec bits only, never both kWrite and kExec
};

// The virtual range [user_base, user_top) the segments must lie in. Both page-aligned,
// user_base < user_top (exo/layout.hpp's kUserBase and kUserTop for a process).
struct Limits {
    uint64_t user_base;
    uint64_t user_top;
};

// What a successful parse() guarantees, so a loader can map and copy without checking again:
// - 1 <= segment_count <= kMaxSegments; entries past segment_count are zero;
// - for every segment, [file_offset, file_offset + file_size) lies inside the input;
// - [page_floor(vaddr), page_ceil(vaddr + mem_size)) lies inside [user_base, user_top);
// - segments are sorted by vaddr and no two of them touch the same page, so every page has
//   exactly one segment's permissions;
// - no segment is both writable and executable;
// - entry lies inside [vaddr, vaddr + mem_size) of an executable segment.
struct Image {
    uint64_t entry;
    size_t segment_count;
    Segment segments[kMaxSegments];
};

// Validates the ELF image in [data, data + size) and describes it; never reads outside it.
// `data` needs no alignment. The first failed rule decides the Status:
// - InvalidArgument: null data with a non-zero size; limits unaligned or empty.
// - Truncated: the file is shorter than its ELF header, its program header table or the file
//   range of a PT_LOAD segment (whose offset must not exceed the file size, even when
//   p_filesz is 0).
// - Unsupported: a valid ELF file of another kind: ELFCLASS32, big-endian, a machine other
//   than x86-64, a type other than ET_EXEC (ET_REL, ET_DYN, ET_CORE), or a dynamically linked
//   executable (a PT_INTERP or PT_DYNAMIC entry). Only static executables are loaded.
// - OutOfRange: more than kMaxProgramHeaders program headers (PN_XNUM included) or more than
//   kMaxSegments loadable segments; a segment that wraps or leaves [user_base, user_top).
// - Malformed: anything else inconsistent: magic, unknown class, encoding, type or versions;
//   e_ehsize < 64; e_phentsize != 56; no program header or no loadable segment;
//   p_filesz > p_memsz; p_align not a power of two (0 and 1 mean unaligned); p_vaddr and
//   p_offset not congruent modulo kPageSize when p_align >= kPageSize; a writable and
//   executable segment; PT_LOAD entries not in ascending vaddr order or sharing a page; an
//   entry point outside every executable segment.
// Program headers are checked in table order; types other than PT_LOAD, PT_INTERP and
// PT_DYNAMIC are ignored, and so are section headers. PT_LOAD entries with p_memsz == 0 are
// skipped once p_filesz <= p_memsz holds.
Result<Image> parse(const void* data, size_t size, const Limits& limits);

// Page rounding for a loader. page_ceil wraps to 0 above the last page: use it on validated
// Image ranges, which end at or below a page-aligned user_top.
constexpr uint64_t page_floor(uint64_t address) {
    return address & ~(kPageSize - 1);
}
constexpr uint64_t page_ceil(uint64_t address) {
    return (address + kPageSize - 1) & ~(kPageSize - 1);
}

} // namespace exo::elf
