// Kernel command-line option parsing.
#include "support.hpp"

#include "lib/cmdline.hpp"

#include <catch2/catch.hpp>

using mk::Cmdline;

TEST_CASE("Cmdline finds key=value options and bare flags") {
    Cmdline c("  test=panic\tlog=debug quiet  panic=exit ");
    REQUIRE(c.get("test") == "panic");
    REQUIRE(c.get("log") == "debug");
    REQUIRE(c.get("panic") == "exit");
    REQUIRE(c.has("quiet"));
    REQUIRE(c.has("test"));
    REQUIRE_FALSE(c.has("tes"));
    bool found = true;
    REQUIRE(c.get("quiet", &found).empty());
    REQUIRE_FALSE(found); // a bare flag has no value
}

TEST_CASE("Cmdline: later options override, empty values and odd input are handled") {
    Cmdline c("a=1 a=2 b= =x c==d");
    REQUIRE(c.get("a") == "2");
    bool found = false;
    REQUIRE(c.get("b", &found).empty());
    REQUIRE(found);
    REQUIRE(c.get("") == "x");
    REQUIRE(c.get("c") == "=d");
    REQUIRE_FALSE(Cmdline("").has("a"));
    REQUIRE(Cmdline("   ").get("a").empty());
    REQUIRE_FALSE(Cmdline("testing=1").has("test"));
}

TEST_CASE("Cmdline: a quoted value keeps its spaces, as typed or as GRUB escapes it") {
    Cmdline typed("root=init autorun=\"ps; caps console;  mem\" shutdown");
    REQUIRE(typed.get("autorun") == "ps; caps console;  mem");
    REQUIRE(typed.get("root") == "init");
    REQUIRE(typed.has("shutdown"));
    // GRUB's multiboot2 command line puts a backslash before each quote.
    Cmdline grub("autorun=\\\"ps; mem\\\" shutdown init=once");
    REQUIRE(grub.get("autorun") == "ps; mem");
    REQUIRE(grub.get("init") == "once");
    REQUIRE(grub.has("shutdown"));
    // An unclosed quote runs to the end; quotes inside a word are kept.
    Cmdline open("a=1 autorun=\"ps; shutdown 3");
    REQUIRE(open.get("autorun") == "ps; shutdown 3");
    REQUIRE_FALSE(open.has("shutdown"));
    REQUIRE(Cmdline("x=a\"b c\"d y=2").get("x") == "a\"b c\"d");
    REQUIRE(Cmdline("x=a\"b c\"d y=2").get("y") == "2");
    REQUIRE(Cmdline("autorun=\"\"").get("autorun").empty());
}
