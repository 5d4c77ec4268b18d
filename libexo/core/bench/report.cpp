// CSV and Markdown writers of the portable benchmark core (freestanding): formats documented in
// report.hpp. Cells are rendered into small stack buffers; Markdown measures every cell first to
// align the pipes, so nothing is allocated.
#include <exo/bench/report.hpp>

#include <stdint.h>

namespace exo::bench {
namespace {

enum class Field : uint8_t {
    Name,
    Unit,
    Count,
    Min,
    P25,
    Median,
    P75,
    Mean,
    P95,
    P99,
    Max,
    Stddev,
    Baseline,
    Ratio,
    Significant,
    Pass,
};

struct Column {
    const char* header;
    Field field;
};

// The fixed column order of both formats (Markdown skips p25 and p75).
constexpr Column kColumns[] = {
    {"benchmark", Field::Name},    {"unit", Field::Unit},   {"count", Field::Count},
    {"min", Field::Min},           {"p25", Field::P25},     {"median", Field::Median},
    {"p75", Field::P75},           {"mean", Field::Mean},   {"p95", Field::P95},
    {"p99", Field::P99},           {"max", Field::Max},     {"stddev", Field::Stddev},
    {"baseline", Field::Baseline}, {"ratio", Field::Ratio}, {"significant", Field::Significant},
    {"pass", Field::Pass},
};
constexpr size_t kColumnCount = sizeof(kColumns) / sizeof(kColumns[0]);

bool in_markdown(Field f) {
    return f != Field::P25 && f != Field::P75;
}
bool is_text(Field f) {
    return f == Field::Name || f == Field::Unit || f == Field::Baseline;
}
// Markdown aligns text and yes/no columns left, numbers right.
bool left_aligned(Field f) {
    return is_text(f) || f == Field::Significant || f == Field::Pass;
}

size_t length_of(const char* s) {
    size_t n = 0;
    while (s[n] != '\0')
        ++n;
    return n;
}

class Out {
public:
    explicit Out(FormatSink sink) : sink_(sink) {}
    void put(const char* s, size_t n) {
        if (n != 0)
            sink_.write(sink_.ctx, s, n);
    }
    void put(const char* s) { put(s, length_of(s)); }
    void put(char c) { put(&c, 1); }
    void repeat(char c, size_t n) {
        for (size_t i = 0; i < n; ++i)
            put(c);
    }

private:
    FormatSink sink_;
};

// One cell's unescaped text; `text` may point into `buffer`, so a Cell is never copied.
struct Cell {
    char buffer[32]; // "18446744073709551.615" and the largest count fit
    const char* text = "";

    Cell() = default;
    Cell(const Cell&) = delete;
    Cell& operator=(const Cell&) = delete;
};

void render_milli(Cell& cell, uint64_t milli) {
    format(cell.buffer, sizeof cell.buffer, "%llu.%03llu", (unsigned long long)(milli / kMilli),
           (unsigned long long)(milli % kMilli));
    cell.text = cell.buffer;
}

void render(Cell& cell, const Row& row, Field field) {
    const Stats& s = row.stats;
    const bool compared = row.baseline != nullptr;
    switch (field) {
    case Field::Name:
        cell.text = row.name != nullptr ? row.name : "";
        return;
    case Field::Unit:
        cell.text = row.unit != nullptr ? row.unit : "";
        return;
    case Field::Count:
        format(cell.buffer, sizeof cell.buffer, "%llu", (unsigned long long)s.count);
        cell.text = cell.buffer;
        return;
    case Field::Min:
        return render_milli(cell, s.min);
    case Field::P25:
        return render_milli(cell, s.p25);
    case Field::Median:
        return render_milli(cell, s.median);
    case Field::P75:
        return render_milli(cell, s.p75);
    case Field::Mean:
        return render_milli(cell, s.mean);
    case Field::P95:
        return render_milli(cell, s.p95);
    case Field::P99:
        return render_milli(cell, s.p99);
    case Field::Max:
        return render_milli(cell, s.max);
    case Field::Stddev:
        return render_milli(cell, s.stddev);
    case Field::Baseline:
        cell.text = compared ? row.baseline : "";
        return;
    case Field::Ratio:
        if (!compared)
            cell.text = "";
        else if (row.verdict.ratio_milli == kRatioInfinite)
            cell.text = "inf";
        else
            render_milli(cell, row.verdict.ratio_milli);
        return;
    case Field::Significant:
        cell.text = !compared ? "" : row.verdict.significant ? "yes" : "no";
        return;
    case Field::Pass:
        cell.text = !compared ? "" : row.verdict.pass ? "yes" : "no";
        return;
    }
}

// RFC 4180: a field with a comma, quote, CR or LF is quoted, and its quotes are doubled.
void put_csv_text(Out& out, const char* s) {
    bool quote = false;
    for (const char* p = s; *p != '\0'; ++p)
        quote = quote || *p == ',' || *p == '"' || *p == '\r' || *p == '\n';
    if (!quote)
        return out.put(s);
    out.put('"');
    for (const char* p = s; *p != '\0'; ++p) {
        if (*p == '"')
            out.put('"');
        out.put(*p);
    }
    out.put('"');
}

size_t markdown_length(const char* s) {
    size_t n = 0;
    for (const char* p = s; *p != '\0'; ++p)
        n += *p == '|' ? 2 : 1;
    return n;
}

void put_markdown_text(Out& out, const char* s) {
    for (const char* p = s; *p != '\0'; ++p) {
        if (*p == '|')
            out.put("\\|", 2);
        else
            out.put(*p == '\r' || *p == '\n' ? ' ' : *p);
    }
}

// One Markdown line: "| a | b |", each cell padded to its column's width.
void put_markdown_line(Out& out, const Row* row, const size_t* widths) {
    out.put('|');
    for (size_t c = 0; c < kColumnCount; ++c) {
        const Field field = kColumns[c].field;
        if (!in_markdown(field))
            continue;
        Cell cell;
        if (row != nullptr)
            render(cell, *row, field);
        else
            cell.text = kColumns[c].header;
        const size_t pad = widths[c] - markdown_length(cell.text);
        out.put(' ');
        const bool right = row != nullptr && !left_aligned(field);
        if (right)
            out.repeat(' ', pad);
        put_markdown_text(out, cell.text);
        if (!right)
            out.repeat(' ', pad);
        out.put(" |", 2);
    }
    out.put('\n');
}

void put_marker(Out& out, const char* marker, const char* table) {
    out.put(marker);
    if (table != nullptr && *table != '\0') {
        out.put(' ');
        for (const char* p = table; *p != '\0'; ++p)
            out.put(*p == '\r' || *p == '\n' ? ' ' : *p);
    }
    out.put('\n');
}

} // namespace

void write_milli(FormatSink sink, uint64_t milli) {
    Cell cell;
    render_milli(cell, milli);
    Out(sink).put(cell.text);
}

void write_csv(FormatSink sink, const Row* rows, size_t count) {
    Out out(sink);
    for (size_t c = 0; c < kColumnCount; ++c) {
        if (c != 0)
            out.put(',');
        out.put(kColumns[c].header);
    }
    out.put('\n');
    for (size_t r = 0; r < count; ++r) {
        for (size_t c = 0; c < kColumnCount; ++c) {
            if (c != 0)
                out.put(',');
            Cell cell;
            render(cell, rows[r], kColumns[c].field);
            if (is_text(kColumns[c].field))
                put_csv_text(out, cell.text);
            else
                out.put(cell.text);
        }
        out.put('\n');
    }
}

void write_markdown(FormatSink sink, const Row* rows, size_t count) {
    size_t widths[kColumnCount];
    for (size_t c = 0; c < kColumnCount; ++c) {
        widths[c] = markdown_length(kColumns[c].header);
        for (size_t r = 0; r < count; ++r) {
            Cell cell;
            render(cell, rows[r], kColumns[c].field);
            const size_t w = markdown_length(cell.text);
            widths[c] = w > widths[c] ? w : widths[c];
        }
    }
    Out out(sink);
    put_markdown_line(out, nullptr, widths);
    // The delimiter row spans each cell and its two spaces; ":" at the right marks numbers.
    out.put('|');
    for (size_t c = 0; c < kColumnCount; ++c) {
        const Field field = kColumns[c].field;
        if (!in_markdown(field))
            continue;
        if (left_aligned(field)) {
            out.repeat('-', widths[c] + 2);
        } else {
            out.repeat('-', widths[c] + 1);
            out.put(':');
        }
        out.put('|');
    }
    out.put('\n');
    for (size_t r = 0; r < count; ++r)
        put_markdown_line(out, &rows[r], widths);
}

void write_csv_block(FormatSink sink, const char* table, const Row* rows, size_t count) {
    Out out(sink);
    put_marker(out, "BENCH-CSV-BEGIN", table);
    write_csv(sink, rows, count);
    put_marker(out, "BENCH-CSV-END", table);
}

void write_markdown_block(FormatSink sink, const char* table, const Row* rows, size_t count) {
    Out out(sink);
    put_marker(out, "BENCH-MD-BEGIN", table);
    write_markdown(sink, rows, count);
    put_marker(out, "BENCH-MD-END", table);
}

} // namespace exo::bench
