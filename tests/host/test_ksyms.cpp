// Kernel symbol table reader: lookups, and refusal of corrupt blobs.
#include "support.hpp"

#include "lib/ksyms.hpp"

#include <catch2/catch.hpp>
#include <cstring>
#include <string>
#include <vector>

using exo::Status;
using mk::SymbolTable;

namespace {

struct Sym {
    uint64_t address;
    uint32_t size;
    std::string name;
};

template <typename T>
void put(std::vector<uint8_t>& out, T v) {
    uint8_t bytes[sizeof v];
    std::memcpy(bytes, &v, sizeof v);
    out.insert(out.end(), bytes, bytes + sizeof v);
}

// The same layout tools/gen_ksyms.py writes.
std::vector<uint8_t> make_blob(const std::vector<Sym>& syms) {
    std::vector<uint8_t> strings;
    std::vector<uint8_t> entries;
    for (const Sym& s : syms) {
        put<uint64_t>(entries, s.address);
        put<uint32_t>(entries, s.size);
        put<uint32_t>(entries, uint32_t(strings.size()));
        strings.insert(strings.end(), s.name.begin(), s.name.end());
        strings.push_back(0);
    }
    std::vector<uint8_t> blob(mk::kKsymsMagic, mk::kKsymsMagic + 8);
    put<uint64_t>(blob, syms.size());
    put<uint64_t>(blob, strings.size());
    blob.insert(blob.end(), entries.begin(), entries.end());
    blob.insert(blob.end(), strings.begin(), strings.end());
    return blob;
}

const std::vector<Sym> kSymbols = {
    {0xffffffff80101000, 0x40, "kernel_main"},
    {0xffffffff80101040, 0x10, "mk::panic_at(char const*, int, char const*, ...)"},
    {0xffffffff80101100, 0x20, "mk::serial::put(char)"},
};

} // namespace

TEST_CASE("ksyms: addresses resolve to the containing symbol and offset") {
    auto blob = make_blob(kSymbols);
    auto table = SymbolTable::from_blob(blob.data(), blob.size());
    REQUIRE(table.ok());
    REQUIRE(table.value().count() == 3);

    auto s = table.value().lookup(0xffffffff80101024);
    REQUIRE(s.ok());
    REQUIRE(std::string(s.value().name) == "kernel_main");
    REQUIRE(s.value().offset == 0x24);
    REQUIRE(std::string(table.value().lookup(0xffffffff80101040).value().name)
                .rfind("mk::panic_at", 0) == 0);
    REQUIRE(table.value().lookup(0xffffffff8010111f).value().offset == 0x1f);

    // Gaps, the end of a symbol, and addresses before the first symbol are not guessed at.
    REQUIRE(table.value().lookup(0xffffffff80101050).status() == Status::NotFound);
    REQUIRE(table.value().lookup(0xffffffff80101120).status() == Status::NotFound);
    REQUIRE(table.value().lookup(0x1000).status() == Status::NotFound);
    REQUIRE(SymbolTable().lookup(0xffffffff80101000).status() == Status::NotFound);
}

TEST_CASE("ksyms: corrupt blobs are refused, never read past their end") {
    auto good = make_blob(kSymbols);
    // Every truncation fails cleanly; the heap copy lets ASan catch an overread.
    for (size_t length = 0; length < good.size(); ++length) {
        std::vector<uint8_t> cut(good.begin(), good.begin() + long(length));
        REQUIRE_FALSE(SymbolTable::from_blob(cut.data(), cut.size()).ok());
    }

    auto bad_magic = good;
    bad_magic[0] = 'X';
    REQUIRE(SymbolTable::from_blob(bad_magic.data(), bad_magic.size()).status() ==
            Status::Malformed);

    auto huge_count = good;
    uint64_t count = UINT64_MAX / 2;
    std::memcpy(huge_count.data() + 8, &count, 8);
    REQUIRE(SymbolTable::from_blob(huge_count.data(), huge_count.size()).status() ==
            Status::Truncated);

    auto name_out_of_range = good;
    uint32_t offset = 10000;
    std::memcpy(name_out_of_range.data() + mk::kKsymsHeaderSize + 12, &offset, 4);
    REQUIRE(SymbolTable::from_blob(name_out_of_range.data(), name_out_of_range.size()).status() ==
            Status::OutOfRange);

    auto unterminated = good;
    unterminated.back() = 'x';
    REQUIRE(SymbolTable::from_blob(unterminated.data(), unterminated.size()).status() ==
            Status::Malformed);

    auto unsorted = make_blob({kSymbols[1], kSymbols[0]});
    REQUIRE(SymbolTable::from_blob(unsorted.data(), unsorted.size()).status() == Status::Malformed);
}
