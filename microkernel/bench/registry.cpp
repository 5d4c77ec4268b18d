// Benchmark registry and runner (see bench.hpp).
#include "bench/bench.hpp"

#include "arch/x86_64/cpu.hpp"
#include "arch/x86_64/qemu.hpp"
#include "core/log.hpp"

namespace mk::bench {
namespace {

// One line per table. The order is the order of `bench=all`.
constexpr Benchmark kBenchmarks[] = {
    {"memory", memory}, {"sched", sched},   {"syscall", syscall},
    {"ring", ring},     {"server", server}, {"malloc", malloc_table},
};

constinit uint64_t samples[kMaxSamples] = {};

const Benchmark* find(std::string_view name) {
    for (const Benchmark& b : kBenchmarks)
        if (name == b.name)
            return &b;
    return nullptr;
}

// Calls fn(name) for each comma-separated name of `names` (empty names skipped).
template <typename Fn>
bool for_each_name(std::string_view names, Fn&& fn) {
    while (!names.empty()) {
        size_t comma = names.find(',');
        std::string_view name = names.substr(0, comma);
        names = comma == std::string_view::npos ? std::string_view() : names.substr(comma + 1);
        if (!name.empty() && !fn(name))
            return false;
    }
    return true;
}

void console_sink(void*, const char* s, size_t n) {
    log::raw("%.*s", int(n), s);
}

const char* reason_name(exo::bench::StopReason reason) {
    switch (reason) {
    case exo::bench::StopReason::Converged:
        return "converged";
    case exo::bench::StopReason::SampleLimit:
        return "sample limit";
    case exo::bench::StopReason::TimeLimit:
        return "time limit";
    }
    return "?";
}

[[noreturn]] void fail(std::string_view why) {
    log::raw("EXO-BENCH: FAIL %.*s\n", int(why.size()), why.data());
    qemu::exit(qemu::ExitCode::Fail);
}

} // namespace

uint64_t* sample_buffer() {
    return samples;
}

void log_measurement(const char* what, const exo::bench::Measurement& m) {
    log::info("bench: %s: %lu samples (%s), clock overhead %lu ticks", what, m.stats.count,
              reason_name(m.reason), m.overhead);
}

void report(const char* table, const exo::bench::Row* rows, size_t count) {
    const exo::FormatSink console{console_sink, nullptr};
    exo::bench::write_csv_block(console, table, rows, count);
    exo::bench::write_markdown_block(console, table, rows, count);
}

InterruptsOff::InterruptsOff() : were_enabled_(cpu::read_rflags() & (1u << 9)) {
    asm volatile("cli" ::: "memory");
}

InterruptsOff::~InterruptsOff() {
    if (were_enabled_)
        asm volatile("sti" ::: "memory");
}

void run(std::string_view names, const Context& context) {
    const bool all = names == "all";
    bool known = !names.empty() && for_each_name(names, [all](std::string_view name) {
        return all || find(name) != nullptr;
    });
    if (!known) {
        log::error("bench: bench=NAME[,NAME...] or bench=all; known benchmarks:");
        for (const Benchmark& b : kBenchmarks)
            log::error("  %s", b.name);
        fail(names.empty() ? "(empty bench=)" : names);
    }
    auto run_one = [&context](const Benchmark& b) {
        log::info("bench: running %s", b.name);
        if (!b.run(context))
            fail(b.name);
    };
    if (all) {
        for (const Benchmark& b : kBenchmarks)
            run_one(b);
    } else {
        for_each_name(names, [&run_one](std::string_view name) {
            run_one(*find(name));
            return true;
        });
    }
    log::raw("EXO-BENCH: DONE\n");
    qemu::exit(qemu::ExitCode::Pass);
}

} // namespace mk::bench
