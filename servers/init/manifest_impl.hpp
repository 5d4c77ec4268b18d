// parse_manifest: a line-by-line tokenizer with no allocation.
#pragma once

#include <exo/libc.h>

namespace srv::init {
namespace detail {

inline bool parse_number(const char* s, size_t n, uint64_t& out) {
    if (n == 0)
        return false;
    uint64_t base = 10, v = 0;
    if (n > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        s += 2;
        n -= 2;
    }
    for (size_t i = 0; i < n; ++i) {
        char c = s[i];
        uint64_t d = c >= '0' && c <= '9'   ? uint64_t(c - '0')
                     : c >= 'a' && c <= 'f' ? uint64_t(c - 'a' + 10)
                     : c >= 'A' && c <= 'F' ? uint64_t(c - 'A' + 10)
                                            : 99;
        if (d >= base || v > (UINT64_MAX - d) / base)
            return false;
        v = v * base + d;
    }
    out = v;
    return true;
}

inline bool starts_with(const char* s, size_t n, const char* prefix) {
    size_t p = strlen(prefix);
    return n >= p && memcmp(s, prefix, p) == 0;
}

// One token of a `start` line into `e`; the reason it is bad otherwise.
inline const char* apply_option(const char* t, size_t n, ServerEntry& e) {
    uint64_t v, w;
    if (n == 3 && memcmp(t, "log", 3) == 0) {
        e.log = true;
    } else if (starts_with(t, n, "quota=")) {
        if (!parse_number(t + 6, n - 6, v) || v == 0 || v > (uint64_t(1) << 30))
            return "bad quota (KiB, 1 to 2^30)";
        e.quota_bytes = v * 1024;
    } else if (starts_with(t, n, "irq=")) {
        if (!parse_number(t + 4, n - 4, v) || v > 255)
            return "bad irq line";
        e.has_irq = true;
        e.irq = uint32_t(v);
    } else if (starts_with(t, n, "ports=")) {
        const char* dash = static_cast<const char*>(memchr(t + 6, '-', n - 6));
        if (dash == nullptr || !parse_number(t + 6, size_t(dash - t - 6), v) ||
            !parse_number(dash + 1, size_t(t + n - dash - 1), w) || v > w || w > 0xFFFF)
            return "bad ports (FIRST-LAST, at most 0xffff)";
        e.port_first = uint32_t(v);
        e.port_count = uint32_t(w - v + 1);
    } else {
        return "unknown option";
    }
    return nullptr;
}

} // namespace detail

template <typename Fn, typename Bad>
void parse_manifest(const char* text, size_t size, Fn&& fn, Bad&& bad) {
    size_t line_number = 0;
    for (size_t pos = 0; pos < size;) {
        size_t end = pos;
        while (end < size && text[end] != '\n')
            ++end;
        ++line_number;
        const char* line = text + pos;
        size_t length = end - pos;
        pos = end + 1;
        // Tokens separated by spaces or tabs; '#' starts a comment.
        const char* tokens[16];
        size_t sizes[16], count = 0;
        bool too_many = false;
        for (size_t i = 0; i < length;) {
            while (i < length && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r'))
                ++i;
            if (i >= length || line[i] == '#')
                break;
            size_t start = i;
            while (i < length && line[i] != ' ' && line[i] != '\t' && line[i] != '\r')
                ++i;
            if (count == 16) {
                too_many = true;
                break;
            }
            tokens[count] = line + start;
            sizes[count++] = i - start;
        }
        if (count == 0)
            continue;
        if (too_many || length > 200) {
            bad(line_number, "line too long");
            continue;
        }
        if (!(sizes[0] == 5 && memcmp(tokens[0], "start", 5) == 0)) {
            continue; // other lines describe modules for the ISO recipe
        }
        ServerEntry e;
        if (count < 2 || sizes[1] >= sizeof e.name) {
            bad(line_number, "start needs a module name (under 48 bytes)");
            continue;
        }
        memcpy(e.name, tokens[1], sizes[1]);
        e.name[sizes[1]] = '\0';
        const char* why = nullptr;
        for (size_t t = 2; t < count && why == nullptr; ++t)
            why = detail::apply_option(tokens[t], sizes[t], e);
        if (why)
            bad(line_number, why);
        else
            fn(e);
    }
}

} // namespace srv::init
