// ELF64 executable parser (see exo/elf.hpp). Portable libexo core: freestanding, no allocation.
// The image is untrusted: each header is copied out of it only after its bounds are checked, and
// every sum of two file or address values is checked against wrap-around before it is formed.
#include <exo/elf.hpp>

namespace exo::elf {
namespace {

// gABI "ELF Header": e_ident, then the fixed fields. Copied, never cast: the input may be
// unaligned.
struct FileHeader {
    uint8_t ident[16];
    uint16_t type;
    uint16_t machine;
    uint32_t version;
    uint64_t entry;
    uint64_t phoff;
    uint64_t shoff;
    uint32_t flags;
    uint16_t ehsize;
    uint16_t phentsize;
    uint16_t phnum;
    uint16_t shentsize;
    uint16_t shnum;
    uint16_t shstrndx;
};
static_assert(sizeof(FileHeader) == 64, "Elf64_Ehdr is 64 bytes");

// gABI "Program Header".
struct ProgramHeader {
    uint32_t type;
    uint32_t flags;
    uint64_t offset;
    uint64_t vaddr;
    uint64_t paddr;
    uint64_t filesz;
    uint64_t memsz;
    uint64_t align;
};
static_assert(sizeof(ProgramHeader) == 56, "Elf64_Phdr is 56 bytes");

// e_ident indices and values.
constexpr size_t kIdentClass = 4;
constexpr size_t kIdentData = 5;
constexpr size_t kIdentVersion = 6;
constexpr uint8_t kClass32 = 1;
constexpr uint8_t kClass64 = 2;
constexpr uint8_t kData2Lsb = 1;
constexpr uint8_t kData2Msb = 2;
constexpr uint32_t kCurrentVersion = 1;

// e_type and e_machine (psABI: EM_X86_64).
constexpr uint16_t kTypeRel = 1;
constexpr uint16_t kTypeExec = 2;
constexpr uint16_t kTypeDyn = 3;
constexpr uint16_t kTypeCore = 4;
constexpr uint16_t kMachineX86_64 = 62;

// p_type values the parser acts on.
constexpr uint32_t kLoad = 1;
constexpr uint32_t kDynamic = 2;
constexpr uint32_t kInterp = 3;

constexpr uint32_t kPermissionFlags = kRead | kWrite | kExec;

// The Status of an e_ident or e_type value: another flavour of ELF is Unsupported, a value no
// ELF file may hold is Malformed.
Result<void> check_ident(const FileHeader& h) {
    if (h.ident[0] != 0x7f || h.ident[1] != 'E' || h.ident[2] != 'L' || h.ident[3] != 'F')
        return Status::Malformed;
    if (h.ident[kIdentClass] != kClass64)
        return h.ident[kIdentClass] == kClass32 ? Status::Unsupported : Status::Malformed;
    if (h.ident[kIdentData] != kData2Lsb)
        return h.ident[kIdentData] == kData2Msb ? Status::Unsupported : Status::Malformed;
    if (h.ident[kIdentVersion] != kCurrentVersion)
        return Status::Malformed;
    return {};
}

Result<FileHeader> read_header(const uint8_t* data, size_t size) {
    if (size < sizeof(FileHeader))
        return Status::Truncated;
    FileHeader h;
    __builtin_memcpy(&h, data, sizeof h);
    TRY(check_ident(h));
    if (h.type != kTypeExec) {
        bool other_kind = h.type == kTypeRel || h.type == kTypeDyn || h.type == kTypeCore;
        return other_kind ? Status::Unsupported : Status::Malformed;
    }
    if (h.machine != kMachineX86_64)
        return Status::Unsupported;
    if (h.version != kCurrentVersion || h.ehsize < sizeof(FileHeader) ||
        h.phentsize != sizeof(ProgramHeader) || h.phnum == 0)
        return Status::Malformed;
    if (h.phnum > kMaxProgramHeaders)
        return Status::OutOfRange;
    // phnum <= 256, so the table's length cannot overflow; its offset is checked before it is
    // added to anything.
    uint64_t table_length = uint64_t{h.phnum} * sizeof(ProgramHeader);
    if (h.phoff > size || table_length > size - h.phoff)
        return Status::Truncated;
    return h;
}

// Checks one PT_LOAD entry. A segment with mem_size 0 means "skip it".
Result<Segment> check_load(const ProgramHeader& ph, size_t size, const Limits& limits) {
    if (ph.filesz > ph.memsz)
        return Status::Malformed;
    if (ph.memsz == 0)
        return Segment{};
    if (ph.offset > size || ph.filesz > size - ph.offset)
        return Status::Truncated;
    // [vaddr, vaddr + memsz) inside [user_base, user_top), written so that nothing wraps.
    if (ph.vaddr < limits.user_base || ph.vaddr > limits.user_top ||
        ph.memsz > limits.user_top - ph.vaddr)
        return Status::OutOfRange;
    if ((ph.align & (ph.align - 1)) != 0)
        return Status::Malformed;
    // gABI: loadable segments have p_vaddr congruent to p_offset modulo the page size.
    if (ph.align >= kPageSize && (ph.vaddr - ph.offset) % kPageSize != 0)
        return Status::Malformed;
    uint32_t flags = ph.flags & kPermissionFlags;
    if ((flags & kWrite) && (flags & kExec))
        return Status::Malformed; // W^X
    return Segment{ph.vaddr, ph.memsz, ph.offset, ph.filesz, flags};
}

bool contains_entry(const Segment& s, uint64_t entry) {
    return (s.flags & kExec) && entry >= s.vaddr && entry - s.vaddr < s.mem_size;
}

} // namespace

Result<Image> parse(const void* data, size_t size, const Limits& limits) {
    if (data == nullptr && size != 0)
        return Status::InvalidArgument;
    if (limits.user_base >= limits.user_top || limits.user_base % kPageSize != 0 ||
        limits.user_top % kPageSize != 0)
        return Status::InvalidArgument;
    auto bytes = static_cast<const uint8_t*>(data);
    FileHeader h = TRY(read_header(bytes, size));

    Image image{};
    image.entry = h.entry;
    for (size_t i = 0; i < h.phnum; ++i) {
        ProgramHeader ph;
        __builtin_memcpy(&ph, bytes + h.phoff + i * sizeof ph, sizeof ph);
        if (ph.type == kInterp || ph.type == kDynamic)
            return Status::Unsupported;
        if (ph.type != kLoad)
            continue;
        Segment s = TRY(check_load(ph, size, limits));
        if (s.mem_size == 0)
            continue;
        if (image.segment_count == kMaxSegments)
            return Status::OutOfRange;
        // Ascending and page-disjoint from the previous segment, hence from all earlier ones.
        // Segment ends are at most the page-aligned user_top, so page_ceil cannot wrap.
        if (image.segment_count > 0) {
            const Segment& prev = image.segments[image.segment_count - 1];
            if (page_floor(s.vaddr) < page_ceil(prev.vaddr + prev.mem_size))
                return Status::Malformed;
        }
        image.segments[image.segment_count++] = s;
    }
    if (image.segment_count == 0)
        return Status::Malformed;
    for (size_t i = 0; i < image.segment_count; ++i)
        if (contains_entry(image.segments[i], image.entry))
            return image;
    return Status::Malformed;
}

} // namespace exo::elf
