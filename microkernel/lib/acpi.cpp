// ACPI table parser (ACPI 6.5, 5.2.5-5.2.12 and the IA-PC HPET specification 1.0a, 3.2.4).
// Firmware tables are untrusted: every table is copied through the PhysicalReader in chunks of at
// most kMaxReadLength bytes into local buffers, its length is checked against kMaxTableLength and
// against wrap-around before any byte of it is read, and every MADT entry's length is checked
// against the bytes that remain in the table before the entry is copied.
#include "lib/acpi.hpp"
#include "lib/bytes.hpp"

using exo::Result;
using exo::Status;

namespace mk::acpi {

namespace {

// RSDP (5.2.5.3): signature[8], checksum, oem_id[6], revision, u32 rsdt; 2.0+: u32 length,
// u64 xsdt, extended checksum, reserved[3].
constexpr size_t kRsdpOemId = 9;
constexpr size_t kRsdpRevision = 15;
constexpr size_t kRsdpRsdt = 16;
constexpr size_t kRsdpLength = 20;
constexpr size_t kRsdpXsdt = 24;

// System description table header (5.2.6): signature[4], u32 length, revision, checksum, ...
constexpr size_t kSdtLength = 4;
// MADT (5.2.12): the header, u32 local interrupt controller address, u32 flags, entries.
constexpr uint32_t kMadtFixedLength = 44;
constexpr uint32_t kPcatCompat = 1u << 0;
// HPET (HPET spec 3.2.4): the header, u32 event timer block id, a 12-byte Generic Address
// Structure (u8 space id, u8 width, u8 offset, u8 access size, u64 address), u8 hpet number,
// u16 minimum tick, u8 page protection.
constexpr uint32_t kHpetLength = 56;
constexpr uint8_t kSystemMemorySpace = 0;

// Local APIC flags (5.2.12.2).
constexpr uint32_t kLapicEnabled = 1u << 0;
constexpr uint32_t kLapicOnlineCapable = 1u << 1;

// The largest prefix of a MADT entry the parser uses (the Local x2APIC entry).
constexpr size_t kMaxEntryPrefix = 16;

bool same_signature(const uint8_t* p, const char* sig, size_t n) {
    for (size_t i = 0; i < n; ++i)
        if (p[i] != static_cast<uint8_t>(sig[i]))
            return false;
    return true;
}

uint8_t sum_bytes(const uint8_t* p, size_t n) {
    uint8_t sum = 0;
    for (size_t i = 0; i < n; ++i)
        sum = static_cast<uint8_t>(sum + p[i]);
    return sum;
}

// The reader, with the guarantees PhysicalReader documents: no empty, oversized or wrapping
// requests ever reach it.
class Memory {
public:
    explicit Memory(const PhysicalReader& reader) : reader_(reader) {}

    bool read(uint64_t phys, void* out, size_t len) const {
        if (len == 0 || len > kMaxReadLength || len > UINT64_MAX - phys)
            return false;
        return reader_.read(reader_.ctx, phys, out, len);
    }

private:
    const PhysicalReader& reader_;
};

// A validated table: `length` bytes at `address` that were readable and summed to zero.
struct Table {
    uint64_t address;
    uint32_t length;
};

// Sums the `length` bytes at `address`, reading them kMaxReadLength at a time.
Result<uint8_t> checksum(const Memory& mem, uint64_t address, uint32_t length) {
    uint8_t chunk[kMaxReadLength];
    uint8_t sum = 0;
    for (uint32_t done = 0; done < length;) {
        uint32_t n = length - done < kMaxReadLength ? length - done : uint32_t{kMaxReadLength};
        if (!mem.read(address + done, chunk, n))
            return Status::OutOfRange;
        sum = static_cast<uint8_t>(sum + sum_bytes(chunk, n));
        done += n;
    }
    return sum;
}

// 5.2.6: checks the header of the table at `address` (signature `sig`, at least `min_length`
// bytes, at most kMaxTableLength) and its checksum over the whole length.
Result<Table> load_table(const Memory& mem, uint64_t address, const char* sig,
                         uint32_t min_length) {
    uint8_t header[kSdtHeaderLength];
    if (!mem.read(address, header, sizeof header))
        return Status::OutOfRange;
    if (!same_signature(header, sig, 4))
        return Status::Malformed;
    uint32_t length = read_u32(header + kSdtLength);
    if (length < kSdtHeaderLength)
        return Status::Malformed;
    if (length < min_length)
        return Status::Truncated;
    if (length > kMaxTableLength)
        return Status::Unsupported;
    if (length > UINT64_MAX - address)
        return Status::Malformed; // the table would run past the top of the address space
    if (TRY(checksum(mem, address, length)) != 0)
        return Status::Malformed;
    return Table{address, length};
}

// 5.2.5.3: signature, checksum of the first 20 bytes and, when the 2.0+ fields are present,
// their length field and extended checksum. Returns the root table to use.
struct Root {
    uint64_t address;
    bool xsdt;
};

Result<Root> parse_rsdp(const uint8_t* rsdp, size_t len, Topology& out) {
    if (len < kRsdpV1Length)
        return Status::Truncated;
    if (!same_signature(rsdp, "RSD PTR ", 8) || sum_bytes(rsdp, kRsdpV1Length) != 0)
        return Status::Malformed;
    uint8_t revision = rsdp[kRsdpRevision];
    out.rsdp_revision = revision;
    for (size_t i = 0; i < 6; ++i) {
        uint8_t c = rsdp[kRsdpOemId + i];
        out.oem_id[i] = c >= 0x20 && c < 0x7f ? static_cast<char>(c) : '?';
    }
    // Revision 0 is ACPI 1.0 (there is no revision 1). A 2.0+ RSDP copied with only its first
    // 20 bytes (Multiboot2 tag 14) cannot be fully checked, so only its RSDT is trusted.
    if (revision >= 2 && len >= kRsdpV2Length) {
        // The extended checksum covers the 36-byte structure; the length field must cover it.
        if (read_u32(rsdp + kRsdpLength) < kRsdpV2Length || sum_bytes(rsdp, kRsdpV2Length) != 0)
            return Status::Malformed;
        uint64_t xsdt = read_u64(rsdp + kRsdpXsdt);
        if (xsdt != 0)
            return Root{xsdt, true};
    }
    uint32_t rsdt = read_u32(rsdp + kRsdpRsdt);
    if (rsdt == 0)
        return Status::Malformed;
    return Root{rsdt, false};
}

// 5.2.7/5.2.8: the root table's entries are 32- (RSDT) or 64-bit (XSDT) physical addresses.
// Remembers the first MADT and HPET; a trailing partial entry is ignored (as ACPICA does).
struct Found {
    uint64_t madt;
    uint64_t hpet;
};

Result<Found> find_tables(const Memory& mem, const Table& root, bool xsdt, Topology& out) {
    size_t entry_size = xsdt ? 8 : 4;
    size_t count = (root.length - kSdtHeaderLength) / entry_size;
    Found found{0, 0};
    for (size_t i = 0; i < count; ++i) {
        uint8_t raw[8] = {};
        if (!mem.read(root.address + kSdtHeaderLength + i * entry_size, raw, entry_size))
            return Status::OutOfRange;
        uint64_t address = xsdt ? read_u64(raw) : read_u32(raw);
        if (address == 0)
            continue;
        uint8_t sig[4];
        if (!mem.read(address, sig, sizeof sig)) {
            ++out.tables_unreadable;
            continue;
        }
        if (found.madt == 0 && same_signature(sig, "APIC", 4))
            found.madt = address;
        else if (found.hpet == 0 && same_signature(sig, "HPET", 4))
            found.hpet = address;
    }
    return found;
}

void add_cpu(Topology& out, uint32_t apic_id, uint32_t acpi_uid, uint32_t flags, bool x2apic) {
    bool enabled = flags & kLapicEnabled;
    bool online_capable = flags & kLapicOnlineCapable;
    if (!enabled && !online_capable) {
        ++out.cpus_disabled; // firmware lists empty sockets this way, often with ID 0xFF
        return;
    }
    if (apic_id == (x2apic ? 0xffffffffu : 0xffu)) {
        ++out.entries_invalid; // the broadcast ID names no single processor
        return;
    }
    for (size_t i = 0; i < out.cpu_count; ++i) {
        if (out.cpus[i].apic_id == apic_id) {
            ++out.cpus_duplicate;
            return;
        }
    }
    if (out.cpu_count == kMaxCpus) {
        ++out.cpus_dropped;
        return;
    }
    out.cpus[out.cpu_count++] = Cpu{apic_id, acpi_uid, enabled, online_capable, x2apic};
}

void add_nmi(Topology& out, uint32_t acpi_uid, uint16_t flags, uint8_t lint, bool x2apic) {
    if (lint > 1) {
        ++out.entries_invalid; // a local APIC has LINT0 and LINT1 only
        return;
    }
    if (out.nmi_count == kMaxNmis) {
        ++out.nmis_dropped;
        return;
    }
    out.nmis[out.nmi_count++] = LapicNmi{acpi_uid, flags, lint, x2apic};
}

// The minimum length of each consumed entry type (5.2.12.2-5.2.12.13); 0 for types skipped.
size_t min_entry_length(uint8_t type) {
    switch (static_cast<EntryType>(type)) {
    case EntryType::LocalApic:
        return 8;
    case EntryType::IoApic:
        return 12;
    case EntryType::InterruptOverride:
        return 10;
    case EntryType::LocalApicNmi:
        return 6;
    case EntryType::LocalApicAddressOverride:
        return 12;
    case EntryType::LocalX2Apic:
        return 16;
    case EntryType::LocalX2ApicNmi:
        return 12;
    default:
        return 0;
    }
}

// One MADT entry: `e` holds its first min(length, kMaxEntryPrefix) bytes (and maybe more) and its
// length is at least min_entry_length(type), so every field read below is inside the entry. Longer
// entries (a later revision's extensions) are accepted and their extra bytes ignored.
void parse_entry(const uint8_t* e, Topology& out) {
    switch (static_cast<EntryType>(e[0])) {
    case EntryType::LocalApic: // u8 uid, u8 apic id, u32 flags
        add_cpu(out, e[3], e[2], read_u32(e + 4), false);
        return;
    case EntryType::LocalX2Apic: // u16 reserved, u32 x2apic id, u32 flags, u32 uid
        add_cpu(out, read_u32(e + 4), read_u32(e + 12), read_u32(e + 8), true);
        return;
    case EntryType::IoApic: // u8 id, u8 reserved, u32 address, u32 gsi base
        if (out.ioapic_count == kMaxIoApics) {
            ++out.ioapics_dropped;
            return;
        }
        out.ioapics[out.ioapic_count++] = IoApic{e[2], read_u32(e + 4), read_u32(e + 8)};
        return;
    case EntryType::InterruptOverride: // u8 bus, u8 source, u32 gsi, u16 flags
        if (out.override_count == kMaxOverrides) {
            ++out.overrides_dropped;
            return;
        }
        out.overrides[out.override_count++] =
            InterruptOverride{e[2], e[3], read_u32(e + 4), read_u16(e + 8)};
        return;
    case EntryType::LocalApicNmi: // u8 uid (0xFF: all), u16 flags, u8 lint
        add_nmi(out, e[2] == 0xff ? kAllProcessors : e[2], read_u16(e + 3), e[5], false);
        return;
    case EntryType::LocalX2ApicNmi: // u16 flags, u32 uid (0xFFFFFFFF: all), u8 lint
        add_nmi(out, read_u32(e + 4), read_u16(e + 2), e[8], true);
        return;
    case EntryType::LocalApicAddressOverride: // u16 reserved, u64 address
        if (out.lapic_base_overridden) {
            ++out.entries_invalid; // the spec allows one; the first wins
            return;
        }
        out.lapic_base = read_u64(e + 4);
        out.lapic_base_overridden = true;
        return;
    default:
        ++out.entries_skipped;
        return;
    }
}

// 5.2.12: the fixed fields, then entries of u8 type, u8 length up to the table's end.
Result<void> parse_madt(const Memory& mem, const Table& madt, Topology& out) {
    uint8_t fixed[8];
    if (!mem.read(madt.address + kSdtHeaderLength, fixed, sizeof fixed))
        return Status::OutOfRange;
    out.lapic_base = read_u32(fixed); // until a type 5 entry overrides it
    out.legacy_pic = read_u32(fixed + 4) & kPcatCompat;
    uint32_t offset = kMadtFixedLength;
    while (offset < madt.length) {
        uint32_t left = madt.length - offset;
        if (left < 2)
            return Status::Malformed;
        // One copy of the entry's first bytes (possibly of the next entries too, never past
        // the table): the length checked below is the one the fields are then read from.
        uint8_t e[kMaxEntryPrefix] = {};
        if (!mem.read(madt.address + offset, e, left < sizeof e ? left : sizeof e))
            return Status::OutOfRange;
        uint8_t length = e[1];
        if (length < 2 || length > left)
            return Status::Malformed; // length 0 would never advance
        if (length < min_entry_length(e[0]))
            return Status::Truncated;
        parse_entry(e, out);
        offset += length;
    }
    return {};
}

// HPET spec 3.2.4: only the base address of the first timer block is kept.
Result<void> parse_hpet(const Memory& mem, uint64_t address, Topology& out) {
    Table hpet = TRY(load_table(mem, address, "HPET", kHpetLength));
    uint8_t body[kHpetLength - kSdtHeaderLength];
    if (!mem.read(hpet.address + kSdtHeaderLength, body, sizeof body))
        return Status::OutOfRange;
    uint8_t space = body[4];
    uint64_t base = read_u64(body + 8);
    if (space != kSystemMemorySpace)
        return Status::Unsupported;
    if (base == 0)
        return Status::Malformed;
    out.hpet_base = base;
    out.hpet_min_tick = read_u16(body + 17);
    out.has_hpet = true;
    return {};
}

Result<void> parse_all(const uint8_t* rsdp, size_t rsdp_len, const PhysicalReader& reader,
                       Topology& out) {
    if (rsdp == nullptr || reader.read == nullptr)
        return Status::InvalidArgument;
    Memory mem(reader);
    Root root = TRY(parse_rsdp(rsdp, rsdp_len, out));
    Table root_table = TRY(load_table(mem, root.address, root.xsdt ? "XSDT" : "RSDT", 0));
    out.used_xsdt = root.xsdt;
    out.root_address = root.address;
    Found found = TRY(find_tables(mem, root_table, root.xsdt, out));
    if (found.madt == 0)
        return Status::NotFound;
    Table madt = TRY(load_table(mem, found.madt, "APIC", kMadtFixedLength));
    out.madt_address = madt.address;
    TRY(parse_madt(mem, madt, out));
    if (found.hpet == 0) {
        out.hpet_status = Status::NotFound;
    } else {
        Result<void> hpet = parse_hpet(mem, found.hpet, out);
        out.hpet_status = hpet.status();
        if (!hpet.ok()) {
            out.has_hpet = false;
            out.hpet_base = 0;
            out.hpet_min_tick = 0;
        }
    }
    return {};
}

} // namespace

Result<void> parse(const uint8_t* rsdp, size_t rsdp_len, const PhysicalReader& reader,
                   Topology& out) {
    static_assert(__is_trivially_copyable(Topology), "Topology is reset with memset");
    __builtin_memset(&out, 0, sizeof out);
    Result<void> result = parse_all(rsdp, rsdp_len, reader, out);
    if (!result.ok())
        __builtin_memset(&out, 0, sizeof out); // no partial data from rejected tables
    return result;
}

uint32_t gsi_for_isa_irq(const Topology& topology, uint8_t irq, uint16_t* flags) {
    for (size_t i = 0; i < topology.override_count; ++i) {
        const InterruptOverride& o = topology.overrides[i];
        if (o.bus == 0 && o.source == irq) {
            if (flags != nullptr)
                *flags = o.flags;
            return o.gsi;
        }
    }
    if (flags != nullptr)
        *flags = 0;
    return irq;
}

const char* polarity_name(Polarity p) {
    switch (p) {
    case Polarity::Conforms:
        return "Conforms";
    case Polarity::ActiveHigh:
        return "ActiveHigh";
    case Polarity::Reserved:
        return "Reserved";
    case Polarity::ActiveLow:
        return "ActiveLow";
    }
    return "Unknown";
}

const char* trigger_name(Trigger t) {
    switch (t) {
    case Trigger::Conforms:
        return "Conforms";
    case Trigger::Edge:
        return "Edge";
    case Trigger::Reserved:
        return "Reserved";
    case Trigger::Level:
        return "Level";
    }
    return "Unknown";
}

} // namespace mk::acpi
