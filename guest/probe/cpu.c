/* cpu.c: TSS, IDT and exception reporting, page tables above 4 GiB, TSC timing and the ring-3 switch. */
#include "probe.h"

struct tss {
	u32 reserved0;
	u64 rsp[3];
	u64 reserved1;
	u64 ist[7];
	u64 reserved2;
	u16 reserved3, iomap_base;
} __attribute__((packed));

struct idt_gate {
	u16 off_lo, sel;
	u8 ist, attr;
	u16 off_mid;
	u32 off_hi, zero;
} __attribute__((packed));

struct frame {
	u64 r15, r14, r13, r12, r11, r10, r9, r8, rbp, rdi, rsi, rdx, rcx, rbx, rax;
	u64 vector, error, rip, cs, rflags, rsp, ss;
};

static struct tss tss;
static struct idt_gate idt[256] __attribute__((aligned(16)));
static u64 pd_pool[PD_POOL_PAGES][512] __attribute__((section(".noinit"), aligned(4096)));
static u64 kernel_int_stack[2048] __attribute__((aligned(16)));
volatile u64 timer_ticks;

static void tss_init(void)
{
	u64 base = (u64)&tss;
	u64 limit = sizeof(tss) - 1;
	tss.rsp[0] = (u64)&kernel_int_stack[2048];
	tss.iomap_base = sizeof(tss);
	gdt[SEL_TSS / 8] = (limit & 0xffff) | ((base & 0xffffff) << 16) | (0x89ULL << 40) |
			   (((limit >> 16) & 0xf) << 48) | (((base >> 24) & 0xff) << 56);
	gdt[SEL_TSS / 8 + 1] = base >> 32;
	__asm__ volatile("ltr %w0" : : "r"(SEL_TSS));
}

void idt_load(void)
{
	struct {
		u16 limit;
		u64 base;
	} __attribute__((packed)) d = { sizeof(idt) - 1, (u64)idt };
	__asm__ volatile("lidt %0" : : "m"(d));
}

static void set_gate(int v, u64 a, u8 attr)
{
	idt[v] = (struct idt_gate){ (u16)a, SEL_CODE64, 0, attr, (u16)(a >> 16), (u32)(a >> 32), 0 };
}

static void (*irq_handlers[256])(int vector);

/* Installs an interrupt gate for vector (32..254) that calls fn, then sends the LAPIC EOI. */
void irq_register(int vector, void (*fn)(int vector))
{
	irq_handlers[vector] = fn;
	set_gate(vector, (u64)isr_stubs + 16 * (u64)vector, 0x8e);
}

static void idt_init(void)
{
	/* Only the vectors the probe can see: CPU exceptions, the timer and the spurious
	 * vector. Every gate costs instructions, and CPL0 is emulated on some KVMs. */
	for (int v = 0; v < 32; v++)
		set_gate(v, (u64)isr_stubs + 16 * (u64)v, 0x8e);
	set_gate(TIMER_VECTOR, (u64)isr_stubs + 16 * (u64)TIMER_VECTOR, 0x8e);
	set_gate(SPURIOUS_VECTOR, (u64)isr_stubs + 16 * (u64)SPURIOUS_VECTOR, 0x8e);
	idt_load();
}

static void mask_pic(void)
{
	outb(0x21, 0xff);
	outb(0xa1, 0xff);
}

void cpu_init(void)
{
	tss_init();
	idt_init();
	mask_pic();
}

void lapic_eoi(void)
{
	lapic_write(0xb0, 0);
}

static noreturn void fatal_exception(struct frame *f)
{
	u64 cr2;
	__asm__ volatile("mov %%cr2, %0" : "=r"(cr2));
	print_lock_break();
	pr("probe: exception %lu error 0x%lx rip 0x%lx cs 0x%lx rflags 0x%lx rsp 0x%lx cr2 0x%lx\n", f->vector,
	   f->error, f->rip, f->cs, f->rflags, f->rsp, cr2);
	test_fail("unexpected exception %lu at rip 0x%lx", f->vector, f->rip);
}

void isr_dispatch(struct frame *f);
void isr_dispatch(struct frame *f)
{
	if (f->vector == 6 && f->rip == (u64)user_exit && (f->cs & 3) == 3)
		user_return();		/* the CPL3 part finished: back into run_user */
	if (f->vector == NMI_VECTOR && irq_handlers[NMI_VECTOR]) {
		irq_handlers[NMI_VECTOR](NMI_VECTOR);  /* an NMI takes no EOI */
		return;
	}
	if (f->vector < 32)
		fatal_exception(f);
	if (f->vector == SPURIOUS_VECTOR)
		return;
	if (irq_handlers[f->vector])
		irq_handlers[f->vector]((int)f->vector);
	else if (f->vector == TIMER_VECTOR)
		timer_ticks++;
	else
		pr("probe: unexpected interrupt vector %lu\n", f->vector);
	lapic_eoi();
}

static int has_1g_pages(void)
{
	u32 r[4];
	cpuid(0x80000000, 0, r);
	if (r[0] < 0x80000001)
		return 0;
	cpuid(0x80000001, 0, r);
	return (r[3] >> 26) & 1;
}

static void map_gib_2m(u64 gb, u64 *pd)
{
	for (u64 i = 0; i < 512; i++)
		pd[i] = (gb << 30) + (i << 21) + 0x87;
	boot_pdpt[gb] = (u64)pd + 0x7;
}

/* Extends the boot identity map (first 4 GiB) to cover [0, top), U/S set everywhere. */
void map_memory(u64 top)
{
	int big = has_1g_pages();
	u64 gbs = (top + GiB - 1) >> 30;
	if (gbs > 512) {
		pr("probe: memory top 0x%lx above 512 GiB; mapping only the first 512 GiB\n", top);
		gbs = 512;
	}
	for (u64 gb = 4; gb < gbs; gb++) {
		if (big) {
			boot_pdpt[gb] = (gb << 30) | 0x87;
		} else if (gb - 4 < PD_POOL_PAGES) {
			map_gib_2m(gb, pd_pool[gb - 4]);
		} else {
			pr("probe: no 1 GiB pages; mapping stops at %lu GiB\n", gb);
			break;
		}
	}
	__asm__ volatile("mov %%cr3, %%rax; mov %%rax, %%cr3" : : : "rax", "memory");
}

static u64 tsc_hz_cpuid(void)
{
	u32 r[4];
	cpuid(0x40000000, 0, r);
	if (r[0] >= 0x40000010 && r[0] < 0x40000100) {
		cpuid(0x40000010, 0, r);
		if (r[0])
			return (u64)r[0] * 1000;
	}
	cpuid(0, 0, r);
	u32 max = r[0];
	if (max >= 0x15) {
		cpuid(0x15, 0, r);
		if (r[0] && r[1] && r[2])
			return (u64)r[2] * r[1] / r[0];
	}
	if (max >= 0x16) {
		cpuid(0x16, 0, r);
		if (r[0])
			return (u64)r[0] * 1000000;
	}
	return 0;
}

/* TSC frequency from CPUID if known, else an assumed 3 GHz. */
u64 tsc_hz(void)
{
	static u64 hz;
	if (!hz) {
		hz = tsc_hz_cpuid();
		if (!hz)
			hz = 3000000000ULL;
	}
	return hz;
}

void delay_us(u64 us)
{
	u64 end = rdtsc() + tsc_hz() / 1000000 * us;
	while (rdtsc() < end)
		cpu_relax();
}

/* Runs fn(arg) at CPL3 (native speed under PVM) on the user stack; returns when fn returns.
   fn must not do port I/O or print: PVM does not honour IOPL for CPL3. */
void run_user(void (*fn)(void *), void *arg)
{
	u16 before = read_cs();
	enter_user(fn, arg, user_stack_top);
	if (read_cs() != before)
		test_fail("did not return to CPL0 from user mode");
}
