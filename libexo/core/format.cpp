// printf-style formatter (see exo/format.hpp). Portable libexo core: freestanding, no floating
// point, no libc. Output streams to a sink, so padding of any width needs no buffer.
#include <exo/format.hpp>

#include <stdint.h>

namespace exo {
namespace {

static_assert(sizeof(uintmax_t) == sizeof(uint64_t), "integers are converted through 64 bits");

// C's widths and precisions are ints; larger values saturate here instead of overflowing.
constexpr size_t kMaxField = 0x7fffffff;

constexpr char kSpaces[] = "                                ";
constexpr char kZeros[] = "00000000000000000000000000000000";
constexpr size_t kPadChunk = sizeof(kSpaces) - 1;

enum class Length : uint8_t { None, Char, Short, Long, LongLong, Size, Max, Ptrdiff };

struct Spec {
    bool left = false;  // '-': pad on the right
    bool zero = false;  // '0': pad integers with zeros after the sign and prefix
    bool plus = false;  // '+': always print a sign on signed conversions
    bool space = false; // ' ': a space where a '+' would go
    bool alt = false;   // '#': 0x/0X prefix for hex, a leading 0 for octal
    bool has_precision = false;
    size_t width = 0;
    size_t precision = 0;
    Length length = Length::None;
};

// Counts everything it forwards to the sink.
class Out {
public:
    explicit Out(FormatSink sink) : sink_(sink) {}

    void put(const char* s, size_t n) {
        if (n == 0)
            return;
        sink_.write(sink_.ctx, s, n);
        count_ += n;
    }

    void pad(char c, size_t n) {
        const char* chunk = c == '0' ? kZeros : kSpaces;
        while (n > 0) {
            size_t k = n < kPadChunk ? n : kPadChunk;
            put(chunk, k);
            n -= k;
        }
    }

    size_t count() const { return count_; }

private:
    FormatSink sink_;
    size_t count_ = 0;
};

// One field: [spaces] prefix [zeros] body [spaces], padded with spaces to the field width.
void put_field(Out& out, const Spec& spec, const char* prefix, size_t prefix_len, size_t zeros,
               const char* body, size_t body_len) {
    size_t len = prefix_len + zeros + body_len;
    size_t fill = spec.width > len ? spec.width - len : 0;
    if (!spec.left)
        out.pad(' ', fill);
    out.put(prefix, prefix_len);
    out.pad('0', zeros);
    out.put(body, body_len);
    if (spec.left)
        out.pad(' ', fill);
}

void put_integer(Out& out, const Spec& spec, uint64_t magnitude, bool negative, bool is_signed,
                 unsigned base, bool upper) {
    const char* digit_set = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    char digits[24]; // 22 octal digits hold UINT64_MAX
    char* end = digits + sizeof(digits);
    char* first = end;
    for (uint64_t v = magnitude; v != 0; v /= base)
        *--first = digit_set[v % base];
    size_t ndigits = static_cast<size_t>(end - first);

    // The precision is the minimum number of digits; the default of 1 makes zero print "0".
    size_t precision = spec.has_precision ? spec.precision : 1;
    size_t zeros = precision > ndigits ? precision - ndigits : 0;

    char prefix[2];
    size_t prefix_len = 0;
    if (is_signed && (negative || spec.plus || spec.space))
        prefix[prefix_len++] = negative ? '-' : spec.plus ? '+' : ' ';
    if (spec.alt && base == 16 && magnitude != 0) {
        prefix[prefix_len++] = '0';
        prefix[prefix_len++] = upper ? 'X' : 'x';
    }
    // '#' on octal raises the precision just enough for the first digit to be a 0 (digits never
    // start with 0 here, so that means one more zero when there are none yet).
    if (spec.alt && base == 8 && zeros == 0)
        zeros = 1;

    size_t used = prefix_len + zeros + ndigits;
    if (spec.zero && !spec.left && !spec.has_precision && spec.width > used)
        zeros += spec.width - used;
    put_field(out, spec, prefix, prefix_len, zeros, first, ndigits);
}

// The argument of an unsigned conversion, converted to its length modifier's type first (so
// "%hhu" of 300 prints 44, as C requires).
uint64_t fetch_unsigned(Length length, va_list* ap) {
    switch (length) {
    case Length::None:
        return va_arg(*ap, unsigned int);
    case Length::Char:
        return static_cast<unsigned char>(va_arg(*ap, unsigned int));
    case Length::Short:
        return static_cast<unsigned short>(va_arg(*ap, unsigned int));
    case Length::Long:
        return va_arg(*ap, unsigned long);
    case Length::LongLong:
        return va_arg(*ap, unsigned long long);
    case Length::Size:
        return va_arg(*ap, size_t);
    case Length::Max:
        return va_arg(*ap, uintmax_t);
    case Length::Ptrdiff:
        return static_cast<uint64_t>(va_arg(*ap, ptrdiff_t));
    }
    return 0;
}

int64_t fetch_signed(Length length, va_list* ap) {
    switch (length) {
    case Length::None:
        return va_arg(*ap, int);
    case Length::Char:
        return static_cast<signed char>(va_arg(*ap, int));
    case Length::Short:
        return static_cast<short>(va_arg(*ap, int));
    case Length::Long:
        return va_arg(*ap, long);
    case Length::LongLong:
        return va_arg(*ap, long long);
    case Length::Size:
        return static_cast<int64_t>(va_arg(*ap, size_t));
    case Length::Max:
        return va_arg(*ap, intmax_t);
    case Length::Ptrdiff:
        return va_arg(*ap, ptrdiff_t);
    }
    return 0;
}

size_t parse_number(const char*& p) {
    size_t value = 0;
    for (; *p >= '0' && *p <= '9'; ++p) {
        value = value * 10 + static_cast<size_t>(*p - '0');
        if (value > kMaxField)
            value = kMaxField;
    }
    return value;
}

// Parses flags, width, precision and length modifier after a '%', consuming the int arguments
// of any '*'. Leaves `p` on the conversion character (or the terminating NUL).
Spec parse_spec(const char*& p, va_list* ap) {
    Spec spec;
    for (;; ++p) {
        if (*p == '-')
            spec.left = true;
        else if (*p == '0')
            spec.zero = true;
        else if (*p == '+')
            spec.plus = true;
        else if (*p == ' ')
            spec.space = true;
        else if (*p == '#')
            spec.alt = true;
        else
            break;
    }
    if (*p == '*') {
        ++p;
        int width = va_arg(*ap, int);
        // A negative '*' width is a '-' flag and a positive width. Negated as unsigned: INT_MIN.
        spec.left |= width < 0;
        unsigned abs_width =
            width < 0 ? 0u - static_cast<unsigned>(width) : static_cast<unsigned>(width);
        spec.width = abs_width < kMaxField ? abs_width : kMaxField;
    } else {
        spec.width = parse_number(p);
    }
    if (*p == '.') {
        ++p;
        spec.has_precision = true;
        if (*p == '*') {
            ++p;
            // A negative '*' precision counts as omitted.
            int precision = va_arg(*ap, int);
            spec.has_precision = precision >= 0;
            spec.precision = precision >= 0 ? static_cast<size_t>(precision) : 0;
        } else {
            spec.precision = parse_number(p);
        }
    }
    switch (*p) {
    case 'h':
        spec.length = p[1] == 'h' ? Length::Char : Length::Short;
        p += p[1] == 'h' ? 2 : 1;
        break;
    case 'l':
        spec.length = p[1] == 'l' ? Length::LongLong : Length::Long;
        p += p[1] == 'l' ? 2 : 1;
        break;
    case 'z':
        spec.length = Length::Size;
        ++p;
        break;
    case 'j':
        spec.length = Length::Max;
        ++p;
        break;
    case 't':
        spec.length = Length::Ptrdiff;
        ++p;
        break;
    default:
        break;
    }
    return spec;
}

void put_string(Out& out, const Spec& spec, const char* s) {
    if (s == nullptr)
        s = "(null)";
    // With a precision the string need not be NUL-terminated: never read past `precision` chars.
    size_t limit = spec.has_precision ? spec.precision : kMaxField;
    size_t len = 0;
    while (len < limit && s[len] != '\0')
        ++len;
    put_field(out, spec, nullptr, 0, 0, s, len);
}

// Always "0x" and 16 digits, so addresses line up in the log; only the width applies.
void put_pointer(Out& out, const Spec& spec, const void* ptr) {
    auto v = reinterpret_cast<uintptr_t>(ptr);
    char text[18];
    text[0] = '0';
    text[1] = 'x';
    for (int i = 17; i >= 2; --i, v >>= 4)
        text[i] = "0123456789abcdef"[v & 0xf];
    put_field(out, spec, nullptr, 0, 0, text, sizeof(text));
}

// Formats the conversion starting at `start` (a '%'); returns where the literal text resumes.
const char* put_conversion(Out& out, const char* start, va_list* ap) {
    const char* p = start + 1;
    const Spec spec = parse_spec(p, ap);
    const Length length = spec.length;
    char conversion = *p;
    // %lc and %ls would be wide characters, which are not supported; like any unknown
    // conversion they print verbatim.
    if (length != Length::None && (conversion == 'c' || conversion == 's' || conversion == 'p'))
        conversion = '?';
    switch (conversion) {
    case 'd':
    case 'i': {
        int64_t v = fetch_signed(length, ap);
        uint64_t magnitude = v < 0 ? 0 - static_cast<uint64_t>(v) : static_cast<uint64_t>(v);
        put_integer(out, spec, magnitude, v < 0, true, 10, false);
        break;
    }
    case 'u':
        put_integer(out, spec, fetch_unsigned(length, ap), false, false, 10, false);
        break;
    case 'o':
        put_integer(out, spec, fetch_unsigned(length, ap), false, false, 8, false);
        break;
    case 'x':
        put_integer(out, spec, fetch_unsigned(length, ap), false, false, 16, false);
        break;
    case 'X':
        put_integer(out, spec, fetch_unsigned(length, ap), false, false, 16, true);
        break;
    case 'c': {
        char c = static_cast<char>(va_arg(*ap, int));
        put_field(out, spec, nullptr, 0, 0, &c, 1);
        break;
    }
    case 's':
        put_string(out, spec, va_arg(*ap, const char*));
        break;
    case 'p':
        put_pointer(out, spec, va_arg(*ap, const void*));
        break;
    case '%': // like glibc, "%5%" is just "%"
        out.put("%", 1);
        break;
    case '\0': // the format ends inside the conversion: print what there is
        out.put(start, static_cast<size_t>(p - start));
        return p;
    default:
        out.put(start, static_cast<size_t>(p + 1 - start));
        break;
    }
    return p + 1;
}

void discard_write(void*, const char*, size_t) {}

// Keeps the first cap-1 characters; `len` never exceeds cap-1, leaving room for the NUL.
struct Buffer {
    char* data;
    size_t cap;
    size_t len;
};

void buffer_write(void* ctx, const char* s, size_t n) {
    auto* b = static_cast<Buffer*>(ctx);
    size_t room = b->cap - 1 - b->len;
    size_t k = n < room ? n : room;
    __builtin_memcpy(b->data + b->len, s, k);
    b->len += k;
}

} // namespace

size_t vformat_to(FormatSink sink, const char* fmt, va_list ap) {
    Out out(sink);
    va_list args;
    va_copy(args, ap);
    while (*fmt != '\0') {
        const char* pct = fmt;
        while (*pct != '\0' && *pct != '%')
            ++pct;
        out.put(fmt, static_cast<size_t>(pct - fmt));
        fmt = *pct == '%' ? put_conversion(out, pct, &args) : pct;
    }
    va_end(args);
    return out.count();
}

size_t format_to(FormatSink sink, const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    size_t n = vformat_to(sink, fmt, ap);
    va_end(ap);
    return n;
}

size_t vformat(char* buf, size_t cap, const char* fmt, va_list ap) {
    if (cap == 0)
        return vformat_to(FormatSink{discard_write, nullptr}, fmt, ap);
    Buffer b{buf, cap, 0};
    size_t n = vformat_to(FormatSink{buffer_write, &b}, fmt, ap);
    buf[b.len] = '\0';
    return n;
}

size_t format(char* buf, size_t cap, const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    size_t n = vformat(buf, cap, fmt, ap);
    va_end(ap);
    return n;
}

} // namespace exo
