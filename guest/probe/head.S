/* head.S: boot entries (bzImage 32/64-bit, PVH), long-mode switch, AP trampoline, interrupt stubs, GDT and boot page tables. */
#include "defs.h"

#define EFER_MSR 0xc0000080
#define TR(x) ((x) - tramp_start + TRAMP_BASE)

/* ---- protected-mode kernel start (0x100000) ---- */
	.section .text.head, "ax"
	.code32
	.globl startup_32
startup_32:			/* bzImage 32-bit entry: ESI = boot_params */
	cli
	cld
	movl	$KIND_LINUX32, %edi
	jmp	common32

	.globl pvh_start
pvh_start:			/* PVH entry: EBX = hvm_start_info */
	cli
	cld
	movl	%ebx, %esi
	movl	$KIND_PVH, %edi
common32:			/* EDI = kind, ESI = boot info pointer */
	lgdt	gdt_desc
	movl	$SEL_DATA, %eax
	movl	%eax, %ds
	movl	%eax, %es
	movl	%eax, %ss
	movl	%cr4, %eax
	orl	$0x20, %eax		/* PAE */
	movl	%eax, %cr4
	movl	$boot_pml4, %eax
	movl	%eax, %cr3
	movl	$EFER_MSR, %ecx
	rdmsr
	orl	$0x100, %eax		/* LME */
	wrmsr
	movl	%cr0, %eax
	orl	$0x80000001, %eax	/* PG | PE */
	movl	%eax, %cr0
	ljmp	$SEL_CODE64, $from32

	.org 0x200
	.code64
	.globl startup_64
startup_64:			/* bzImage 64-bit entry: RSI = boot_params */
	cli
	cld
	movq	%rsi, %r12
	movq	$boot_stack_top, %rsp
	lgdt	gdt_desc
	movq	%rsp, %rax
	pushq	$SEL_DATA
	pushq	%rax
	pushfq
	pushq	$SEL_CODE64
	pushq	$1f
	iretq				/* reload CS with our own GDT */
1:	movq	$boot_pml4, %rax
	movq	%rax, %cr3
	movq	%r12, %rsi
	movl	$KIND_LINUX64, %edi
	jmp	common64

from32:
	movl	%edi, %edi
	movl	%esi, %esi
common64:			/* RDI = kind, RSI = boot info pointer */
	movl	$SEL_DATA, %eax
	movl	%eax, %ds
	movl	%eax, %es
	movl	%eax, %ss
	movl	%eax, %fs
	movl	%eax, %gs
	movq	$boot_stack_top, %rsp
	movq	%rdi, %r12
	movq	%rsi, %r13
	movq	$__bss_start, %rdi
	movq	$__bss_end, %rcx
	subq	%rdi, %rcx
	addq	$7, %rcx
	shrq	$3, %rcx		/* quadwords: the linker script aligns .bss to 8 */
	xorl	%eax, %eax
	rep stosq
	movq	%r12, %rdi
	movq	%r13, %rsi
	call	probe_main
2:	cli
	hlt
	jmp	2b

/* ---- application processors arrive here from the trampoline ---- */
	.text
	.code64
	.globl ap_entry64
ap_entry64:
	movl	$SEL_DATA, %eax
	movl	%eax, %ds
	movl	%eax, %es
	movl	%eax, %ss
	movl	$1, %eax
	lock xaddl %eax, ap_slot(%rip)
	cmpl	$MAX_CPUS, %eax
	jae	3f
	incl	%eax
	shll	$12, %eax
	leaq	ap_stacks(%rip), %rsp
	addq	%rax, %rsp
	call	ap_main
3:	cli
	hlt
	jmp	3b

/* enter_user(fn, arg, stack): runs fn(arg) at CPL3 and returns when it returns.
   In: sysretq (PVM keeps RFLAGS from R11 but drops IOPL, so CPL3 does no port I/O).
   Out: user_start executes ud2 at user_exit; the #UD handler sees that RIP and calls
   user_return. Under PVM neither syscall nor int $0x80 reached CPL0 in our tests, but
   exceptions from CPL3 are delivered through the IDT as on hardware. */
	.globl enter_user
enter_user:
	pushq	%rbx
	pushq	%rbp
	pushq	%r12
	pushq	%r13
	pushq	%r14
	pushq	%r15
	movq	%rsp, saved_ksp(%rip)
	movq	%rdi, %r12
	movq	%rsi, %r13
	movq	%rdx, %r14
	movl	$0xc0000080, %ecx	/* EFER.SCE */
	rdmsr
	orl	$1, %eax
	wrmsr
	movl	$0xc0000081, %ecx	/* STAR: syscall CS 0x10/SS 0x18; sysret CS 0x28/SS 0x20 */
	xorl	%eax, %eax
	movl	$((SEL_DATA << 16) | SEL_CODE64), %edx
	wrmsr
	movq	%r13, %rdi
	movq	%r12, %rsi
	movq	$user_start, %rcx
	movq	$0x2, %r11
	movq	%r14, %rsp
	xorl	%ebp, %ebp
	sysretq

user_start:			/* CPL3: RDI = arg, RSI = fn */
	call	*%rsi
	.globl user_exit
user_exit:
	ud2

	.globl user_return
user_return:			/* CPL0, called from the #UD handler: drop its frame */
	movq	saved_ksp(%rip), %rsp
	popq	%r15
	popq	%r14
	popq	%r13
	popq	%r12
	popq	%rbp
	popq	%rbx
	ret

/* ---- interrupt stubs: 16 bytes each, push (error code,) vector ---- */
	.p2align 4
	.globl isr_stubs
isr_stubs:
	vector = 0
	.rept 256
	.p2align 4
	.if vector < 32
	.if ((0x60227d00 >> vector) & 1) == 0
	pushq	$0
	.endif
	.else
	pushq	$0
	.endif
	pushq	$vector
	jmp	isr_common
	vector = vector + 1
	.endr

isr_common:
	pushq	%rax
	pushq	%rbx
	pushq	%rcx
	pushq	%rdx
	pushq	%rsi
	pushq	%rdi
	pushq	%rbp
	pushq	%r8
	pushq	%r9
	pushq	%r10
	pushq	%r11
	pushq	%r12
	pushq	%r13
	pushq	%r14
	pushq	%r15
	movq	%rsp, %rdi
	call	isr_dispatch
	popq	%r15
	popq	%r14
	popq	%r13
	popq	%r12
	popq	%r11
	popq	%r10
	popq	%r9
	popq	%r8
	popq	%rbp
	popq	%rdi
	popq	%rsi
	popq	%rdx
	popq	%rcx
	popq	%rbx
	popq	%rax
	addq	$16, %rsp
	iretq

/* ---- AP trampoline, copied to TRAMP_BASE (below 1 MiB) ---- */
	.section .rodata.tramp, "a"
	.globl tramp_start, tramp_end
	.code16
tramp_start:
	cli
	cld
	xorw	%ax, %ax
	movw	%ax, %ds
	lgdtl	TR(tramp_gdtr)
	movl	%cr0, %eax
	orl	$1, %eax
	movl	%eax, %cr0
	ljmpl	$SEL_CODE32, $TR(tramp32)
	.code32
tramp32:
	movl	$SEL_DATA, %eax
	movl	%eax, %ds
	movl	%eax, %es
	movl	%eax, %ss
	movl	%cr4, %eax
	orl	$0x20, %eax
	movl	%eax, %cr4
	movl	$boot_pml4, %eax
	movl	%eax, %cr3
	movl	$EFER_MSR, %ecx
	rdmsr
	orl	$0x100, %eax
	wrmsr
	movl	%cr0, %eax
	orl	$0x80000001, %eax
	movl	%eax, %cr0
	ljmp	$SEL_CODE64, $ap_entry64
	.p2align 3
tramp_gdtr:
	.word	gdt_end - gdt - 1
	.long	gdt
tramp_end:

/* ---- PVH ELF note: XEN_ELFNOTE_PHYS32_ENTRY ---- */
	.section .note.Xen, "a", @note
	.p2align 2
	.long	4
	.long	8
	.long	18
	.asciz	"Xen"
	.p2align 2
	.quad	pvh_start

/* ---- GDT and identity-mapped boot page tables (first 4 GiB, U/S set) ---- */
	.data
	.p2align 4
	.globl gdt
gdt:
	.quad	0
	.quad	0x00cf9a000000ffff	/* 0x08 code32 */
	.quad	0x00af9a000000ffff	/* 0x10 code64 */
	.quad	0x00cf92000000ffff	/* 0x18 data */
	.quad	0x00cff2000000ffff	/* 0x20 user data */
	.quad	0x00affa000000ffff	/* 0x28 user code64 */
	.quad	0, 0			/* 0x30 TSS, filled in by cpu_init */
gdt_end:
	.p2align 4
gdt_desc:
	.word	gdt_end - gdt - 1
	.quad	gdt

	.p2align 12
	.globl boot_pml4, boot_pdpt
boot_pml4:
	.quad	boot_pdpt + 0x7
	.fill	511, 8, 0
boot_pdpt:
	.quad	boot_pd + 0x7
	.quad	boot_pd + 0x1000 + 0x7
	.quad	boot_pd + 0x2000 + 0x7
	.quad	boot_pd + 0x3000 + 0x7
	.fill	508, 8, 0
boot_pd:
	i = 0
	.rept 2048
	.quad	(i << 21) | 0x87 | ((i == 2039) & 0x18)	/* LAPIC page uncached */
	i = i + 1
	.endr

/* ---- uninitialised stacks (not cleared at boot) ---- */
	.section .noinit, "aw", @nobits
	.p2align 12
boot_stack:
	.skip	BOOT_STACK_SIZE
	.globl boot_stack_top
boot_stack_top:
	.globl user_stack_top
	.skip	USER_STACK_SIZE
user_stack_top:
	.globl ap_stacks
ap_stacks:
	.skip	MAX_CPUS * AP_STACK_SIZE

	.bss
	.p2align 3
saved_ksp:
	.quad	0
	.globl ap_slot
ap_slot:
	.long	0

	.section .note.GNU-stack, "", @progbits
