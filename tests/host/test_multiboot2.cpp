// The Multiboot2 boot-information parser accepts what GRUB emits and rejects every malformed
// block without reading a byte out of bounds: each block sits at the very end of a heap
// allocation of exactly the bytes it may read, so ASan reports any overread.
#include "support.hpp"

#include "lib/multiboot2.hpp"

#include <catch2/catch.hpp>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

using namespace mk::mb2;

namespace {

using Entry = MemoryRegion; // {base, length, type}, as in a memory-map entry

// The little-endian bytes of each argument in turn (x86 and the host are little-endian).
template <typename... T>
std::vector<uint8_t> le(T... values) {
    std::vector<uint8_t> out;
    auto put = [&out](auto v) {
        auto p = reinterpret_cast<const uint8_t*>(&v);
        out.insert(out.end(), p, p + sizeof v);
    };
    (put(values), ...);
    return out;
}

std::vector<uint8_t> operator+(std::vector<uint8_t> a, const std::vector<uint8_t>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

std::vector<uint8_t> cstr(std::string_view s) {
    std::vector<uint8_t> v(s.begin(), s.end());
    v.push_back(0);
    return v;
}

// Assembles a block tag by tag, padding each tag to 8 bytes as the spec requires (3.6.2).
class Builder {
public:
    Builder() : bytes_(8, 0) {} // total_size is patched by build(); reserved stays 0

    // A tag whose size field is `size` (normally 8 + payload), optionally without the padding.
    Builder& raw_tag(uint32_t type, uint32_t size, const std::vector<uint8_t>& payload,
                     bool pad = true) {
        bytes_ = bytes_ + le(type, size) + payload;
        if (pad)
            bytes_.resize((bytes_.size() + 7) & ~size_t{7}, 0);
        return *this;
    }
    Builder& tag(uint32_t type, const std::vector<uint8_t>& payload) {
        return raw_tag(type, static_cast<uint32_t>(8 + payload.size()), payload);
    }
    Builder& cmdline(std::string_view s) { return tag(1, cstr(s)); }
    Builder& loader_name(std::string_view s) { return tag(2, cstr(s)); }
    Builder& module(uint32_t start, uint32_t end, std::string_view name) {
        return tag(3, le(start, end) + cstr(name));
    }
    Builder& memory_map(const std::vector<Entry>& entries, uint32_t entry_size = 24) {
        std::vector<uint8_t> p = le(entry_size, uint32_t{0}); // entry_version 0
        for (const Entry& e : entries) {
            std::vector<uint8_t> raw = le(e.base, e.length, e.type);
            raw.resize(entry_size, 0); // cut or zero-extend to the announced size
            p = p + raw;
        }
        return tag(6, p);
    }
    // An RSDP copy of `length` bytes whose revision byte (offset 15) is `revision`.
    Builder& rsdp(uint32_t type, uint8_t revision, size_t length) {
        std::vector<uint8_t> p = cstr("RSD PTR ");
        p.resize(36, 0);
        p[15] = revision;
        p[35] = 0x5a; // marks the last byte of the ACPI 2.0 copy
        p.resize(length, 0);
        return tag(type, p);
    }
    Builder& framebuffer(uint64_t address, uint32_t pitch, uint32_t width, uint32_t height,
                         uint8_t bpp, size_t payload_length = 24) {
        std::vector<uint8_t> p = le(address, pitch, width, height, bpp, uint8_t{1}); // RGB
        p.resize(payload_length, 0);
        return tag(8, p);
    }
    Builder& end() { return tag(0, {}); }
    Builder& bytes(const std::vector<uint8_t>& raw) {
        bytes_ = bytes_ + raw;
        return *this;
    }

    // The block with total_size = its length, or the given override.
    std::vector<uint8_t> build(int64_t total_size = -1) const {
        std::vector<uint8_t> out = bytes_;
        uint32_t total = static_cast<uint32_t>(total_size < 0 ? out.size() : total_size);
        std::memcpy(out.data(), &total, 4);
        return out;
    }

private:
    std::vector<uint8_t> bytes_;
};

// Copies the first `available` bytes of block to the very end of a heap allocation of exactly
// that length (plus `misalign` bytes in front), then parses them.
exo::Result<void> parse_tail(const std::vector<uint8_t>& block, BootInfo& out,
                             size_t available = SIZE_MAX, size_t misalign = 0) {
    size_t n = available < block.size() ? available : block.size();
    auto storage = std::make_unique<uint8_t[]>(misalign + n);
    if (n)
        std::memcpy(storage.get() + misalign, block.data(), n);
    return parse(storage.get() + misalign, n, out);
}

std::string status_of(const exo::Result<void>& r) {
    return exo::status_name(r.status());
}

// Parses block as parse_tail does, into a scratch BootInfo, and names the resulting Status.
std::string verdict(const std::vector<uint8_t>& block, size_t available = SIZE_MAX,
                    size_t misalign = 0) {
    auto info = std::make_unique<BootInfo>();
    return status_of(parse_tail(block, *info, available, misalign));
}

bool all_zero(const BootInfo& info) {
    auto p = reinterpret_cast<const uint8_t*>(&info);
    for (size_t i = 0; i < sizeof info; ++i)
        if (p[i])
            return false;
    return true;
}

std::unique_ptr<BootInfo> fresh() {
    return std::make_unique<BootInfo>();
}

// QEMU's e820 map for -m 64M.
const std::vector<Entry> kQemuMap = {
    {0x0, 0x9fc00, 1},        {0x9fc00, 0x400, 2},     {0xf0000, 0x10000, 2},
    {0x100000, 0x3ee0000, 1}, {0x3fe0000, 0x20000, 2}, {0xfffc0000, 0x40000, 2},
};

std::vector<uint8_t> grub_like_block() {
    return Builder()
        .cmdline("console=serial loglevel=3")
        .loader_name("GRUB 2.06")
        .module(0x200000, 0x201234, "/boot/init --verbose")
        .module(0x202000, 0x202000, "")
        .tag(0x4242, {1, 2, 3}) // unknown: skipped
        .memory_map(kQemuMap)
        .rsdp(14, 0, 20)
        .rsdp(15, 2, 36)
        .framebuffer(0xfd000000, 4096, 1024, 768, 32)
        .end()
        .build();
}

} // namespace

TEST_CASE("mb2: a GRUB-like block on QEMU -m 64M is parsed and copied out") {
    auto info = fresh();
    std::vector<uint8_t> block = grub_like_block();
    REQUIRE(status_of(parse_tail(block, *info)) == "Ok");

    REQUIRE(info->info_size == block.size());
    REQUIRE(info->has_cmdline);
    REQUIRE(std::string(info->cmdline) == "console=serial loglevel=3");
    REQUIRE(std::string(info->loader_name) == "GRUB 2.06");

    REQUIRE(info->module_count == 2);
    REQUIRE(info->modules_dropped == 0);
    const Module* m = info->modules;
    REQUIRE(std::tuple(m[0].start, m[0].end, std::string(m[0].name)) ==
            std::tuple(0x200000u, 0x201234u, "/boot/init --verbose"));
    REQUIRE(std::tuple(m[1].start, m[1].end, std::string(m[1].name)) ==
            std::tuple(0x202000u, 0x202000u, ""));

    REQUIRE(info->memory_count == kQemuMap.size());
    REQUIRE(info->memory_dropped == 0);
    for (size_t i = 0; i < kQemuMap.size(); ++i) {
        const MemoryRegion& r = info->memory[i];
        REQUIRE(std::tuple(r.base, r.length, r.type) ==
                std::tuple(kQemuMap[i].base, kQemuMap[i].length, kQemuMap[i].type));
    }
    REQUIRE(info->usable_bytes() == 0x9fc00 + (0x3fe0000 - 0x100000));
    REQUIRE(info->highest_usable_end() == 0x3fe0000);

    REQUIRE(info->has_rsdp);
    REQUIRE(info->rsdp_length == 36);
    REQUIRE(info->rsdp_revision == 2);
    REQUIRE(std::memcmp(info->rsdp, "RSD PTR ", 8) == 0);
    REQUIRE(info->rsdp[35] == 0x5a);

    const Framebuffer& fb = info->framebuffer;
    REQUIRE(info->has_framebuffer);
    REQUIRE(std::tuple(fb.address, fb.pitch, fb.width, fb.height, fb.bpp, fb.type) ==
            std::tuple(0xfd000000ull, 4096u, 1024u, 768u, uint8_t{32}, uint8_t{1}));
}

TEST_CASE("mb2: a minimal block and data after the end tag") {
    auto info = fresh();
    REQUIRE(parse_tail(Builder().end().build(), *info).ok());
    REQUIRE(info->info_size == 16);
    REQUIRE_FALSE(info->has_cmdline);
    REQUIRE(info->memory_count == 0);
    REQUIRE(info->usable_bytes() == 0);
    REQUIRE(info->highest_usable_end() == 0);

    // Garbage after the end tag, inside total_size, is never looked at.
    auto block = Builder().cmdline("a").end().bytes({0xff, 0xff, 0xff, 0xff, 1, 0, 0, 0}).build();
    REQUIRE(parse_tail(block, *info).ok());
    REQUIRE(std::string(info->cmdline) == "a");
}

TEST_CASE("mb2: RSDP v2 is preferred in either order; v1 alone is kept") {
    auto info = fresh();
    REQUIRE(parse_tail(Builder().rsdp(15, 2, 36).rsdp(14, 0, 20).end().build(), *info).ok());
    REQUIRE(info->rsdp_length == 36);
    REQUIRE(info->rsdp_revision == 2);
    REQUIRE(info->rsdp[35] == 0x5a);

    REQUIRE(parse_tail(Builder().rsdp(14, 0, 20).end().build(), *info).ok());
    REQUIRE(info->has_rsdp);
    REQUIRE(info->rsdp_length == 20);
    REQUIRE(info->rsdp_revision == 0);
    REQUIRE(info->rsdp[20] == 0);
}

TEST_CASE("mb2: short RSDP and framebuffer tags are Truncated") {
    auto info = fresh();
    REQUIRE(verdict(Builder().rsdp(14, 0, 19).end().build()) == "Truncated");
    REQUIRE(verdict(Builder().rsdp(15, 2, 35).end().build()) == "Truncated");
    REQUIRE(verdict(Builder().rsdp(15, 2, 20).end().build()) == "Truncated");
    REQUIRE(verdict(Builder().framebuffer(1, 2, 3, 4, 5, 21).end().build()) == "Truncated");
    REQUIRE(parse_tail(Builder().framebuffer(1, 2, 3, 4, 5, 22).end().build(), *info).ok());
    REQUIRE(info->framebuffer.bpp == 5);
}

TEST_CASE("mb2: region_type_name names the spec's types") {
    const char* names[] = {"Unknown", "Available", "Reserved", "AcpiReclaimable", "AcpiNvs", "Bad"};
    for (uint32_t type = 0; type < 6; ++type)
        REQUIRE(std::string(region_type_name(type)) == names[type]);
    REQUIRE(std::string(region_type_name(0xf00d)) == "Unknown");
}

TEST_CASE("mb2: the fixed header is validated") {
    auto info = fresh();
    std::vector<uint8_t> block = Builder().end().build();
    for (size_t n = 0; n < 8; ++n)
        REQUIRE(verdict(block, n) == "Truncated");
    REQUIRE(status_of(parse(nullptr, 64, *info)) == "InvalidArgument");

    // total_size smaller than header + end tag.
    for (int64_t total : {0, 8, 15})
        REQUIRE(verdict(Builder().end().build(total)) == "Malformed");
    // total_size past the end of the buffer.
    REQUIRE(verdict(Builder().end().build(24)) == "Truncated");
    REQUIRE(verdict(Builder().end().build(0xfffffff8)) == "Truncated");
    REQUIRE(verdict(Builder().end().build(0xffffffff)) == "Truncated");
    // total_size not a multiple of 8 (the buffer is large enough).
    auto padded = Builder().end().bytes({0, 0, 0, 0, 0, 0, 0, 0});
    REQUIRE(verdict(padded.build(20)) == "Malformed");
    REQUIRE(parse_tail(padded.build(24), *info).ok());
}

TEST_CASE("mb2: every prefix shorter than total_size is Truncated, read within bounds") {
    auto info = fresh();
    std::vector<uint8_t> block = grub_like_block();
    for (size_t n = 0; n < block.size(); ++n)
        REQUIRE(verdict(block, n) == "Truncated");
    REQUIRE(parse_tail(block, *info, block.size()).ok());
}

TEST_CASE("mb2: a misaligned info pointer is rejected") {
    auto info = fresh();
    std::vector<uint8_t> block = Builder().cmdline("x").end().build();
    for (size_t misalign : {1, 2, 4, 7})
        REQUIRE(verdict(block, SIZE_MAX, misalign) == "Misaligned");
    REQUIRE(parse_tail(block, *info, SIZE_MAX, 8).ok());
}

TEST_CASE("mb2: tag headers and sizes are bounded by total_size") {
    // A tag header straddling the end: 4 bytes of a header after the cmdline tag. Tag offsets
    // are 8-aligned, so this needs total_size % 8 != 0 (Malformed) or a short buffer (Truncated).
    auto straddle = Builder().cmdline("abc").bytes({1, 0, 0, 0});
    REQUIRE(verdict(straddle.build()) == "Malformed");
    REQUIRE(verdict(straddle.build(32)) == "Truncated");
    // A tag whose size runs past total_size, with the buffer ending at total_size...
    auto past = Builder().raw_tag(0x99, 64, {1, 2, 3, 4, 5, 6, 7, 8}).end().build();
    REQUIRE(verdict(past) == "Malformed");
    // ...and with readable bytes beyond total_size that must still not be used.
    auto beyond = Builder().raw_tag(0x99, 24, {0, 0, 0, 0, 0, 0, 0, 0}).end().build(24);
    REQUIRE(beyond.size() == 32);
    REQUIRE(verdict(beyond) == "Malformed");
    // Zero-length and undersized tags would loop forever or overlap the next header.
    for (uint32_t size : {0u, 1u, 4u, 7u})
        REQUIRE(verdict(Builder().raw_tag(0x99, size, {}).end().build()) == "Malformed");
    // The end tag must be exactly 8 bytes.
    REQUIRE(verdict(Builder().raw_tag(0, 16, {0, 0, 0, 0, 0, 0, 0, 0}).build()) == "Malformed");
}

TEST_CASE("mb2: a missing end tag is Malformed") {
    REQUIRE(verdict(Builder().cmdline("abc").build()) == "Malformed");
    REQUIRE(verdict(Builder().tag(0x99, {}).tag(0x98, {}).build()) == "Malformed");
}

TEST_CASE("mb2: tag sizes need not be multiples of 8 but the next tag must be padded") {
    auto info = fresh();
    // Size 13: 5 payload bytes, then 3 bytes of padding before the next tag.
    auto padded = Builder().raw_tag(0x99, 13, {1, 2, 3, 4, 5}).cmdline("after").end().build();
    REQUIRE(padded.size() == 8 + 16 + 16 + 8);
    REQUIRE(status_of(parse_tail(padded, *info)) == "Ok");
    REQUIRE(std::string(info->cmdline) == "after");

    // The same tags with the next one placed right after the 13 bytes: the parser looks at the
    // aligned offset, finds no valid header there, and rejects the block.
    auto unpadded = Builder()
                        .raw_tag(0x99, 13, {1, 2, 3, 4, 5}, false)
                        .raw_tag(0x98, 16, {0, 0, 0, 0, 0, 0, 0, 0}, false)
                        .raw_tag(0, 8, {}, false)
                        .bytes({0, 0, 0})
                        .build();
    REQUIRE(unpadded.size() == 48);
    REQUIRE(verdict(unpadded) == "Malformed");
}

TEST_CASE("mb2: sizes near UINT32_MAX do not overflow") {
    auto info = fresh();
    for (uint32_t size : {0xffffffffu, 0xfffffff8u, 0xfffffff9u, 0x80000000u})
        REQUIRE(verdict(Builder().raw_tag(0x99, size, {}).end().build()) == "Malformed");
    // entry_size 0xfffffff8, version 0, one 24-byte entry.
    std::vector<uint8_t> geometry = le(0xfffffff8u, 0u) + std::vector<uint8_t>(24, 0);
    REQUIRE(verdict(Builder().tag(6, geometry).end().build()) == "Malformed");
    auto mod = Builder().module(0xfffff000, 0xffffffff, "top").end().build();
    REQUIRE(parse_tail(mod, *info).ok());
    REQUIRE(info->modules[0].end == 0xffffffff);
}

TEST_CASE("mb2: cmdline and loader name must be NUL-terminated within their tags") {
    auto info = fresh();
    REQUIRE(verdict(Builder().tag(1, {'a', 'b', 'c'}).end().build()) == "Malformed");
    REQUIRE(verdict(Builder().tag(1, {}).end().build()) == "Malformed");
    REQUIRE(verdict(Builder().tag(2, {'G', 'R', 'U', 'B'}).end().build()) == "Malformed");
    // The NUL may come before the end of the tag; the rest is ignored.
    REQUIRE(parse_tail(Builder().tag(1, {'o', 'k', 0, 'x', 'y'}).end().build(), *info).ok());
    REQUIRE(std::string(info->cmdline) == "ok");
    REQUIRE(parse_tail(Builder().cmdline("").end().build(), *info).ok());
    REQUIRE(info->has_cmdline);
    REQUIRE(info->cmdline[0] == '\0');
}

TEST_CASE("mb2: the cmdline is never truncated; the loader name may be") {
    auto info = fresh();
    std::string fits(kMaxCmdline - 1, 'c');
    REQUIRE(parse_tail(Builder().cmdline(fits).end().build(), *info).ok());
    REQUIRE(std::string(info->cmdline) == fits);
    std::string too_long(kMaxCmdline, 'c');
    REQUIRE(verdict(Builder().cmdline(too_long).end().build()) == "BufferTooSmall");

    std::string name(200, 'n');
    REQUIRE(parse_tail(Builder().loader_name(name).end().build(), *info).ok());
    REQUIRE(std::string(info->loader_name) == name.substr(0, kMaxLoaderName - 1));
}

TEST_CASE("mb2: modules are validated and long names truncated") {
    auto info = fresh();
    REQUIRE(verdict(Builder().module(0x2000, 0x1fff, "x").end().build()) == "Malformed");
    REQUIRE(verdict(Builder().tag(3, le(0x1000u, 0x2000u, 'm')).end().build()) == "Malformed");
    // start and end, no string at all.
    REQUIRE(verdict(Builder().tag(3, le(0x1000u, 0x2000u)).end().build()) == "Malformed");
    REQUIRE(verdict(Builder().tag(3, {0, 0, 0, 0}).end().build()) == "Truncated");

    std::string name(300, 'm');
    REQUIRE(parse_tail(Builder().module(0x1000, 0x2000, name).end().build(), *info).ok());
    REQUIRE(std::string(info->modules[0].name) == name.substr(0, kMaxModuleName - 1));
}

TEST_CASE("mb2: modules beyond kMaxModules are counted in modules_dropped") {
    auto info = fresh();
    Builder b;
    for (uint32_t i = 0; i < kMaxModules + 5; ++i)
        b.module(i * 0x1000, i * 0x1000 + 0x800, "mod" + std::to_string(i));
    REQUIRE(parse_tail(b.end().build(), *info).ok());
    REQUIRE(info->module_count == kMaxModules);
    REQUIRE(info->modules_dropped == 5);
    REQUIRE(std::string(info->modules[kMaxModules - 1].name) ==
            "mod" + std::to_string(kMaxModules - 1));
}

TEST_CASE("mb2: memory map geometry is validated") {
    auto info = fresh();
    std::vector<Entry> one = {{0x100000, 0x1000, 1}};
    for (uint32_t entry_size : {0u, 8u, 16u, 20u, 28u, 30u})
        REQUIRE(verdict(Builder().memory_map(one, entry_size).end().build()) == "Malformed");
    // A larger, 8-aligned entry_size is accepted; only the first 24 bytes of each are read.
    REQUIRE(parse_tail(Builder().memory_map(kQemuMap, 32).end().build(), *info).ok());
    REQUIRE(info->memory_count == kQemuMap.size());
    REQUIRE(info->highest_usable_end() == 0x3fe0000);

    // Entries that do not divide the tag evenly: one 24-byte entry plus 8 stray bytes.
    std::vector<uint8_t> p = le(24u, 0u) + std::vector<uint8_t>(24 + 8, 0);
    REQUIRE(verdict(Builder().tag(6, p).end().build()) == "Malformed");
    // Too short for entry_size and entry_version.
    REQUIRE(verdict(Builder().tag(6, {24, 0, 0, 0}).end().build()) == "Truncated");
    // An empty map is fine.
    REQUIRE(parse_tail(Builder().memory_map({}).end().build(), *info).ok());
    REQUIRE(info->memory_count == 0);
}

TEST_CASE("mb2: memory regions may not wrap; zero-length regions are skipped") {
    auto info = fresh();
    std::vector<Entry> wraps = {{0xfffffffffffff000, 0x1000, 2}};
    REQUIRE(verdict(Builder().memory_map(wraps).end().build()) == "Malformed");
    std::vector<Entry> huge = {{0x1000, UINT64_MAX, 1}};
    REQUIRE(verdict(Builder().memory_map(huge).end().build()) == "Malformed");
    std::vector<Entry> top = {{0xfffffffffffff000, 0xfff, 1}, {0x5000, 0, 1}, {0, 0x1000, 7}};
    REQUIRE(parse_tail(Builder().memory_map(top).end().build(), *info).ok());
    REQUIRE(info->memory_count == 2);
    REQUIRE(info->memory[1].type == 7);
    REQUIRE(info->highest_usable_end() == UINT64_MAX);
    REQUIRE(info->usable_bytes() == 0xfff);
}

TEST_CASE("mb2: regions beyond kMaxMemoryRegions are counted in memory_dropped") {
    auto info = fresh();
    std::vector<Entry> many;
    for (uint64_t i = 0; i < kMaxMemoryRegions + 44; ++i)
        many.push_back({i * 0x2000, 0x1000, 1});
    REQUIRE(parse_tail(Builder().memory_map(many).end().build(), *info).ok());
    REQUIRE(info->memory_count == kMaxMemoryRegions);
    REQUIRE(info->memory_dropped == 44);
    REQUIRE(info->usable_bytes() == kMaxMemoryRegions * 0x1000);
}

TEST_CASE("mb2: a second cmdline, memory map or RSDP tag of one type is Malformed") {
    REQUIRE(verdict(Builder().cmdline("a").cmdline("b").end().build()) == "Malformed");
    REQUIRE(verdict(Builder().memory_map(kQemuMap).memory_map(kQemuMap).end().build()) ==
            "Malformed");
    REQUIRE(verdict(Builder().rsdp(14, 0, 20).rsdp(14, 0, 20).end().build()) == "Malformed");
}

TEST_CASE("mb2: out is reset by every parse; a failed parse leaves it zeroed") {
    auto info = fresh();
    std::memset(info.get(), 0xa5, sizeof *info);
    REQUIRE(parse_tail(Builder().end().build(), *info).ok());
    REQUIRE(info->info_size == 16);
    std::memset(&info->info_size, 0, sizeof info->info_size);
    REQUIRE(all_zero(*info));

    REQUIRE(parse_tail(grub_like_block(), *info).ok());
    REQUIRE(info->memory_count > 0);
    // Fails after cmdline, modules and memory map were copied: none of it may survive.
    auto late_failure = Builder()
                            .cmdline("stale")
                            .module(0x1000, 0x2000, "stale")
                            .memory_map(kQemuMap)
                            .module(2, 1, "bad")
                            .end()
                            .build();
    REQUIRE(status_of(parse_tail(late_failure, *info)) == "Malformed");
    REQUIRE(all_zero(*info));
    REQUIRE_FALSE(info->has_cmdline);
    REQUIRE(info->memory_count == 0);
}

TEST_CASE("mb2: every single-byte corruption is parsed or rejected within bounds") {
    auto info = fresh();
    const std::vector<uint8_t> block = grub_like_block();
    for (size_t i = 0; i < block.size(); ++i) {
        for (uint8_t value : {0x00, 0x01, 0x07, 0x0f, 0x7f, 0x80, 0xff}) {
            std::vector<uint8_t> bad = block;
            bad[i] = value;
            auto r = parse_tail(bad, *info); // ASan aborts on any overread
            if (!r.ok())
                REQUIRE(all_zero(*info));
        }
    }
}
