// Range capabilities of the machine, which the root process receives whole and narrows for the
// servers it starts: Irq (interrupt lines), IoPorts (x86 I/O ports, opened through the TSS
// bitmap), and Log (permission to write to the kernel log).
#pragma once

#include "object/ring.hpp"
#include "sched/wait_queue.hpp"

namespace mk {

// Lines and ports share the shape: [first, first + count).
struct Range {
    uint32_t first;
    uint32_t count;
    // OutOfRange unless [first, first + count) is a non-empty part of this range (first is
    // relative to this range's start).
    exo::Result<Range> narrow(uint64_t first, uint64_t count) const;
};

class IoPorts final : public KernelObject {
public:
    static constexpr exo::ObjectType kType = exo::ObjectType::IoPorts;
    explicit IoPorts(Range range) : KernelObject(kType), range_(range) {}
    const Range& range() const { return range_; }

private:
    Range range_;
};

// Interrupt lines: ISA IRQs 0-15 (through the MADT overrides), then GSIs 16 and up.
inline constexpr uint32_t kIrqLines = 64;

class Irq final : public KernelObject {
public:
    static constexpr exo::ObjectType kType = exo::ObjectType::Irq;
    explicit Irq(Range range) : KernelObject(kType), range_(range) {}
    const Range& range() const { return range_; }

    // Binding a single-line Irq routes that line to this CPU, unmasked; each interrupt then
    // masks the line and posts an IrqEvent on `ring`. InvalidArgument for a multi-line cap,
    // BadState if already bound, AlreadyExists if another Irq object holds the line, NotFound
    // if no I/O APIC serves it.
    exo::Result<void> bind(Ref<Ring> ring);
    // Unmasks the line after a delivered interrupt. BadState when not bound.
    exo::Result<void> ack();

private:
    void destroy_contents() override;
    std::atomic<bool> bound_{false};
    Range range_;
};

class Log final : public KernelObject {
public:
    static constexpr exo::ObjectType kType = exo::ObjectType::Log;
    Log() : KernelObject(kType) {}
};

// The operator's capability (exo/system.hpp): the calls of syscall/sys_system.cpp. One object,
// made at boot for the root process; its rights say what a holder may do.
class System final : public KernelObject {
public:
    static constexpr exo::ObjectType kType = exo::ObjectType::System;
    System() : KernelObject(kType) {}
};

// Installs the interrupt handlers of the user-mode lines (boot).
void init_irq_lines();

} // namespace mk
