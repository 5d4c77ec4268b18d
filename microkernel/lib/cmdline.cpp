// Command-line option lookup (see cmdline.hpp), over libexo's shared tokenizer (exo/kv.hpp).
#include "lib/cmdline.hpp"

#include <exo/kv.hpp>

namespace mk {
namespace {

constexpr exo::KvTokens tokens(std::string_view text) {
    return exo::KvTokens(text, exo::KvComments::Off, exo::KvQuotes::Double);
}

// `"v"` or `\"v\"` (as GRUB escapes a quote) -> v; an unclosed quote runs to the end.
std::string_view unquote(std::string_view v) {
    for (std::string_view q : {std::string_view("\\\""), std::string_view("\"")}) {
        if (v.size() >= q.size() && v.substr(0, q.size()) == q) {
            v.remove_prefix(q.size());
            if (v.size() >= q.size() && v.substr(v.size() - q.size()) == q)
                v.remove_suffix(q.size());
            return v;
        }
    }
    return v;
}

} // namespace

std::string_view Cmdline::get(std::string_view key, bool* found) const {
    std::string_view result;
    bool seen = false;
    for (exo::KvToken t : tokens(text_)) {
        if (t.has_value && t.key == key) {
            result = unquote(t.value);
            seen = true;
        }
    }
    if (found)
        *found = seen;
    return result;
}

bool Cmdline::has(std::string_view key) const {
    for (exo::KvToken t : tokens(text_)) {
        if (t.key == key)
            return true;
    }
    return false;
}

} // namespace mk
