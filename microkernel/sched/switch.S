/* The voluntary context switch (System V AMD64 ABI): only the callee-saved registers (rbx, rbp,
 * r12-r15) and rsp/rip need saving, because switch_context is an ordinary call and the caller
 * already assumes every other register is clobbered. An interrupt that preempts a thread saved
 * its full frame on entry (isr.S) before the handler reached this call.
 *
 *   Thread* switch_context(Thread* prev, Thread* next)
 *     saves prev's callee-saved registers on its stack and its rsp in prev->saved_rsp (offset 0),
 *     loads next's, and returns prev in next's context (so next can finish the switch).
 *
 * A new thread's stack is laid out by thread.cpp as if it had called switch_context from
 * thread_start, with r12 = the thread: the ret lands in thread_start. */
    .text
    .code64

    .global switch_context
    .type switch_context, @function
switch_context:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rsp, (%rdi)
    movq (%rsi), %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    movq %rdi, %rax
    ret
    .size switch_context, . - switch_context

    .global thread_start
    .type thread_start, @function
thread_start:
    movq %rax, %rdi         /* the thread switched away from */
    movq %r12, %rsi         /* this thread */
    xorl %ebp, %ebp         /* backtraces end here */
    call thread_entry
    ud2
    .size thread_start, . - thread_start

/* The full-save switch, the baseline the benchmarks compare the voluntary switch with: saves
 * and restores every general register and the flags, as an interrupt-driven switch would.
 *   Thread* switch_context_full(Thread* prev, Thread* next)   (same contract) */
    .global switch_context_full
    .type switch_context_full, @function
switch_context_full:
    pushfq
    pushq %rax
    pushq %rcx
    pushq %rdx
    pushq %rsi
    pushq %rdi
    pushq %r8
    pushq %r9
    pushq %r10
    pushq %r11
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rsp, (%rdi)
    movq (%rsi), %rsp
    movq %rdi, 112(%rsp)    /* next's saved rax slot: it returns prev */
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    popq %r11
    popq %r10
    popq %r9
    popq %r8
    popq %rdi
    popq %rsi
    popq %rdx
    popq %rcx
    popq %rax
    popfq
    ret
    .size switch_context_full, . - switch_context_full

    .section .note.GNU-stack, "", @progbits
