/* The syscall entry (Intel SDM vol. 2B SYSCALL/SYSRET) and the first entry of a thread into
 * ring 3. The syscall path builds the same InterruptFrame as isr.S (vector kSyscallVector), so
 * the dispatcher, the fault path and the debugger see one layout; it returns with sysretq, whose
 * rip (rcx) and rflags (r11) come from the frame the user's own `syscall` saved. */
#include "arch/x86_64/frame.h"

    .text
    .code64

#define USER_DS (0x18 | 3)
#define USER_CS (0x20 | 3)
#define SYSCALL_VECTOR 256

    .global syscall_entry
    .type syscall_entry, @function
syscall_entry:
    /* IF=0 here (SFMASK), on the user stack with the user's GS_BASE. */
    swapgs
    movq %rsp, %gs:8         /* Cpu::scratch_rsp */
    movq %gs:16, %rsp        /* Cpu::kernel_rsp: top of this thread's kernel stack */
    pushq $USER_DS
    pushq %gs:8
    pushq %r11               /* rflags */
    pushq $USER_CS
    pushq %rcx               /* rip */
    pushq $0                 /* error code */
    pushq $SYSCALL_VECTOR
    PUSH_GENERAL_REGISTERS
    movq %rsp, %rdi
    xorl %ebp, %ebp          /* the backtrace ends here */
    sti
    call syscall_dispatch
    cli
    POP_GENERAL_REGISTERS
    addq $16, %rsp           /* vector, error code */
    popq %rcx                /* rip for sysret */
    addq $8, %rsp            /* cs */
    popq %r11                /* rflags for sysret */
    popq %rsp                /* the user stack; ss stays behind */
    swapgs
    sysretq
    .size syscall_entry, . - syscall_entry

/* [[noreturn]] void enter_user_mode(uint64_t rip, uint64_t rsp, uint64_t arg):
 * the first return of a new thread to ring 3, with arg in rdi and every other register zero. */
    .global enter_user_mode
    .type enter_user_mode, @function
enter_user_mode:
    cli
    pushq $USER_DS
    pushq %rsi
    pushq $0x202             /* IF, and the reserved bit 1 */
    pushq $USER_CS
    pushq %rdi
    movq %rdx, %rdi
    xorl %eax, %eax
    xorl %ebx, %ebx
    xorl %ecx, %ecx
    xorl %edx, %edx
    xorl %esi, %esi
    xorl %ebp, %ebp
    xorl %r8d, %r8d
    xorl %r9d, %r9d
    xorl %r10d, %r10d
    xorl %r11d, %r11d
    xorl %r12d, %r12d
    xorl %r13d, %r13d
    xorl %r14d, %r14d
    xorl %r15d, %r15d
    swapgs
    iretq
    .size enter_user_mode, . - enter_user_mode

    .section .note.GNU-stack, "", @progbits
