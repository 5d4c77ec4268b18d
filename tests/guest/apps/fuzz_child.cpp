// The syscall fuzzer: 100,000 syscalls whose numbers and arguments are random or mutated from
// earlier calls, seeded by the argument so a failure replays. Arguments come from pools that
// mix valid values (its own slots, buffers, page addresses) with every class of bad one (null,
// kernel and non-canonical pointers, unmapped and misaligned ones, huge lengths and slots).
// It never calls ProcessExit or ThreadExit, gives up its own Process capability first (so a
// random ThreadStart can only start threads in processes it created), and maps and unmaps
// only inside a window away from its image and stack; the kernel must survive all of it.
#include <exo/format.hpp>
#include <exo/layout.hpp>
#include <exo/log.hpp>
#include <exo/runtime.hpp>
#include <exo/sys.hpp>

using namespace exo;

namespace {

constexpr uint64_t kCalls = 100'000;
constexpr Slot kLogCopy = 255; // outside the fuzzed slots, for the final report
constexpr uint32_t kFuzzedSlots = 250;
constexpr uint64_t kWindow = 0x40000000; // the only user range it maps into its own space
constexpr uint64_t kWindowPages = 64;

uint64_t state;
uint64_t next() { // xorshift64*
    state ^= state >> 12;
    state ^= state << 25;
    state ^= state >> 27;
    return state * 0x2545F4914F6CDD1Dull;
}
uint64_t below(uint64_t n) {
    return next() % n;
}

alignas(64) uint8_t buffer[8192];
const char kConstant[64] = "read-only memory";

// Slots that recently received a capability (the destinations of successful calls) and the
// process's own four: most calls name a live capability of some type.
Slot recent[16] = {1, 2, 3, 4, 1, 2, 3, 4, 1, 2, 3, 4, 1, 2, 3, 4};
uint32_t recent_next = 0;

uint64_t slot_value() {
    if (below(2) == 0)
        return recent[below(16)];
    switch (below(16)) {
    case 0:
        return kCapSlots + below(1000); // out of range
    case 1:
        return uint64_t(1) << 32 | below(8);
    case 2:
        return 0;
    default:
        return below(kFuzzedSlots);
    }
}

uint64_t pointer_value() {
    switch (below(10)) {
    case 0:
        return 0;
    case 1:
        return 0xFFFF800000000000ull + below(1 << 20) * 8; // kernel half
    case 2:
        return 0x0000800000000000ull; // non-canonical
    case 3:
        return 0x30000000 + below(1 << 20); // unmapped
    case 4:
        return uint64_t(kConstant); // read-only
    case 5:
        return kUserTop - below(64);
    case 6:
        return uint64_t(buffer) + below(sizeof buffer); // valid, often misaligned
    default:
        return uint64_t(buffer) + below(sizeof buffer / 64) * 64; // valid and aligned
    }
}

uint64_t size_value() {
    switch (below(8)) {
    case 0:
        return 0;
    case 1:
        return UINT64_MAX - below(16);
    case 2:
        return kMaxLogWrite + below(3);
    case 3:
        return uint64_t(1) << (below(64));
    default:
        return below(4096);
    }
}

uint64_t vaddr_value() {
    switch (below(8)) {
    case 0:
        return 0;
    case 1:
        return 0xFFFFFFFF80000000ull;
    case 2:
        return kUserTop - 4096 * below(2);
    case 3:
        return kWindow + below(kWindowPages * 4096); // often misaligned
    default:
        return kWindow + below(kWindowPages) * 4096;
    }
}

uint64_t any_value() {
    switch (below(6)) {
    case 0:
        return slot_value();
    case 1:
        return pointer_value();
    case 2:
        return size_value();
    case 3:
        return next();
    default:
        return below(64);
    }
}

uint64_t timeout_value() {
    return 1 + below(1'000'000);
}

struct Call {
    Sys number;
    uint64_t a[6];
};

// Fresh arguments shaped for the call, so most calls get past the first checks.
Call random_call() {
    Call c{};
    do {
        c.number = Sys(below(uint64_t(Sys::Count) + 2)); // +2: unknown numbers too
    } while (c.number == Sys::ProcessExit || c.number == Sys::ThreadExit);
    for (auto& v : c.a)
        v = any_value();
    switch (c.number) {
    case Sys::LogWrite:
        c.a[0] = slot_value(), c.a[1] = pointer_value(), c.a[2] = size_value();
        break;
    case Sys::CapInfo:
    case Sys::MemoryInfo:
        c.a[0] = slot_value(), c.a[1] = pointer_value();
        break;
    case Sys::CapCopy:
    case Sys::CapMint:
        c.a[0] = slot_value(), c.a[1] = slot_value(), c.a[2] = below(2) ? 0x3F : next();
        break;
    case Sys::MemorySplit:
        c.a[0] = slot_value(), c.a[1] = below(4) ? 4096 * below(64) : next(), c.a[2] = slot_value();
        break;
    case Sys::FrameAlloc:
        c.a[0] = slot_value(), c.a[1] = below(4) ? uint64_t(1) << below(12) : next();
        c.a[2] = slot_value();
        break;
    case Sys::FrameMap:
        c.a[0] = slot_value(), c.a[1] = slot_value(), c.a[2] = vaddr_value(), c.a[3] = below(5);
        break;
    case Sys::FrameUnmap:
    case Sys::FrameProtect:
        c.a[0] = slot_value(), c.a[1] = vaddr_value(), c.a[2] = below(5);
        break;
    case Sys::ProcessCreate:
        c.a[0] = slot_value(), c.a[1] = slot_value(), c.a[2] = slot_value();
        c.a[3] = pointer_value(), c.a[4] = below(40);
        break;
    case Sys::ProcessWatch:
    case Sys::ThreadWatch:
        c.a[0] = slot_value(), c.a[1] = below(4) ? kNullSlot : slot_value(), c.a[2] = next();
        break;
    case Sys::RingCreate:
        c.a[0] = slot_value(), c.a[1] = below(4) ? 12 + below(3) : any_value();
        c.a[2] = slot_value(), c.a[3] = slot_value();
        break;
    case Sys::RingMap:
        c.a[0] = slot_value(), c.a[1] = slot_value(), c.a[2] = vaddr_value();
        break;
    case Sys::RingWait:
        c.a[0] = slot_value(), c.a[1] = timeout_value(), c.a[2] = any_value();
        break;
    case Sys::TimerSet:
        c.a[0] = slot_value(), c.a[1] = timeout_value(), c.a[2] = next();
        break;
    case Sys::ProcessStart:
    case Sys::ThreadStart:
        c.a[0] = slot_value(), c.a[1] = vaddr_value(), c.a[2] = vaddr_value();
        break;
    default:
        for (int i = 0; i < 4; ++i)
            c.a[i] = below(2) ? slot_value() : any_value();
    }
    return c;
}

// The one blocking call must not block for long. RingWait takes an absolute deadline (0:
// none): one in the past (most random values) times out at once. (The retired ProcessWait,
// ThreadWait and IrqWait numbers stay in the draw: they answer Unsupported at once.)
void bound_timeouts(Call& c) {
    if (c.number == Sys::RingWait) {
        uint64_t now = sys::clock_ns();
        if (c.a[1] == 0 || c.a[1] > now + 1'000'000)
            c.a[1] = below(2) ? now + timeout_value() : timeout_value();
    }
}

// Keeps the window rule: no unmapping or mapping outside it in our own space.
bool allowed(const Call& c) {
    bool touches_space =
        c.number == Sys::FrameMap || c.number == Sys::FrameUnmap || c.number == Sys::FrameProtect;
    uint64_t vaddr = c.number == Sys::FrameMap ? c.a[2] : c.a[1];
    bool in_window = vaddr >= kWindow && vaddr < kWindow + kWindowPages * 4096;
    bool in_user = vaddr >= kUserBase && vaddr < kUserTop;
    return !touches_space || in_window || !in_user;
}

} // namespace

int exo_main(uint64_t seed) {
    state = seed * 0x9E3779B97F4A7C15ull | 1;
    // The log capability moves out of reach: a revoke of slot 4 would take a copy with it.
    if (sys::cap_move(kSlotLog, kLogCopy) != Status::Ok)
        return 2;
    if (sys::cap_delete(kSlotSelf) != Status::Ok)
        return 3;
    uint64_t by_status[32] = {};
    Call last = random_call();
    for (uint64_t made = 0; made < kCalls;) {
        Call c = last;
        if (below(3) == 0)
            c.a[below(6)] = any_value(); // mutate one argument of a call that succeeded
        else
            c = random_call();
        bound_timeouts(c);
        if (!allowed(c))
            continue;
        for (auto& v : c.a)
            if (v == kLogCopy)
                v = kLogCopy - 1; // the report's log capability is never named
        SysResult r = syscall(c.number, c.a[0], c.a[1], c.a[2], c.a[3], c.a[4], c.a[5]);
        ++made;
        ++by_status[uint32_t(r.status) & 31];
        if (r.status == Status::Ok) {
            last = c;
            // The slot arguments of a successful call are worth naming again.
            for (int k = 0; k < 4; ++k)
                if (c.a[k] < kFuzzedSlots && c.a[k] != 0)
                    recent[recent_next++ % 16] = Slot(c.a[k]);
        }
    }
    char line[400];
    size_t n = format(line, sizeof line, "fuzz: %lu syscalls, seed %lu:", kCalls, seed);
    for (uint32_t s = 0; s < 32; ++s) {
        if (by_status[s])
            n += format(line + n, sizeof line - n, " %s=%lu", status_name(Status(s)), by_status[s]);
        if (n >= sizeof line)
            break;
    }
    Status logged = sys::log_write(kLogCopy, line, n < sizeof line ? n : sizeof line - 1);
    return logged == Status::Ok ? 0 : 20 + int(logged);
}
