/* Interrupt entry stubs for all 256 vectors (Intel SDM vol. 3A 6.15). Each pushes a zero error
 * code where the CPU does not, then its vector, then the common path saves every general
 * register (the InterruptFrame of interrupt_frame.hpp) and calls interrupt_dispatch(frame).
 * Exceptions 0-31 have named stubs; vectors 32-255 are 16-byte stubs at irq_stubs + 16 * (v-32). */
#include "arch/x86_64/frame.h"

    .text
    .code64

.macro ISR_NOERR n
isr_\n:
    pushq $0
    pushq $\n
    jmp isr_common
.endm
.macro ISR_ERR n
isr_\n:
    pushq $\n
    jmp isr_common
.endm

ISR_NOERR 0
ISR_NOERR 1
ISR_NOERR 2
ISR_NOERR 3
ISR_NOERR 4
ISR_NOERR 5
ISR_NOERR 6
ISR_NOERR 7
ISR_ERR 8
ISR_NOERR 9
ISR_ERR 10
ISR_ERR 11
ISR_ERR 12
ISR_ERR 13
ISR_ERR 14
ISR_NOERR 15
ISR_NOERR 16
ISR_ERR 17
ISR_NOERR 18
ISR_NOERR 19
ISR_NOERR 20
ISR_ERR 21
ISR_NOERR 22
ISR_NOERR 23
ISR_NOERR 24
ISR_NOERR 25
ISR_NOERR 26
ISR_NOERR 27
ISR_NOERR 28
ISR_ERR 29
ISR_ERR 30
ISR_NOERR 31

/* Vectors 32-255: no error code. pushq imm32 (5 bytes) + pushq imm32 (5) + jmp rel32 (5). */
    .balign 16
    .global irq_stubs
irq_stubs:
    .set vector, 32
    .rept 224
    .balign 16
    .byte 0x68
    .long 0
    .byte 0x68
    .long vector
    jmp isr_common
    .set vector, vector + 1
    .endr

    .type isr_common, @function
isr_common:
    /* From ring 3 (the saved CS's RPL, at 24(%rsp) after vector and error code), GS_BASE holds
     * the user's value: swap in the kernel's per-CPU pointer, and back on the way out. The
     * syscall entry's one-instruction window before its own swapgs runs with IF=0, so only an
     * NMI or machine check could land there; both stop the machine anyway. */
    testb $3, 24(%rsp)
    jz 1f
    swapgs
1:
    PUSH_GENERAL_REGISTERS
    movq %rsp, %rdi
    cld
    call interrupt_dispatch
    POP_GENERAL_REGISTERS
    addq $16, %rsp
    testb $3, 8(%rsp)
    jz 2f
    swapgs
2:
    iretq
    .size isr_common, . - isr_common

    .section .rodata
    .balign 8
    .global isr_stub_table
isr_stub_table:
    .irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    .quad isr_\n
    .endr

    .section .note.GNU-stack, "", @progbits
