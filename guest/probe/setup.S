/* setup.S: bzImage real-mode setup: the Linux boot-protocol header plus a BIOS path (e820, protected mode, jump to 1 MiB). */
#define SETUP_SECTS 7

	.code16
	.text
	.globl _setup
_setup:
	/* 0x000-0x1f0 double as boot_params fields: keep them zero. */
	.org 0x1f1
setup_sects:	.byte	SETUP_SECTS
root_flags:	.word	0
syssize:	.long	0		/* patched by mkbzimage */
ram_size:	.word	0
vid_mode:	.word	0xffff
root_dev:	.word	0
boot_flag:	.word	0xaa55
	/* 0x200 */
jump:		.byte	0xeb, start_stub - 0x202
header:		.ascii	"HdrS"
version:	.word	0x020f
realmode_swtch:	.long	0
start_sys_seg:	.word	0x1000
kernel_version:	.word	kversion - 0x200
type_of_loader:	.byte	0
loadflags:	.byte	0x01		/* LOADED_HIGH */
setup_move_size: .word	0x8000
code32_start:	.long	0x100000
ramdisk_image:	.long	0
ramdisk_size:	.long	0
bootsect_kludge: .long	0
heap_end_ptr:	.word	0
ext_loader_ver:	.byte	0
ext_loader_type: .byte	0
cmd_line_ptr:	.long	0
initrd_addr_max: .long	0x7fffffff
kernel_alignment: .long	0x100000
relocatable_kernel: .byte 0
min_alignment:	.byte	20
xloadflags:	.word	0x0001		/* XLF_KERNEL_64: 64-bit entry at 0x200 */
cmdline_size:	.long	4095
hardware_subarch: .long	0
hardware_subarch_data: .quad 0
payload_offset:	.long	0
payload_length:	.long	0
setup_data:	.quad	0
pref_address:	.quad	0x100000
init_size:	.long	0		/* patched by mkbzimage */
handover_offset: .long	0
kernel_info_offset: .long 0
start_stub:				/* 0x26c, still before the boot_params areas in use */
	jmp	rm_main

	/* e820_table lives at 0x2d0-0xcd0 in boot_params: keep it zero here. */
	.org 0xd00
rm_main:				/* CS = setup segment + 0x20 */
	cli
	cld
	movw	%cs, %ax
	subw	$0x20, %ax
	movw	%ax, %ds
	movw	%ax, %es
	movw	%ax, %ss
	movw	$0x1000, %sp
	call	get_e820
	xorl	%esi, %esi
	movw	%ds, %si
	shll	$4, %esi			/* ESI = boot_params (this setup area) */
	leal	gdt16(%esi), %eax
	movl	%eax, gdtr16 + 2
	lgdtl	gdtr16
	movl	%cr0, %eax
	orl	$1, %eax
	movl	%eax, %cr0
	movw	$0x10, %ax
	movw	%ax, %ds
	movw	%ax, %es
	movw	%ax, %ss
	ljmpl	$0x08, $0x100000

get_e820:				/* BIOS int 0x15/e820 into boot_params.e820_table */
	xorl	%ebx, %ebx
	movw	$0x2d0, %di
	xorw	%bp, %bp
1:	movl	$0xe820, %eax
	movl	$20, %ecx
	movl	$0x534d4150, %edx
	int	$0x15
	jc	2f
	cmpl	$0x534d4150, %eax
	jne	2f
	incw	%bp
	addw	$20, %di
	testl	%ebx, %ebx
	jz	2f
	cmpw	$128, %bp
	jb	1b
2:	movw	%bp, %ax
	movb	%al, 0x1e8
	ret

	.p2align 3
gdt16:
	.quad	0
	.quad	0x00cf9a000000ffff
	.quad	0x00cf92000000ffff
gdtr16:
	.word	gdtr16 - gdt16 - 1
	.long	0
kversion:
	.asciz	"cellvm-probe"
	.org	(SETUP_SECTS + 1) * 512

	.section .note.GNU-stack, "", @progbits
