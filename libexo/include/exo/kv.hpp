// The one key=value tokenizer (the kernel command line, init's boot manifest): whitespace-separated
// tokens split at their first '=', and a strict number parser. Header-only and freestanding:
// std::string_view and compiler builtins, no libc, nothing that can throw (so no substr).
#pragma once

#include <exo/result.hpp>
#include <stddef.h>
#include <stdint.h>
#include <string_view>

namespace exo {

// `s` cut at its first `c`: head before it, tail after it. Without one: head is all of `s`.
struct Split {
    std::string_view head, tail;
    bool found;
};

constexpr Split split_at(std::string_view s, char c) {
    size_t i = s.find(c);
    if (i == std::string_view::npos)
        return {s, {}, false};
    return {std::string_view(s.data(), i), std::string_view(s.data() + i + 1, s.size() - i - 1),
            true};
}

// One token: `key=value` split at the first '=' (so `a==b` has the value "=b"), or a bare `key`.
struct KvToken {
    std::string_view text; // the whole token
    std::string_view key;
    std::string_view value; // empty for a bare key, and for `key=`: has_value tells them apart
    bool has_value;
};

// Hash: '#' starts a comment that runs to the end of its line, wherever it appears (as the ISO
// recipe, iso/mkiso.py, reads the manifest). Off: '#' is an ordinary character.
enum class KvComments : bool { Off, Hash };
// Double: a '"' opens a stretch where whitespace does not end the token, up to the next '"' (or
// the end); the quotes stay in the token (the kernel command line: `autorun="ps; mem"`, which
// GRUB passes on as `autorun=\"ps; mem\"`; Cmdline::get takes both off). Off: '"' is ordinary.
enum class KvQuotes : bool { Off, Double };

constexpr bool is_kv_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

// The tokens of `text`, in order: `for (KvToken t : KvTokens(line, KvComments::Hash))`.
class KvTokens {
public:
    constexpr explicit KvTokens(std::string_view text, KvComments comments = KvComments::Off,
                                KvQuotes quotes = KvQuotes::Off)
        : text_(text), hash_(comments == KvComments::Hash), quotes_(quotes == KvQuotes::Double) {}

    class Iterator {
    public:
        constexpr KvToken operator*() const {
            std::string_view token(text_.data() + start_, end_ - start_);
            Split s = split_at(token, '=');
            return {token, s.head, s.tail, s.found};
        }
        constexpr Iterator& operator++() {
            seek(end_);
            return *this;
        }
        constexpr bool operator==(const Iterator& other) const { return start_ == other.start_; }

    private:
        friend class KvTokens;
        constexpr Iterator(std::string_view text, bool hash, bool quotes, size_t from)
            : text_(text), hash_(hash), quotes_(quotes) {
            seek(from);
        }
        constexpr bool is_comment(char c) const { return hash_ && c == '#'; }
        // The next token at or after `i`: [start_, end_), both text_.size() at the end.
        constexpr void seek(size_t i) {
            size_t n = text_.size();
            while (i < n && (is_kv_space(text_[i]) || is_comment(text_[i]))) {
                if (is_comment(text_[i])) {
                    while (i < n && text_[i] != '\n')
                        ++i;
                } else {
                    ++i;
                }
            }
            start_ = i;
            bool quoted = false;
            for (; i < n; ++i) {
                if (quotes_ && text_[i] == '"')
                    quoted = !quoted;
                else if (!quoted && (is_kv_space(text_[i]) || is_comment(text_[i])))
                    break;
            }
            end_ = i;
        }

        std::string_view text_;
        bool hash_;
        bool quotes_;
        size_t start_ = 0, end_ = 0;
    };

    constexpr Iterator begin() const { return Iterator(text_, hash_, quotes_, 0); }
    constexpr Iterator end() const { return Iterator(text_, hash_, quotes_, text_.size()); }

private:
    std::string_view text_;
    bool hash_;
    bool quotes_;
};

// A strict unsigned number: decimal digits, or 0x/0X and hex digits, and nothing else (no sign,
// space, suffix or empty string). InvalidArgument when malformed, OutOfRange above UINT64_MAX.
inline Result<uint64_t> parse_number(std::string_view s) {
    uint64_t base = 10;
    if (s.size() >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        s.remove_prefix(2);
    }
    if (s.empty())
        return Status::InvalidArgument;
    uint64_t value = 0;
    bool overflow = false;
    for (char c : s) {
        uint64_t digit = c >= '0' && c <= '9'   ? uint64_t(c - '0')
                         : c >= 'a' && c <= 'f' ? uint64_t(c - 'a' + 10)
                         : c >= 'A' && c <= 'F' ? uint64_t(c - 'A' + 10)
                                                : base;
        if (digit >= base)
            return Status::InvalidArgument;
        // Keep scanning after an overflow: a bad digit later still makes the string malformed.
        overflow |= __builtin_mul_overflow(value, base, &value);
        overflow |= __builtin_add_overflow(value, digit, &value);
    }
    if (overflow)
        return Status::OutOfRange;
    return value;
}

// The same, and OutOfRange unless min <= value <= max.
inline Result<uint64_t> parse_number(std::string_view s, uint64_t min, uint64_t max) {
    Result<uint64_t> n = parse_number(s);
    if (n.ok() && (n.value() < min || n.value() > max))
        return Status::OutOfRange;
    return n;
}

} // namespace exo
