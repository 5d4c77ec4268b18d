// init's boot manifest parser (servers/init/manifest.hpp): every option, every bad value, and a
// random mutation test that must never crash and never report a line twice.
#include "support.hpp"

#include "../../servers/init/manifest.hpp"

#include <catch2/catch.hpp>
#include <cstring>
#include <random>
#include <string>
#include <vector>

using srv::init::ServerEntry;

namespace {

struct Bad {
    size_t line;
    std::string why;
};

struct Parsed {
    std::vector<ServerEntry> entries;
    std::vector<Bad> bad;
};

Parsed parse(std::string_view text) {
    Parsed p;
    srv::init::parse_manifest(
        text.data(), text.size(), [&](const ServerEntry& e) { p.entries.push_back(e); },
        [&](size_t line, const char* why) {
            REQUIRE(why != nullptr);
            REQUIRE(*why != '\0');
            p.bad.push_back({line, why});
        });
    return p;
}

// The entry of one valid line.
ServerEntry entry(const std::string& line) {
    INFO(line);
    Parsed p = parse(line);
    REQUIRE(p.bad.empty());
    REQUIRE(p.entries.size() == 1);
    return p.entries[0];
}

// The reason one bad line is refused.
std::string why(const std::string& line) {
    INFO(line);
    Parsed p = parse(line);
    REQUIRE(p.entries.empty());
    REQUIRE(p.bad.size() == 1);
    REQUIRE(p.bad[0].line == 1);
    return p.bad[0].why;
}

bool starts_with(const std::string& s, const char* prefix) {
    return s.rfind(prefix, 0) == 0;
}

std::vector<std::string> services(const srv::init::ServiceName* names, size_t count) {
    return std::vector<std::string>(names, names + count);
}

using Strings = std::vector<std::string>;

} // namespace

TEST_CASE("manifest: a bare start line gets the defaults") {
    ServerEntry e = entry("start hello");
    REQUIRE(std::string(e.name) == "hello");
    REQUIRE(e.quota_bytes == 1024 * 1024);
    REQUIRE_FALSE(e.log);
    REQUIRE((e.port_first == 0 && e.port_count == 0));
    REQUIRE_FALSE(e.has_irq);
    REQUIRE((e.serve_count == 0 && e.connect_count == 0));
    REQUIRE(e.restarts == 3);
    REQUIRE(e.within_ms == 5000);
    REQUIRE(e.count == 1);
    REQUIRE(e.arg == 0);
    REQUIRE(e.system_rights == 0);
    REQUIRE_FALSE(e.control);
}

TEST_CASE("manifest: quota, log, ports and irq") {
    ServerEntry e = entry("start hello quota=512 log ports=0x3f8-0x3ff irq=4");
    REQUIRE(e.quota_bytes == 512 * 1024);
    REQUIRE(e.log);
    REQUIRE((e.port_first == 0x3f8 && e.port_count == 8));
    REQUIRE((e.has_irq && e.irq == 4));
    REQUIRE(entry("start a quota=1").quota_bytes == 1024);
    REQUIRE(entry("start a quota=1073741824").quota_bytes == (uint64_t(1) << 40));
    REQUIRE(entry("start a ports=0-0xffff").port_count == 0x10000);
    REQUIRE(entry("start a ports=7-7").port_count == 1);
    REQUIRE(entry("start a irq=255").irq == 255);
    REQUIRE(entry("start a quota=1 quota=2").quota_bytes == 2048); // the later one wins
}

TEST_CASE("manifest: serve and connect lists") {
    ServerEntry e = entry("start fs serve=fs,block-2 connect=log,x,0-9");
    REQUIRE(services(e.serve, e.serve_count) == Strings{"fs", "block-2"});
    REQUIRE(services(e.connect, e.connect_count) == Strings{"log", "x", "0-9"});
    e = entry("start a serve=a,b,c,abcdefghijklmno connect=1,2,3,4,5,6,7,8");
    REQUIRE(services(e.serve, e.serve_count) == Strings{"a", "b", "c", "abcdefghijklmno"});
    REQUIRE(e.connect_count == 8);
    REQUIRE(std::string(e.connect[7]) == "8");
    e = entry("start a serve=a,b,c,d serve=z"); // the later one wins, whole
    REQUIRE(services(e.serve, e.serve_count) == Strings{"z"});
}

TEST_CASE("manifest: restarts, within, count and arg") {
    ServerEntry e = entry("start a restarts=10 within=60000 count=64 arg=0xdeadbeef");
    REQUIRE(e.restarts == 10);
    REQUIRE(e.within_ms == 60000);
    REQUIRE(e.count == 64);
    REQUIRE(e.arg == 0xdeadbeef);
    REQUIRE(entry("start a restarts=0").restarts == 0);
    REQUIRE(entry("start a restarts=100").restarts == 100);
    REQUIRE(entry("start a within=1").within_ms == 1);
    REQUIRE(entry("start a within=3600000").within_ms == 3600000);
    REQUIRE(entry("start a count=1").count == 1);
    REQUIRE(entry("start a arg=18446744073709551615").arg == UINT64_MAX);
    REQUIRE(entry("start a arg=0").arg == 0);
}

TEST_CASE("manifest: system and control") {
    REQUIRE(entry("start console system").system_rights == exo::kRightRead);
    REQUIRE(entry("start console system=manage").system_rights ==
            (exo::kRightRead | exo::kRightManage));
    REQUIRE(entry("start console system=manage system").system_rights == exo::kRightRead);
    REQUIRE(entry("start console system system=manage").system_rights ==
            (exo::kRightRead | exo::kRightManage));
    ServerEntry e = entry("start console control system=manage log");
    REQUIRE(e.control);
    REQUIRE(e.log);
    REQUIRE(e.connect_count == 0); // control alone: init still gives it a link
    REQUIRE_FALSE(entry("start console system").control);
}

TEST_CASE("manifest: every bad value is a bad line with its reason") {
    struct Case {
        const char* option;
        const char* reason; // the start of the reason
    };
    const Case cases[] = {
        {"quota=0", "bad quota"},
        {"quota=1073741825", "bad quota"},
        {"quota=", "bad quota"},
        {"quota", "bad quota"},
        {"quota=-1", "bad quota"},
        {"quota=1k", "bad quota"},
        {"quota=99999999999999999999", "bad quota"},
        {"log=1", "bad log"},
        {"log=", "bad log"},
        {"irq=256", "bad irq"},
        {"irq=", "bad irq"},
        {"irq=x", "bad irq"},
        {"ports=1", "bad ports"},
        {"ports=-1", "bad ports"},
        {"ports=1-", "bad ports"},
        {"ports=5-4", "bad ports"},
        {"ports=0-0x10000", "bad ports"},
        {"ports=1-2-3", "bad ports"},
        {"ports=", "bad ports"},
        {"serve=", "bad serve"},
        {"serve", "bad serve"},
        {"serve=a,", "bad serve"},
        {"serve=,a", "bad serve"},
        {"serve=a,,b", "bad serve"},
        {"serve=A", "bad serve"},
        {"serve=a_b", "bad serve"},
        {"serve=a.b", "bad serve"},
        {"serve=abcdefghijklmnop", "bad serve"}, // 16 characters
        {"serve=a,b,c,d,e", "bad serve"},
        {"serve=a,a", "a service is named twice"},
        {"connect=", "bad connect"},
        {"connect=1,2,3,4,5,6,7,8,9", "bad connect"},
        {"connect=x=y", "bad connect"},
        {"connect=b,c,b", "a service is named twice"},
        {"restarts=101", "bad restarts"},
        {"restarts=", "bad restarts"},
        {"restarts=-1", "bad restarts"},
        {"within=0", "bad within"},
        {"within=3600001", "bad within"},
        {"within=", "bad within"},
        {"count=0", "bad count"},
        {"count=65", "bad count"},
        {"count=", "bad count"},
        {"arg=", "bad arg"},
        {"arg=18446744073709551616", "bad arg"},
        {"arg=0x", "bad arg"},
        {"arg=1.5", "bad arg"},
        {"system=foo", "bad system"},
        {"system=", "bad system"},
        {"system=Manage", "bad system"},
        {"system=manage,read", "bad system"},
        {"control=1", "bad control"},
        {"control=", "bad control"},
        {"unknown=1", "unknown option"},
        {"flag", "unknown option"},
        {"=5", "unknown option"},
        {"Quota=5", "unknown option"},
    };
    for (const Case& c : cases) {
        INFO(c.option);
        std::string reason = why(std::string("start hello log ") + c.option + " count=2");
        REQUIRE(starts_with(reason, c.reason));
    }
}

TEST_CASE("manifest: start needs a printable name under 48 bytes") {
    REQUIRE(starts_with(why(std::string("start a\0b", 9)), "bad module name"));
    REQUIRE(starts_with(why("start \x7f"), "bad module name"));
    REQUIRE(starts_with(why("start caf\xc3\xa9"), "bad module name"));
    REQUIRE(starts_with(why("start"), "start needs a module name"));
    REQUIRE(starts_with(why("  start   # hello"), "start needs a module name"));
    REQUIRE(starts_with(why("start " + std::string(48, 'n')), "start needs a module name"));
    ServerEntry e = entry("start " + std::string(47, 'n'));
    REQUIRE(std::string(e.name) == std::string(47, 'n'));
    REQUIRE(parse("starts hello").entries.empty()); // not a start line: for the ISO recipe
    REQUIRE(parse("start=x hello").entries.empty());
}

TEST_CASE("manifest: lines of at most 200 bytes and 16 tokens") {
    std::string line = "start hello";
    line += std::string(200 - line.size(), ' ');
    REQUIRE(std::string(entry(line).name) == "hello");
    REQUIRE(std::string(entry(line + "\r").name) == "hello"); // the CR is not counted
    REQUIRE(starts_with(why(line + " "), "line too long"));
    REQUIRE(starts_with(why(line + "# comment"), "line too long"));
    REQUIRE(starts_with(why("module " + std::string(300, 'm')), "line too long"));
    REQUIRE(starts_with(why("start " + std::string(10000, 'm')), "line too long"));
    REQUIRE(parse("# " + std::string(300, 'c')).bad.empty()); // only a comment: nothing to use
    REQUIRE(parse(std::string(300, ' ')).bad.empty());
    std::string sixteen = "start hello";
    for (int i = 0; i < 14; ++i)
        sixteen += " log";
    REQUIRE(entry(sixteen).log);
    REQUIRE(starts_with(why(sixteen + " log"), "too many tokens"));
    REQUIRE(starts_with(why("a b c d e f g h i j k l m n o p q"), "too many tokens"));
}

TEST_CASE("manifest: line numbers, CRLF, comments and lines for the ISO recipe") {
    Parsed p = parse("# Exo-OS boot manifest\r\n"
                     "\r\n"
                     "start one quota=4 # a comment\r\n"
                     "module data\n"
                     "start two count=0\r\n"
                     "start three log#comment\n"
                     "\n"
                     "start four=x oops\r\n"
                     "start five serve=a\r");
    REQUIRE(p.entries.size() == 3);
    REQUIRE(std::string(p.entries[0].name) == "one");
    REQUIRE(p.entries[0].quota_bytes == 4096);
    REQUIRE(std::string(p.entries[1].name) == "three");
    REQUIRE(p.entries[1].log);
    REQUIRE(std::string(p.entries[2].name) == "five");
    REQUIRE(services(p.entries[2].serve, p.entries[2].serve_count) == Strings{"a"});
    REQUIRE(p.bad.size() == 2);
    REQUIRE((p.bad[0].line == 5 && starts_with(p.bad[0].why, "bad count")));
    REQUIRE((p.bad[1].line == 8 && p.bad[1].why == "unknown option"));
    REQUIRE(parse("").entries.empty());
    REQUIRE(parse("start a\rlog").entries.at(0).log); // a lone CR separates tokens, not lines
}

TEST_CASE("manifest: the boot manifest of the ISO parses") {
    Parsed p = parse("# Exo-OS boot manifest.\n"
                     "#   start NAME [quota=KiB] [log]\n"
                     "start hello quota=512 log\n");
    REQUIRE(p.bad.empty());
    REQUIRE(p.entries.size() == 1);
    REQUIRE(std::string(p.entries[0].name) == "hello");
    REQUIRE(p.entries[0].quota_bytes == 512 * 1024);
    REQUIRE(p.entries[0].log);
}

namespace {

bool same(const ServerEntry& a, const ServerEntry& b) {
    auto same_names = [](const srv::init::ServiceName* x, const srv::init::ServiceName* y,
                         size_t n) {
        for (size_t i = 0; i < n; ++i) {
            if (std::strcmp(x[i], y[i]) != 0)
                return false;
        }
        return true;
    };
    return std::strcmp(a.name, b.name) == 0 && a.quota_bytes == b.quota_bytes && a.log == b.log &&
           a.port_first == b.port_first && a.port_count == b.port_count && a.has_irq == b.has_irq &&
           a.irq == b.irq && a.serve_count == b.serve_count &&
           same_names(a.serve, b.serve, a.serve_count) && a.connect_count == b.connect_count &&
           same_names(a.connect, b.connect, a.connect_count) && a.restarts == b.restarts &&
           a.within_ms == b.within_ms && a.count == b.count && a.arg == b.arg &&
           a.system_rights == b.system_rights && a.control == b.control;
}

bool valid_service(const char* s) {
    size_t n = strnlen(s, srv::init::kServiceNameMax + 1);
    if (n == 0 || n > srv::init::kServiceNameMax)
        return false;
    for (size_t i = 0; i < n; ++i) {
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
            return false;
    }
    return true;
}

// What the parser promises of every entry it accepts.
void check_entry(const ServerEntry& e) {
    size_t n = strnlen(e.name, sizeof e.name);
    REQUIRE((n > 0 && n < sizeof e.name));
    for (size_t i = 0; i < n; ++i)
        REQUIRE((e.name[i] > ' ' && e.name[i] < 0x7f && e.name[i] != '#'));
    REQUIRE((e.quota_bytes >= 1024 && e.quota_bytes <= (uint64_t(1) << 40)));
    REQUIRE(e.quota_bytes % 1024 == 0);
    REQUIRE(uint64_t(e.port_first) + e.port_count <= 0x10000);
    REQUIRE(e.irq <= 255);
    REQUIRE(e.serve_count <= srv::init::kMaxServe);
    REQUIRE(e.connect_count <= srv::init::kMaxConnect);
    for (size_t i = 0; i < e.serve_count; ++i)
        REQUIRE(valid_service(e.serve[i]));
    for (size_t i = 0; i < e.connect_count; ++i)
        REQUIRE(valid_service(e.connect[i]));
    REQUIRE(e.restarts <= srv::init::RestartBudget::kMaxRestarts);
    REQUIRE((e.within_ms >= 1 && e.within_ms <= srv::init::kMaxWithinMs));
    REQUIRE((e.count >= 1 && e.count <= srv::init::kMaxInstances));
    REQUIRE((e.system_rights == 0 || e.system_rights == exo::kRightRead ||
             e.system_rights == (exo::kRightRead | exo::kRightManage)));
}

} // namespace

TEST_CASE("manifest: 10,000 random mutations never crash and report each line at most once") {
    const std::string sample =
        "# Exo-OS boot manifest\n"
        "start hello quota=512 log\n"
        "start srv serve=fs,net-2 connect=a,b,c restarts=5 within=1000 count=64 arg=0x10\r\n"
        "start drv ports=0x60-0x64 irq=1 # keyboard\n"
        "module data\n"
        "\n"
        "start x count=2 connect=1,2,3,4,5,6,7,8\n"
        "start console control system=manage log";
    const char alphabet[] = {'\0', '\xff', '=', ',', '-', '#', ' ', '\t', '\r', '\n', 'x', 'X',
                             '0',  '1',    '9', 'f', 'a', 'z', 'A', '_',  's',  'l',  '.', 'm'};
    std::mt19937 rng(20240611);
    auto pick = [&](size_t n) { return size_t(rng() % n); };
    size_t accepted = 0, refused = 0;
    for (int round = 0; round < 10000; ++round) {
        std::string text = sample;
        for (size_t m = 1 + pick(8); m > 0; --m) {
            size_t at = text.empty() ? 0 : pick(text.size());
            switch (pick(6)) {
            case 0: // replace a byte
                if (!text.empty())
                    text[at] = alphabet[pick(sizeof alphabet)];
                break;
            case 1: // insert a byte
                text.insert(at, 1, alphabet[pick(sizeof alphabet)]);
                break;
            case 2: // delete a run
                text.erase(at, pick(8));
                break;
            case 3: // repeat a run (long lines, many tokens, long lists)
                for (size_t r = pick(40); r > 0; --r)
                    text.insert(at, text.substr(at, pick(20)));
                break;
            case 4: // truncate
                text.resize(at);
                break;
            default: // a random byte anywhere
                if (!text.empty())
                    text[at] = char(rng());
                break;
            }
        }
        INFO("round " << round << ": " << text);
        Parsed whole = parse(text);
        // Line by line, the same results: so each line is reported at most once, in order.
        Parsed lines;
        size_t line_count = 0;
        for (std::string_view rest = text; !rest.empty(); ++line_count) {
            size_t end = rest.find('\n');
            std::string_view line = rest.substr(0, end);
            rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
            Parsed one = parse(line);
            REQUIRE(one.entries.size() + one.bad.size() <= 1);
            for (const ServerEntry& e : one.entries)
                lines.entries.push_back(e);
            for (const Bad& b : one.bad) {
                REQUIRE(b.line == 1);
                lines.bad.push_back({line_count + 1, b.why});
            }
        }
        REQUIRE(whole.entries.size() == lines.entries.size());
        for (size_t i = 0; i < whole.entries.size(); ++i) {
            check_entry(whole.entries[i]);
            REQUIRE(same(whole.entries[i], lines.entries[i]));
        }
        REQUIRE(whole.bad.size() == lines.bad.size());
        for (size_t i = 0; i < whole.bad.size(); ++i) {
            REQUIRE(whole.bad[i].line == lines.bad[i].line);
            REQUIRE(whole.bad[i].why == lines.bad[i].why);
            REQUIRE((whole.bad[i].line >= 1 && whole.bad[i].line <= line_count));
            if (i > 0)
                REQUIRE(whole.bad[i].line > whole.bad[i - 1].line);
        }
        REQUIRE(whole.entries.size() + whole.bad.size() <= line_count);
        accepted += whole.entries.size();
        refused += whole.bad.size();
    }
    // The mutations reach both sides.
    REQUIRE(accepted > 1000);
    REQUIRE(refused > 1000);
}
