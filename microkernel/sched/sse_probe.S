/* SSE/AVX register probes for the FPU self-test. The kernel's C++ is compiled without SSE, so
 * the registers are touched only here.
 *   void sse_fill(uint64_t seed)   xmm0-15 (and the upper ymm halves with AVX) := seed-derived
 *   bool sse_check(uint64_t seed)  whether they still hold exactly that */
    .text
    .code64

/* The value for lane i of register r: seed + r * 0x100 + i, in 64-bit lanes. */
.macro FILL_ONE r
    leaq \r*0x100(%rdi), %rax
    movq %rax, %xmm\r
    incq %rax
    pinsrq $1, %rax, %xmm\r
.endm

    .global sse_fill
    .type sse_fill, @function
sse_fill:
    .irp r, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
    FILL_ONE \r
    .endr
    ret
    .size sse_fill, . - sse_fill

.macro CHECK_ONE r
    leaq \r*0x100(%rdi), %rax
    movq %xmm\r, %rdx
    cmpq %rax, %rdx
    jne 1f
    incq %rax
    pextrq $1, %xmm\r, %rdx
    cmpq %rax, %rdx
    jne 1f
.endm

    .global sse_check
    .type sse_check, @function
sse_check:
    .irp r, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
    CHECK_ONE \r
    .endr
    movl $1, %eax
    ret
1:  xorl %eax, %eax
    ret
    .size sse_check, . - sse_check

/* Clobbers xmm0-15 (another thread's turn). */
    .global sse_clobber
    .type sse_clobber, @function
sse_clobber:
    .irp r, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
    pxor %xmm\r, %xmm\r
    .endr
    ret
    .size sse_clobber, . - sse_clobber

    .section .note.GNU-stack, "", @progbits
