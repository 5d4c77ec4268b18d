// Interrupt lines delivered to user mode, I/O port and log capabilities. An interrupt on a
// bound line masks it, counts it and wakes the waiter; the driver acknowledges it to unmask
// (so a level-triggered device cannot storm the CPU before its driver ran).
#include "object/device.hpp"

#include "arch/x86_64/idt.hpp"
#include "arch/x86_64/ioapic.hpp"
#include "arch/x86_64/percpu.hpp"
#include "core/log.hpp"
#include "object/process.hpp"

namespace mk {
namespace {

struct Line {
    std::atomic<Irq*> owner{nullptr};
    std::atomic<uint64_t> pending{0};
    uint32_t gsi = 0;
    WaitQueue waiters;
};

constinit Line lines[kIrqLines] = {};
static_assert(idt::vector::kFirstDevice + kIrqLines - 1 <= idt::vector::kLastDevice);

void line_interrupt(InterruptFrame& frame) {
    Line& line = lines[frame.vector - idt::vector::kFirstDevice];
    (void)ioapic::set_masked(line.gsi, true);
    line.waiters.change_and_wake_all(
        [&line] { line.pending.fetch_add(1, std::memory_order_release); });
}

} // namespace

exo::Result<Range> Range::narrow(uint64_t sub_first, uint64_t sub_count) const {
    if (sub_count == 0 || sub_first > count || sub_count > count - sub_first)
        return exo::Status::OutOfRange;
    return Range{uint32_t(first + sub_first), uint32_t(sub_count)};
}

void init_irq_lines() {
    for (uint32_t i = 0; i < kIrqLines; ++i)
        idt::set_handler(uint8_t(idt::vector::kFirstDevice + i), line_interrupt);
}

exo::Result<void> Irq::bind() {
    if (range_.count != 1)
        return exo::Status::InvalidArgument;
    if (range_.first >= kIrqLines)
        return exo::Status::OutOfRange;
    Line& line = lines[range_.first];
    uint32_t gsi;
    uint16_t flags;
    ioapic::line_to_gsi(range_.first, gsi, flags);
    if (!ioapic::serves(gsi))
        return exo::Status::NotFound;
    Irq* expected = nullptr;
    if (!line.owner.compare_exchange_strong(expected, this, std::memory_order_acq_rel))
        return expected == this ? exo::Status::BadState : exo::Status::AlreadyExists;
    line.gsi = gsi;
    line.pending.store(0, std::memory_order_relaxed);
    bound_ = true;
    auto routed = ioapic::route(gsi, uint8_t(idt::vector::kFirstDevice + range_.first),
                                this_cpu().apic_id, flags);
    if (!routed.ok()) {
        bound_ = false;
        line.owner.store(nullptr, std::memory_order_release);
        return routed.status();
    }
    return {};
}

exo::Result<uint64_t> Irq::wait(uint64_t deadline_ns) {
    if (!bound_)
        return exo::Status::BadState;
    Line& line = lines[range_.first];
    TRY(user_wait(
        line.waiters, [&line] { return line.pending.load(std::memory_order_acquire) != 0; },
        deadline_ns));
    return line.pending.exchange(0, std::memory_order_acq_rel);
}

exo::Result<void> Irq::ack() {
    if (!bound_)
        return exo::Status::BadState;
    return ioapic::set_masked(lines[range_.first].gsi, false);
}

void Irq::destroy_contents() {
    if (!bound_)
        return;
    Line& line = lines[range_.first];
    (void)ioapic::set_masked(line.gsi, true);
    line.owner.store(nullptr, std::memory_order_release);
}

} // namespace mk
