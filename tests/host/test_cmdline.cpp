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
