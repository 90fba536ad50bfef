/* timer.c: the timer test: local APIC timer in periodic mode delivering interrupts through the IDT. */
#include "probe.h"

#define APIC_BASE_MSR 0x1b
#define LAPIC_SVR 0xf0
#define LAPIC_TPR 0x80
#define LAPIC_LVT_TIMER 0x320
#define LAPIC_TIMER_INIT 0x380
#define LAPIC_TIMER_DIV 0x3e0
#define TICKS 3
#define TIMER_COUNT 625000	/* about 10 ms at the 1 GHz bus clock KVM and QEMU use, divided by 16 */

static void timer_start(void)
{
	lapic_write(LAPIC_SVR, 0x100 | SPURIOUS_VECTOR);
	lapic_write(LAPIC_TPR, 0);
	lapic_write(LAPIC_TIMER_DIV, 0x3);		/* divide by 16 */
	lapic_write(LAPIC_LVT_TIMER, (1u << 17) | TIMER_VECTOR);	/* periodic */
	lapic_write(LAPIC_TIMER_INIT, TIMER_COUNT);
}

static void timer_stop(void)
{
	lapic_write(LAPIC_LVT_TIMER, (1u << 16) | TIMER_VECTOR);
	lapic_write(LAPIC_TIMER_INIT, 0);
}

/* First tick: spin with interrupts on, so a dead timer cannot hang us in hlt. */
static int wait_first_tick(u64 deadline)
{
	__asm__ volatile("sti");
	while (!timer_ticks && rdtsc() < deadline)
		cpu_relax();
	__asm__ volatile("cli");
	return timer_ticks != 0;
}

/* Later ticks: hlt until each interrupt arrives (the timer is periodic). */
static void wait_ticks_hlt(u64 deadline)
{
	while (timer_ticks < TICKS && rdtsc() < deadline)
		__asm__ volatile("sti; hlt; cli" ::: "memory");
}

noreturn void test_timer(void)
{
	u64 base = rdmsr(APIC_BASE_MSR);
	pr("probe: timer: APIC base MSR 0x%lx, TSC %lu kHz\n", base, tsc_hz() / 1000);
	if (!(base & (1u << 11)))
		test_fail("local APIC disabled in IA32_APIC_BASE");
	if (base & (1u << 10))
		test_fail("local APIC is in x2APIC mode");
	u64 deadline = rdtsc() + tsc_hz() * 10;
	timer_start();
	if (!wait_first_tick(deadline)) {
		timer_stop();
		test_fail("no timer interrupt within 10 s");
	}
	pr("probe: timer: first tick, waiting in hlt\n");
	wait_ticks_hlt(deadline);
	timer_stop();
	u64 n = timer_ticks;
	if (n < TICKS)
		test_fail("only %lu ticks within 10 s", n);
	pr("probe: timer: %lu ticks\n", n);
	test_pass();
}
