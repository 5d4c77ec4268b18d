// The console's portable parts (servers/console/): the line editor, fed bytes as a terminal
// sends them, checked by what it echoes and the lines it completes; and the command-line text
// handling (words, autorun commands, levels, rights, Output lines); the ps, caps and mem lines
// whose formats guest tests parse.
#include "support.hpp"

#include "../../servers/console/command_line.hpp"
#include "../../servers/console/line_editor.hpp"
#include "../../servers/console/report.hpp"

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

using namespace srv::console;

namespace {

struct Screen {
    std::string echoed;
    static void write(void* self, const char* s, size_t n) {
        static_cast<Screen*>(self)->echoed.append(s, n);
    }
    exo::FormatSink sink() { return {write, this}; }
};

struct Typist {
    Screen screen;
    LineEditor editor{screen.sink()};
    std::vector<std::string> lines;
    int cancels = 0;

    Typist() { editor.show(); }
    // Types `bytes`; returns what was echoed meanwhile.
    std::string type(std::string_view bytes) {
        screen.echoed.clear();
        for (char c : bytes) {
            EditEvent e = editor.feed(uint8_t(c));
            if (e == EditEvent::Line) {
                lines.emplace_back(editor.line());
                if (!editor.busy())
                    editor.show();
            } else if (e == EditEvent::Cancel) {
                ++cancels;
            }
        }
        return screen.echoed;
    }
};

} // namespace

TEST_CASE("LineEditor: typing, Enter, the prompt", "[console]") {
    Typist t;
    REQUIRE(t.screen.echoed == "exo> ");
    REQUIRE(t.type("ps") == "ps");
    REQUIRE(t.editor.partial() == "ps");
    REQUIRE(t.type("\r") == "\r\nexo> ");
    REQUIRE(t.lines == std::vector<std::string>{"ps"});
    // CRLF is one Enter; a lone LF is one too.
    t.type("a\r\nb\nc\r\r");
    REQUIRE(t.lines == std::vector<std::string>{"ps", "a", "b", "c", ""});
}

TEST_CASE("LineEditor: Backspace, Ctrl-U, Ctrl-C", "[console]") {
    Typist t;
    REQUIRE(t.type("abc\x7f") == "abc\b \b");
    REQUIRE(t.type("\x08") == "\b \b");
    REQUIRE(t.editor.partial() == "a");
    REQUIRE(t.type("\x08\x08") == "\b \b"); // nothing left to erase: no echo
    t.type("hello");
    REQUIRE(t.type("\x15") == "\rexo> \x1b[K");
    REQUIRE(t.editor.partial().empty());
    t.type("xyz");
    REQUIRE(t.type("\x03") == "^C\r\nexo> ");
    REQUIRE(t.cancels == 1);
    REQUIRE(t.editor.partial().empty());
    REQUIRE(t.lines.empty());
}

TEST_CASE("LineEditor: control bytes and non-ASCII are ignored", "[console]") {
    Typist t;
    REQUIRE(t.type("\t\x01\x80\xff").empty());
    REQUIRE(t.editor.partial().empty());
}

TEST_CASE("LineEditor: a line longer than kLineMax is refused with a bell", "[console]") {
    Typist t;
    std::string full(LineEditor::kLineMax, 'x');
    t.type(full);
    REQUIRE(t.type("y") == "\a");
    REQUIRE(t.editor.partial() == full);
    t.type("\r");
    REQUIRE(t.lines.back() == full);
}

TEST_CASE("LineEditor: history on Up and Down", "[console]") {
    Typist t;
    t.type("one\rtwo\rtwo\r");
    REQUIRE(t.editor.history_size() == 2); // a repeat of the newest is not kept twice
    t.type("dr");
    REQUIRE(t.type("\x1b[A") == "\rexo> two\x1b[K");
    REQUIRE(t.type("\x1bOA") == "\rexo> one\x1b[K");
    REQUIRE(t.type("\x1b[A") == "\a"); // no older line
    REQUIRE(t.type("\x1b[B") == "\rexo> two\x1b[K");
    REQUIRE(t.type("\x1b[B") == "\rexo> dr\x1b[K"); // back to the draft
    REQUIRE(t.type("\x1b[B") == "\a");
    t.type("\x1b[A\x1b[A!\r");
    REQUIRE(t.lines.back() == "one!");
}

TEST_CASE("LineEditor: the history keeps the last 32 lines", "[console]") {
    Typist t;
    for (int i = 0; i < 40; ++i)
        t.type(std::to_string(i) + "\r");
    REQUIRE(t.editor.history_size() == kHistoryLines);
    for (int i = 0; i < 32; ++i)
        t.type("\x1b[A");
    REQUIRE(t.editor.partial() == "8");
    REQUIRE(t.type("\x1b[A") == "\a");
}

TEST_CASE("LineEditor: other escape sequences are swallowed whole", "[console]") {
    Typist t;
    t.type("ab");
    REQUIRE(t.type("\x1b[C\x1b[D\x1b[1;5C\x1b[3~\x1bOH\x1bx").empty());
    REQUIRE(t.editor.partial() == "ab");
    // A control byte inside a sequence ends it and counts as itself.
    t.type("\x1b[1\r");
    REQUIRE(t.lines.back() == "ab");
    t.type("\x1b\x03");
    REQUIRE(t.cancels == 1);
}

TEST_CASE("LineEditor: hide and show around output", "[console]") {
    Typist t;
    t.type("par");
    t.screen.echoed.clear();
    REQUIRE(t.editor.hide());
    REQUIRE(t.screen.echoed == "\r\x1b[K");
    REQUIRE_FALSE(t.editor.hide()); // already hidden: nothing to erase
    t.editor.show();
    REQUIRE(t.screen.echoed == "\r\x1b[Kexo> par");
    REQUIRE(t.type("t") == "t");
    REQUIRE(t.editor.partial() == "part");
}

TEST_CASE("LineEditor: busy, Ctrl-C cancels and the rest rings the bell", "[console]") {
    Typist t;
    t.type("sleep 5\r");
    t.editor.set_busy(true);
    t.editor.hide(); // the owner erases the prompt the Typist drew
    t.screen.echoed.clear();
    t.editor.show(); // not drawn while busy
    REQUIRE(t.screen.echoed.empty());
    REQUIRE(t.type("x") == "\a");
    REQUIRE(t.type("\x1b[A\r\n").empty());
    REQUIRE(t.lines.size() == 1);
    REQUIRE(t.type("\x03") == "^C\r\n"); // no prompt: the owner draws it when the command ends
    REQUIRE(t.cancels == 1);
    t.editor.set_busy(false);
    t.editor.show();
    REQUIRE(t.type("ok\r") == "ok\r\nexo> ");
    REQUIRE(t.lines.back() == "ok");
}

TEST_CASE("Console text: words and autorun commands", "[console]") {
    std::string_view words[4];
    REQUIRE(split_words("  caps  console \t", words, 4) == 2);
    REQUIRE(words[0] == "caps");
    REQUIRE(words[1] == "console");
    REQUIRE(split_words("", words, 4) == 0);
    REQUIRE(split_words("a b c d e", words, 4) == 5);
    REQUIRE(trim("  x y \t") == "x y");

    AutorunCommands commands(" ps; caps console ;; ;shutdown 3;");
    std::vector<std::string> got;
    std::string_view c;
    while (commands.next(c))
        got.emplace_back(c);
    REQUIRE(got == std::vector<std::string>{"ps", "caps console", "shutdown 3"});
    AutorunCommands none(" ; ");
    REQUIRE_FALSE(none.next(c));
}

TEST_CASE("Console text: words, levels, rights", "[console]") {
    REQUIRE(valid_word("echo"));
    REQUIRE(valid_word("blk-2"));
    REQUIRE_FALSE(valid_word(""));
    REQUIRE_FALSE(valid_word("Echo"));
    REQUIRE_FALSE(valid_word("a b"));
    REQUIRE_FALSE(valid_word("abcdefghijklmnop")); // 16
    REQUIRE(valid_word("abcdefghijklmno"));        // 15
    REQUIRE(parse_log_level("warn").value() == exo::LogLevel::Warn);
    REQUIRE(parse_log_level("debug").value() == exo::LogLevel::Debug);
    REQUIRE(parse_log_level("loud").status() == exo::Status::InvalidArgument);
    char letters[7];
    rights_letters(exo::kRightsAll, letters);
    REQUIRE(std::string(letters) == "rwxdgm");
    rights_letters(exo::kRightRead | exo::kRightManage, letters);
    REQUIRE(std::string(letters) == "r----m");
    rights_letters(0, letters);
    REQUIRE(std::string(letters) == "------");
}

TEST_CASE("Console text: Output records made into lines", "[console]") {
    OutputLines out;
    std::vector<std::string> lines;
    auto emit = [](void* v, std::string_view line) {
        static_cast<std::vector<std::string>*>(v)->emplace_back(line);
    };
    out.feed("hel", 3, emit, &lines);
    REQUIRE(lines.empty());
    out.feed("lo\nwor\x01ld\n\n", 11, emit, &lines);
    REQUIRE(lines == std::vector<std::string>{"hello", "wor.ld", ""});
    out.feed("tail\r", 5, emit, &lines);
    out.flush(emit, &lines);
    REQUIRE(lines.back() == "tail.");
    REQUIRE(out.pending() == 0);
    std::string wide(OutputLines::kWidth + 5, 'w');
    lines.clear();
    out.feed(wide.data(), wide.size(), emit, &lines);
    out.flush(emit, &lines);
    REQUIRE(lines.size() == 2);
    REQUIRE(lines[0].size() == OutputLines::kWidth);
    REQUIRE(lines[1] == "wwwww");
}

namespace {

std::vector<std::string> report_lines;
void collect(void*, std::string_view line) {
    report_lines.emplace_back(line);
}

std::vector<std::string> fields(const std::string& line) {
    std::istringstream in(line);
    std::vector<std::string> out;
    for (std::string f; in >> f;)
        out.push_back(f);
    return out;
}

exo::ProcessRecord process(uint64_t id, const char* name, uint64_t used, uint64_t limit) {
    exo::ProcessRecord p{};
    p.id = id;
    p.state = uint32_t(exo::ProcessState::Running);
    p.threads = 2;
    p.quota_used = used;
    p.quota_limit = limit;
    std::memcpy(p.name, name, std::min(std::strlen(name), sizeof p.name - 1));
    return p;
}

} // namespace

TEST_CASE("Console reports: ps lines under their header", "[console]") {
    report_lines.clear();
    exo::proto::init::ProgramRecord program{};
    program.process_id = 3;
    program.restarts = 2;
    srv::console::ps_line(process(3, "console", 212 * 1024 + 100, 512 * 1024), &program, collect,
                          nullptr);
    srv::console::ps_line(process(1, "init", 1904 * 1024, 65536 * 1024), nullptr, collect, nullptr);
    const std::string header = srv::console::kPsHeader;
    REQUIRE(header == "  ID NAME             STATE    THREADS  QUOTA-KiB USED/LIMIT  RESTARTS");
    REQUIRE(report_lines[0] ==
            "   3 console          running        2               212/512         2");
    REQUIRE(report_lines[0].size() == header.size()); // the columns line up
    REQUIRE(fields(report_lines[1]) ==
            std::vector<std::string>{"1", "init", "running", "2", "1904/65536", "-"});
    // A name of 31 characters stays one field.
    report_lines.clear();
    srv::console::ps_line(process(9, "abcdefghijklmnopqrstuvwxyz01234", 0, 4096), nullptr, collect,
                          nullptr);
    REQUIRE(fields(report_lines[0]).size() == 6);
    REQUIRE(fields(report_lines[0])[1] == "abcdefghijklmnopqrstuvwxyz01234");
}

TEST_CASE("Console reports: caps lines", "[console]") {
    report_lines.clear();
    exo::CapRecord cap{};
    cap.slot = 11;
    cap.info.type = uint16_t(exo::ObjectType::System);
    cap.info.rights = exo::kRightRead | exo::kRightManage;
    srv::console::caps_line(cap, collect, nullptr);
    cap.slot = 5;
    cap.info.type = uint16_t(exo::ObjectType::IoPorts);
    cap.info.rights = exo::kRightsAll;
    cap.info.badge = 0x2a;
    cap.info.first = 0x3f8;
    cap.info.count = 8;
    srv::console::caps_line(cap, collect, nullptr);
    REQUIRE(report_lines[0] == "  11 System        r----m  0x0 0x0 0x0");
    REQUIRE(fields(report_lines[1]) ==
            std::vector<std::string>{"5", "IoPorts", "rwxdgm", "0x2a", "0x3f8", "0x8"});
    REQUIRE(fields(srv::console::kCapsHeader).size() == 6);
}

TEST_CASE("Console reports: mem's free lines agree", "[console]") {
    report_lines.clear();
    exo::SystemInfo info{};
    info.memory_usable = 130556 * 1024;
    info.free_blocks[0] = 3;
    info.free_blocks[1] = 1;
    info.free_blocks[10] = 30;
    info.memory_cached = 16 * 1024;
    info.memory_free = (3 * 4 + 8 + 30 * 4096 + 16) * 1024;
    info.largest_free = 4096 * 1024;
    info.fragmentation_permille = 15;
    srv::console::memory_lines(info, collect, nullptr);
    REQUIRE(srv::console::free_in_blocks_kib(info) == 3 * 4 + 8 + 30 * 4096);
    REQUIRE(report_lines.size() == 2 + exo::kBuddyOrders + 5);
    REQUIRE(report_lines[0] == "usable: 130556 KiB");
    REQUIRE(report_lines[2] == "    0          4         3         12");
    REQUIRE(report_lines[12] == "   10       4096        30     122880");
    REQUIRE(report_lines[13] == "free: 122900 KiB in blocks");
    REQUIRE(report_lines[14] == "free: 16 KiB in per-CPU page caches");
    REQUIRE(report_lines[15] == "free: 122916 KiB");
    REQUIRE(report_lines[16] == "largest free block: 4096 KiB");
    REQUIRE(report_lines[17] == "fragmentation: 1.5 %");
    report_lines.clear();
    srv::console::quota_line(process(1, "init", 1904 * 1024, 65536 * 1024), collect, nullptr);
    REQUIRE(report_lines[0] == "   1 init                       1904/65536");
    REQUIRE(report_lines[0].size() == std::string(srv::console::kQuotaHeader).size());
}
