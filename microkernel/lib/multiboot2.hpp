// Multiboot2 boot-information parser (Multiboot2 spec 2.0, section 3.6): validates the loader's
// untrusted block and copies what the kernel needs into a BootInfo. Portable: the same source is
// built freestanding into the kernel and natively into the host tests.
#pragma once

#include <exo/result.hpp>
#include <stddef.h>
#include <stdint.h>

namespace mk::mb2 {

// The value the loader leaves in EAX (spec 3.2/3.3 machine state).
inline constexpr uint32_t kBootloaderMagic = 0x36d76289;

inline constexpr size_t kMaxMemoryRegions = 256;
inline constexpr size_t kMaxModules = 56; // as many as the root's BootInfo holds
inline constexpr size_t kMaxCmdline = 1024; // bytes including the NUL
inline constexpr size_t kMaxModuleName = 128;
inline constexpr size_t kMaxLoaderName = 64;
inline constexpr size_t kRsdpV1Length = 20; // ACPI 1.0 RSDP
inline constexpr size_t kRsdpV2Length = 36; // ACPI 2.0+ RSDP (XSDP)

// Tag types (spec 3.6.3-3.6.17); the parser skips every type it does not consume.
enum class TagType : uint32_t {
    End = 0,
    Cmdline = 1,
    LoaderName = 2,
    Module = 3,
    BasicMeminfo = 4,
    BootDevice = 5,
    MemoryMap = 6,
    Vbe = 7,
    Framebuffer = 8,
    ElfSections = 9,
    Apm = 10,
    Efi32 = 11,
    Efi64 = 12,
    Smbios = 13,
    AcpiOld = 14,
    AcpiNew = 15,
};

// Memory map entry types (spec 3.6.8); other values are kept raw in MemoryRegion::type.
enum class RegionType : uint32_t {
    Available = 1,
    Reserved = 2,
    AcpiReclaimable = 3,
    AcpiNvs = 4,
    Bad = 5,
};

struct MemoryRegion {
    uint64_t base;
    uint64_t length; // never 0; base + length never wraps
    uint32_t type;   // a RegionType value, or a raw one the spec leaves undefined
};

struct Module {
    uint32_t start;            // physical, start <= end
    uint32_t end;              // exclusive
    char name[kMaxModuleName]; // the module's command line, NUL-terminated, possibly truncated
};

struct Framebuffer {
    uint64_t address;
    uint32_t pitch;
    uint32_t width;
    uint32_t height;
    uint8_t bpp;
    uint8_t type; // 0 indexed, 1 direct RGB, 2 EGA text (spec 3.6.12)
};

// Everything the kernel needs, copied out of the loader's block so the block's memory can be
// reused once parse() returns. Large (~12 KiB): the kernel keeps one in static storage.
struct BootInfo {
    char cmdline[kMaxCmdline];
    bool has_cmdline;
    char loader_name[kMaxLoaderName]; // empty when the loader gave none; possibly truncated

    MemoryRegion memory[kMaxMemoryRegions]; // in loader order, zero-length entries skipped
    size_t memory_count;
    size_t memory_dropped; // regions beyond capacity: counted, not silently lost

    Module modules[kMaxModules];
    size_t module_count;
    size_t modules_dropped;

    uint8_t rsdp[kRsdpV2Length]; // tag 15 (ACPI 2.0+) preferred over tag 14 (ACPI 1.0)
    size_t rsdp_length;          // 20 or 36 when has_rsdp
    uint8_t rsdp_revision;       // the RSDP's own revision byte (offset 15)
    bool has_rsdp;

    Framebuffer framebuffer;
    bool has_framebuffer;

    uint64_t info_size; // total_size of the block

    // Total bytes of Available memory (saturates at UINT64_MAX).
    uint64_t usable_bytes() const;
    // Highest exclusive end address of Available memory; 0 when there is none.
    uint64_t highest_usable_end() const;
};

// Parses the boot-information block at `info`, of which at most `available` bytes may be read;
// never reads past min(available, total_size). On success fills `out`; on failure `out` is left
// zeroed (no stale or partial data) and the Status says why:
//   InvalidArgument  info is null
//   Misaligned       info is not 8-byte aligned (spec 3.6.2)
//   Truncated        available < 8, total_size > available, or a known tag whose payload is too
//                    short for its fixed fields (module/memory map < 8, RSDP < 20/36, fb < 22)
//   Malformed        any other inconsistency: total_size < 16 or not a multiple of 8, a tag
//                    header or size past total_size, tag size < 8, no end tag, an unterminated
//                    string, module start > end, bad memory-map geometry or a wrapping region,
//                    a second cmdline/loader-name/memory-map/framebuffer/RSDP tag of one type
//   BufferTooSmall   the command line does not fit kMaxCmdline (never silently truncated)
exo::Result<void> parse(const uint8_t* info, size_t available, BootInfo& out);

// "Available", "Reserved", ... or "Unknown" for a raw type.
const char* region_type_name(uint32_t type);

} // namespace mk::mb2
