// Interrupt lines delivered to user mode, I/O port and log capabilities. An interrupt on a
// bound line masks it, counts it and wakes the waiter; the driver acknowledges it to unmask
// (so a level-triggered device cannot storm the CPU before its driver ran).
#include "object/device.hpp"

#include "arch/x86_64/idt.hpp"
#include "arch/x86_64/ioapic.hpp"
#include "arch/x86_64/percpu.hpp"
#include "core/log.hpp"
#include "object/process.hpp"

#include <exo/events.hpp>

namespace mk {
namespace {

// A line bound to user mode. `lock` orders the interrupt handler against bind and unbind, so
// the handler never posts to a ring that is going away.
struct Line {
    IrqSpinLock lock;
    Irq* owner = nullptr; // guarded by lock
    Ring* ring = nullptr; // guarded by lock; the owner holds the reference
    uint32_t gsi = 0;
};

constinit Line lines[kIrqLines] = {};
static_assert(idt::vector::kFirstDevice + kIrqLines - 1 <= idt::vector::kLastDevice);

void line_interrupt(InterruptFrame& frame) {
    uint32_t number = uint32_t(frame.vector - idt::vector::kFirstDevice);
    Line& line = lines[number];
    LockGuard guard(line.lock);
    (void)ioapic::set_masked(line.gsi, true);
    if (line.ring) {
        exo::IrqEvent event{number, 1};
        (void)line.ring->post(exo::kEventIrq, &event, sizeof event);
    }
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

exo::Result<void> Irq::bind(Ref<Ring> ring) {
    if (range_.count != 1)
        return exo::Status::InvalidArgument;
    if (range_.first >= kIrqLines)
        return exo::Status::OutOfRange;
    if (bound_.load(std::memory_order_acquire))
        return exo::Status::BadState;
    Line& line = lines[range_.first];
    uint32_t gsi;
    uint16_t flags;
    ioapic::line_to_gsi(range_.first, gsi, flags);
    if (!ioapic::serves(gsi))
        return exo::Status::NotFound;
    {
        LockGuard guard(line.lock);
        if (line.owner)
            return line.owner == this ? exo::Status::BadState : exo::Status::AlreadyExists;
        line.owner = this;
        line.ring = ring.leak(); // released in destroy_contents
        line.gsi = gsi;
    }
    bound_.store(true, std::memory_order_release);
    auto routed = ioapic::route(gsi, uint8_t(idt::vector::kFirstDevice + range_.first),
                                this_cpu().apic_id, flags);
    if (!routed.ok()) {
        destroy_contents();
        return routed.status();
    }
    return {};
}

exo::Result<void> Irq::ack() {
    if (!bound_)
        return exo::Status::BadState;
    return ioapic::set_masked(lines[range_.first].gsi, false);
}

void Irq::destroy_contents() {
    if (!bound_.exchange(false, std::memory_order_acq_rel))
        return;
    Line& line = lines[range_.first];
    Ring* ring;
    {
        LockGuard guard(line.lock);
        (void)ioapic::set_masked(line.gsi, true);
        ring = line.ring;
        line.ring = nullptr;
        line.owner = nullptr;
    }
    if (ring)
        ring->release();
}

} // namespace mk
