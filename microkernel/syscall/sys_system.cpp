// The operator's calls on a System capability (exo/system.hpp): what the console's ps, caps and
// mem show, where the kernel log goes and what it keeps, and shutdown. Read observes, Manage
// changes; nothing here is reachable without the capability, which only the root starts with.
#include "arch/x86_64/clock.hpp"
#include "arch/x86_64/cpu.hpp"
#include "arch/x86_64/percpu.hpp"
#include "arch/x86_64/qemu.hpp"
#include "core/log.hpp"
#include "mm/physical.hpp"
#include "object/cspace.hpp"
#include "object/device.hpp"
#include "object/ring.hpp"
#include "syscall/syscalls.hpp"
#include "syscall/user_memory.hpp"

namespace mk::sys {
namespace {

constinit char autorun[exo::kAutorunMax + 1] = {};

// Records go out in batches of this many: gathered under the locks, copied out after.
constexpr size_t kBatch = 16;

template <typename T>
exo::Result<void> check_out_array(uint64_t address, uint64_t count) {
    if (address % alignof(T) != 0)
        return exo::Status::Misaligned;
    if (count > (uint64_t(1) << 32) || !user::in_user_space(address, count * sizeof(T)))
        return exo::Status::OutOfRange;
    return {};
}

} // namespace

void set_autorun(std::string_view text) {
    size_t n = text.size() < exo::kAutorunMax ? text.size() : exo::kAutorunMax;
    __builtin_memcpy(autorun, text.data(), n);
    autorun[n] = '\0';
}

Return system_info(const Args& a) {
    exo::Slot slot = TRY(slot_arg(a.a0));
    if (a.a1 % alignof(exo::SystemInfo) != 0)
        return exo::Status::Misaligned;
    if (!user::in_user_space(a.a1, sizeof(exo::SystemInfo)))
        return exo::Status::OutOfRange;
    TRY(caps::resolve<System>(self(), slot, exo::kRightRead));
    exo::SystemInfo info{};
    static_assert(sizeof EXO_VERSION <= sizeof info.version);
    __builtin_memcpy(info.version, EXO_VERSION, sizeof EXO_VERSION);
    info.uptime_ns = clock::now_ns();
    info.cpus = percpu::count();
    info.log_level = uint32_t(log::current_level());
    log::Stats ls = log::stats();
    info.log_next = ls.next_seq;
    info.log_dropped = ls.dropped;
    info.memory_usable = pmm::accounting().usable - pmm::accounting().reserved;
    info.memory_free = pmm::free_bytes();
    pmm::FreeStats fs = pmm::free_stats();
    static_assert(exo::kBuddyOrders == kOrderCount);
    for (unsigned order = 0; order < kOrderCount; ++order)
        info.free_blocks[order] = fs.blocks[order];
    info.memory_cached = fs.cached_frames * exo::kPageSize;
    info.largest_free = fs.largest_order < 0 ? 0 : exo::kPageSize << fs.largest_order;
    info.fragmentation_permille = fs.fragmentation_permille;
    info.processes = Process::count();
    __builtin_memcpy(info.autorun, autorun, sizeof autorun);
    TRY(user::write(a.a1, info));
    return ok();
}

Return process_list(const Args& a) {
    exo::Slot slot = TRY(slot_arg(a.a0));
    uint64_t out = a.a1, max = a.a2, after = a.a3;
    TRY(check_out_array<exo::ProcessRecord>(out, max));
    TRY(caps::resolve<System>(self(), slot, exo::kRightRead));
    uint64_t written = 0;
    while (written < max) {
        Ref<Process> batch[kBatch];
        size_t want = max - written < kBatch ? size_t(max - written) : kBatch;
        size_t n = Process::list(after, batch, want);
        for (size_t i = 0; i < n; ++i) {
            exo::ProcessRecord r = batch[i]->record();
            after = r.id;
            TRY(user::write(out + (written + i) * sizeof r, r));
        }
        written += n;
        if (n < want)
            break;
    }
    return ok(written);
}

Return process_caps(const Args& a) {
    exo::Slot slot = TRY(slot_arg(a.a0));
    uint64_t id = a.a1, out = a.a2, max = a.a3, after = a.a4;
    TRY(check_out_array<exo::CapRecord>(out, max));
    TRY(caps::resolve<System>(self(), slot, exo::kRightRead));
    Ref<Process> process = Process::find(id);
    if (!process)
        return exo::Status::NotFound;
    uint64_t written = 0;
    uint64_t next = after + 1;
    while (written < max) {
        exo::CapRecord batch[kBatch];
        size_t n = 0;
        size_t want = max - written < kBatch ? size_t(max - written) : kBatch;
        {
            LockGuard guard(caps::lock());
            CapTable& table = process->caps();
            for (; next < table.size() && n < want; ++next) {
                CapSlot* s = table.slot(uint32_t(next)).value();
                if (!s->empty())
                    batch[n++] = {uint32_t(next), 0, describe(s->cap())};
            }
        }
        for (size_t i = 0; i < n; ++i)
            TRY(user::write(out + (written + i) * sizeof batch[i], batch[i]));
        written += n;
        if (n < want)
            break;
    }
    return ok(written);
}

Return log_attach(const Args& a) {
    exo::Slot slot = TRY(slot_arg(a.a0)), end_slot = exo::Slot(a.a1);
    if (a.a1 != exo::kNullSlot)
        end_slot = TRY(slot_arg(a.a1));
    TRY(caps::resolve<System>(self(), slot, exo::kRightManage));
    if (end_slot == exo::kNullSlot)
        return ok(TRY(log::attach(nullptr)));
    auto end = TRY(caps::resolve<RingEnd>(self(), end_slot, exo::kRightWrite));
    if (!end->producer())
        return exo::Status::InvalidArgument;
    // The log holds the producer end itself: its capability may go (the console need keep
    // only its consumer end) without closing the ring.
    return ok(TRY(log::attach(end.get())));
}

Return log_print(const Args& a) {
    exo::Slot slot = TRY(slot_arg(a.a0));
    TRY(caps::resolve<System>(self(), slot, exo::kRightManage));
    return ok(TRY(log::print_pending(a.a1)));
}

Return log_level(const Args& a) {
    exo::Slot slot = TRY(slot_arg(a.a0));
    if (a.a1 > uint64_t(exo::LogLevel::Error))
        return exo::Status::InvalidArgument;
    TRY(caps::resolve<System>(self(), slot, exo::kRightManage));
    log::set_min_level(log::Level(a.a1));
    return ok();
}

Return system_shutdown(const Args& a) {
    exo::Slot slot = TRY(slot_arg(a.a0));
    if (a.a1 > exo::kMaxShutdownCode)
        return exo::Status::OutOfRange;
    TRY(caps::resolve<System>(self(), slot, exo::kRightManage));
    log::info("system: shutdown requested by %s (code %lu)", self().name(), a.a1);
    (void)log::attach(nullptr); // whatever the console has not shown yet goes out first
    qemu::exit_value(exo::kShutdownBase + uint32_t(a.a1));
}

} // namespace mk::sys
