// The preemption point the interrupt path calls (kept apart so arch code needs no more).
#pragma once

namespace mk::sched {

// Called on interrupt return when the CPU is marked need_resched; interrupts disabled. The
// interrupted thread's full frame is on its stack: it resumes through it when picked again.
void preempt();

} // namespace mk::sched
