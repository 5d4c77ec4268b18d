// Host tests of exo::format (libexo core): differential against the host's snprintf for all that
// C defines, plus Exo's own choices (%p, null %s, unknown conversions) and truncation.
#include "support.hpp"

#include <catch2/catch.hpp>
#include <exo/format.hpp>

#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

// The differential tests build their formats at run time.
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
#pragma GCC diagnostic ignored "-Wformat-security"
#pragma GCC diagnostic ignored "-Wformat-overflow" // %s of nullptr is tested on purpose

namespace {

exo::FormatSink string_sink(std::string& out) {
    return {
        [](void* ctx, const char* s, size_t n) { static_cast<std::string*>(ctx)->append(s, n); },
        &out};
}

// exo's output for one call. The three entry points (length only, exact buffer, sink) must agree;
// if they do not, throw so Catch2 reports the format at once.
template <typename... Args>
std::string exo_format(const char* fmt, Args... args) {
    const size_t length = exo::format(nullptr, 0, fmt, args...);
    std::string buffered(length + 1, '\x5a');
    const size_t written = exo::format(buffered.data(), buffered.size(), fmt, args...);
    std::string streamed;
    const size_t streamed_length = exo::format_to(string_sink(streamed), fmt, args...);
    if (written != length || buffered[length] != '\0' || streamed_length != length ||
        streamed.size() != length || streamed != buffered.substr(0, length))
        throw std::runtime_error(std::string("exo entry points disagree on \"") + fmt + "\"");
    buffered.resize(length);
    return buffered;
}

template <typename... Args>
std::string libc_format(const char* fmt, Args... args) {
    const int length = std::snprintf(nullptr, 0, fmt, args...);
    if (length < 0)
        throw std::runtime_error(std::string("snprintf failed on \"") + fmt + "\"");
    std::string out(static_cast<size_t>(length) + 1, '\0');
    std::snprintf(out.data(), out.size(), fmt, args...);
    out.resize(static_cast<size_t>(length));
    return out;
}

template <typename... Args>
void check_like_libc(const char* fmt, Args... args) {
    INFO("format \"" << fmt << "\"");
    CHECK(exo_format(fmt, args...) == libc_format(fmt, args...));
}

template <typename T>
std::vector<T> edge_values() {
    using Limits = std::numeric_limits<T>;
    std::vector<T> values;
    for (long long v : {0LL, 1LL, 7LL, 8LL, 9LL, 10LL, 15LL, 16LL, 100LL, 127LL, 128LL, 255LL,
                        256LL, 300LL, 1000LL, 32767LL, 65535LL, 65536LL, 1234567LL})
        values.push_back(static_cast<T>(v));
    for (T v : {Limits::max(), static_cast<T>(Limits::max() - 1), Limits::min(),
                static_cast<T>(Limits::min() + 1)})
        values.push_back(v);
    if constexpr (std::is_signed_v<T>) {
        for (long long v : {-1LL, -8LL, -128LL, -129LL, -255LL, -256LL, -1234567LL})
            values.push_back(static_cast<T>(v));
    }
    return values;
}

// Flags, width and precision combinations C defines for every integer conversion.
const std::vector<std::string> kIntegerSpecs = {
    "",     "1",   "5",   "-5",  "05",   "+",    " ",   "+5",    "+05", "-+5",
    " 05",  "0-5", "+ ",  " +",  "0",    "-",    "--5", "00005", ".",   ".0",
    ".1",   ".3",  ".25", "8.3", "-8.3", "08.3", "+.0", " .0",   "5.0", "-5.0",
    "+8.3", "30",  "-30", "030", "+030", "-030", "300", "0300",  ".300"};
// '#' is defined only for o, x and X.
const std::vector<std::string> kAlternateSpecs = {
    "#", "#8", "#08", "#-8", "#.0", "#5.0", "#.5", "#010.5", "-#10", "#0", "#+", "#030", "#.30"};

template <typename T>
void check_integers(const std::string& length, const std::string& conversions) {
    std::vector<std::string> specs = kIntegerSpecs;
    if (conversions.find_first_of("oxX") != std::string::npos)
        specs.insert(specs.end(), kAlternateSpecs.begin(), kAlternateSpecs.end());
    const std::vector<T> values = edge_values<T>();
    for (const std::string& spec : specs) {
        for (char conversion : conversions) {
            const std::string fmt = "[%" + spec + length + conversion + "]";
            for (T v : values)
                check_like_libc(fmt.c_str(), v);
        }
    }
}

} // namespace

TEST_CASE("format matches snprintf for signed conversions over every length and edge value") {
    check_integers<int>("", "di");
    check_integers<int>("hh", "di"); // an int argument narrowed to signed char, as C requires
    check_integers<int>("h", "di");
    check_integers<long>("l", "di");
    check_integers<long long>("ll", "di");
    check_integers<ptrdiff_t>("z", "di");
    check_integers<intmax_t>("j", "di");
    check_integers<ptrdiff_t>("t", "di");
}

TEST_CASE("format matches snprintf for unsigned conversions over every length and edge value") {
    check_integers<unsigned>("", "uoxX");
    check_integers<unsigned>("hh", "uoxX");
    check_integers<unsigned>("h", "uoxX");
    check_integers<unsigned long>("l", "uoxX");
    check_integers<unsigned long long>("ll", "uoxX");
    check_integers<size_t>("z", "uoxX");
    check_integers<uintmax_t>("j", "uoxX");
    check_integers<size_t>("t", "uoxX");
}

TEST_CASE("format prints the 64-bit extremes exactly") {
    char buf[64];
    CHECK(exo::format(buf, sizeof(buf), "%lld", static_cast<long long>(INT64_MIN)) == 20);
    CHECK(std::string(buf) == "-9223372036854775808");
    exo::format(buf, sizeof(buf), "%jd|%ld", INTMAX_MIN, static_cast<long>(INT64_MAX));
    CHECK(std::string(buf) == "-9223372036854775808|9223372036854775807");
    exo::format(buf, sizeof(buf), "%llu", static_cast<unsigned long long>(UINT64_MAX));
    CHECK(std::string(buf) == "18446744073709551615");
    exo::format(buf, sizeof(buf), "%#lo", static_cast<unsigned long>(UINT64_MAX));
    CHECK(std::string(buf) == "01777777777777777777777");
    exo::format(buf, sizeof(buf), "%#zX", SIZE_MAX);
    CHECK(std::string(buf) == "0XFFFFFFFFFFFFFFFF");
    exo::format(buf, sizeof(buf), "%+d % d %d", INT32_MIN, INT32_MAX, 0);
    CHECK(std::string(buf) == "-2147483648  2147483647 0");
}

TEST_CASE("format matches snprintf for %c, %s and %%") {
    for (const char* spec : {"", "1", "5", "-5", "-", "20", "-20"}) {
        const std::string fmt = std::string("[%") + spec + "c]";
        for (int c : {int{'a'}, int{'Z'}, int{' '}, int{'%'}, 0x7f, 0, 0xff, -1, 256 + 'A'})
            check_like_libc(fmt.c_str(), c);
    }
    const std::string long_string = std::string(200, 'x') + "end";
    for (const char* spec : {"", "1", "10", "-10", ".0", ".2", ".5", ".20", "10.2", "-10.2", "-",
                             ".", "300", "-300", ".300"}) {
        const std::string fmt = std::string("[%") + spec + "s]";
        for (const char* s : {"", "a", "hello", "hello, world", long_string.c_str()})
            check_like_libc(fmt.c_str(), s);
    }
    check_like_libc("100%% sure, %d%%", 5);
    check_like_libc("%%%s%%", "x");
    check_like_libc("no conversions at all");
    check_like_libc("");
}

TEST_CASE("format takes width and precision from '*' arguments, negative ones included") {
    for (int width : {-300, -20, -5, -1, 0, 1, 5, 20, 300}) {
        check_like_libc("[%*d]", width, -42);
        check_like_libc("[%-*x]", width, 0xabcu);
        check_like_libc("[%0*d]", width, -42);
        check_like_libc("[%*s]", width, "str");
        check_like_libc("[%*c]", width, 'c');
        for (int precision : {-10, -1, 0, 1, 3, 30}) {
            check_like_libc("[%*.*d]", width, precision, 1234);
            check_like_libc("[%0*.*lld]", width, precision, -1234LL);
            check_like_libc("[%*.*s]", width, precision, "string");
            check_like_libc("[%#*.*o]", width, precision, 0u);
        }
    }
    check_like_libc("%.*s|%.*s", 3, "abcdef", -1, "abcdef");
}

TEST_CASE("format pads fields far wider than any internal buffer") {
    check_like_libc("[%300d]", -7);
    check_like_libc("[%-300d]", -7);
    check_like_libc("[%.300d]", -7);
    check_like_libc("[%0300x]", 0xdeadu);
    check_like_libc("[%#.200o]", 8u);
    check_like_libc("[%100000s]", "wide");
    check_like_libc("[%-100000c]", 'w');
    check_like_libc("[%+0100000lld]", static_cast<long long>(INT64_MIN));
    check_like_libc("[%*.*d]", 70000, 60000, 12345);

    // The padding streams through the sink in pieces, never as one buffer-sized write.
    struct Pieces {
        size_t total = 0;
        size_t largest = 0;
    } pieces;
    exo::FormatSink sink{[](void* ctx, const char*, size_t n) {
                             auto* p = static_cast<Pieces*>(ctx);
                             p->total += n;
                             p->largest = n > p->largest ? n : p->largest;
                         },
                         &pieces};
    CHECK(exo::format_to(sink, "%200000d", 1) == 200000);
    CHECK(pieces.total == 200000);
    CHECK(pieces.largest < 4096);
}

TEST_CASE("format agrees with snprintf on 100000 random conversions (fixed seed)") {
    std::mt19937 rng(0x5eed'f0a7);
    auto below = [&](uint32_t n) { return static_cast<uint32_t>(rng() % n); };
    auto random64 = [&] { return (static_cast<uint64_t>(rng()) << 32) | rng(); };
    const uint64_t kEdgeBits[] = {0,          1,          ~0ULL,      1ULL << 63, ~0ULL >> 1,
                                  0x80000000, 0x7fffffff, 0xffffffff, 0x80,       0x7f,
                                  0xff,       0x8000,     0x7fff,     0xffff,     10};
    const std::string long_string(150, 'q');
    const char* kStrings[] = {"", "x", "hello", "exo-os kernel", long_string.c_str()};
    const char* kLengths[] = {"", "hh", "h", "l", "ll", "z", "j", "t"};
    const char kConversions[] = "diuoxXcs";

    std::vector<std::string> failures;
    for (int i = 0; i < 100000; ++i) {
        const char conversion = kConversions[below(8)];
        const bool integer = conversion != 'c' && conversion != 's';
        std::vector<int> stars;
        std::string fmt = "<%";
        for (uint32_t n = below(4); n > 0; --n) {
            const char flag = "-0+ #"[below(5)];
            // Keep to what C defines: '#' only for o/x/X; '0', '+', ' ' only for integers.
            if ((flag == '#' && std::string("oxX").find(conversion) == std::string::npos) ||
                (flag != '-' && !integer))
                continue;
            fmt += flag;
        }
        if (const uint32_t r = below(10); r >= 4 && r <= 7) {
            fmt += std::to_string(below(41));
        } else if (r == 8) {
            fmt += std::to_string(below(300));
        } else if (r == 9) {
            fmt += '*';
            stars.push_back(static_cast<int>(below(81)) - 40);
        }
        if (const uint32_t r = below(10); conversion == 'c' || r <= 4) {
            // no precision (undefined for %c)
        } else if (r == 5) {
            fmt += '.';
        } else if (r <= 7) {
            fmt += '.' + std::to_string(below(41));
        } else if (r == 8) {
            fmt += ".*";
            stars.push_back(static_cast<int>(below(51)) - 10);
        } else {
            fmt += '.' + std::to_string(below(100));
        }
        const uint32_t length = integer ? below(8) : 0;
        fmt += std::string(kLengths[length]) + conversion + ">";
        const uint64_t bits =
            below(4) == 0 ? kEdgeBits[below(std::size(kEdgeBits))] : random64() >> below(64);

        auto run = [&](auto value) {
            const char* f = fmt.c_str();
            if (stars.empty())
                return std::pair(exo_format(f, value), libc_format(f, value));
            if (stars.size() == 1)
                return std::pair(exo_format(f, stars[0], value), libc_format(f, stars[0], value));
            return std::pair(exo_format(f, stars[0], stars[1], value),
                             libc_format(f, stars[0], stars[1], value));
        };
        const bool is_signed = conversion == 'd' || conversion == 'i';
        std::pair<std::string, std::string> out;
        if (conversion == 'c')
            out = run(static_cast<int>(bits & 0xff));
        else if (conversion == 's')
            out = run(kStrings[bits % std::size(kStrings)]);
        else if (length <= 2) // none, hh, h: int-sized arguments, narrowed by the formatter
            out = is_signed ? run(static_cast<int>(bits)) : run(static_cast<unsigned>(bits));
        else if (length == 3)
            out = is_signed ? run(static_cast<long>(bits)) : run(static_cast<unsigned long>(bits));
        else if (length == 4)
            out = is_signed ? run(static_cast<long long>(bits))
                            : run(static_cast<unsigned long long>(bits));
        else if (length == 6)
            out = is_signed ? run(static_cast<intmax_t>(bits)) : run(static_cast<uintmax_t>(bits));
        else // z, t
            out = is_signed ? run(static_cast<ptrdiff_t>(bits)) : run(static_cast<size_t>(bits));

        if (out.first != out.second && failures.size() < 20) {
            std::string stars_text;
            for (int s : stars)
                stars_text += std::to_string(s) + ",";
            failures.push_back(fmt + " args " + stars_text + std::to_string(bits) + ": exo \"" +
                               out.first + "\" libc \"" + out.second + "\"");
        }
    }
    for (const std::string& f : failures)
        UNSCOPED_INFO(f);
    CHECK(failures.empty());
}

TEST_CASE("format truncates like snprintf, returns the full length and never writes past cap") {
    const char* fmt = "%s|%08x|%-6d|%c";
    const std::string full = libc_format(fmt, "hello", 0xbeefu, -42, 'z');
    const size_t len = full.size();
    REQUIRE(len == 23);

    constexpr size_t kGuard = 16;
    constexpr char kCanary = '\x5a';
    for (size_t cap = 0; cap <= len + 3; ++cap) {
        INFO("cap " << cap);
        std::vector<char> guarded(cap + kGuard, kCanary);
        CHECK(exo::format(guarded.data(), cap, fmt, "hello", 0xbeefu, -42, 'z') == len);
        if (cap > 0) {
            const size_t kept = cap - 1 < len ? cap - 1 : len;
            CHECK(std::string(guarded.data(), kept) == full.substr(0, kept));
            CHECK(guarded[kept] == '\0');
        }
        for (size_t i = cap; i < guarded.size(); ++i)
            REQUIRE(guarded[i] == kCanary);

        // An allocation of exactly `cap` bytes, so AddressSanitizer sees any overrun.
        if (cap > 0) {
            auto exact = std::make_unique<char[]>(cap);
            CHECK(exo::format(exact.get(), cap, fmt, "hello", 0xbeefu, -42, 'z') == len);
            CHECK(std::string(exact.get()) == full.substr(0, cap - 1));
        }
    }

    CHECK(exo::format(nullptr, 0, "%d-%s", 12345, "abc") == 9);
    char one = kCanary;
    CHECK(exo::format(&one, 1, "%d", 12345) == 5);
    CHECK(one == '\0');

    // Wide padding into a small buffer: stored text stops at cap-1, the count does not.
    char small[8 + kGuard];
    std::fill(std::begin(small), std::end(small), kCanary);
    CHECK(exo::format(small, 8, "%-100000d|", 7) == 100001);
    CHECK(std::string(small) == "7      ");
    for (size_t i = 8; i < sizeof(small); ++i)
        REQUIRE(small[i] == kCanary);
}

TEST_CASE("format_to streams pieces whose concatenation is the buffer output") {
    struct Log {
        std::vector<std::string> pieces;
    } log;
    exo::FormatSink sink{[](void* ctx, const char* s, size_t n) {
                             static_cast<Log*>(ctx)->pieces.emplace_back(s, n);
                         },
                         &log};
    const size_t n = exo::format_to(sink, "cpu%u: %-8s rip=%p err=%#x %5d%%", 3u, "#PF",
                                    reinterpret_cast<void*>(0xffffffff80101234), 0x2u, 42);
    std::string joined;
    for (const std::string& piece : log.pieces)
        joined += piece;
    char buf[128];
    CHECK(exo::format(buf, sizeof(buf), "cpu%u: %-8s rip=%p err=%#x %5d%%", 3u, "#PF",
                      reinterpret_cast<void*>(0xffffffff80101234), 0x2u, 42) == n);
    CHECK(joined == buf);
    CHECK(joined == "cpu3: #PF      rip=0xffffffff80101234 err=0x2    42%");
    CHECK(n == joined.size());
    CHECK(log.pieces.size() > 1);
}

TEST_CASE("format prints %p as 0x and 16 hex digits, whatever the pointer") {
    char buf[64];
    exo::format(buf, sizeof(buf), "%p", static_cast<void*>(nullptr));
    CHECK(std::string(buf) == "0x0000000000000000");
    exo::format(buf, sizeof(buf), "%p", reinterpret_cast<void*>(0x1234));
    CHECK(std::string(buf) == "0x0000000000001234");
    exo::format(buf, sizeof(buf), "%p", reinterpret_cast<void*>(0xffffffff80000000));
    CHECK(std::string(buf) == "0xffffffff80000000");
    exo::format(buf, sizeof(buf), "[%20p]", reinterpret_cast<void*>(0xabc));
    CHECK(std::string(buf) == "[  0x0000000000000abc]");
    exo::format(buf, sizeof(buf), "[%-20p]", reinterpret_cast<void*>(0xabc));
    CHECK(std::string(buf) == "[0x0000000000000abc  ]");
    CHECK(exo::format(buf, sizeof(buf), "%p", static_cast<const void*>(buf)) == 18);
}

TEST_CASE("format prints (null) for a null %s, cut by the precision") {
    const char* null_string = nullptr;
    char buf[64];
    CHECK(exo::format(buf, sizeof(buf), "%s", null_string) == 6);
    CHECK(std::string(buf) == "(null)");
    exo::format(buf, sizeof(buf), "[%8s|%-8s]", null_string, null_string);
    CHECK(std::string(buf) == "[  (null)|(null)  ]");
    exo::format(buf, sizeof(buf), "[%.3s]", null_string);
    CHECK(std::string(buf) == "[(nu]");
}

TEST_CASE("format reads no further than the precision of %s") {
    const char unterminated[3] = {'a', 'b', 'c'}; // AddressSanitizer flags any read past it
    char buf[16];
    exo::format(buf, sizeof(buf), "[%.3s|%.2s]", unterminated, unterminated);
    CHECK(std::string(buf) == "[abc|ab]");
}

TEST_CASE("format prints unknown and unfinished conversions verbatim") {
    // Through a variable, since the compiler's format check rightly rejects these as literals.
    auto fmt = [](const char* f, auto... args) { return exo_format(f, args...); };
    CHECK(fmt("%q") == "%q");
    CHECK(fmt("a%qb%d", 5) == "a%qb5");
    CHECK(fmt("%-5q|%d", 5) == "%-5q|5");
    CHECK(fmt("%lq %hhy") == "%lq %hhy");
    CHECK(fmt("%n %f", 1) == "%n %f"); // %n never writes memory; no floating point
    CHECK(fmt("%ls|%lc|%lp") == "%ls|%lc|%lp");
    CHECK(fmt("%*q%d", 9, 7) == "%*q7"); // the '*' still took its argument
    CHECK(fmt("%") == "%");
    CHECK(fmt("100%") == "100%");
    CHECK(fmt("%d%", 1) == "1%");
    CHECK(fmt("%-08") == "%-08");
    CHECK(fmt("%.5l") == "%.5l");
    CHECK(fmt("%5%|%-5%") == "%|%");
}

namespace {

size_t format_through_va_list(char* buf, size_t cap, const char* fmt, ...)
    __attribute__((format(printf, 3, 4)));

size_t format_through_va_list(char* buf, size_t cap, const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    size_t n = exo::vformat(buf, cap, fmt, ap);
    va_end(ap);
    return n;
}

} // namespace

TEST_CASE("format accepts ordinary literal formats under the compiler's printf check") {
    // This file compiles with -Wall -Werror, so each call here passed gcc's -Wformat.
    char buf[256];
    const size_t n = exo::format(
        buf, sizeof(buf), "%d %i %u %x %X %o %c %s %p %% %hhd %hu %ld %llu %zu %jd %td", -1, 2, 3u,
        0xabu, 0xabu, 8u, 'c', "s", static_cast<void*>(nullptr), static_cast<signed char>(-4),
        static_cast<unsigned short>(5), 6L, 7ULL, size_t{8}, intmax_t{9}, ptrdiff_t{-10});
    const std::string expected = "-1 2 3 ab AB 10 c s 0x0000000000000000 % -4 5 6 7 8 9 -10";
    CHECK(std::string(buf) == expected);
    CHECK(n == expected.size());
    CHECK(format_through_va_list(buf, sizeof(buf), "%-4s|%+.3d|%#o", "ab", 7, 8u) == 13);
    CHECK(std::string(buf) == "ab  |+007|010");
}
