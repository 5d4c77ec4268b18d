/* The only instructions that touch user memory from ring 0. A page fault between
 * user_access_begin and user_access_end resumes at user_access_fault (idt.cpp checks the range),
 * so a bad user pointer becomes a BadAddress status instead of a kernel panic. */
    .text
    .code64

/* uint64_t user_copy_raw(void* dst, const void* src, size_t n): 0, or 1 if a fault stopped it. */
    .global user_copy_raw
    .type user_copy_raw, @function
user_copy_raw:
    movq %rdx, %rcx
    .global user_access_begin
user_access_begin:
    rep movsb
    .global user_access_end
user_access_end:
    xorl %eax, %eax
    ret
    .global user_access_fault
user_access_fault:
    movl $1, %eax
    ret
    .size user_copy_raw, . - user_copy_raw

    .section .note.GNU-stack, "", @progbits
