// The ELF64 parser accepts static x86-64 executables as linkers lay them out and rejects every
// malformed one with the Status exo/elf.hpp documents, without reading a byte out of bounds: each
// image sits at the very end of a heap allocation of exactly its length, so ASan reports any
// overread. Images are built with the host's <elf.h> structures, an independent statement of
// the layout the parser reads.
#include "support.hpp"

#include <exo/elf.hpp>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstddef>
#include <cstring>
#include <elf.h>
#include <iterator>
#include <memory>
#include <random>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

using namespace exo::elf;

namespace {

using Bytes = std::vector<uint8_t>;
__extension__ typedef unsigned __int128 Wide; // sums of two u64 values, checked without wrapping

constexpr Limits kLimits{exo::kUserBase, exo::kUserTop};
constexpr uint32_t kR = PF_R;
constexpr uint32_t kRX = PF_R | PF_X;
constexpr uint32_t kRW = PF_R | PF_W;

static_assert(page_floor(0x401fff) == 0x401000 && page_floor(0x401000) == 0x401000);
static_assert(page_ceil(0x401001) == 0x402000 && page_ceil(0x401000) == 0x401000);
static_assert(kRead == PF_R && kWrite == PF_W && kExec == PF_X);

Elf64_Phdr load(uint64_t vaddr, uint64_t offset, uint64_t filesz, uint64_t memsz, uint32_t flags,
                uint64_t align = 0x1000) {
    return Elf64_Phdr{PT_LOAD, flags, offset, vaddr, vaddr, filesz, memsz, align};
}

// A program header of another type whose fields would all be invalid in a PT_LOAD.
Elf64_Phdr other(uint32_t type) {
    return Elf64_Phdr{type, PF_R | PF_W | PF_X, UINT64_MAX, UINT64_MAX, 0, UINT64_MAX, 3, 3};
}

// An ELF file: the header, the program header table at e_phoff (e_phnum is set from `ph`) and a
// patterned payload filling the file up to `size` bytes.
struct Elf {
    Elf64_Ehdr eh;
    std::vector<Elf64_Phdr> ph;
    size_t size;

    Bytes bytes() const {
        Elf64_Ehdr h = eh;
        h.e_phnum = static_cast<uint16_t>(ph.size());
        size_t table = ph.size() * sizeof(Elf64_Phdr);
        REQUIRE(h.e_phoff <= SIZE_MAX - table);
        Bytes out(std::max<size_t>(size, h.e_phoff + table));
        for (size_t i = 0; i < out.size(); ++i)
            out[i] = static_cast<uint8_t>(i * 7 + 3);
        std::memcpy(out.data(), &h, sizeof h);
        if (table)
            std::memcpy(out.data() + h.e_phoff, ph.data(), table);
        return out;
    }
};

// What `ld -static` produces, in miniature: read-only headers, text, data with .bss, and the
// PT_NOTE and PT_GNU_STACK entries a loader ignores. The data segment ends at the end of the
// file, so every shorter prefix of the file is truncated.
Elf sample() {
    Elf e{};
    const uint8_t ident[] = {ELFMAG0,    ELFMAG1,     ELFMAG2,   ELFMAG3,
                             ELFCLASS64, ELFDATA2LSB, EV_CURRENT};
    std::memcpy(e.eh.e_ident, ident, sizeof ident);
    e.eh.e_type = ET_EXEC;
    e.eh.e_machine = EM_X86_64;
    e.eh.e_version = EV_CURRENT;
    e.eh.e_entry = 0x401020;
    e.eh.e_phoff = sizeof(Elf64_Ehdr);
    e.eh.e_ehsize = sizeof(Elf64_Ehdr);
    e.eh.e_phentsize = sizeof(Elf64_Phdr);
    e.eh.e_shentsize = sizeof(Elf64_Shdr);
    e.ph = {
        load(0x400000, 0, 0x1e8, 0x1e8, kR),
        load(0x401000, 0x1000, 0x800, 0x800, kRX),
        load(0x403000, 0x2000, 0x100, 0x2f00, kRW),
        Elf64_Phdr{PT_NOTE, PF_R, 0x158, 0x400158, 0x400158, 0x20, 0x20, 8},
        Elf64_Phdr{PT_GNU_STACK, PF_R | PF_W, 0, 0, 0, 0, 0, 16},
    };
    e.size = 0x2100;
    return e;
}

template <typename T>
void patch(Bytes& b, size_t at, T value) {
    REQUIRE(at + sizeof value <= b.size());
    std::memcpy(b.data() + at, &value, sizeof value);
}

// Why `img` breaks a guarantee of exo/elf.hpp for an input of `size` bytes, or "" if it keeps
// them all. Sums are formed in 128 bits, independently of the parser's wrap-free comparisons.
std::string broken_invariant(const Image& img, size_t size, const Limits& limits) {
    if (img.segment_count == 0 || img.segment_count > kMaxSegments)
        return "segment_count";
    bool entry_found = false;
    for (size_t i = 0; i < kMaxSegments; ++i) {
        const Segment& s = img.segments[i];
        if (i >= img.segment_count) {
            if (s.vaddr || s.mem_size || s.file_offset || s.file_size || s.flags)
                return "an unused segment is not zero";
            continue;
        }
        if (s.mem_size == 0 || s.file_size > s.mem_size)
            return "sizes";
        if (Wide{s.file_offset} + s.file_size > size)
            return "file range outside the input";
        Wide end = Wide{s.vaddr} + s.mem_size;
        if (page_floor(s.vaddr) < limits.user_base ||
            (end + exo::kPageSize - 1) / exo::kPageSize * exo::kPageSize > Wide{limits.user_top})
            return "pages outside the limits";
        if ((s.flags & ~uint32_t{kRead | kWrite | kExec}) ||
            ((s.flags & kWrite) && (s.flags & kExec)))
            return "flags";
        for (size_t j = 0; j < i; ++j) {
            const Segment& p = img.segments[j];
            if (page_ceil(p.vaddr + p.mem_size) > page_floor(s.vaddr))
                return "segments out of order or sharing a page";
        }
        if ((s.flags & kExec) && img.entry >= s.vaddr && Wide{img.entry} < end)
            entry_found = true;
    }
    return entry_found ? "" : "entry outside every executable segment";
}

// Parses the first `available` bytes of `file`, copied to the very end of a heap allocation of
// exactly that length (plus `misalign` bytes in front), and checks the guarantees of a success.
exo::Result<Image> parse_tail(const Bytes& file, const Limits& limits = kLimits,
                              size_t available = SIZE_MAX, size_t misalign = 0) {
    size_t n = available < file.size() ? available : file.size();
    auto storage = std::make_unique<uint8_t[]>(misalign + n);
    if (n)
        std::memcpy(storage.get() + misalign, file.data(), n);
    exo::Result<Image> r = parse(storage.get() + misalign, n, limits);
    if (r.ok())
        REQUIRE(broken_invariant(r.value(), n, limits).empty());
    return r;
}

std::string verdict(const Bytes& file, const Limits& limits = kLimits, size_t available = SIZE_MAX,
                    size_t misalign = 0) {
    return exo::status_name(parse_tail(file, limits, available, misalign).status());
}

std::string verdict(const Elf& e, const Limits& limits = kLimits) {
    return verdict(e.bytes(), limits);
}

// A segment's fields: vaddr, mem_size, file_offset, file_size, flags.
using Fields = std::tuple<uint64_t, uint64_t, uint64_t, uint64_t, uint32_t>;

Fields fields(const Segment& s) {
    return Fields(s.vaddr, s.mem_size, s.file_offset, s.file_size, s.flags);
}

} // namespace

TEST_CASE("elf: a static executable parses into its loadable segments", "[elf]") {
    auto r = parse_tail(sample().bytes());
    REQUIRE(r.ok());
    const Image& img = r.value();
    REQUIRE(img.entry == 0x401020);
    REQUIRE(img.segment_count == 3);
    REQUIRE(fields(img.segments[0]) == Fields(0x400000, 0x1e8, 0, 0x1e8, kRead));
    REQUIRE(fields(img.segments[1]) == Fields(0x401000, 0x800, 0x1000, 0x800, kRead | kExec));
    REQUIRE(fields(img.segments[2]) == Fields(0x403000, 0x2f00, 0x2000, 0x100, kRead | kWrite));
    for (size_t i = 3; i < kMaxSegments; ++i)
        REQUIRE(fields(img.segments[i]) == Fields{});
    // The input needs no alignment.
    REQUIRE(verdict(sample().bytes(), kLimits, SIZE_MAX, 3) == "Ok");
}

TEST_CASE("elf: every truncation of a valid image is rejected as Truncated", "[elf]") {
    Bytes file = sample().bytes();
    for (size_t misalign : {size_t{0}, size_t{1}}) {
        for (size_t n = 0; n < file.size(); ++n) {
            INFO("prefix of " << n << " bytes, misaligned by " << misalign);
            REQUIRE(verdict(file, kLimits, n, misalign) == "Truncated");
        }
    }
    REQUIRE(verdict(file, kLimits, file.size(), 1) == "Ok");
}

TEST_CASE("elf: null data and unusable limits are invalid arguments", "[elf]") {
    REQUIRE(exo::status_name(parse(nullptr, 100, kLimits).status()) ==
            std::string("InvalidArgument"));
    REQUIRE(exo::status_name(parse(nullptr, 0, kLimits).status()) == std::string("Truncated"));
    Bytes file = sample().bytes();
    REQUIRE(verdict(file, Limits{0x400000, 0x400000}) == "InvalidArgument");
    REQUIRE(verdict(file, Limits{0x500000, 0x400000}) == "InvalidArgument");
    REQUIRE(verdict(file, Limits{0x10001, exo::kUserTop}) == "InvalidArgument");
    REQUIRE(verdict(file, Limits{0x10000, exo::kUserTop - 1}) == "InvalidArgument");
}

TEST_CASE("elf: the identification bytes are checked", "[elf]") {
    const std::tuple<size_t, uint8_t, const char*> cases[] = {
        {EI_MAG0, 0x7e, "Malformed"},
        {EI_MAG1, 'e', "Malformed"},
        {EI_MAG2, 0, "Malformed"},
        {EI_MAG3, 'G', "Malformed"},
        {EI_CLASS, ELFCLASS32, "Unsupported"},
        {EI_CLASS, ELFCLASSNONE, "Malformed"},
        {EI_CLASS, 3, "Malformed"},
        {EI_DATA, ELFDATA2MSB, "Unsupported"},
        {EI_DATA, ELFDATANONE, "Malformed"},
        {EI_DATA, 3, "Malformed"},
        {EI_VERSION, EV_NONE, "Malformed"},
        {EI_VERSION, 2, "Malformed"},
    };
    for (auto [at, value, expected] : cases) {
        Elf e = sample();
        e.eh.e_ident[at] = value;
        INFO("e_ident[" << at << "] = " << int{value});
        REQUIRE(verdict(e) == expected);
    }
    // The OS ABI byte and the padding are not checked (static glibc binaries say ELFOSABI_GNU).
    Elf e = sample();
    e.eh.e_ident[EI_OSABI] = ELFOSABI_GNU;
    e.eh.e_ident[EI_PAD] = 0xff;
    REQUIRE(verdict(e) == "Ok");
}

TEST_CASE("elf: only x86-64 executables are supported", "[elf]") {
    const std::tuple<uint16_t, const char*> types[] = {
        {ET_REL, "Unsupported"}, {ET_DYN, "Unsupported"}, {ET_CORE, "Unsupported"},
        {ET_NONE, "Malformed"},  {0x1234, "Malformed"},   {0xffff, "Malformed"},
    };
    for (auto [type, expected] : types) {
        Elf e = sample();
        e.eh.e_type = type;
        INFO("e_type " << type);
        REQUIRE(verdict(e) == expected);
    }
    for (uint16_t machine : {EM_NONE, EM_386, EM_AARCH64, EM_RISCV, 0xffff}) {
        Elf e = sample();
        e.eh.e_machine = machine;
        INFO("e_machine " << machine);
        REQUIRE(verdict(e) == "Unsupported");
    }
}

TEST_CASE("elf: the header's version and sizes are checked", "[elf]") {
    for (uint32_t version : {0u, 2u, 0xffffffffu}) {
        Elf e = sample();
        e.eh.e_version = version;
        REQUIRE(verdict(e) == "Malformed");
    }
    for (uint16_t ehsize : {0, 52, 63}) {
        Elf e = sample();
        e.eh.e_ehsize = ehsize;
        REQUIRE(verdict(e) == "Malformed");
    }
    for (uint16_t phentsize : {0, 32, 55, 57, 64, 0xffff}) {
        Elf e = sample();
        e.eh.e_phentsize = phentsize;
        INFO("e_phentsize " << phentsize);
        REQUIRE(verdict(e) == "Malformed");
    }
    // A larger header is allowed (its extra bytes are not read); section headers are ignored.
    Elf e = sample();
    e.eh.e_ehsize = 128;
    e.eh.e_shoff = UINT64_MAX;
    e.eh.e_shnum = 0xffff;
    e.eh.e_shentsize = 1;
    REQUIRE(verdict(e) == "Ok");
}

TEST_CASE("elf: the program header table must lie inside the file", "[elf]") {
    Bytes file = sample().bytes();
    const size_t table = 5 * sizeof(Elf64_Phdr);
    const uint64_t offsets[] = {file.size(),       file.size() - table + 1,
                                uint64_t{1} << 32, UINT64_MAX - table + 1,
                                UINT64_MAX - 8,    UINT64_MAX};
    for (uint64_t phoff : offsets) {
        Bytes b = file;
        patch(b, offsetof(Elf64_Ehdr, e_phoff), phoff);
        INFO("e_phoff " << phoff);
        REQUIRE(verdict(b) == "Truncated");
    }
    // The table may sit anywhere, unaligned, and end exactly at the end of the file.
    Elf e = sample();
    e.eh.e_phoff = 0x2100 + 3;
    Bytes moved = e.bytes();
    REQUIRE(moved.size() == 0x2103 + table);
    REQUIRE(verdict(moved) == "Ok");
    REQUIRE(verdict(moved, kLimits, moved.size() - 1) == "Truncated");
}

TEST_CASE("elf: the number of program headers is bounded", "[elf]") {
    Bytes file = sample().bytes();
    patch(file, offsetof(Elf64_Ehdr, e_phnum), uint16_t{0});
    REQUIRE(verdict(file) == "Malformed");
    patch(file, offsetof(Elf64_Ehdr, e_phnum), uint16_t{PN_XNUM});
    REQUIRE(verdict(file) == "OutOfRange");

    // Tables that fit in the file: 256 entries are accepted, 257 and 300 are not.
    for (auto [count, expected] :
         {std::tuple(256, "Ok"), std::tuple(257, "OutOfRange"), std::tuple(300, "OutOfRange")}) {
        Elf e = sample();
        while (e.ph.size() < static_cast<size_t>(count))
            e.ph.push_back(other(PT_NULL));
        INFO(count << " program headers");
        REQUIRE(verdict(e) == expected);
    }
}

TEST_CASE("elf: at most kMaxSegments loadable segments", "[elf]") {
    // One text page, then .bss-only pages up to `count` segments.
    auto image = [](size_t count) {
        Elf e = sample();
        e.ph = {load(0x401000, 0x1000, 0x800, 0x800, kRX)};
        for (uint64_t i = 1; i < count; ++i)
            e.ph.push_back(load(0x401000 + i * 0x1000, 0, 0, 0x1000, kRW));
        return e;
    };
    auto r = parse_tail(image(kMaxSegments).bytes());
    REQUIRE(r.ok());
    REQUIRE(r.value().segment_count == kMaxSegments);
    REQUIRE(r.value().segments[kMaxSegments - 1].vaddr == 0x410000);
    REQUIRE(verdict(image(kMaxSegments + 1)) == "OutOfRange");
    // Skipped empty segments do not count.
    Elf e = image(kMaxSegments);
    e.ph.insert(e.ph.begin() + 3, load(0x500000, 0, 0, 0, kR));
    REQUIRE(verdict(e) == "Ok");
}

TEST_CASE("elf: an image without a loadable segment is malformed", "[elf]") {
    Elf e = sample();
    e.ph = {other(PT_NOTE), other(PT_GNU_STACK)};
    REQUIRE(verdict(e) == "Malformed");
    e.ph = {load(0x401000, 0x1000, 0, 0, kRX)};
    REQUIRE(verdict(e) == "Malformed");
}

TEST_CASE("elf: segment file ranges must lie inside the file", "[elf]") {
    auto with_data = [](uint64_t offset, uint64_t filesz, uint64_t memsz = 0x2f00) {
        Elf e = sample();
        e.ph[2].p_offset = offset;
        e.ph[2].p_filesz = filesz;
        e.ph[2].p_memsz = memsz;
        return verdict(e);
    };
    REQUIRE(with_data(0x2000, 0x100) == "Ok"); // ends exactly at the end of the file
    REQUIRE(with_data(0x2000, 0x101) == "Truncated");
    REQUIRE(with_data(0x3000, 0) == "Truncated");                  // offset past the end
    REQUIRE(with_data(0xfffffffffffff000, 0x1000) == "Truncated"); // offset + filesz wraps to 0
    REQUIRE(with_data(UINT64_MAX - 0xfff, 0x2000) == "Truncated");
    REQUIRE(with_data(0x1000, UINT64_MAX - 0xfff, UINT64_MAX - 0xfff) == "Truncated");
}

TEST_CASE("elf: filesz may not exceed memsz", "[elf]") {
    Elf e = sample();
    e.ph[1].p_filesz = 0x801;
    REQUIRE(verdict(e) == "Malformed");
    e = sample();
    e.ph[2].p_memsz = 0xff; // file data without room for it
    REQUIRE(verdict(e) == "Malformed");
    e = sample();
    e.ph[2].p_memsz = 0; // not skipped: its file bytes have nowhere to go
    REQUIRE(verdict(e) == "Malformed");
}

TEST_CASE("elf: segments must lie inside the user range", "[elf]") {
    auto data_at = [](uint64_t vaddr, uint64_t memsz, const Limits& limits = kLimits) {
        Elf e = sample();
        e.ph[2].p_vaddr = vaddr;
        e.ph[2].p_memsz = memsz;
        return verdict(e, limits);
    };
    REQUIRE(data_at(0xffffffff80000000, 0x2f00) == "OutOfRange"); // the kernel half
    REQUIRE(data_at(0x0000800000000000, 0x1000) == "OutOfRange"); // non-canonical
    REQUIRE(data_at(exo::kUserTop - 0x3000, 0x3000) == "Ok");     // ends at user_top
    REQUIRE(data_at(exo::kUserTop - 0x3000, 0x3001) == "OutOfRange");
    REQUIRE(data_at(exo::kUserTop, 0x1000) == "OutOfRange");
    // vaddr + memsz wraps, even with the widest limits.
    const Limits widest{0x1000, 0xfffffffffffff000};
    REQUIRE(data_at(0xffffffffffffe000, 0x3000, widest) == "OutOfRange");
    REQUIRE(data_at(0x403000, UINT64_MAX, widest) == "OutOfRange");
    REQUIRE(data_at(0xffffffffffffd000, 0x2000, widest) == "Ok"); // ends at that user_top

    // Below user_base: address 0 and the guard area below it.
    for (uint64_t vaddr : {uint64_t{0}, uint64_t{0x1000}, exo::kUserBase - 0x1000}) {
        Elf e = sample();
        e.ph[0].p_vaddr = vaddr;
        INFO("vaddr " << vaddr);
        REQUIRE(verdict(e) == "OutOfRange");
    }
    // Caller-chosen limits, tight around the image's pages [0x400000, 0x406000).
    REQUIRE(verdict(sample(), Limits{0x400000, 0x406000}) == "Ok");
    REQUIRE(verdict(sample(), Limits{0x401000, 0x406000}) == "OutOfRange");
    REQUIRE(verdict(sample(), Limits{0x400000, 0x405000}) == "OutOfRange");
}

TEST_CASE("elf: segment alignment is checked", "[elf]") {
    auto text = [](uint64_t vaddr, uint64_t align) {
        Elf e = sample();
        e.ph[1].p_vaddr = vaddr;
        e.ph[1].p_align = align;
        return verdict(e);
    };
    REQUIRE(text(0x401000, 3) == "Malformed");
    REQUIRE(text(0x401000, 0x1800) == "Malformed");
    REQUIRE(text(0x401000, UINT64_MAX) == "Malformed");
    REQUIRE(text(0x401000, 0x200000) == "Ok"); // congruence is required modulo the page only
    REQUIRE(text(0x401000, uint64_t{1} << 63) == "Ok");
    // vaddr and offset (0x1000) disagree within the page.
    REQUIRE(text(0x401010, 0x1000) == "Malformed");
    REQUIRE(text(0x401010, 0x200000) == "Malformed");
    REQUIRE(text(0x401010, 0) == "Ok");
    REQUIRE(text(0x401010, 1) == "Ok");
    REQUIRE(text(0x401010, 16) == "Ok");
}

TEST_CASE("elf: no segment is both writable and executable", "[elf]") {
    for (uint32_t flags : {PF_W | PF_X, PF_R | PF_W | PF_X}) {
        Elf e = sample();
        e.ph[1].p_flags = flags;
        REQUIRE(verdict(e) == "Malformed");
    }
    // OS- and processor-specific bits are dropped; a segment may have no permission at all.
    Elf e = sample();
    e.ph[2].p_flags = kRW | PF_MASKOS | PF_MASKPROC;
    e.ph[0].p_flags = 0;
    auto r = parse_tail(e.bytes());
    REQUIRE(r.ok());
    REQUIRE(r.value().segments[2].flags == (kRead | kWrite));
    REQUIRE(r.value().segments[0].flags == 0);
}

TEST_CASE("elf: loadable segments are ascending and never share a page", "[elf]") {
    auto data_at = [](uint64_t vaddr) {
        Elf e = sample();
        e.ph[2].p_vaddr = vaddr;
        e.ph[2].p_offset = vaddr - 0x400000; // congruent, inside the file
        return verdict(e);
    };
    REQUIRE(data_at(0x401700) == "Malformed"); // overlaps the text bytes [0x401000, 0x401800)
    REQUIRE(data_at(0x401900) == "Malformed"); // after the text, in its last page
    REQUIRE(data_at(0x401fff) == "Malformed");
    REQUIRE(data_at(0x402000) == "Ok"); // the next page

    Elf e = sample();
    std::swap(e.ph[0], e.ph[1]);
    REQUIRE(verdict(e) == "Malformed"); // descending
    e = sample();
    e.ph.push_back(e.ph[1]);
    REQUIRE(verdict(e) == "Malformed"); // a duplicate, after a later segment
    e = sample();
    e.ph.insert(e.ph.begin() + 2, e.ph[1]);
    REQUIRE(verdict(e) == "Malformed"); // a duplicate, right after the original
}

TEST_CASE("elf: the entry point lies in an executable segment", "[elf]") {
    for (uint64_t entry : {0x401000ull, 0x401020ull, 0x4017ffull}) {
        Elf e = sample();
        e.eh.e_entry = entry;
        REQUIRE(verdict(e) == "Ok");
    }
    // Nowhere, in the read-only and the data segment, one past the text, and in the page gap.
    for (uint64_t entry : {0x0ull, 0x300000ull, 0x400010ull, 0x403010ull, 0x405000ull, 0x401800ull,
                           0x402000ull, 0xffffffffffffffffull}) {
        Elf e = sample();
        e.eh.e_entry = entry;
        INFO("entry " << entry);
        REQUIRE(verdict(e) == "Malformed");
    }
}

TEST_CASE("elf: dynamically linked executables are unsupported", "[elf]") {
    for (uint32_t type : {PT_INTERP, PT_DYNAMIC}) {
        Elf e = sample();
        e.ph.insert(e.ph.begin() + 1, Elf64_Phdr{type, PF_R, 0x158, 0x400158, 0, 0x1c, 0x1c, 1});
        INFO("p_type " << type);
        REQUIRE(verdict(e) == "Unsupported");
        e = sample();
        e.ph.push_back(other(type));
        REQUIRE(verdict(e) == "Unsupported");
    }
}

TEST_CASE("elf: other program header types are ignored", "[elf]") {
    Elf e = sample();
    for (uint32_t type : {PT_NULL, PT_NOTE, PT_SHLIB, PT_PHDR, PT_TLS, PT_GNU_EH_FRAME,
                          PT_GNU_STACK, PT_GNU_RELRO, PT_LOPROC, -1})
        e.ph.insert(e.ph.begin() + 1, other(type));
    auto r = parse_tail(e.bytes());
    REQUIRE(r.ok());
    REQUIRE(r.value().segment_count == 3);
}

TEST_CASE("elf: segments with memsz 0 are skipped", "[elf]") {
    Elf e = sample();
    // Every other field would be rejected in a segment that is loaded.
    e.ph.insert(e.ph.begin() + 2, load(0, UINT64_MAX, 0, 0, PF_R | PF_W | PF_X, 3));
    e.ph.insert(e.ph.begin(), load(0xffffffff80000000, 0, 0, 0, kRX));
    auto r = parse_tail(e.bytes());
    REQUIRE(r.ok());
    auto ref = parse_tail(sample().bytes());
    REQUIRE(ref.ok());
    REQUIRE(r.value().segment_count == 3);
    for (size_t i = 0; i < kMaxSegments; ++i)
        REQUIRE(fields(r.value().segments[i]) == fields(ref.value().segments[i]));
}

TEST_CASE("elf: random mutations are rejected or keep every guarantee", "[elf]") {
    const Bytes file = sample().bytes();
    const size_t headers = sizeof(Elf64_Ehdr) + 5 * sizeof(Elf64_Phdr);
    const uint64_t interesting[] = {0,
                                    1,
                                    0xfff,
                                    0x1000,
                                    0x400000,
                                    0x401000,
                                    0x402000,
                                    0x403000,
                                    file.size(),
                                    UINT64_MAX,
                                    UINT64_MAX - 0xfff,
                                    exo::kUserTop,
                                    0xffffffff80000000};
    std::mt19937_64 rng(20240917);
    size_t accepted = 0;
    for (int round = 0; round < 20000; ++round) {
        Bytes b = file;
        size_t available = SIZE_MAX;
        for (int m = 1 + static_cast<int>(rng() % 3); m > 0; --m) {
            switch (rng() % 4) {
            case 0: // flip one bit of the headers
                b[rng() % headers] ^= static_cast<uint8_t>(1u << (rng() % 8));
                break;
            case 1: { // an interesting value in an aligned 8-byte field of the headers
                size_t at = rng() % (headers / 8) * 8;
                patch(b, at, interesting[rng() % std::size(interesting)]);
                break;
            }
            case 2: // a random byte anywhere
                b[rng() % b.size()] = static_cast<uint8_t>(rng());
                break;
            default: // a random 4-byte field of the headers (types, flags, counts)
                patch(b, rng() % (headers / 4) * 4, static_cast<uint32_t>(rng()));
                break;
            }
        }
        if (rng() % 16 == 0)
            available = rng() % (b.size() + 1);
        auto r = parse_tail(b, kLimits, available, rng() % 2);
        if (r.ok())
            ++accepted;
    }
    // Both outcomes are exercised (harmless mutations hit the payload, padding or PT_NOTE).
    REQUIRE(accepted > 100);
    REQUIRE(accepted < 19000);
}
