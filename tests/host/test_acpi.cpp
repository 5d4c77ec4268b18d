// The ACPI parser reads QEMU-like firmware tables and rejects or skips every malformed one
// without reading out of bounds: the RSDP copy sits at the very end of a heap allocation of
// exactly its length (ASan reports any overread), and the tables live in a fake physical memory
// whose reader refuses any range that is not entirely inside one region and records any request
// that breaks the PhysicalReader contract (empty, longer than kMaxReadLength, or wrapping).
#include "support.hpp"

#include "lib/acpi.hpp"

#include <catch2/catch.hpp>
#include <cstring>
#include <iterator>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

using namespace mk::acpi;

namespace {

using Bytes = std::vector<uint8_t>;

// The little-endian bytes of each argument in turn (x86 and the host are little-endian).
template <typename... T>
Bytes le(T... values) {
    Bytes out;
    auto put = [&out](auto v) {
        auto p = reinterpret_cast<const uint8_t*>(&v);
        out.insert(out.end(), p, p + sizeof v);
    };
    (put(values), ...);
    return out;
}

Bytes operator+(Bytes a, const Bytes& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

Bytes str(std::string_view s) {
    return Bytes(s.begin(), s.end());
}

// Sets t[at] so that the first len bytes of t sum to zero (mod 256).
void fix_checksum(Bytes& t, size_t at, size_t len) {
    t[at] = 0;
    uint8_t sum = 0;
    for (size_t i = 0; i < len; ++i)
        sum = static_cast<uint8_t>(sum + t[i]);
    t[at] = static_cast<uint8_t>(-sum);
}

// Recomputes a table's checksum (byte 9) over its current size.
void reseal(Bytes& table) {
    fix_checksum(table, 9, table.size());
}

void set_u32(Bytes& t, size_t at, uint32_t v) {
    std::memcpy(t.data() + at, &v, 4);
}

// A system description table (5.2.6) with BOCHS/BXPC identifiers, as QEMU builds them.
Bytes sdt(std::string_view sig, const Bytes& body, uint8_t revision = 1) {
    Bytes t = str(sig) + le(static_cast<uint32_t>(kSdtHeaderLength + body.size())) +
              le(revision, uint8_t{0}) + str("BOCHS ") + str("BXPC    ") + le(uint32_t{1}) +
              str("BXPC") + le(uint32_t{1}) + body;
    REQUIRE(t.size() == kSdtHeaderLength + body.size());
    reseal(t);
    return t;
}

// The RSDP (5.2.5.3), both checksums valid, cut to `length` bytes.
Bytes rsdp_bytes(uint8_t revision, uint32_t rsdt, uint64_t xsdt, size_t length = 36) {
    Bytes r = str("RSD PTR ") + le(uint8_t{0}) + str("BOCHS ") + le(revision, rsdt) +
              le(uint32_t{36}, xsdt, uint8_t{0}, uint8_t{0}, uint8_t{0}, uint8_t{0});
    REQUIRE(r.size() == 36);
    fix_checksum(r, 8, 20);
    fix_checksum(r, 32, 36);
    r.resize(length, 0);
    return r;
}

// MADT entries (5.2.12.2-5.2.12.13).
Bytes lapic(uint8_t uid, uint8_t id, uint32_t flags = 1) {
    return le(uint8_t{0}, uint8_t{8}, uid, id, flags);
}
Bytes x2apic(uint32_t id, uint32_t flags, uint32_t uid) {
    return le(uint8_t{9}, uint8_t{16}, uint16_t{0}, id, flags, uid);
}
Bytes ioapic(uint8_t id, uint32_t address, uint32_t gsi_base) {
    return le(uint8_t{1}, uint8_t{12}, id, uint8_t{0}, address, gsi_base);
}
Bytes iso(uint8_t bus, uint8_t source, uint32_t gsi, uint16_t flags) {
    return le(uint8_t{2}, uint8_t{10}, bus, source, gsi, flags);
}
Bytes lapic_nmi(uint8_t uid, uint16_t flags, uint8_t lint) {
    return le(uint8_t{4}, uint8_t{6}, uid, flags, lint);
}
Bytes x2apic_nmi(uint16_t flags, uint32_t uid, uint8_t lint) {
    return le(uint8_t{0xa}, uint8_t{12}, flags, uid, lint, uint8_t{0}, uint8_t{0}, uint8_t{0});
}
Bytes lapic_override(uint64_t address) {
    return le(uint8_t{5}, uint8_t{12}, uint16_t{0}, address);
}
// An entry of any type whose length byte is `length`, followed by `payload` as given.
Bytes raw_entry(uint8_t type, uint8_t length, const Bytes& payload = {}) {
    return le(type, length) + payload;
}

Bytes madt(uint32_t lapic_address, uint32_t flags, const Bytes& entries) {
    return sdt("APIC", le(lapic_address, flags) + entries, 3);
}

// QEMU's MADT: one Local APIC per CPU, one I/O APIC, IRQ0 -> GSI2 and the level-triggered PCI
// interrupts, LINT1 as NMI on every processor.
Bytes qemu_entries(int cpus) {
    Bytes e;
    for (int i = 0; i < cpus; ++i)
        e = e + lapic(static_cast<uint8_t>(i), static_cast<uint8_t>(i));
    return e + ioapic(0, 0xfec00000, 0) + iso(0, 0, 2, 0) + iso(0, 5, 5, 0xd) + iso(0, 9, 9, 0xd) +
           iso(0, 10, 10, 0xd) + iso(0, 11, 11, 0xd) + lapic_nmi(0xff, 0, 1);
}

Bytes qemu_madt(int cpus) {
    return madt(0xfee00000, 1, qemu_entries(cpus));
}

// HPET table (HPET spec 3.2.4) with a Generic Address Structure in `space`.
Bytes hpet_table(uint64_t base, uint8_t space = 0, uint16_t min_tick = 0x80) {
    return sdt("HPET", le(uint32_t{0x8086a201}, space, uint8_t{64}, uint8_t{0}, uint8_t{0}, base,
                          uint8_t{0}, min_tick, uint8_t{0}));
}

// Physical memory: non-overlapping regions of bytes, plus ranges the reader refuses.
class PhysMem {
public:
    void put(uint64_t base, Bytes bytes) { regions_[base] = std::move(bytes); }
    Bytes& at(uint64_t base) { return regions_.at(base); }
    void refuse(uint64_t base, uint64_t length) { refused_.emplace_back(base, length); }
    PhysicalReader reader() { return PhysicalReader{&PhysMem::read_thunk, this}; }

    bool contract_broken = false;
    size_t calls = 0;

private:
    static bool read_thunk(void* ctx, uint64_t phys, void* out, size_t len) {
        return static_cast<PhysMem*>(ctx)->read(phys, out, len);
    }

    bool read(uint64_t phys, void* out, size_t len) {
        ++calls;
        if (len == 0 || len > kMaxReadLength || len > UINT64_MAX - phys) {
            contract_broken = true;
            return false;
        }
        for (auto [base, length] : refused_)
            if (phys < base + length && base < phys + len)
                return false;
        auto it = regions_.upper_bound(phys);
        if (it == regions_.begin())
            return false;
        --it;
        uint64_t offset = phys - it->first;
        if (offset > it->second.size() || len > it->second.size() - offset)
            return false;
        std::memcpy(out, it->second.data() + offset, len);
        return true;
    }

    std::map<uint64_t, Bytes> regions_;
    std::vector<std::pair<uint64_t, uint64_t>> refused_;
};

// 128 KiB apart: room for tables up to kMaxTableLength and beyond without overlapping.
constexpr uint64_t kRsdtAddr = 0x7f00000;
constexpr uint64_t kXsdtAddr = 0x7f20000;
constexpr uint64_t kMadtAddr = 0x7f40000;
constexpr uint64_t kHpetAddr = 0x7f60000;
constexpr uint64_t kFacpAddr = 0x7f80000;
constexpr uint64_t kAltMadtAddr = 0x7fa0000;
constexpr uint64_t kAltHpetAddr = 0x7fc0000;

// A firmware layout: the root tables list FACP, MADT and HPET (when present), then `extra`.
struct Firmware {
    uint8_t revision = 2;
    size_t rsdp_length = 36;
    bool with_rsdt = true;
    bool with_xsdt = true;
    Bytes madt = qemu_madt(4);
    std::optional<Bytes> hpet = hpet_table(0xfed00000);
    std::optional<Bytes> rsdt_madt; // when set, the RSDT lists this MADT instead
    std::vector<uint64_t> extra;
    size_t root_padding = 0; // zero bytes appended to both root tables

    Bytes install(PhysMem& mem) const {
        std::vector<uint64_t> tables = {kFacpAddr, kMadtAddr};
        mem.put(kFacpAddr, sdt("FACP", Bytes(16, 0), 5));
        mem.put(kMadtAddr, madt);
        if (hpet) {
            mem.put(kHpetAddr, *hpet);
            tables.push_back(kHpetAddr);
        }
        tables.insert(tables.end(), extra.begin(), extra.end());
        Bytes x, r;
        for (uint64_t t : tables) {
            x = x + le(t);
            r = r + le(static_cast<uint32_t>(rsdt_madt && t == kMadtAddr ? kAltMadtAddr : t));
        }
        if (rsdt_madt)
            mem.put(kAltMadtAddr, *rsdt_madt);
        mem.put(kXsdtAddr, sdt("XSDT", x + Bytes(root_padding, 0)));
        mem.put(kRsdtAddr, sdt("RSDT", r + Bytes(root_padding, 0)));
        return rsdp_bytes(revision, with_rsdt ? kRsdtAddr : 0, with_xsdt ? kXsdtAddr : 0,
                          rsdp_length);
    }
};

std::string status_of(const exo::Result<void>& r) {
    return exo::status_name(r.status());
}

bool all_zero(const Topology& t) {
    auto p = reinterpret_cast<const uint8_t*>(&t);
    for (size_t i = 0; i < sizeof t; ++i)
        if (p[i])
            return false;
    return true;
}

// What must hold of any successfully parsed Topology, whatever the input.
void check_invariants(const Topology& t) {
    REQUIRE(t.cpu_count <= kMaxCpus);
    REQUIRE(t.ioapic_count <= kMaxIoApics);
    REQUIRE(t.override_count <= kMaxOverrides);
    REQUIRE(t.nmi_count <= kMaxNmis);
    for (size_t i = 0; i < t.cpu_count; ++i) {
        const Cpu& c = t.cpus[i];
        REQUIRE((c.enabled || c.online_capable));
        REQUIRE(c.apic_id != (c.x2apic ? 0xffffffffu : 0xffu));
        for (size_t j = 0; j < i; ++j)
            REQUIRE(t.cpus[j].apic_id != c.apic_id);
    }
    for (size_t i = 0; i < t.nmi_count; ++i)
        REQUIRE(t.nmis[i].lint <= 1);
    REQUIRE(t.has_hpet == (t.hpet_status == exo::Status::Ok));
    if (!t.has_hpet)
        REQUIRE(t.hpet_base == 0);
}

// Firmware laid out in a fake physical memory; parse() is given an exact-size copy of the RSDP.
struct Machine {
    PhysMem mem;
    Bytes rsdp;

    Machine() : Machine(Firmware{}) {}
    explicit Machine(const Firmware& fw) { rsdp = fw.install(mem); }

    exo::Result<void> parse_into(Topology& out, size_t rsdp_len = SIZE_MAX) {
        size_t n = rsdp_len < rsdp.size() ? rsdp_len : rsdp.size();
        auto storage = std::make_unique<uint8_t[]>(n);
        if (n)
            std::memcpy(storage.get(), rsdp.data(), n);
        PhysicalReader reader = mem.reader();
        exo::Result<void> r = parse(storage.get(), n, reader, out);
        REQUIRE_FALSE(mem.contract_broken);
        if (r.ok())
            check_invariants(out);
        else
            REQUIRE(all_zero(out));
        return r;
    }

    std::string verdict(size_t rsdp_len = SIZE_MAX) {
        auto t = std::make_unique<Topology>();
        return status_of(parse_into(*t, rsdp_len));
    }

    // Parses and requires success.
    std::unique_ptr<Topology> topology() {
        auto t = std::make_unique<Topology>();
        auto r = parse_into(*t);
        INFO(status_of(r));
        REQUIRE(r.ok());
        return t;
    }
};

// A machine whose MADT holds `entries` (lapic base 0xfee00000, PCAT_COMPAT).
Machine with_entries(const Bytes& entries) {
    Firmware fw;
    fw.madt = madt(0xfee00000, 1, entries);
    return Machine(fw);
}

std::string verdict_of_entries(const Bytes& entries) {
    return with_entries(entries).verdict();
}

} // namespace

TEST_CASE("acpi: a QEMU-like machine with 1 to 8 CPUs") {
    for (int n = 1; n <= 8; ++n) {
        Firmware fw;
        fw.madt = qemu_madt(n);
        Machine m(fw);
        auto t = m.topology();

        REQUIRE(t->lapic_base == 0xfee00000);
        REQUIRE_FALSE(t->lapic_base_overridden);
        REQUIRE(t->legacy_pic);
        REQUIRE(t->cpu_count == static_cast<size_t>(n));
        for (int i = 0; i < n; ++i) {
            const Cpu& c = t->cpus[i];
            REQUIRE(std::tuple(c.apic_id, c.acpi_uid, c.enabled, c.online_capable, c.x2apic) ==
                    std::tuple(uint32_t(i), uint32_t(i), true, false, false));
        }
        REQUIRE(t->ioapic_count == 1);
        REQUIRE(std::tuple(t->ioapics[0].id, t->ioapics[0].address, t->ioapics[0].gsi_base) ==
                std::tuple(uint8_t{0}, 0xfec00000u, 0u));
        REQUIRE(t->override_count == 5);
        const InterruptOverride& o = t->overrides[0];
        REQUIRE(std::tuple(o.bus, o.source, o.gsi, o.flags) ==
                std::tuple(uint8_t{0}, uint8_t{0}, 2u, uint16_t{0}));
        REQUIRE(t->overrides[4].source == 11);
        REQUIRE(t->overrides[4].flags == 0xd);
        REQUIRE(t->nmi_count == 1);
        const LapicNmi& nmi = t->nmis[0];
        REQUIRE(std::tuple(nmi.acpi_uid, nmi.flags, nmi.lint, nmi.x2apic) ==
                std::tuple(kAllProcessors, uint16_t{0}, uint8_t{1}, false));

        REQUIRE(t->has_hpet);
        REQUIRE(t->hpet_status == exo::Status::Ok);
        REQUIRE(t->hpet_base == 0xfed00000);
        REQUIRE(t->hpet_min_tick == 0x80);

        REQUIRE(t->rsdp_revision == 2);
        REQUIRE(t->used_xsdt);
        REQUIRE(std::string(t->oem_id) == "BOCHS ");
        REQUIRE(t->root_address == kXsdtAddr);
        REQUIRE(t->madt_address == kMadtAddr);
        REQUIRE(t->tables_unreadable == 0);
        REQUIRE(t->cpus_dropped + t->cpus_disabled + t->cpus_duplicate + t->ioapics_dropped +
                    t->overrides_dropped + t->nmis_dropped + t->entries_skipped +
                    t->entries_invalid ==
                0);
        REQUIRE(gsi_for_isa_irq(*t, 0, nullptr) == 2);
    }
}

TEST_CASE("acpi: an ACPI 1.0 machine is read through its RSDT") {
    Firmware fw;
    fw.revision = 0;
    fw.rsdp_length = 20;
    Machine m(fw);
    auto t = m.topology();
    REQUIRE_FALSE(t->used_xsdt);
    REQUIRE(t->root_address == kRsdtAddr);
    REQUIRE(t->rsdp_revision == 0);
    REQUIRE(t->cpu_count == 4);
    REQUIRE(t->has_hpet);
}

TEST_CASE("acpi: the XSDT is preferred; the RSDT serves ACPI 1.0 and RSDPs without an XSDT") {
    // The RSDT lists a 2-CPU MADT, the XSDT a 4-CPU one: cpu_count tells which was read.
    auto run = [](uint8_t revision, size_t rsdp_length, bool rsdt, bool xsdt) {
        Firmware fw;
        fw.revision = revision;
        fw.rsdp_length = rsdp_length;
        fw.with_rsdt = rsdt;
        fw.with_xsdt = xsdt;
        fw.rsdt_madt = qemu_madt(2);
        Machine m(fw);
        auto t = std::make_unique<Topology>();
        auto r = m.parse_into(*t);
        return std::tuple(status_of(r), t->used_xsdt, t->cpu_count);
    };
    using V = std::tuple<std::string, bool, size_t>;
    REQUIRE(run(2, 36, true, true) == V{"Ok", true, 4});
    REQUIRE(run(3, 36, true, true) == V{"Ok", true, 4});
    REQUIRE(run(6, 36, true, true) == V{"Ok", true, 4});
    REQUIRE(run(2, 36, false, true) == V{"Ok", true, 4});
    REQUIRE(run(2, 36, true, false) == V{"Ok", false, 2});
    // ACPI 1.0: the bytes past 20 are not part of its RSDP, whatever they hold.
    REQUIRE(run(0, 36, true, true) == V{"Ok", false, 2});
    REQUIRE(run(1, 36, true, true) == V{"Ok", false, 2});
    REQUIRE(run(0, 20, true, true) == V{"Ok", false, 2});
    // A 2.0 RSDP copied with only its first 20 bytes (Multiboot2 tag 14).
    REQUIRE(run(2, 20, true, true) == V{"Ok", false, 2});
    // No root table at all.
    REQUIRE(run(0, 20, false, true) == V{"Malformed", false, 0});
    REQUIRE(run(2, 36, false, false) == V{"Malformed", false, 0});
    REQUIRE(run(2, 20, false, true) == V{"Malformed", false, 0});
}

TEST_CASE("acpi: the RSDP is validated") {
    Machine m;
    auto t = std::make_unique<Topology>();
    PhysicalReader reader = m.mem.reader();
    REQUIRE(status_of(parse(nullptr, 36, reader, *t)) == "InvalidArgument");
    PhysicalReader no_read{nullptr, &m.mem};
    REQUIRE(status_of(parse(m.rsdp.data(), 36, no_read, *t)) == "InvalidArgument");
    for (size_t n = 0; n < kRsdpV1Length; ++n)
        REQUIRE(m.verdict(n) == "Truncated");
    REQUIRE(m.verdict(20) == "Ok");
    REQUIRE(m.verdict(35) == "Ok"); // too short for the 2.0 fields: RSDT

    const Bytes good = m.rsdp;
    auto with = [&m, &good](size_t at, uint8_t value, bool refix) {
        m.rsdp = good;
        m.rsdp[at] = value;
        if (refix) {
            fix_checksum(m.rsdp, 8, 20);
            fix_checksum(m.rsdp, 32, 36);
        }
        return m.verdict();
    };
    // The signature (checksums made valid again), the checksum, the extended checksum.
    for (size_t i = 0; i < 8; ++i)
        REQUIRE(with(i, 'x', true) == "Malformed");
    REQUIRE(with(8, static_cast<uint8_t>(good[8] + 1), false) == "Malformed");
    REQUIRE(with(32, static_cast<uint8_t>(good[32] + 1), false) == "Malformed");
    REQUIRE(with(33, 1, false) == "Malformed"); // a reserved byte under the extended checksum
    REQUIRE(with(33, 1, true) == "Ok");
    // The length field must cover the 36-byte structure.
    REQUIRE(with(20, 20, true) == "Malformed");
    REQUIRE(with(20, 35, true) == "Malformed");
    REQUIRE(with(20, 40, true) == "Ok");
    // A longer buffer is fine: only 36 bytes are read.
    m.rsdp = good + Bytes(28, 0xee);
    REQUIRE(m.verdict() == "Ok");
}

TEST_CASE("acpi: root table headers are validated") {
    auto corrupt_xsdt = [](auto edit) {
        Machine m;
        edit(m.mem.at(kXsdtAddr));
        return m.verdict();
    };
    REQUIRE(corrupt_xsdt([](Bytes&) {}) == "Ok");
    REQUIRE(corrupt_xsdt([](Bytes& x) { x[9] ^= 1; }) == "Malformed"); // checksum
    REQUIRE(corrupt_xsdt([](Bytes& x) { x[40] ^= 1; }) == "Malformed");
    REQUIRE(corrupt_xsdt([](Bytes& x) {
                x[0] = 'R';
                reseal(x);
            }) == "Malformed"); // an RSDT where the XSDT should be
    for (uint32_t length : {0u, 1u, 35u}) {
        REQUIRE(corrupt_xsdt([length](Bytes& x) {
                    set_u32(x, 4, length);
                    reseal(x);
                }) == "Malformed");
    }
    // Longer than the sanity bound: rejected before a byte past the header is read.
    for (uint32_t length : {kMaxTableLength + 1, 0x7fffffffu, 0xffffffffu}) {
        REQUIRE(corrupt_xsdt([length](Bytes& x) {
                    set_u32(x, 4, length);
                    reseal(x);
                }) == "Unsupported");
    }
    // 36 bytes: an XSDT listing nothing, so no MADT.
    REQUIRE(corrupt_xsdt([](Bytes& x) { x = sdt("XSDT", {}); }) == "NotFound");
    // The RSDT is held to the same rules.
    Firmware v1;
    v1.revision = 0;
    Machine m(v1);
    m.mem.at(kRsdtAddr)[0] = 'X';
    reseal(m.mem.at(kRsdtAddr));
    REQUIRE(m.verdict() == "Malformed");
}

TEST_CASE("acpi: a table reaching the top of the address space is rejected") {
    constexpr uint64_t kTop = 0xffffffffffffffc0; // 64 bytes below 2^64
    for (uint32_t length : {64u, 100u, 0xfff0u}) {
        Firmware fw;
        fw.with_xsdt = false;
        Machine m(fw);
        Bytes rsdt =
            sdt("RSDT", le(uint32_t{0}, uint32_t{0}, uint32_t{0}, uint32_t{0}, 0u, 0u, 0u));
        REQUIRE(rsdt.size() == 64);
        set_u32(rsdt, 4, length);
        reseal(rsdt);
        m.mem.put(kTop, rsdt);
        // A 32-bit RSDT address cannot be that high: point the XSDT there instead.
        m.rsdp = rsdp_bytes(2, 0, kTop);
        REQUIRE(m.verdict() == "Malformed"); // the XSDT signature check fails first
        m.mem.at(kTop)[0] = 'X';
        reseal(m.mem.at(kTop));
        REQUIRE(m.verdict() == "Malformed"); // then the range check
    }
}

TEST_CASE("acpi: a maximal XSDT with null entries and a trailing partial entry") {
    // 8187 entries fill 65532 bytes; 4 more reach kMaxTableLength and are not an entry.
    Bytes entries = le(kFacpAddr, uint64_t{0}, kMadtAddr, uint64_t{0}, kHpetAddr);
    entries.resize(8187 * 8, 0);
    Machine m;
    m.mem.put(kXsdtAddr, sdt("XSDT", entries + Bytes(4, 0xab)));
    REQUIRE(m.mem.at(kXsdtAddr).size() == kMaxTableLength);
    auto t = m.topology();
    REQUIRE(t->cpu_count == 4);
    REQUIRE(t->has_hpet);

    // One byte more is over the bound.
    m.mem.put(kXsdtAddr, sdt("XSDT", entries + Bytes(5, 0xab)));
    REQUIRE(m.verdict() == "Unsupported");

    // The RSDT's trailing partial entry is ignored as well.
    Firmware v1;
    v1.revision = 0;
    v1.root_padding = 3;
    REQUIRE(Machine(v1).verdict() == "Ok");
}

TEST_CASE("acpi: the first MADT and HPET listed win") {
    Firmware fw;
    fw.extra = {kAltMadtAddr, kAltHpetAddr};
    Machine m(fw);
    m.mem.put(kAltMadtAddr, qemu_madt(7));
    m.mem.put(kAltHpetAddr, hpet_table(0xfed80000));
    auto t = m.topology();
    REQUIRE(t->cpu_count == 4);
    REQUIRE(t->madt_address == kMadtAddr);
    REQUIRE(t->hpet_base == 0xfed00000);

    // A broken first MADT is an error, not a reason to look at the second.
    m.mem.at(kMadtAddr)[50] ^= 0x10;
    REQUIRE(m.verdict() == "Malformed");
}

TEST_CASE("acpi: MADT headers are validated") {
    auto with_madt = [](auto edit) {
        Machine m;
        edit(m.mem.at(kMadtAddr));
        return m.verdict();
    };
    REQUIRE(with_madt([](Bytes& t) { t[9] ^= 0x80; }) == "Malformed");
    REQUIRE(with_madt([](Bytes& t) { t[t.size() - 1] ^= 0x01; }) == "Malformed");
    // A MADT whose signature is damaged is not recognised at all.
    REQUIRE(with_madt([](Bytes& t) {
                t[0] = 'a';
                reseal(t);
            }) == "NotFound");
    for (uint32_t length : {0u, 35u}) {
        REQUIRE(with_madt([length](Bytes& t) {
                    set_u32(t, 4, length);
                    reseal(t);
                }) == "Malformed");
    }
    // 36..43 bytes: a header but not the local APIC address and flags.
    for (uint32_t length : {36u, 40u, 43u}) {
        REQUIRE(with_madt([length](Bytes& t) {
                    t.resize(length);
                    set_u32(t, 4, length);
                    reseal(t);
                }) == "Truncated");
    }
    REQUIRE(with_madt([](Bytes& t) {
                set_u32(t, 4, kMaxTableLength + 1);
                reseal(t);
            }) == "Unsupported");
    // The length field says more than memory holds, or less than the entries need.
    REQUIRE(with_madt([](Bytes& t) {
                set_u32(t, 4, static_cast<uint32_t>(t.size() + 1));
                reseal(t);
            }) == "OutOfRange");
    REQUIRE(with_madt([](Bytes& t) {
                set_u32(t, 4, static_cast<uint32_t>(t.size() - 1));
                t.pop_back();
                reseal(t);
            }) == "Malformed"); // the last entry now runs past the end

    // No entries: a valid, empty topology.
    Firmware fw;
    fw.madt = madt(0xfee00000, 0, {});
    Machine m(fw);
    auto t = m.topology();
    REQUIRE(t->cpu_count == 0);
    REQUIRE_FALSE(t->legacy_pic);
    REQUIRE(t->lapic_base == 0xfee00000);
}

TEST_CASE("acpi: MADT entry lengths are bounded") {
    Bytes cpu0 = lapic(0, 0);
    // Length 0 would loop forever; 1 cannot even hold the header.
    REQUIRE(verdict_of_entries(cpu0 + raw_entry(0, 0, Bytes(6, 0))) == "Malformed");
    REQUIRE(verdict_of_entries(cpu0 + raw_entry(0x80, 0, Bytes(6, 0))) == "Malformed");
    REQUIRE(verdict_of_entries(cpu0 + raw_entry(0x80, 1, Bytes(6, 0))) == "Malformed");
    // A last entry announcing more than is left.
    REQUIRE(verdict_of_entries(cpu0 + raw_entry(0, 9, Bytes(6, 0))) == "Malformed");
    REQUIRE(verdict_of_entries(cpu0 + raw_entry(0x80, 255, Bytes(6, 0))) == "Malformed");
    REQUIRE(verdict_of_entries(cpu0 + raw_entry(9, 16, Bytes(13, 0))) == "Malformed");
    // A single stray byte after the last entry.
    REQUIRE(verdict_of_entries(cpu0 + Bytes{0}) == "Malformed");
    REQUIRE(verdict_of_entries(cpu0 + Bytes{0x80}) == "Malformed");

    // Each consumed type below its minimum length is Truncated.
    const std::pair<uint8_t, uint8_t> minimum[] = {{0, 8},  {1, 12}, {2, 10},  {4, 6},
                                                   {5, 12}, {9, 16}, {0xa, 12}};
    for (auto [type, min] : minimum) {
        INFO("type " << int(type));
        for (uint8_t length = 2; length < min; ++length)
            REQUIRE(verdict_of_entries(cpu0 + raw_entry(type, length, Bytes(length - 2, 1))) ==
                    "Truncated");
        REQUIRE(verdict_of_entries(cpu0 + raw_entry(type, min, Bytes(min - 2, 1))) == "Ok");
        // Longer entries (later revisions may extend them) are accepted.
        REQUIRE(verdict_of_entries(cpu0 + raw_entry(type, 40, Bytes(38, 1))) == "Ok");
    }
    // A longer Local APIC entry still yields its CPU.
    Machine m = with_entries(raw_entry(0, 12, le(uint8_t{7}, uint8_t{3}, 1u, 0xffffu)));
    auto t = m.topology();
    REQUIRE(t->cpu_count == 1);
    REQUIRE(std::tuple(t->cpus[0].apic_id, t->cpus[0].acpi_uid) == std::tuple(3u, 7u));
}

TEST_CASE("acpi: unconsumed entry types are skipped and counted") {
    Bytes entries = lapic(0, 0) + raw_entry(3, 8, Bytes(6, 0)) +        // NMI source
                    raw_entry(0xb, 82, Bytes(80, 0)) +                  // GICC
                    raw_entry(0x7f, 2) + raw_entry(0xff, 3, Bytes{9}) + // unknown, reserved
                    lapic(1, 1);
    Machine m = with_entries(entries);
    auto t = m.topology();
    REQUIRE(t->entries_skipped == 4);
    REQUIRE(t->entries_invalid == 0);
    REQUIRE(t->cpu_count == 2);
}

TEST_CASE("acpi: the reader refusing a range") {
    SECTION("the root table") {
        Machine m;
        m.mem.refuse(kXsdtAddr, 1);
        REQUIRE(m.verdict() == "OutOfRange");
    }
    SECTION("the last byte of the root table or of the MADT") {
        Machine m;
        m.mem.refuse(kXsdtAddr + m.mem.at(kXsdtAddr).size() - 1, 1);
        REQUIRE(m.verdict() == "OutOfRange");
        Machine n;
        n.mem.refuse(kMadtAddr + n.mem.at(kMadtAddr).size() - 1, 1);
        REQUIRE(n.verdict() == "OutOfRange");
    }
    SECTION("a table the parser does not need is skipped") {
        Firmware fw;
        fw.extra = {0xdead0000, 0xffffffffffffffff};
        Machine m(fw);
        m.mem.refuse(kFacpAddr, 1);
        auto t = m.topology();
        REQUIRE(t->tables_unreadable == 3);
        REQUIRE(t->cpu_count == 4);
    }
    SECTION("an unreadable MADT signature leaves no MADT") {
        Machine m;
        m.mem.refuse(kMadtAddr, 4);
        REQUIRE(m.verdict() == "NotFound");
    }
    SECTION("an unreadable HPET table only loses the HPET") {
        Machine m;
        m.mem.refuse(kHpetAddr + 44, 8);
        auto t = m.topology();
        REQUIRE_FALSE(t->has_hpet);
        REQUIRE(t->hpet_status == exo::Status::OutOfRange);
        REQUIRE(t->cpu_count == 4);
    }
}

TEST_CASE("acpi: tables truncated in memory are OutOfRange, never overread") {
    const size_t madt_size = Machine().mem.at(kMadtAddr).size();
    for (size_t n = 0; n < madt_size; ++n) {
        Machine m;
        m.mem.at(kMadtAddr).resize(n);
        REQUIRE(m.verdict() == (n < 4 ? "NotFound" : "OutOfRange"));
    }
    const size_t xsdt_size = Machine().mem.at(kXsdtAddr).size();
    for (size_t n = 0; n < xsdt_size; ++n) {
        Machine m;
        m.mem.at(kXsdtAddr).resize(n);
        REQUIRE(m.verdict() == "OutOfRange");
    }
    for (size_t n = 0; n < 56; ++n) {
        Machine m;
        m.mem.at(kHpetAddr).resize(n);
        auto t = m.topology();
        REQUIRE(t->hpet_status == (n < 4 ? exo::Status::NotFound : exo::Status::OutOfRange));
    }
}

TEST_CASE("acpi: disabled CPUs are skipped, online-capable ones kept") {
    Bytes entries = lapic(0, 0, 1) +    // enabled
                    lapic(1, 1, 0) +    // disabled
                    lapic(2, 2, 2) +    // online capable
                    lapic(3, 0xff, 0) + // an empty socket
                    lapic(4, 0xff, 1) + // broadcast ID: invalid
                    x2apic(0xffffffff, 1, 5) + x2apic(300, 1, 6) + x2apic(301, 0, 7) +
                    lapic(8, 3, 0xfffffffe) + // online capable, reserved bits set
                    lapic(9, 4, 3);           // both bits, raw
    Machine m = with_entries(entries);
    auto t = m.topology();
    REQUIRE(t->cpu_count == 5);
    using C = std::tuple<uint32_t, uint32_t, bool, bool, bool>;
    auto cpu = [&t](size_t i) {
        const Cpu& c = t->cpus[i];
        return C{c.apic_id, c.acpi_uid, c.enabled, c.online_capable, c.x2apic};
    };
    REQUIRE(cpu(0) == C{0, 0, true, false, false});
    REQUIRE(cpu(1) == C{2, 2, false, true, false});
    REQUIRE(cpu(2) == C{300, 6, true, false, true});
    REQUIRE(cpu(3) == C{3, 8, false, true, false});
    REQUIRE(cpu(4) == C{4, 9, true, true, false});
    REQUIRE(t->cpus_disabled == 3);
    REQUIRE(t->entries_invalid == 2);
    REQUIRE(t->cpus_duplicate == 0);
}

TEST_CASE("acpi: duplicate APIC IDs keep the first entry") {
    Bytes entries = lapic(0, 0) + lapic(1, 1) + lapic(2, 1) + // 1 again
                    x2apic(0, 1, 9) +                         // 0 again, as an x2APIC
                    x2apic(256, 1, 10) + x2apic(256, 2, 11) + lapic(3, 1, 0) + // disabled
                    lapic(4, 255 - 1);
    Machine m = with_entries(entries);
    auto t = m.topology();
    REQUIRE(t->cpu_count == 4);
    REQUIRE(t->cpus_duplicate == 3);
    REQUIRE(t->cpus_disabled == 1);
    REQUIRE(t->cpus[1].acpi_uid == 1);
    REQUIRE(t->cpus[2].acpi_uid == 10);
    REQUIRE(t->cpus[2].enabled);
    REQUIRE(t->cpus[3].apic_id == 254);
}

TEST_CASE("acpi: capacities exceeded are counted, not lost silently") {
    Bytes entries;
    for (uint32_t i = 0; i < kMaxCpus + 44; ++i)
        entries = entries + x2apic(i, 1, i);
    entries = entries + x2apic(5, 1, 1000); // a duplicate past capacity is still a duplicate
    for (uint8_t i = 0; i < kMaxIoApics + 4; ++i)
        entries = entries + ioapic(i, 0xfec00000 + i * 0x1000u, i * 24u);
    for (uint8_t i = 0; i < kMaxOverrides + 8; ++i)
        entries = entries + iso(0, i, i + 100u, 0xf);
    for (uint32_t i = 0; i < kMaxNmis + 44; ++i)
        entries = entries + lapic_nmi(static_cast<uint8_t>(i), 0, 1);
    Machine m = with_entries(entries);
    auto t = m.topology();
    REQUIRE(std::tuple(t->cpu_count, t->cpus_dropped, t->cpus_duplicate) ==
            std::tuple(kMaxCpus, size_t{44}, size_t{1}));
    REQUIRE(t->cpus[kMaxCpus - 1].apic_id == kMaxCpus - 1);
    REQUIRE(std::tuple(t->ioapic_count, t->ioapics_dropped) == std::tuple(kMaxIoApics, size_t{4}));
    REQUIRE(t->ioapics[kMaxIoApics - 1].gsi_base == (kMaxIoApics - 1) * 24);
    REQUIRE(std::tuple(t->override_count, t->overrides_dropped) ==
            std::tuple(kMaxOverrides, size_t{8}));
    REQUIRE(std::tuple(t->nmi_count, t->nmis_dropped) == std::tuple(kMaxNmis, size_t{44}));
    // Overrides past capacity are not applied.
    REQUIRE(gsi_for_isa_irq(*t, kMaxOverrides - 1, nullptr) == kMaxOverrides - 1 + 100);
    REQUIRE(gsi_for_isa_irq(*t, kMaxOverrides, nullptr) == kMaxOverrides);
}

TEST_CASE("acpi: the Local APIC Address Override replaces the 32-bit field") {
    constexpr uint64_t kHigh = 0x1fee00000;
    for (bool first : {true, false}) {
        Bytes entries =
            first ? lapic_override(kHigh) + lapic(0, 0) : lapic(0, 0) + lapic_override(kHigh);
        Machine m = with_entries(entries);
        auto t = m.topology();
        REQUIRE(t->lapic_base == kHigh);
        REQUIRE(t->lapic_base_overridden);
        REQUIRE(t->entries_invalid == 0);
    }
    // A second override is ignored: the first wins.
    Machine m = with_entries(lapic_override(kHigh) + lapic_override(0x2000));
    auto t = m.topology();
    REQUIRE(t->lapic_base == kHigh);
    REQUIRE(t->entries_invalid == 1);
}

TEST_CASE("acpi: Local APIC and x2APIC NMIs") {
    Bytes entries = lapic_nmi(0xff, 0x5, 1) + lapic_nmi(3, 0xd, 0) +
                    x2apic_nmi(0xf, 0xffffffff, 1) + x2apic_nmi(0, 70000, 0) + x2apic_nmi(0, 7, 2) +
                    lapic_nmi(1, 0, 0xff); // LINT2, LINT255: invalid
    Machine m = with_entries(entries);
    auto t = m.topology();
    REQUIRE(t->nmi_count == 4);
    REQUIRE(t->entries_invalid == 2);
    using N = std::tuple<uint32_t, uint16_t, uint8_t, bool>;
    auto nmi = [&t](size_t i) {
        const LapicNmi& n = t->nmis[i];
        return N{n.acpi_uid, n.flags, n.lint, n.x2apic};
    };
    REQUIRE(nmi(0) == N{kAllProcessors, 0x5, 1, false});
    REQUIRE(nmi(1) == N{3, 0xd, 0, false});
    REQUIRE(nmi(2) == N{kAllProcessors, 0xf, 1, true});
    REQUIRE(nmi(3) == N{70000, 0, 0, true});
}

TEST_CASE("acpi: gsi_for_isa_irq applies overrides, identity otherwise") {
    Machine qemu;
    auto t = qemu.topology();
    uint16_t flags = 0xffff;
    REQUIRE(gsi_for_isa_irq(*t, 0, &flags) == 2);
    REQUIRE(flags == 0);
    REQUIRE(gsi_for_isa_irq(*t, 9, &flags) == 9);
    REQUIRE(flags == 0xd);
    REQUIRE(isa_level_triggered(flags));
    REQUIRE_FALSE(isa_active_low(flags));
    flags = 0xffff;
    REQUIRE(gsi_for_isa_irq(*t, 1, &flags) == 1);
    REQUIRE(flags == 0);
    REQUIRE_FALSE(isa_level_triggered(flags));
    REQUIRE(gsi_for_isa_irq(*t, 4, nullptr) == 4);
    REQUIRE(gsi_for_isa_irq(*t, 11, nullptr) == 11);

    // No overrides at all: identity for every IRQ.
    Machine none = with_entries(lapic(0, 0) + ioapic(0, 0xfec00000, 0));
    auto u = none.topology();
    for (unsigned irq = 0; irq < 256; ++irq) {
        flags = 0xffff;
        REQUIRE(gsi_for_isa_irq(*u, static_cast<uint8_t>(irq), &flags) == irq);
        REQUIRE(flags == 0);
    }

    // Only bus 0 counts, and the first override for an IRQ wins.
    Machine odd = with_entries(iso(1, 4, 20, 0xf) + iso(0, 3, 30, 0xf) + iso(0, 3, 31, 0x5));
    auto v = odd.topology();
    REQUIRE(gsi_for_isa_irq(*v, 4, &flags) == 4);
    REQUIRE(gsi_for_isa_irq(*v, 3, &flags) == 30);
    REQUIRE(flags == 0xf);
    REQUIRE(isa_active_low(flags));
    REQUIRE(isa_level_triggered(flags));
}

TEST_CASE("acpi: MPS INTI flags decode") {
    const char* pol[] = {"Conforms", "ActiveHigh", "Reserved", "ActiveLow"};
    const char* trig[] = {"Conforms", "Edge", "Reserved", "Level"};
    for (uint16_t flags = 0; flags < 16; ++flags) {
        REQUIRE(std::string(polarity_name(polarity(flags))) == pol[flags & 3]);
        REQUIRE(std::string(trigger_name(trigger(flags))) == trig[flags >> 2]);
        REQUIRE(isa_active_low(flags) == ((flags & 3) == 3));
        REQUIRE(isa_level_triggered(flags) == ((flags >> 2) == 3));
    }
    // Bits above 3 are reserved and ignored.
    REQUIRE(polarity(0xfff1) == Polarity::ActiveHigh);
    REQUIRE(trigger(0xfff4) == Trigger::Edge);
    static_assert(polarity(3) == Polarity::ActiveLow);
    static_assert(trigger(0xc) == Trigger::Level);
}

TEST_CASE("acpi: a bad HPET table only costs the HPET") {
    auto hpet_of = [](std::optional<Bytes> hpet) {
        Firmware fw;
        fw.hpet = std::move(hpet);
        Machine m(fw);
        auto t = m.topology();
        REQUIRE(t->cpu_count == 4);
        return std::tuple(exo::status_name(t->hpet_status), t->has_hpet, t->hpet_base);
    };
    using H = std::tuple<std::string, bool, uint64_t>;
    REQUIRE(hpet_of(hpet_table(0xfed00000)) == H{"Ok", true, 0xfed00000});
    REQUIRE(hpet_of(std::nullopt) == H{"NotFound", false, 0});
    REQUIRE(hpet_of(hpet_table(0)) == H{"Malformed", false, 0});
    REQUIRE(hpet_of(hpet_table(0xfed00000, 1)) == H{"Unsupported", false, 0}); // I/O space
    Bytes bad_sum = hpet_table(0xfed00000);
    bad_sum[50] ^= 1;
    REQUIRE(hpet_of(bad_sum) == H{"Malformed", false, 0});
    Bytes short_table = hpet_table(0xfed00000);
    short_table.resize(55);
    set_u32(short_table, 4, 55);
    reseal(short_table);
    REQUIRE(hpet_of(short_table) == H{"Truncated", false, 0});
    // A longer HPET table is fine.
    REQUIRE(hpet_of(sdt("HPET", le(uint32_t{1}, uint32_t{0}, uint64_t{0xfed00000}, uint32_t{0},
                                   uint64_t{0}))) == H{"Ok", true, 0xfed00000});
}

TEST_CASE("acpi: out is reset by every parse; a failed parse leaves it zeroed") {
    auto t = std::make_unique<Topology>();
    std::memset(t.get(), 0xa5, sizeof *t);
    Machine small = with_entries(lapic(0, 0));
    REQUIRE(small.parse_into(*t).ok());
    REQUIRE(t->cpu_count == 1);
    REQUIRE(t->cpus[1].apic_id == 0);
    REQUIRE(t->ioapic_count == 0);

    Machine qemu;
    REQUIRE(qemu.parse_into(*t).ok());
    REQUIRE(t->cpu_count == 4);
    // Fails after CPUs, the I/O APIC and overrides were recorded: none of it may survive.
    Machine late = with_entries(qemu_entries(4) + raw_entry(0, 0, Bytes(6, 0)));
    REQUIRE(status_of(late.parse_into(*t)) == "Malformed");
    REQUIRE(all_zero(*t));
}

TEST_CASE("acpi: every single-byte corruption of the RSDP is parsed or rejected") {
    for (size_t len : {size_t{20}, size_t{36}}) {
        for (uint8_t revision : {uint8_t{0}, uint8_t{2}}) {
            Firmware fw;
            fw.revision = revision;
            fw.rsdp_length = len;
            Machine m(fw);
            const Bytes good = m.rsdp;
            for (size_t i = 0; i < len; ++i) {
                for (uint8_t value : {0x00, 0x01, 0x02, 0x7f, 0x80, 0xfe, 0xff}) {
                    for (bool refix : {false, true}) {
                        m.rsdp = good;
                        m.rsdp[i] = value;
                        if (refix && i != 8 && i != 32) {
                            fix_checksum(m.rsdp, 8, 20);
                            if (len == 36)
                                fix_checksum(m.rsdp, 32, 36);
                        }
                        std::string v = m.verdict(); // checks all_zero on failure
                        if (!refix && value != good[i] && i < 20)
                            REQUIRE(v != "Ok"); // the first checksum catches it
                    }
                }
            }
        }
    }
}

TEST_CASE("acpi: every single-byte corruption of the MADT is parsed or rejected") {
    Firmware fw;
    fw.madt = madt(0xfee00000, 1,
                   qemu_entries(3) + x2apic(300, 1, 3) + x2apic_nmi(0, 0xffffffff, 1) +
                       lapic_override(0xfee00000) + raw_entry(0x20, 4, {1, 2}));
    Machine m(fw);
    const Bytes good = m.mem.at(kMadtAddr);
    size_t ok_after_reseal = 0;
    for (size_t i = 0; i < good.size(); ++i) {
        for (uint8_t value : {0x00, 0x01, 0x02, 0x05, 0x0a, 0x7f, 0x80, 0xfe, 0xff}) {
            if (value == good[i])
                continue;
            m.mem.at(kMadtAddr) = good;
            m.mem.at(kMadtAddr)[i] = value;
            std::string raw = m.verdict();
            if (i < 4 || i >= 8)
                REQUIRE(raw != "Ok"); // the checksum catches it
            if (i == 9)
                continue;
            reseal(m.mem.at(kMadtAddr)); // then the structure itself must be checked
            if (m.verdict() == "Ok")
                ++ok_after_reseal;
        }
    }
    REQUIRE(ok_after_reseal > 0);
}

TEST_CASE("acpi: every single-byte corruption of the root tables is parsed or rejected") {
    for (uint8_t revision : {uint8_t{0}, uint8_t{2}}) {
        Firmware fw;
        fw.revision = revision;
        Machine m(fw);
        const uint64_t root = revision ? kXsdtAddr : kRsdtAddr;
        const Bytes good = m.mem.at(root);
        for (size_t i = 0; i < good.size(); ++i) {
            if (i == 9)
                continue;
            for (uint8_t value : {0x00, 0x01, 0x24, 0x7f, 0x80, 0xff}) {
                m.mem.at(root) = good;
                m.mem.at(root)[i] = value;
                reseal(m.mem.at(root));
                m.verdict();
            }
        }
    }
}

TEST_CASE("acpi: random MADT entries are parsed or rejected within bounds") {
    std::mt19937 rng(20240601);
    auto byte = [&rng] { return static_cast<uint8_t>(rng()); };
    const uint8_t types[] = {0, 1, 2, 3, 4, 5, 9, 0xa, 0xb, 0x7f};
    size_t ok = 0;
    for (int round = 0; round < 3000; ++round) {
        Bytes entries;
        int count = static_cast<int>(rng() % 12);
        for (int i = 0; i < count; ++i) {
            uint8_t type = types[rng() % std::size(types)];
            // Mostly plausible lengths, sometimes anything.
            uint8_t length = rng() % 4 ? static_cast<uint8_t>(2 + rng() % 17) : byte();
            Bytes e = {type, length};
            size_t body = rng() % 8 ? (length >= 2 ? length - 2 : 0) : rng() % 20;
            for (size_t j = 0; j < body; ++j)
                e.push_back(rng() % 3 ? byte() : 0xff);
            entries = entries + e;
        }
        Machine m = with_entries(entries);
        if (m.verdict() == "Ok")
            ++ok;
    }
    REQUIRE(ok > 0);
}
