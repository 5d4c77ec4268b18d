// Command-line option lookup (see cmdline.hpp).
#include "lib/cmdline.hpp"

namespace mk {
namespace {

bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

// Calls fn(key, value, has_value) for each token, in order.
template <typename Fn>
void for_each_option(std::string_view text, Fn&& fn) {
    size_t i = 0;
    while (i < text.size()) {
        while (i < text.size() && is_space(text[i]))
            ++i;
        size_t start = i;
        while (i < text.size() && !is_space(text[i]))
            ++i;
        if (start == i)
            break;
        std::string_view token = text.substr(start, i - start);
        size_t eq = token.find('=');
        if (eq == std::string_view::npos)
            fn(token, std::string_view{}, false);
        else
            fn(token.substr(0, eq), token.substr(eq + 1), true);
    }
}

} // namespace

std::string_view Cmdline::get(std::string_view key, bool* found) const {
    std::string_view result;
    bool seen = false;
    for_each_option(text_, [&](std::string_view k, std::string_view v, bool has_value) {
        if (k == key && has_value) {
            result = v;
            seen = true;
        }
    });
    if (found)
        *found = seen;
    return result;
}

bool Cmdline::has(std::string_view key) const {
    bool seen = false;
    for_each_option(text_, [&](std::string_view k, std::string_view, bool) { seen |= k == key; });
    return seen;
}

} // namespace mk
