// Kernel symbol table: maps a code address to "function+offset" for panic backtraces.
// The table is generated at build time (tools/gen_ksyms.py) and linked into .ksyms; this reader
// is portable and validates the blob before trusting any offset in it.
#pragma once

#include <exo/result.hpp>

#include <stddef.h>
#include <stdint.h>

namespace mk {

// Blob layout, all little-endian:
//   char magic[8] = "EXOKSYM1"; u64 count; u64 strings_size;
//   count x { u64 address; u32 size; u32 name_offset; } sorted by address;
//   strings_size bytes of NUL-terminated names.
inline constexpr char kKsymsMagic[8] = {'E', 'X', 'O', 'K', 'S', 'Y', 'M', '1'};
inline constexpr size_t kKsymsHeaderSize = 24;
inline constexpr size_t kKsymsEntrySize = 16;

struct Symbol {
    const char* name;
    uint64_t address; // start of the symbol
    uint64_t offset;  // of the looked-up address from the start
};

class SymbolTable {
public:
    // An empty table (the first link stage has none): every lookup fails.
    constexpr SymbolTable() = default;

    // Validates magic, sizes, ordering, and that every name lies inside the string area and
    // is NUL-terminated; only then is the table usable.
    static exo::Result<SymbolTable> from_blob(const uint8_t* blob, size_t length);

    // The symbol containing `address`: NotFound if it falls outside every sized symbol.
    exo::Result<Symbol> lookup(uint64_t address) const;

    size_t count() const { return count_; }

private:
    struct Entry {
        uint64_t address;
        uint32_t size;
        uint32_t name_offset;
    };
    Entry entry(size_t i) const;

    const uint8_t* entries_ = nullptr;
    const char* strings_ = nullptr;
    size_t count_ = 0;
};

} // namespace mk
