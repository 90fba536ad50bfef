/* cpu_boot.c: GDT, identity page tables, segment/control registers, MSRs, FPU and LAPIC LVTs at boot. */
#include "cpu_boot.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "layout.h"

#define CR0_PE (1ULL << 0)
#define CR0_ET (1ULL << 4)
#define CR0_NE (1ULL << 5)
#define CR0_PG (1ULL << 31)
#define CR4_PAE (1ULL << 5)
#define EFER_LME (1ULL << 8)
#define EFER_LMA (1ULL << 10)
#define PTE_PRESENT_RW 0x3ULL
#define PDE_2M_PAGE    0x83ULL
#define BOOT_STACK     0x8ff0ULL

/* Segment descriptor flags: access byte in bits 0-7, G/DB/L/AVL in bits 12-15. */
#define SEG_CODE32 0xc09bU
#define SEG_CODE64 0xa09bU
#define SEG_DATA   0xc093U
#define SEG_TSS    0x808bU
#define TSS_LIMIT  0x67U

static uint64_t gdt_entry(uint16_t flags, uint32_t base, uint32_t limit)
{
	return ((uint64_t)(base & 0xff000000U) << 32) | ((uint64_t)(base & 0x00ffffffU) << 16) |
	       (limit & 0xffffULL) | ((uint64_t)(limit & 0xf0000U) << 32) |
	       ((uint64_t)(flags & 0xf0ffU) << 40);
}

static struct kvm_segment segment(uint16_t flags, uint32_t limit, uint16_t selector)
{
	unsigned int g = (flags >> 15) & 1;

	return (struct kvm_segment){
		.base = 0,
		.limit = g ? (limit << 12) | 0xfff : limit,
		.selector = selector,
		.type = flags & 0xf,
		.s = (flags >> 4) & 1,
		.dpl = (flags >> 5) & 3,
		.present = (flags >> 7) & 1,
		.avl = (flags >> 12) & 1,
		.l = (flags >> 13) & 1,
		.db = (flags >> 14) & 1,
		.g = g,
	};
}

int cpu_boot_write_tables(struct guest_mem *mem)
{
	const uint64_t gdt[] = {
		0,
		gdt_entry(SEG_CODE32, 0, 0xfffff),
		gdt_entry(SEG_CODE64, 0, 0xfffff),
		gdt_entry(SEG_DATA, 0, 0xfffff),
		gdt_entry(SEG_TSS, 0, TSS_LIMIT),
	};
	uint64_t *g = gpa_to_hva(mem, LAYOUT_BOOT_GDT, sizeof(gdt));
	uint64_t *idt = gpa_to_hva(mem, LAYOUT_BOOT_IDT, 8);
	uint64_t *pml4 = gpa_to_hva(mem, LAYOUT_PML4, 4096);
	uint64_t *pdpt = gpa_to_hva(mem, LAYOUT_PDPT, 4096);
	uint64_t *pd = gpa_to_hva(mem, LAYOUT_PD, 4 * 4096);

	if (!g || !idt || !pml4 || !pdpt || !pd)
		return -EFAULT;
	memcpy(g, gdt, sizeof(gdt));
	*idt = 0;
	memset(pml4, 0, 4096);
	memset(pdpt, 0, 4096);
	pml4[0] = LAYOUT_PDPT | PTE_PRESENT_RW;
	for (uint64_t i = 0; i < 4; i++)
		pdpt[i] = (LAYOUT_PD + i * 4096) | PTE_PRESENT_RW;
	for (uint64_t i = 0; i < 4 * 512; i++)
		pd[i] = (i << 21) | PDE_2M_PAGE;
	return 0;
}

void cpu_boot_sregs(struct kvm_sregs *s, enum boot_entry_mode mode)
{
	struct kvm_segment data = segment(SEG_DATA, 0xfffff, BOOT_SEL_DATA);
	bool long_mode = mode == BOOT_ENTRY_LINUX64;

	s->cs = long_mode ? segment(SEG_CODE64, 0xfffff, BOOT_SEL_CODE64)
			  : segment(SEG_CODE32, 0xfffff, BOOT_SEL_CODE32);
	s->ds = s->es = s->fs = s->gs = s->ss = data;
	s->tr = segment(SEG_TSS, TSS_LIMIT, BOOT_SEL_TSS);
	s->gdt.base = LAYOUT_BOOT_GDT;
	s->gdt.limit = 5 * 8 - 1;
	s->idt.base = LAYOUT_BOOT_IDT;
	s->idt.limit = 7;
	s->cr0 = CR0_PE | CR0_ET | CR0_NE; /* caches on: CD and NW clear */
	s->cr4 = 0;
	s->efer = 0;
	if (long_mode) {
		s->cr0 |= CR0_PG;
		s->cr3 = LAYOUT_PML4;
		s->cr4 = CR4_PAE;
		s->efer = EFER_LME | EFER_LMA;
	}
}

void cpu_boot_regs(struct kvm_regs *r, const struct boot_result *br)
{
	memset(r, 0, sizeof(*r));
	r->rflags = 0x2; /* reserved bit 1; interrupts off */
	r->rip = br->entry;
	r->rsp = BOOT_STACK;
	r->rbp = BOOT_STACK;
	if (br->mode == BOOT_ENTRY_LINUX64)
		r->rsi = br->boot_data;
	else
		r->rbx = br->boot_data;
}

int cpu_set_boot_state(int vcpu_fd, const struct boot_result *br)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs;

	if (ioctl(vcpu_fd, KVM_GET_SREGS, &sregs) < 0)
		return -errno;
	cpu_boot_sregs(&sregs, br->mode);
	cpu_boot_regs(&regs, br);
	if (ioctl(vcpu_fd, KVM_SET_SREGS, &sregs) < 0 || ioctl(vcpu_fd, KVM_SET_REGS, &regs) < 0)
		return -errno;
	return 0;
}

/* MSRs Linux and Firecracker-style VMMs set at boot; only those KVM lists are written. */
static const struct { uint32_t index; uint64_t value; } boot_msrs[] = {
	{ 0x174, 0 },                 /* IA32_SYSENTER_CS */
	{ 0x175, 0 },                 /* IA32_SYSENTER_ESP */
	{ 0x176, 0 },                 /* IA32_SYSENTER_EIP */
	{ 0xc0000081, 0 },            /* STAR */
	{ 0xc0000082, 0 },            /* LSTAR */
	{ 0xc0000083, 0 },            /* CSTAR */
	{ 0xc0000084, 0 },            /* SYSCALL_MASK */
	{ 0xc0000102, 0 },            /* KERNEL_GS_BASE */
	{ 0x1a0, 1 },                 /* IA32_MISC_ENABLE: fast strings */
	{ 0x2ff, (1 << 11) | 6 },     /* MTRRdefType: MTRRs on, default write-back */
};

static bool msr_supported(const struct kvm_msr_list *l, uint32_t index)
{
	for (uint32_t i = 0; i < l->nmsrs; i++)
		if (l->indices[i] == index)
			return true;
	return false;
}

int cpu_init_msrs(int vcpu_fd, const struct kvm_msr_list *supported)
{
	const size_t max = sizeof(boot_msrs) / sizeof(boot_msrs[0]);
	struct kvm_msrs *msrs = calloc(1, sizeof(*msrs) + max * sizeof(msrs->entries[0]));
	int rc = 0;

	if (!msrs)
		return -ENOMEM;
	for (size_t i = 0; i < max; i++) {
		if (!msr_supported(supported, boot_msrs[i].index))
			continue;
		msrs->entries[msrs->nmsrs].index = boot_msrs[i].index;
		msrs->entries[msrs->nmsrs].data = boot_msrs[i].value;
		msrs->nmsrs++;
	}
	/* KVM_SET_MSRS returns how many it set; anything short of all is an error. */
	int n = ioctl(vcpu_fd, KVM_SET_MSRS, msrs);
	if (n < 0)
		rc = -errno;
	else if ((uint32_t)n != msrs->nmsrs)
		rc = -EINVAL;
	free(msrs);
	return rc;
}

int cpu_init_fpu(int vcpu_fd)
{
	struct kvm_fpu fpu = { .fcw = 0x37f, .mxcsr = 0x1f80 };

	return ioctl(vcpu_fd, KVM_SET_FPU, &fpu) < 0 ? -errno : 0;
}

#define APIC_LVT0 0x350
#define APIC_LVT1 0x360
#define APIC_MODE_EXTINT (7U << 8)
#define APIC_MODE_NMI    (4U << 8)

static void lapic_set_lvt(struct kvm_lapic_state *l, unsigned int reg, uint32_t mode)
{
	uint32_t v;

	memcpy(&v, &l->regs[reg], sizeof(v));
	v = (v & ~0x700U & ~(1U << 16)) | mode; /* delivery mode, unmasked */
	memcpy(&l->regs[reg], &v, sizeof(v));
}

/* LINT0 as ExtINT (the PIC) and LINT1 as NMI, as a BIOS leaves them for Linux. */
int cpu_init_lapic(int vcpu_fd)
{
	struct kvm_lapic_state lapic;

	if (ioctl(vcpu_fd, KVM_GET_LAPIC, &lapic) < 0)
		return -errno;
	lapic_set_lvt(&lapic, APIC_LVT0, APIC_MODE_EXTINT);
	lapic_set_lvt(&lapic, APIC_LVT1, APIC_MODE_NMI);
	return ioctl(vcpu_fd, KVM_SET_LAPIC, &lapic) < 0 ? -errno : 0;
}
