/* Process entry: the kernel starts a thread with rsp at the stack top (16-byte aligned) and the
 * creator's argument in rdi. exo_start never returns. */
    .text
    .global _start
    .type _start, @function
_start:
    xorl %ebp, %ebp
    andq $-16, %rsp
    call exo_start
    ud2
    .size _start, . - _start

    .section .note.GNU-stack, "", @progbits
