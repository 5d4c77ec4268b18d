// Command-line option lookup (see cmdline.hpp), over libexo's shared tokenizer (exo/kv.hpp).
#include "lib/cmdline.hpp"

#include <exo/kv.hpp>

namespace mk {

std::string_view Cmdline::get(std::string_view key, bool* found) const {
    std::string_view result;
    bool seen = false;
    for (exo::KvToken t : exo::KvTokens(text_)) {
        if (t.has_value && t.key == key) {
            result = t.value;
            seen = true;
        }
    }
    if (found)
        *found = seen;
    return result;
}

bool Cmdline::has(std::string_view key) const {
    for (exo::KvToken t : exo::KvTokens(text_)) {
        if (t.key == key)
            return true;
    }
    return false;
}

} // namespace mk
