/* acpi_events.c: ACPI as an OSPM drives it: S5 power-off and the fixed power button through the SCI. */
#include "probe.h"

#define SLP_TYP_S5        5
#define HWR_SLP_EN        (1u << 5)   /* HW-reduced sleep control: SLP_TYP bits 4:2 */
#define PM1_SLP_EN        (1u << 13)  /* PM1 control: SLP_TYP bits 12:10 */
#define PM1_PWRBTN        (1u << 8)   /* PM1 status / enable */
#define IOAPIC_BASE       0xfec00000ull
#define IOAPIC_REDTBL(n)  (0x10 + 2 * (n))
#define IOAPIC_LEVEL      (1u << 15)
#define SCI_VECTOR        0x39
#define LAPIC_SVR         0xf0
#define LAPIC_TPR         0x80
#define PWRBTN_WAIT_S     30  /* also the NMI test's wait */

noreturn void acpi_poweroff(const struct acpi_power *p)
{
	if (!p->hw_reduced && p->pm1_cnt) {
		u16 v = (u16)((SLP_TYP_S5 << 10) | PM1_SLP_EN);
		pr("probe: poweroff: writing 0x%x to PM1a_CNT (port 0x%x)\n", v, p->pm1_cnt);
		outw(p->pm1_cnt, v);
	} else if (p->sleep_port) {
		pr("probe: poweroff: writing 0x%x to port 0x%x\n", (SLP_TYP_S5 << 2) | HWR_SLP_EN,
		   p->sleep_port);
		outb(p->sleep_port, (SLP_TYP_S5 << 2) | HWR_SLP_EN);
	} else {
		test_fail("no FADT PM1a control block nor sleep control register in System I/O space");
	}
	test_fail("still running after the ACPI S5 write");
}

static void ioapic_write(u32 reg, u32 v)
{
	mmio_write32(IOAPIC_BASE, reg);
	mmio_write32(IOAPIC_BASE + 0x10, v);
}

/* The SCI handler's state, written in interrupt context. */
static volatile u32 sci_count;
static volatile u16 sci_pm1_sts;
static u16 sci_pm1_port;

static void on_sci(int vector __attribute__((unused)))
{
	u16 sts = inw(sci_pm1_port);

	sci_pm1_sts |= sts;
	outw(sci_pm1_port, sts & PM1_PWRBTN);  /* write 1 to clear: the level SCI drops */
	sci_count++;
}

/* Routes the SCI (ISA IRQ = GSI, the MADT's level/high override) to SCI_VECTOR on this CPU. */
static void sci_route(u16 sci)
{
	lapic_write(LAPIC_SVR, 0x100 | SPURIOUS_VECTOR);   /* software-enable the local APIC */
	lapic_write(LAPIC_TPR, 0);
	ioapic_write(IOAPIC_REDTBL(sci) + 1, (u32)lapic_read(0x20) & 0xff000000u);
	ioapic_write(IOAPIC_REDTBL(sci), SCI_VECTOR | IOAPIC_LEVEL);
}

/* Enables the power button event, waits for the SCI it raises when the host presses the button
 * (vm.power-button), acknowledges it as Linux's ACPICA does, and powers off. */
noreturn void test_power_button(void)
{
	struct acpi_power p;
	u64 deadline;

	if (acpi_power_regs(&p))
		test_fail("no FADT");
	if (p.hw_reduced || !p.pm1_evt || !p.sci || p.sci > 15)
		test_fail("no fixed power button: HW-reduced %d, PM1a_EVT 0x%x, SCI %u", p.hw_reduced,
			  p.pm1_evt, p.sci);
	sci_pm1_port = p.pm1_evt;
	if (inw(p.pm1_evt) & PM1_PWRBTN)
		outw(p.pm1_evt, PM1_PWRBTN);          /* a stale press */
	irq_register(SCI_VECTOR, on_sci);
	sci_route(p.sci);
	outw((u16)(p.pm1_evt + 2), PM1_PWRBTN);    /* PWRBTN_EN */
	pr("probe: power-button: ready (SCI %u, PM1a_EVT 0x%x)\n", p.sci, p.pm1_evt);
	__asm__ volatile("sti");
	deadline = rdtsc() + PWRBTN_WAIT_S * tsc_hz();
	while (!sci_count) {
		__asm__ volatile("pause");
		if (rdtsc() > deadline)
			test_fail("no SCI within %d s", PWRBTN_WAIT_S);
	}
	__asm__ volatile("cli");
	if (!(sci_pm1_sts & PM1_PWRBTN))
		test_fail("SCI without PWRBTN_STS (PM1_STS 0x%x)", sci_pm1_sts);
	if (inw(p.pm1_evt) & PM1_PWRBTN)
		test_fail("PWRBTN_STS still set after the write-1-to-clear");
	pr("probe: power-button: SCI %u times, PM1_STS 0x%x; powering off\n", sci_count, sci_pm1_sts);
	pr("probe: test %s: PASS\n", test_name);
	acpi_poweroff(&p);
}

static volatile u32 nmi_count;

static void on_nmi(int vector __attribute__((unused)))
{
	nmi_count++;
}

/* Waits for the NMI the host sends with vm.nmi, then passes. */
noreturn void test_nmi(void)
{
	u64 deadline;

	irq_register(NMI_VECTOR, on_nmi);
	pr("probe: nmi: ready\n");
	deadline = rdtsc() + PWRBTN_WAIT_S * tsc_hz();
	while (!nmi_count) {
		__asm__ volatile("pause");
		if (rdtsc() > deadline)
			test_fail("no NMI within %d s", PWRBTN_WAIT_S);
	}
	pr("probe: nmi: %u NMI(s) taken\n", nmi_count);
	test_pass();
}
