// Kernel command line: space-separated `key=value` options and bare `flag`s, as GRUB passes them
// (multiboot2 /boot/exo-kernel test=panic log=debug). Portable and host-tested.
#pragma once

#include <string_view>

namespace mk {

class Cmdline {
public:
    constexpr explicit Cmdline(std::string_view text) : text_(text) {}

    // Value of the last `key=value` (a later option overrides an earlier one); empty view when
    // the key is absent or has an empty value. `found` tells the two apart.
    std::string_view get(std::string_view key, bool* found = nullptr) const;
    // True for a bare `flag` or `flag=...`.
    bool has(std::string_view key) const;

    std::string_view text() const { return text_; }

private:
    std::string_view text_;
};

} // namespace mk
