/* Application-processor start (Intel SDM vol. 3A 8.4.4, 9.8.5): the STARTUP IPI starts an AP in
 * real mode at CS:IP = (page * 256):0. This blob is copied to kTrampolinePhys (a page below
 * 1 MiB that the physical allocator never hands out) and identity-mapped while APs start. It
 * goes from real mode straight to long mode (PAE, the kernel's own tables, LME and NXE, then
 * PE and PG together), then jumps to ap_main(cpu) on the stack the boot CPU prepared.
 * The parameters at the end are written by the boot CPU for each AP in turn. */
#include "arch/x86_64/trampoline.h"

    .section .rodata
    .balign 16
    .global trampoline_start, trampoline_end
    .global trampoline_cr3, trampoline_stack, trampoline_cpu, trampoline_entry

#define ABS(label) (TRAMPOLINE_PHYS + (label - trampoline_start))

    .code16
trampoline_start:
    cli
    cld
    xorw %ax, %ax
    movw %ax, %ds
    lgdtl ABS(trampoline_gdt_pointer)
    movl %cr4, %eax
    orl $0xA0, %eax                 /* PAE, PGE (kernel pages are global) */
    movl %eax, %cr4
    movl ABS(trampoline_cr3), %eax
    movl %eax, %cr3
    movl $0xC0000080, %ecx          /* EFER */
    rdmsr
    orl $0x900, %eax                /* LME, NXE (the kernel tables use NX) */
    wrmsr
    movl %cr0, %eax
    orl $0x80000001, %eax           /* PG, PE (WP waits for the kernel: this page is written) */
    movl %eax, %cr0
    ljmpl $0x08, $ABS(trampoline_long_mode)

    .code64
trampoline_long_mode:
    movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    movq trampoline_stack(%rip), %rsp
    movq trampoline_cpu(%rip), %rdi
    movq trampoline_entry(%rip), %rax
    xorl %ebp, %ebp
    callq *%rax
    ud2

    .balign 8
trampoline_gdt:
    .quad 0
    .quad 0x00AF9A000000FFFF        /* 0x08: 64-bit code */
    .quad 0x00CF92000000FFFF        /* 0x10: data */
trampoline_gdt_pointer:
    .word 23
    .long ABS(trampoline_gdt)

    .balign 8
trampoline_cr3:   .quad 0
trampoline_stack: .quad 0
trampoline_cpu:   .quad 0
trampoline_entry: .quad 0
trampoline_end:

    .section .note.GNU-stack, "", @progbits
