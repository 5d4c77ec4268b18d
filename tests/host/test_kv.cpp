// The shared key=value tokenizer and strict number parser (libexo/include/exo/kv.hpp).
#include "support.hpp"

#include <exo/kv.hpp>

#include <catch2/catch.hpp>
#include <string>
#include <vector>

using exo::KvComments;
using exo::KvToken;
using exo::KvTokens;
using exo::parse_number;
using exo::Status;

namespace {

std::vector<std::string> texts(std::string_view text, KvComments comments = KvComments::Off) {
    std::vector<std::string> out;
    for (KvToken t : KvTokens(text, comments))
        out.emplace_back(t.text);
    return out;
}

using Strings = std::vector<std::string>;

} // namespace

TEST_CASE("kv: tokens are split by spaces, tabs and line ends") {
    REQUIRE(texts("") == Strings{});
    REQUIRE(texts(" \t\r\n ") == Strings{});
    REQUIRE(texts("a") == Strings{"a"});
    REQUIRE(texts("  a\tb=1\r\nc==d  ") == Strings{"a", "b=1", "c==d"});
    KvTokens tokens("x");
    REQUIRE(tokens.begin() != tokens.end());
    REQUIRE(++tokens.begin() == tokens.end());
}

TEST_CASE("kv: each token splits into key and value at its first '='") {
    std::vector<KvToken> all;
    for (KvToken t : KvTokens("flag key=value empty= =x c==d"))
        all.push_back(t);
    REQUIRE(all.size() == 5);
    REQUIRE((all[0].key == "flag" && all[0].value.empty() && !all[0].has_value));
    REQUIRE((all[1].key == "key" && all[1].value == "value" && all[1].has_value));
    REQUIRE((all[2].key == "empty" && all[2].value.empty() && all[2].has_value));
    REQUIRE((all[3].key.empty() && all[3].value == "x" && all[3].has_value));
    REQUIRE((all[4].key == "c" && all[4].value == "=d" && all[4].text == "c==d"));
}

TEST_CASE("kv: '#' starts a comment to the end of the line only when asked") {
    REQUIRE(texts("a #b c", KvComments::Off) == Strings{"a", "#b", "c"});
    REQUIRE(texts("a #b c", KvComments::Hash) == Strings{"a"});
    REQUIRE(texts("a=1#b c", KvComments::Hash) == Strings{"a=1"});
    REQUIRE(texts("# all\nnext # more\n#\nlast", KvComments::Hash) == Strings{"next", "last"});
    REQUIRE(texts("#", KvComments::Hash) == Strings{});
    REQUIRE(texts("##a", KvComments::Hash) == Strings{});
}

TEST_CASE("kv: every truncation of a line gives a prefix of its tokens") {
    const std::string line = " start  srv quota=0x10\tserve=a,b #note x=y\r\n arg=7";
    const Strings full = texts(line, KvComments::Hash);
    REQUIRE(full == Strings{"start", "srv", "quota=0x10", "serve=a,b", "arg=7"});
    for (size_t n = 0; n <= line.size(); ++n) {
        std::string_view prefix(line.data(), n);
        Strings got = texts(prefix, KvComments::Hash);
        REQUIRE(got.size() <= full.size());
        for (size_t i = 0; i < got.size(); ++i) {
            INFO("prefix of " << n << " bytes, token " << i);
            if (i + 1 < got.size())
                REQUIRE(got[i] == full[i]);
            else
                REQUIRE(full[i].compare(0, got[i].size(), got[i]) == 0);
        }
        // Every view points into the text it came from.
        for (KvToken t : KvTokens(prefix, KvComments::Hash)) {
            REQUIRE(t.text.data() >= prefix.data());
            REQUIRE(t.text.data() + t.text.size() <= prefix.data() + prefix.size());
        }
    }
}

TEST_CASE("kv: split_at cuts at the first separator") {
    auto s = exo::split_at("a-b-c", '-');
    REQUIRE((s.head == "a" && s.tail == "b-c" && s.found));
    s = exo::split_at("abc", '-');
    REQUIRE((s.head == "abc" && s.tail.empty() && !s.found));
    s = exo::split_at("-", '-');
    REQUIRE((s.head.empty() && s.tail.empty() && s.found));
    s = exo::split_at("", '-');
    REQUIRE((s.head.empty() && !s.found));
}

TEST_CASE("parse_number: decimal and 0x hex") {
    REQUIRE(parse_number("0").value() == 0);
    REQUIRE(parse_number("007").value() == 7);
    REQUIRE(parse_number("1234567890").value() == 1234567890);
    REQUIRE(parse_number("0x0").value() == 0);
    REQUIRE(parse_number("0xff").value() == 255);
    REQUIRE(parse_number("0XABCdef").value() == 0xABCDEF);
    REQUIRE(parse_number("18446744073709551615").value() == UINT64_MAX);
    REQUIRE(parse_number("0xffffffffffffffff").value() == UINT64_MAX);
    REQUIRE(parse_number("0x000000000000000000001").value() == 1);
}

TEST_CASE("parse_number: anything else is malformed") {
    for (const char* s : {"", "0x", "0X", "x1", "-1", "+1", " 1", "1 ", "1k", "0x1g", "12a", "ff",
                          "0b1", "1.0", "0xx1", "1_000", "0x-1"}) {
        INFO("'" << s << "'");
        REQUIRE(parse_number(s).status() == Status::InvalidArgument);
    }
    REQUIRE(parse_number(std::string_view("1\0", 2)).status() == Status::InvalidArgument);
}

TEST_CASE("parse_number: overflow is OutOfRange, and a later bad digit still malformed") {
    REQUIRE(parse_number("18446744073709551616").status() == Status::OutOfRange);
    REQUIRE(parse_number("99999999999999999999").status() == Status::OutOfRange);
    REQUIRE(parse_number("0x10000000000000000").status() == Status::OutOfRange);
    REQUIRE(parse_number("184467440737095516150").status() == Status::OutOfRange);
    REQUIRE(parse_number("99999999999999999999z").status() == Status::InvalidArgument);
    // Every truncation of a valid number parses to its prefix's value.
    const std::string hex = "0x123456789abcdef0";
    for (size_t n = 0; n <= hex.size(); ++n) {
        auto r = parse_number(std::string_view(hex.data(), n));
        if (n == 0 || n == 2) // "" and "0x"
            REQUIRE(r.status() == Status::InvalidArgument);
        else if (n == 1)
            REQUIRE(r.value() == 0);
        else
            REQUIRE(r.value() == std::stoull(hex.substr(2, n - 2), nullptr, 16));
    }
}

TEST_CASE("parse_number: bounds") {
    REQUIRE(parse_number("5", 1, 5).value() == 5);
    REQUIRE(parse_number("1", 1, 5).value() == 1);
    REQUIRE(parse_number("0", 1, 5).status() == Status::OutOfRange);
    REQUIRE(parse_number("6", 1, 5).status() == Status::OutOfRange);
    REQUIRE(parse_number("x", 1, 5).status() == Status::InvalidArgument);
    REQUIRE(parse_number("99999999999999999999", 0, UINT64_MAX).status() == Status::OutOfRange);
}
