// Multiboot2 boot-information parser (spec 2.0, section 3.6). The block comes from the boot loader
// and is treated as untrusted: every length is checked against the bytes that remain before it is
// used, every field is read with memcpy (no misaligned casts), and nothing past total_size is read.
#include "lib/multiboot2.hpp"
#include "lib/bytes.hpp"

using exo::Result;
using exo::Status;

namespace mk::mb2 {

namespace {

// Status policy. Truncated: the block (or a known tag) ends before the fixed fields it must hold.
// Malformed: everything else that is inconsistent inside a block of valid length: a tag header
// past total_size, a tag size < 8 or past total_size, a missing or oversized end tag, a bad
// string, a bad memory-map geometry, a duplicate of a tag that may appear only once.

constexpr size_t kHeaderSize = 8;      // u32 total_size, u32 reserved (3.6.2)
constexpr size_t kTagHeaderSize = 8;   // u32 type, u32 size (3.6.2)
constexpr size_t kTagAlign = 8;        // each tag starts 8-byte aligned (3.6.2)
constexpr size_t kMmapEntryMin = 24;   // u64 base, u64 length, u32 type, u32 reserved (3.6.8)
constexpr size_t kFramebufferMin = 22; // address .. framebuffer_type (3.6.12)

struct Tag {
    uint32_t type;
    const uint8_t* payload; // the bytes after the 8-byte tag header
    size_t length;          // size - 8: payload bytes inside the tag
};

// Length of the NUL-terminated string at s, which must terminate within n bytes.
Result<size_t> bounded_strlen(const uint8_t* s, size_t n) {
    for (size_t i = 0; i < n; ++i)
        if (s[i] == 0)
            return i;
    return Status::Malformed;
}

// Copies len bytes and a NUL into dst[cap], truncating to cap - 1 bytes.
void copy_truncated(char* dst, size_t cap, const uint8_t* src, size_t len) {
    if (len > cap - 1)
        len = cap - 1;
    __builtin_memcpy(dst, src, len);
    dst[len] = '\0';
}

// 3.6.5: the command line is never truncated: a cut option could change its meaning.
Result<void> parse_cmdline(const Tag& tag, BootInfo& out) {
    size_t len = TRY(bounded_strlen(tag.payload, tag.length));
    if (len >= kMaxCmdline)
        return Status::BufferTooSmall;
    __builtin_memcpy(out.cmdline, tag.payload, len);
    out.cmdline[len] = '\0';
    out.has_cmdline = true;
    return {};
}

// 3.6.9: the loader name is informational only, so it may be truncated.
Result<void> parse_loader_name(const Tag& tag, BootInfo& out) {
    size_t len = TRY(bounded_strlen(tag.payload, tag.length));
    copy_truncated(out.loader_name, kMaxLoaderName, tag.payload, len);
    return {};
}

// 3.6.6: u32 mod_start, u32 mod_end, then the module's NUL-terminated command line.
Result<void> parse_module(const Tag& tag, BootInfo& out) {
    if (tag.length < 8)
        return Status::Truncated;
    uint32_t start = read_u32(tag.payload);
    uint32_t end = read_u32(tag.payload + 4);
    if (start > end)
        return Status::Malformed;
    size_t len = TRY(bounded_strlen(tag.payload + 8, tag.length - 8));
    if (out.module_count == kMaxModules) {
        ++out.modules_dropped;
        return {};
    }
    Module& m = out.modules[out.module_count++];
    m.start = start;
    m.end = end;
    copy_truncated(m.name, kMaxModuleName, tag.payload + 8, len);
    return {};
}

// 3.6.8: u32 entry_size, u32 entry_version, then entries of entry_size bytes. entry_size may
// grow in later versions (so only the first 24 bytes are read), but it must keep the 8-byte
// alignment of the u64 fields. entry_version is not checked: the spec says it will stay
// backward compatible.
Result<void> parse_memory_map(const Tag& tag, BootInfo& out) {
    if (tag.length < 8)
        return Status::Truncated;
    uint32_t entry_size = read_u32(tag.payload);
    if (entry_size < kMmapEntryMin || entry_size % 8 != 0)
        return Status::Malformed;
    size_t entries_bytes = tag.length - 8;
    if (entries_bytes % entry_size != 0)
        return Status::Malformed;
    const uint8_t* entry = tag.payload + 8;
    for (size_t n = entries_bytes / entry_size; n > 0; --n, entry += entry_size) {
        uint64_t base = read_u64(entry);
        uint64_t length = read_u64(entry + 8);
        uint32_t type = read_u32(entry + 16);
        // The exclusive end must be representable: base + length may not reach 2^64.
        if (length > UINT64_MAX - base)
            return Status::Malformed;
        if (length == 0)
            continue;
        if (out.memory_count == kMaxMemoryRegions) {
            ++out.memory_dropped;
            continue;
        }
        out.memory[out.memory_count++] = MemoryRegion{base, length, type};
    }
    return {};
}

// 3.6.16 / 3.6.17: a copy of the RSDP. The ACPI 2.0+ copy wins whatever the tag order.
Result<void> parse_rsdp(const Tag& tag, size_t rsdp_length, BootInfo& out) {
    if (tag.length < rsdp_length)
        return Status::Truncated;
    if (out.has_rsdp && out.rsdp_length > rsdp_length)
        return {};
    __builtin_memset(out.rsdp, 0, sizeof out.rsdp);
    __builtin_memcpy(out.rsdp, tag.payload, rsdp_length);
    out.rsdp_length = rsdp_length;
    out.rsdp_revision = out.rsdp[15];
    out.has_rsdp = true;
    return {};
}

// 3.6.12: u64 address, u32 pitch, u32 width, u32 height, u8 bpp, u8 type, then a reserved field
// and colour information that the kernel does not use.
Result<void> parse_framebuffer(const Tag& tag, BootInfo& out) {
    if (tag.length < kFramebufferMin)
        return Status::Truncated;
    Framebuffer& fb = out.framebuffer;
    fb.address = read_u64(tag.payload);
    fb.pitch = read_u32(tag.payload + 8);
    fb.width = read_u32(tag.payload + 12);
    fb.height = read_u32(tag.payload + 16);
    fb.bpp = tag.payload[20];
    fb.type = tag.payload[21];
    out.has_framebuffer = true;
    return {};
}

// Tags that describe one thing and so may appear once; a second copy is Malformed rather than
// letting one silently override the other.
bool is_singleton(uint32_t type) {
    switch (static_cast<TagType>(type)) {
    case TagType::Cmdline:
    case TagType::LoaderName:
    case TagType::MemoryMap:
    case TagType::Framebuffer:
    case TagType::AcpiOld:
    case TagType::AcpiNew:
        return true;
    default:
        return false;
    }
}

Result<void> parse_tag(const Tag& tag, BootInfo& out) {
    switch (static_cast<TagType>(tag.type)) {
    case TagType::Cmdline:
        return parse_cmdline(tag, out);
    case TagType::LoaderName:
        return parse_loader_name(tag, out);
    case TagType::Module:
        return parse_module(tag, out);
    case TagType::MemoryMap:
        return parse_memory_map(tag, out);
    case TagType::Framebuffer:
        return parse_framebuffer(tag, out);
    case TagType::AcpiOld:
        return parse_rsdp(tag, kRsdpV1Length, out);
    case TagType::AcpiNew:
        return parse_rsdp(tag, kRsdpV2Length, out);
    default:
        return {}; // 3.6.2: unknown tags must be skipped
    }
}

// 3.6.2: tags follow the 8-byte header, each 8-byte aligned; a tag's size excludes the padding
// up to the next tag. The walk stops at the end tag (type 0, size 8); bytes after it are ignored.
// total_size is a multiple of 8 and offset <= total, so no sum below can overflow or pass total.
Result<void> parse_tags(const uint8_t* info, size_t total, BootInfo& out) {
    uint32_t seen = 0; // bit t set once a singleton tag of type t was parsed
    size_t offset = kHeaderSize;
    for (;;) {
        if (total - offset < kTagHeaderSize)
            return Status::Malformed; // no end tag before total_size
        uint32_t type = read_u32(info + offset);
        uint32_t size = read_u32(info + offset + 4);
        if (size < kTagHeaderSize || size > total - offset)
            return Status::Malformed;
        if (type == static_cast<uint32_t>(TagType::End))
            return size == kTagHeaderSize ? Result<void>{} : Result<void>{Status::Malformed};
        if (is_singleton(type)) {
            if (seen & (1u << type))
                return Status::Malformed;
            seen |= 1u << type;
        }
        TRY(parse_tag(Tag{type, info + offset + kTagHeaderSize, size - kTagHeaderSize}, out));
        // offset + size <= total and total % 8 == 0, so rounding up stays <= total.
        offset = (offset + size + kTagAlign - 1) & ~(kTagAlign - 1);
    }
}

Result<void> parse_block(const uint8_t* info, size_t available, BootInfo& out) {
    if (info == nullptr)
        return Status::InvalidArgument;
    if (available < kHeaderSize)
        return Status::Truncated;
    if (reinterpret_cast<uintptr_t>(info) % kTagAlign != 0)
        return Status::Misaligned;
    uint32_t total = read_u32(info);
    if (total < kHeaderSize + kTagHeaderSize)
        return Status::Malformed; // not even room for the end tag
    if (total > available)
        return Status::Truncated;
    // The spec pads the last tag like the others; GRUB always emits a multiple of 8. Requiring
    // it keeps every aligned tag offset <= total_size.
    if (total % kTagAlign != 0)
        return Status::Malformed;
    out.info_size = total;
    return parse_tags(info, total, out);
}

} // namespace

Result<void> parse(const uint8_t* info, size_t available, BootInfo& out) {
    static_assert(__is_trivially_copyable(BootInfo), "BootInfo is reset with memset");
    __builtin_memset(&out, 0, sizeof out);
    Result<void> result = parse_block(info, available, out);
    if (!result.ok())
        __builtin_memset(&out, 0, sizeof out); // no partial data from a rejected block
    return result;
}

uint64_t BootInfo::usable_bytes() const {
    uint64_t total = 0;
    for (size_t i = 0; i < memory_count; ++i) {
        if (memory[i].type != static_cast<uint32_t>(RegionType::Available))
            continue;
        // Overlapping regions from a buggy loader could add up past 2^64: saturate.
        total = memory[i].length > UINT64_MAX - total ? UINT64_MAX : total + memory[i].length;
    }
    return total;
}

uint64_t BootInfo::highest_usable_end() const {
    uint64_t highest = 0;
    for (size_t i = 0; i < memory_count; ++i) {
        const MemoryRegion& r = memory[i];
        if (r.type == static_cast<uint32_t>(RegionType::Available) && r.base + r.length > highest)
            highest = r.base + r.length; // cannot wrap: checked by parse_memory_map
    }
    return highest;
}

const char* region_type_name(uint32_t type) {
    switch (static_cast<RegionType>(type)) {
    case RegionType::Available:
        return "Available";
    case RegionType::Reserved:
        return "Reserved";
    case RegionType::AcpiReclaimable:
        return "AcpiReclaimable";
    case RegionType::AcpiNvs:
        return "AcpiNvs";
    case RegionType::Bad:
        return "Bad";
    }
    return "Unknown";
}

} // namespace mk::mb2
