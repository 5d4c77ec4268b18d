// Benchmark verdicts and reports (libexo, exo/bench): baseline comparison rules, exact CSV and
// Markdown output, RFC 4180 quoting, Markdown escaping, and the marker lines that cut a serial log.
#include "support.hpp"

#include <exo/bench/report.hpp>

#include <catch2/catch.hpp>
#include <sstream>
#include <string>
#include <vector>

using namespace exo::bench;

namespace {

exo::FormatSink string_sink(std::string& out) {
    return {
        [](void* ctx, const char* s, size_t n) { static_cast<std::string*>(ctx)->append(s, n); },
        &out};
}

Stats make_stats(uint64_t count, uint64_t min, uint64_t p25, uint64_t median, uint64_t p75,
                 uint64_t mean, uint64_t p95, uint64_t p99, uint64_t max, uint64_t stddev) {
    Stats s;
    s.count = count;
    s.min = min;
    s.p25 = p25;
    s.median = median;
    s.p75 = p75;
    s.mean = mean;
    s.p95 = p95;
    s.p99 = p99;
    s.max = max;
    s.stddev = stddev;
    return s;
}

Stats quartiles(uint64_t p25, uint64_t median, uint64_t p75) {
    Stats s;
    s.p25 = p25;
    s.median = median;
    s.p75 = p75;
    return s;
}

// A baseline and a candidate twice as fast as it.
std::vector<Row> sample_table() {
    const Stats pipe = make_stats(100, 1500, 1750, 2000, 2250, 2100, 3000, 3500, 9999, 512);
    const Stats ring = make_stats(100, 900, 950, 1000, 1050, 1010, 1200, 1300, 5000, 80);
    return {
        {"pipe", "ns", pipe},
        {"ring", "ns", ring, "pipe", compare(ring, pipe, 1500)},
    };
}

template <typename Writer>
std::string render(Writer write, const std::vector<Row>& rows) {
    std::string out;
    write(string_sink(out), rows.data(), rows.size());
    return out;
}

} // namespace

TEST_CASE("bench compare: faster, slower, overlapping, identical and zero medians") {
    const Stats base = quartiles(190000, 200000, 210000);
    const Stats fast = quartiles(95000, 100000, 105000);
    Verdict v = compare(fast, base, 1500);
    REQUIRE(v.ratio_milli == 2000);
    REQUIRE(v.significant);
    REQUIRE(v.pass);
    REQUIRE(!compare(fast, base, 2001).pass);

    v = compare(base, fast, 1000); // the slower one as candidate
    REQUIRE(v.ratio_milli == 500);
    REQUIRE(v.significant);
    REQUIRE(!v.pass);

    v = compare(quartiles(80000, 100000, 120000), quartiles(90000, 110000, 130000), 1050);
    REQUIRE(v.ratio_milli == 1100);
    REQUIRE(!v.significant); // the middle halves overlap
    REQUIRE(v.pass);

    v = compare(base, base, 1000);
    REQUIRE(v.ratio_milli == 1000);
    REQUIRE(!v.significant);
    REQUIRE(v.pass); // the threshold is inclusive
    REQUIRE(!compare(base, base, 1001).pass);

    // Touching intervals overlap; one past them does not.
    REQUIRE(!compare(quartiles(1, 2, 3), quartiles(3, 4, 5), 0).significant);
    REQUIRE(compare(quartiles(1, 2, 3), quartiles(4, 5, 6), 0).significant);

    REQUIRE(compare(quartiles(0, 0, 0), quartiles(0, 0, 0), 1000).ratio_milli == 1000);
    v = compare(quartiles(0, 0, 0), quartiles(1000, 1000, 1000), 1000);
    REQUIRE(v.ratio_milli == kRatioInfinite);
    REQUIRE(v.pass);
    REQUIRE(v.significant);
    REQUIRE(compare(quartiles(0, 1000, 1000), quartiles(0, 0, 0), 0).ratio_milli == 0);
    REQUIRE(compare(quartiles(1, 1, 1), quartiles(0, kMaxSample * 1000, kMaxSample * 1000), 0)
                .ratio_milli == kRatioInfinite); // beyond 64 bits: saturated
    REQUIRE(compare(quartiles(0, 3000, 3000), quartiles(0, 1000, 1000), 0).ratio_milli == 333);
}

TEST_CASE("bench report: fixed-point values print with three decimals") {
    std::string out;
    write_milli(string_sink(out), 0);
    write_milli(string_sink(out), 7);
    write_milli(string_sink(out), 12345);
    write_milli(string_sink(out), UINT64_MAX);
    REQUIRE(out == "0.0000.00712.34518446744073709551.615");
}

TEST_CASE("bench report: CSV of a small table") {
    const auto rows = sample_table();
    REQUIRE(rows[1].verdict.ratio_milli == 2000);
    REQUIRE(render(write_csv, rows) ==
            "benchmark,unit,count,min,p25,median,p75,mean,p95,p99,max,stddev,baseline,ratio,"
            "significant,pass\n"
            "pipe,ns,100,1.500,1.750,2.000,2.250,2.100,3.000,3.500,9.999,0.512,,,,\n"
            "ring,ns,100,0.900,0.950,1.000,1.050,1.010,1.200,1.300,5.000,0.080,pipe,2.000,yes,"
            "yes\n");
    REQUIRE(render(write_csv, {}) == "benchmark,unit,count,min,p25,median,p75,mean,p95,p99,max,"
                                     "stddev,baseline,ratio,significant,pass\n");
}

TEST_CASE("bench report: Markdown table with aligned pipes") {
    REQUIRE(render(write_markdown, sample_table()) ==
            "| benchmark | unit | count | min   | median | mean  | p95   | p99   | max   | stddev "
            "| baseline | ratio | significant | pass |\n"
            "|-----------|------|------:|------:|-------:|------:|------:|------:|------:|-------:"
            "|----------|------:|-------------|------|\n"
            "| pipe      | ns   |   100 | 1.500 |  2.000 | 2.100 | 3.000 | 3.500 | 9.999 |  0.512 "
            "|          |       |             |      |\n"
            "| ring      | ns   |   100 | 0.900 |  1.000 | 1.010 | 1.200 | 1.300 | 5.000 |  0.080 "
            "| pipe     | 2.000 | yes         | yes  |\n");
}

TEST_CASE("bench report: CSV quoting (RFC 4180) and Markdown escaping") {
    const Stats s = make_stats(1, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 0);
    Verdict slow{500, false, false};
    Verdict infinite{kRatioInfinite, true, true};
    const std::vector<Row> rows = {
        {"alloc, 64 B", "ns", s, "say \"hi\"", slow},
        {"two\nlines", "a|b", s, "x", infinite},
    };
    REQUIRE(render(write_csv, rows) ==
            "benchmark,unit,count,min,p25,median,p75,mean,p95,p99,max,stddev,baseline,ratio,"
            "significant,pass\n"
            "\"alloc, 64 B\",ns,1,1.000,1.000,1.000,1.000,1.000,1.000,1.000,1.000,0.000,"
            "\"say \"\"hi\"\"\",0.500,no,no\n"
            "\"two\nlines\",a|b,1,1.000,1.000,1.000,1.000,1.000,1.000,1.000,1.000,0.000,x,inf,yes,"
            "yes\n");
    REQUIRE(
        render(write_markdown, rows) ==
        "| benchmark   | unit | count | min   | median | mean  | p95   | p99   | max   | stddev "
        "| baseline | ratio | significant | pass |\n"
        "|-------------|------|------:|------:|-------:|------:|------:|------:|------:|-------:"
        "|----------|------:|-------------|------|\n"
        "| alloc, 64 B | ns   |     1 | 1.000 |  1.000 | 1.000 | 1.000 | 1.000 | 1.000 |  0.000 "
        "| say \"hi\" | 0.500 | no          | no   |\n"
        "| two lines   | a\\|b |     1 | 1.000 |  1.000 | 1.000 | 1.000 | 1.000 | 1.000 |  0.000 "
        "| x        |   inf | yes         | yes  |\n");
}

TEST_CASE("bench report: marked blocks can be cut out of a serial log") {
    const auto rows = sample_table();
    std::string log = "[kernel] booting\nnoise BENCH-CSV-END\n";
    write_csv_block(string_sink(log), "guest ring", rows.data(), rows.size());
    log += "[benchd] done\n";
    write_markdown_block(string_sink(log), "guest\nring", rows.data(), rows.size());
    write_csv_block(string_sink(log), nullptr, nullptr, 0);

    // What a log scraper does: the lines strictly between BEGIN <name> and END <name>.
    auto extract = [&](const std::string& begin, const std::string& end) {
        std::istringstream in(log);
        std::string line, body;
        bool inside = false;
        while (std::getline(in, line)) {
            if (line == end)
                return body;
            if (inside)
                body += line + "\n";
            inside = inside || line == begin;
        }
        return std::string("<unterminated>");
    };
    REQUIRE(extract("BENCH-CSV-BEGIN guest ring", "BENCH-CSV-END guest ring") ==
            render(write_csv, rows));
    REQUIRE(extract("BENCH-MD-BEGIN guest ring", "BENCH-MD-END guest ring") ==
            render(write_markdown, rows));
    REQUIRE(extract("BENCH-CSV-BEGIN", "BENCH-CSV-END") == render(write_csv, {}));
}
