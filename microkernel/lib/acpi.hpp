// ACPI table parser (ACPI 6.5, sections 5.2.5-5.2.12): RSDP -> RSDT/XSDT -> MADT, plus the HPET
// base address when an HPET table is present. All of it is untrusted firmware input. Portable:
// the same source is built freestanding into the kernel and natively into the host tests, so it
// never touches physical memory itself: a caller-provided PhysicalReader copies bytes out.
#pragma once

#include <exo/result.hpp>
#include <stddef.h>
#include <stdint.h>

namespace mk::acpi {

inline constexpr size_t kRsdpV1Length = 20; // ACPI 1.0 RSDP: what its checksum covers
inline constexpr size_t kRsdpV2Length = 36; // ACPI 2.0+ RSDP (XSDP): the extended checksum
inline constexpr size_t kSdtHeaderLength = 36;
// A sanity bound on the RSDT, XSDT, MADT and HPET lengths (an XSDT of 8187 tables, a MADT of
// ~4000 x2APIC entries); longer tables are Unsupported rather than trusted.
inline constexpr uint32_t kMaxTableLength = 64 * 1024;
// The most bytes the parser asks a PhysicalReader for in one call.
inline constexpr size_t kMaxReadLength = 64;

inline constexpr size_t kMaxCpus = 256;
inline constexpr size_t kMaxIoApics = 16;
inline constexpr size_t kMaxOverrides = 32;
inline constexpr size_t kMaxNmis = 256; // firmware often lists one LAPIC NMI per processor

// LapicNmi::acpi_uid of an NMI that applies to every processor (type 4 uses 0xFF, type 0xA
// 0xFFFFFFFF; both are stored as this).
inline constexpr uint32_t kAllProcessors = 0xffffffff;

// Copies `len` bytes of physical memory at `phys` into `out`; returns false (and the parser
// fails or skips that table) when any byte of the range is not readable RAM/ACPI memory. The
// parser never asks for len == 0, for more than kMaxReadLength bytes, or for a range that
// reaches 2^64. It may read one range more than once and relies on firmware tables not
// changing meanwhile; every bound it enforces comes from its own single copy of the field.
struct PhysicalReader {
    bool (*read)(void* ctx, uint64_t phys, void* out, size_t len);
    void* ctx;
};

// MADT entry types (5.2.12); entries of other types are skipped.
enum class EntryType : uint8_t {
    LocalApic = 0,
    IoApic = 1,
    InterruptOverride = 2,
    NmiSource = 3, // skipped: the kernel does not route NMIs through the I/O APIC
    LocalApicNmi = 4,
    LocalApicAddressOverride = 5,
    LocalX2Apic = 9,
    LocalX2ApicNmi = 0xa,
};

// Processor Local APIC (type 0) or Local x2APIC (type 9) with Enabled or Online Capable set.
struct Cpu {
    uint32_t apic_id;    // unique among Topology::cpus
    uint32_t acpi_uid;   // the processor's _UID (type 0: its 8-bit ACPI Processor ID)
    bool enabled;        // usable now; the others are online-capable (hot-pluggable) only
    bool online_capable; // flags bit 1, raw (the spec wants it 0 when enabled)
    bool x2apic;         // described by a type 9 entry
};

// I/O APIC (type 1). Raw: the number of inputs is only known from the chip's version register,
// so overlapping GSI ranges or duplicate IDs are for the caller to detect when it maps them.
struct IoApic {
    uint8_t id;
    uint32_t address; // physical MMIO base
    uint32_t gsi_base;
};

// Interrupt Source Override (type 2): ISA IRQ `source` is wired to `gsi`.
struct InterruptOverride {
    uint8_t bus;    // 0 = ISA, the only value the spec defines
    uint8_t source; // bus-relative IRQ
    uint32_t gsi;
    uint16_t flags; // MPS INTI flags: decode with polarity() and trigger()
};

// Local APIC NMI (type 4) or Local x2APIC NMI (type 0xA): LINT`lint` of the processor(s)
// `acpi_uid` is an NMI input.
struct LapicNmi {
    uint32_t acpi_uid; // kAllProcessors for every processor
    uint16_t flags;    // MPS INTI flags
    uint8_t lint;      // 0 or 1 (entries naming another input are ignored)
    bool x2apic;       // from a type 0xA entry
};

// What the kernel needs from the MADT and HPET, copied out. Large (~6 KiB): keep one in static
// storage. All counters of ignored entries are informational: parse() still succeeds.
struct Topology {
    uint64_t lapic_base; // MADT field, or the first Local APIC Address Override (type 5)
    bool lapic_base_overridden;
    bool legacy_pic; // MADT flags bit 0 (PCAT_COMPAT): dual 8259s present, mask them

    // In MADT order: one per APIC ID, the first entry naming it wins. Neither the first nor any
    // entry is guaranteed to be the BSP: compare with the running CPU's own APIC ID.
    Cpu cpus[kMaxCpus];
    size_t cpu_count;
    size_t cpus_dropped;   // usable CPUs with a new APIC ID once cpus was full
    size_t cpus_disabled;  // entries with neither Enabled nor Online Capable set
    size_t cpus_duplicate; // entries repeating an APIC ID already in cpus (type 0 or 9)

    IoApic ioapics[kMaxIoApics];
    size_t ioapic_count;
    size_t ioapics_dropped;

    InterruptOverride overrides[kMaxOverrides];
    size_t override_count;
    size_t overrides_dropped;

    LapicNmi nmis[kMaxNmis];
    size_t nmi_count;
    size_t nmis_dropped;

    size_t entries_skipped; // MADT entries of types not consumed here (3, 6-8, 0xB and up)
    size_t entries_invalid; // known entries with unusable values: broadcast APIC ID 0xFF or
                            // 0xFFFFFFFF, LINT# > 1, a second type 5 entry

    bool has_hpet;
    uint64_t hpet_base;     // physical MMIO base of HPET block 0 (system memory space)
    uint16_t hpet_min_tick; // minimum clock ticks in periodic mode
    // After a successful parse, why has_hpet is false: NotFound when no readable HPET table is
    // listed, otherwise what was wrong with it (the same codes as parse(), Unsupported for a
    // non-memory address space). A bad HPET table does not fail parse(): the kernel can fall
    // back to another clock.
    exo::Status hpet_status;

    uint8_t rsdp_revision;
    bool used_xsdt;        // the root table was the XSDT (else the RSDT)
    char oem_id[7];        // RSDP OEM ID, NUL-terminated, non-printable bytes as '?'
    uint64_t root_address; // physical address of the RSDT/XSDT
    uint64_t madt_address;
    size_t tables_unreadable; // non-null root-table entries whose signature was unreadable
};

// Parses the RSDP copy `rsdp` (rsdp_len bytes, 20 or 36 from the Multiboot2 tag; at most 36
// are read), the root table it points to, the first MADT ("APIC") and the first HPET table that
// the root table lists, reading physical memory only through `reader`. The XSDT is used when
// revision >= 2, rsdp_len >= 36 and its address is nonzero, else the RSDT; a bad XSDT is an
// error, not a silent fallback to the RSDT. Null root-table entries and entries whose signature
// cannot be read are skipped. On success fills `out`; on failure `out` is left zeroed:
//   InvalidArgument  rsdp or reader.read is null
//   Truncated        rsdp_len < 20; a MADT shorter than its 44 fixed bytes; a MADT entry
//                    shorter than the minimum for its type
//   Malformed        RSDP signature, checksum, extended checksum or length field (< 36); no
//                    root table address; a root table or MADT whose signature, length (< 36)
//                    or checksum is wrong, or whose range would reach 2^64; a MADT entry with
//                    length < 2 or running past the table's end
//   Unsupported      a root table or MADT longer than kMaxTableLength
//   OutOfRange       the reader refused bytes of the root table or the MADT
//   NotFound         the root table lists no MADT (or only ones whose signature is unreadable)
exo::Result<void> parse(const uint8_t* rsdp, size_t rsdp_len, const PhysicalReader& reader,
                        Topology& out);

// The GSI that ISA IRQ `irq` is wired to: the first bus-0 Interrupt Source Override for it, else
// identity. *flags (when not null) gets the override's MPS INTI flags, else 0 (conforms: ISA
// default, active high, edge). IRQ 2 is the 8259 cascade and never used on ISA; when an
// override maps IRQ 0 to GSI 2, identity for IRQ 2 names the same GSI.
uint32_t gsi_for_isa_irq(const Topology& topology, uint8_t irq, uint16_t* flags);

// MPS INTI flags (5.2.12.5).
enum class Polarity : uint8_t { Conforms = 0, ActiveHigh = 1, Reserved = 2, ActiveLow = 3 };
enum class Trigger : uint8_t { Conforms = 0, Edge = 1, Reserved = 2, Level = 3 };

constexpr Polarity polarity(uint16_t flags) {
    return static_cast<Polarity>(flags & 3);
}
constexpr Trigger trigger(uint16_t flags) {
    return static_cast<Trigger>((flags >> 2) & 3);
}
// For an ISA source, "conforms" (and the reserved value) mean the bus default: active high,
// edge triggered.
constexpr bool isa_active_low(uint16_t flags) {
    return polarity(flags) == Polarity::ActiveLow;
}
constexpr bool isa_level_triggered(uint16_t flags) {
    return trigger(flags) == Trigger::Level;
}

// "Conforms", "ActiveHigh", "Reserved", "ActiveLow" / "Conforms", "Edge", "Reserved", "Level".
const char* polarity_name(Polarity p);
const char* trigger_name(Trigger t);

} // namespace mk::acpi
