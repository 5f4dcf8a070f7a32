/* The launcher, embedded in hpack as bytes: hpack writes it out as the
 * first part of every artifact (packer/elfout.c). */
    .section .rodata
    .balign 64
    .global hpk_launcher_start
    .global hpk_launcher_end
hpk_launcher_start:
    .incbin HPK_LAUNCHER_PATH
hpk_launcher_end:
    .section .note.GNU-stack,"",@progbits
