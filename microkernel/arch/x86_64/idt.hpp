// Interrupt descriptor table. For now: the 32 CPU exceptions, each ending in a panic with the
// full register frame. The interrupts issue adds device vectors, IST stacks and user faults.
#pragma once

namespace mk::idt {

void init();

} // namespace mk::idt
