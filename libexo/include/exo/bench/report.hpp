// Benchmark report writers (portable benchmark core, freestanding): a table of results as CSV or
// as a GitHub Markdown table, streamed to an exo::FormatSink, with marker lines so a guest's
// tables can be cut out of a serial log.
#pragma once

#include <exo/bench/compare.hpp>
#include <exo/bench/stats.hpp>
#include <exo/format.hpp>

#include <stddef.h>

namespace exo::bench {

// One benchmark's result. Strings are borrowed and must outlive the write.
struct Row {
    const char* name;               // e.g. "ring/ping-pong 64B"
    const char* unit;               // e.g. "cycles", "ns", "insns"
    Stats stats;                    // per iteration
    const char* baseline = nullptr; // the name of the row compared with, or null: no comparison
    Verdict verdict = {};           // compare(stats, baseline's stats, ...); used if baseline
};

// CSV, one header line and one line per row, lines ended by "\n" (RFC 4180 says CRLF; a serial
// log and every CSV reader in use take LF). The columns, fixed:
//   benchmark,unit,count,min,p25,median,p75,mean,p95,p99,max,stddev,baseline,ratio,significant,pass
// Statistics print their milli-unit value with three decimals ("12.345"), count as an integer;
// ratio is baseline median / candidate median, also with three decimals ("2.000"), or "inf";
// significant and pass are "yes" or "no". Without a baseline the last four fields are empty.
// Text fields containing a comma, a double quote, CR or LF are quoted, quotes doubled (RFC 4180).
void write_csv(FormatSink sink, const Row* rows, size_t count);

// A GitHub-flavoured Markdown table with the CSV's columns but p25 and p75, padded so the pipes
// line up (widths in bytes): text left-aligned, numbers right-aligned (":" in the delimiter row).
// In text, "|" is written "\|" and CR or LF as a space.
void write_markdown(FormatSink sink, const Row* rows, size_t count);

// The same, between marker lines naming the table (CR or LF in the name become spaces):
//   BENCH-CSV-BEGIN <table>  ...  BENCH-CSV-END <table>
//   BENCH-MD-BEGIN <table>   ...  BENCH-MD-END <table>
// Extraction: take the lines strictly between a BEGIN line and the END line with the same name.
void write_csv_block(FormatSink sink, const char* table, const Row* rows, size_t count);
void write_markdown_block(FormatSink sink, const char* table, const Row* rows, size_t count);

// Writes a milli-unit value as "<integer>.<three decimals>" (12345 -> "12.345").
void write_milli(FormatSink sink, uint64_t milli);

} // namespace exo::bench
