/* Multiboot2 header (Multiboot2 spec 3.1): asks GRUB for a 64-bit-capable ELF load with the
 * memory map and modules, page-aligned modules, and no graphics mode change. */
#define MB2_MAGIC 0xE85250D6
#define MB2_ARCH_I386 0
#define MB2_TAG_END 0
#define MB2_TAG_INFO_REQUEST 1
#define MB2_TAG_MODULE_ALIGN 6

    .section .multiboot2, "a"
    .balign 8
mb2_header:
    .long MB2_MAGIC
    .long MB2_ARCH_I386
    .long mb2_header_end - mb2_header
    .long -(MB2_MAGIC + MB2_ARCH_I386 + (mb2_header_end - mb2_header))

    /* Information request (3.1.4): boot will fail if the loader cannot give these. */
    .balign 8
info_request:
    .short MB2_TAG_INFO_REQUEST
    .short 0
    .long info_request_end - info_request
    .long 1   /* command line */
    .long 3   /* modules */
    .long 6   /* memory map */
info_request_end:

    /* Modules page aligned (3.1.9), so the kernel can hand their frames out later. */
    .balign 8
    .short MB2_TAG_MODULE_ALIGN
    .short 0
    .long 8

    .balign 8
    .short MB2_TAG_END
    .short 0
    .long 8
mb2_header_end:

    .section .note.GNU-stack, "", @progbits
