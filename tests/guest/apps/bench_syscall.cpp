// The ring-3 half of the guest benchmark table "syscall" (bench=syscall, microkernel/bench/
// syscall.cpp starts this program): one round trip of the cheapest syscall, and one capability
// copy and delete, timed with the TSC, which under `qemu -icount shift=0` counts instructions.
// The table goes out through the Log capability, as the BENCH-CSV and BENCH-MD blocks that
// bench/guest/run.py cuts out of the serial log.
#include <exo/bench/cycles.hpp>
#include <exo/bench/measure.hpp>
#include <exo/bench/report.hpp>
#include <exo/bench/runner.hpp>
#include <exo/bench/table.hpp>
#include <exo/cap.hpp>
#include <exo/format.hpp>
#include <exo/log.hpp>
#include <exo/runtime.hpp>

using namespace exo;
using exo::bench::measure;
using exo::bench::Row;
using exo::bench::Stats;

namespace {

using Clock = exo::bench::UserClock;
using exo::bench::kUserSamples;
using exo::bench::user_samples;

// One timed call per sample, with untimed work between samples (the delete after a copy).
template <typename Timed, typename After>
Result<Stats> measure_split(Timed&& timed, After&& after) {
    exo::bench::Runner<Clock> calibration(user_samples, kUserSamples);
    uint64_t overhead = calibration.calibrate();
    for (size_t i = 0; i < 16; ++i) { // warm-up
        timed();
        after();
    }
    for (size_t i = 0; i < 256; ++i) {
        uint64_t t0 = Clock::now();
        timed();
        uint64_t t1 = Clock::now();
        after();
        uint64_t ticks = t1 - t0;
        user_samples[i] = ticks > overhead ? ticks - overhead : 0;
    }
    return exo::bench::compute_stats(user_samples, 256);
}

Status run() {
    Slot copy = TRY(allocate_slot());
    Status error = Status::Ok;
    auto check = [&error](Status s) {
        if (s != Status::Ok)
            error = s;
    };

    Row rows[3] = {};
    rows[0] = {"syscall/null round trip", "insns", TRY(measure([&] { check(sys::null()); }))};
    rows[1] = {"syscall/cap copy", "insns",
               TRY(measure_split([&] { check(sys::cap_copy(kSlotLog, copy, kRightWrite)); },
                                 [&] { check(sys::cap_delete(copy)); }))};
    check(sys::cap_copy(kSlotLog, copy, kRightWrite)); // each sample deletes it first
    rows[2] = {"syscall/cap delete", "insns",
               TRY(measure_split([&] { check(sys::cap_delete(copy)); },
                                 [&] { check(sys::cap_copy(kSlotLog, copy, kRightWrite)); }))};
    (void)sys::cap_delete(copy);
    TRY(error);
    return exo::bench::print_table("syscall", rows, 3);
}

} // namespace

int exo_main(uint64_t) {
    Status s = run();
    if (s != Status::Ok)
        print("bench-syscall: failed: %s", status_name(s));
    return s == Status::Ok ? 0 : 1;
}
