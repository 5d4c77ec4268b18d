// Portable reader of the generated kernel symbol table (see ksyms.hpp for the layout).
#include "lib/ksyms.hpp"
#include "lib/bytes.hpp"

namespace mk {
exo::Result<SymbolTable> SymbolTable::from_blob(const uint8_t* blob, size_t length) {
    if (blob == nullptr || length < kKsymsHeaderSize)
        return exo::Status::Truncated;
    if (__builtin_memcmp(blob, kKsymsMagic, sizeof kKsymsMagic) != 0)
        return exo::Status::Malformed;
    uint64_t count = load<uint64_t>(blob + 8);
    uint64_t strings_size = load<uint64_t>(blob + 16);
    uint64_t available = length - kKsymsHeaderSize;
    if (count > available / kKsymsEntrySize)
        return exo::Status::Truncated;
    if (strings_size > available - count * kKsymsEntrySize)
        return exo::Status::Truncated;

    SymbolTable table;
    table.entries_ = blob + kKsymsHeaderSize;
    table.strings_ = reinterpret_cast<const char*>(table.entries_ + count * kKsymsEntrySize);
    table.count_ = count;
    // The last string byte must be NUL, so a name offset below strings_size always terminates.
    if (count > 0 && (strings_size == 0 || table.strings_[strings_size - 1] != '\0'))
        return exo::Status::Malformed;
    for (size_t i = 0; i < count; ++i) {
        Entry e = table.entry(i);
        if (e.name_offset >= strings_size)
            return exo::Status::OutOfRange;
        if (i > 0 && e.address < table.entry(i - 1).address)
            return exo::Status::Malformed;
        if (e.address + e.size < e.address)
            return exo::Status::Malformed;
    }
    return table;
}

SymbolTable::Entry SymbolTable::entry(size_t i) const {
    const uint8_t* p = entries_ + i * kKsymsEntrySize;
    return {load<uint64_t>(p), load<uint32_t>(p + 8), load<uint32_t>(p + 12)};
}

exo::Result<Symbol> SymbolTable::lookup(uint64_t address) const {
    // Binary search for the last entry starting at or below the address.
    size_t lo = 0, hi = count_;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (entry(mid).address <= address)
            lo = mid + 1;
        else
            hi = mid;
    }
    // Symbols may nest or share an address (aliases); walk back to one that contains it.
    for (size_t i = lo; i > 0; --i) {
        Entry e = entry(i - 1);
        if (address - e.address < e.size)
            return Symbol{strings_ + e.name_offset, e.address, address - e.address};
        if (lo - i >= 8)
            break;
    }
    return exo::Status::NotFound;
}

} // namespace mk
