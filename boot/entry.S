/* 32-bit entry from GRUB (Multiboot2 spec 3.3: protected mode, paging off, EAX = magic,
 * EBX = physical address of the boot information) to the 64-bit kernel at -2 GiB.
 * The .boot.* sections are linked at their physical address (GRUB refuses an ELF64 entry point
 * above 4 GiB); everything else is at KERNEL_VMA, so PHYS() is used only for those symbols.
 * Builds boot page tables mapping the first 4 GiB three times with 2 MiB pages:
 *   identity (only to survive the switch), the direct map at DIRECT_MAP_BASE, and the kernel
 *   window at KERNEL_VMA (first 2 GiB). The kernel replaces these tables once it runs. */
#include "../microkernel/arch/x86_64/layout.h"

#define PHYS(sym) ((sym) - KERNEL_VMA)
#define COM1 0x3F8
#define MB2_BOOTLOADER_MAGIC 0x36D76289
#define PTE_PRESENT 0x1
#define PTE_WRITE 0x2
#define PTE_HUGE 0x80
#define CR4_PAE (1 << 5)
#define CR4_PGE (1 << 7)
#define CR0_PG (1 << 31)
#define CR0_WP (1 << 16)
#define MSR_EFER 0xC0000080
#define EFER_LME (1 << 8)
#define EFER_NXE (1 << 11)

    .section .boot.text, "ax"
    .code32
    .global _start
    .type _start, @function
_start:
    cli
    cld
    movl $PHYS(boot_stack_top), %esp
    movl %eax, %edi                 /* magic: first argument of kernel_main */
    movl %ebx, %esi                 /* boot information: second argument */

    cmpl $MB2_BOOTLOADER_MAGIC, %edi
    jne .Lnot_multiboot2

    /* Long mode needs CPUID 0x80000001 EDX.LM (Intel SDM vol. 3A 9.8.5). */
    movl $0x80000000, %eax
    cpuid
    cmpl $0x80000001, %eax
    jb .Lno_long_mode
    movl $0x80000001, %eax
    cpuid
    testl $(1 << 29), %edx
    jz .Lno_long_mode
    movl %edx, %ebp                 /* keep the feature bits: NX is EDX bit 20 */

    /* PD entries: 2048 x 2 MiB pages cover 4 GiB; the four PDs are contiguous. */
    movl $PHYS(boot_pd), %ebx
    xorl %ecx, %ecx
1:  movl %ecx, %eax
    shll $21, %eax
    orl $(PTE_PRESENT | PTE_WRITE | PTE_HUGE), %eax
    movl %eax, (%ebx, %ecx, 8)
    movl %ecx, %eax
    shrl $11, %eax                  /* bits 32+ of the physical address */
    movl %eax, 4(%ebx, %ecx, 8)
    incl %ecx
    cmpl $2048, %ecx
    jne 1b

    /* Low PDPT: entries 0-3 -> the four PDs (used by the identity and direct maps). */
    movl $PHYS(boot_pdpt_low), %ebx
    xorl %ecx, %ecx
2:  movl %ecx, %eax
    shll $12, %eax
    addl $(PHYS(boot_pd) + PTE_PRESENT + PTE_WRITE), %eax
    movl %eax, (%ebx, %ecx, 8)
    incl %ecx
    cmpl $4, %ecx
    jne 2b

    /* High PDPT: entries 510 and 511 -> PD 0 and PD 1 (kernel window: -2 GiB .. 0). */
    movl $PHYS(boot_pdpt_high), %ebx
    movl $(PHYS(boot_pd) + PTE_PRESENT + PTE_WRITE), 510*8(%ebx)
    movl $(PHYS(boot_pd) + 4096 + PTE_PRESENT + PTE_WRITE), 511*8(%ebx)

    movl $PHYS(boot_pml4), %ebx
    movl $(PHYS(boot_pdpt_low) + PTE_PRESENT + PTE_WRITE), 0*8(%ebx)
    movl $(PHYS(boot_pdpt_low) + PTE_PRESENT + PTE_WRITE), 256*8(%ebx)
    movl $(PHYS(boot_pdpt_high) + PTE_PRESENT + PTE_WRITE), 511*8(%ebx)
    movl %ebx, %cr3

    movl %cr4, %eax
    orl $(CR4_PAE | CR4_PGE), %eax
    movl %eax, %cr4

    movl $MSR_EFER, %ecx
    rdmsr
    orl $EFER_LME, %eax
    testl $(1 << 20), %ebp
    jz 3f
    orl $EFER_NXE, %eax
3:  wrmsr

    movl %cr0, %eax
    orl $(CR0_PG | CR0_WP), %eax
    movl %eax, %cr0

    lgdt boot_gdt_pointer
    ljmp $0x08, $.Llong_mode_low

    .code64
.Llong_mode_low:
    movabsq $long_mode_high, %rax
    jmp *%rax

    .code32
.Lnot_multiboot2:
    movl $msg_not_multiboot2, %esi
    jmp .Lboot_error
.Lno_long_mode:
    movl $msg_no_long_mode, %esi
.Lboot_error:
    /* No console yet: print the reason on COM1 (polling, default divisor is fine for QEMU). */
4:  lodsb
    testb %al, %al
    jz 6f
    movb %al, %bl
    movw $(COM1 + 5), %dx
5:  inb %dx, %al
    testb $0x20, %al
    jz 5b
    movw $COM1, %dx
    movb %bl, %al
    outb %al, %dx
    jmp 4b
6:  hlt
    jmp 6b

    .section .boot.rodata, "a"
msg_not_multiboot2:
    .asciz "exo: boot error: not started by a Multiboot2 loader (bad magic in EAX)\r\n"
msg_no_long_mode:
    .asciz "exo: boot error: this CPU has no 64-bit long mode\r\n"

    .balign 8
boot_gdt:
    .quad 0
    .quad 0x00AF9A000000FFFF        /* 0x08: 64-bit code, DPL 0 */
    .quad 0x00CF92000000FFFF        /* 0x10: data, DPL 0 */
boot_gdt_end:
boot_gdt_pointer:
    .short boot_gdt_end - boot_gdt - 1
    .long boot_gdt
    /* The same GDT seen through the kernel window, which outlives the identity map. */
    .balign 8
boot_gdt_pointer64:
    .short boot_gdt_end - boot_gdt - 1
    .quad boot_gdt + KERNEL_VMA

    .text
    .code64
    .type long_mode_high, @function
long_mode_high:
    lgdt boot_gdt_pointer64(%rip)
    movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    xorw %ax, %ax
    movw %ax, %fs
    movw %ax, %gs
    movabsq $boot_stack_top, %rsp
    xorl %ebp, %ebp                 /* a zero frame pointer ends every backtrace */
    movl %edi, %edi                 /* zero-extend the two 32-bit arguments */
    movl %esi, %esi
    call kernel_main
7:  cli
    hlt
    jmp 7b
    .size long_mode_high, . - long_mode_high

    .section .bss
    .balign 4096
    .global boot_pml4
boot_pml4:
    .skip 4096
boot_pdpt_low:
    .skip 4096
boot_pdpt_high:
    .skip 4096
boot_pd:
    .skip 4 * 4096

    .balign 16
    .global boot_stack_bottom, boot_stack_top
boot_stack_bottom:
    .skip BOOT_STACK_SIZE
boot_stack_top:

    .section .note.GNU-stack, "", @progbits
