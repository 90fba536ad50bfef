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
#define HOST_WAIT_S       30  /* how long a test waits for the host's API request */

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

/* Spins with interrupts as they are until *v has a bit of mask, up to HOST_WAIT_S; 1 if it did. */
static int wait_bits(const volatile u32 *v, u32 mask)
{
	u64 deadline = rdtsc() + HOST_WAIT_S * tsc_hz();

	while (!(*v & mask)) {
		if (rdtsc() > deadline)
			return 0;
		__asm__ volatile("pause");
	}
	return 1;
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
	if (!wait_bits(&sci_count, ~0u))
		test_fail("no SCI within %d s", HOST_WAIT_S);
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
	irq_register(NMI_VECTOR, on_nmi);
	pr("probe: nmi: ready\n");
	if (!wait_bits(&nmi_count, ~0u))
		test_fail("no NMI within %d s", HOST_WAIT_S);
	pr("probe: nmi: %u NMI(s) taken\n", nmi_count);
	test_pass();
}

/* ---- CPU hotplug, as the DSDT's \\_SB.CSCN and the CPU objects drive it ---------------- */

#define CPUHP_PORT      0xaf00  /* cellvm's register block (a real guest finds it in the DSDT) */
#define CPUHP_INSERT    0x20
#define CPUHP_REMOVE    0x40
#define CPUHP_EJECT     0x60
#define GPE_CPUHP       2

static volatile u32 gpe_count;
static volatile u32 cpu_inserted, cpu_removed;
static u16 sci_gpe_port;

/* The GPE handler ACPICA and CSCN make together: acknowledge the GPE, take the CPU events. */
static void on_sci_gpe(int vector __attribute__((unused)))
{
	u8 sts = inb(sci_gpe_port), ins, rem;

	if (sts & (1u << GPE_CPUHP)) {
		outb(sci_gpe_port, 1u << GPE_CPUHP);
		ins = inb(CPUHP_PORT + CPUHP_INSERT);
		rem = inb(CPUHP_PORT + CPUHP_REMOVE);
		outb(CPUHP_PORT + CPUHP_INSERT, ins);
		outb(CPUHP_PORT + CPUHP_REMOVE, rem);
		cpu_inserted |= ins;
		cpu_removed |= rem;
	}
	gpe_count++;  /* every SCI; one without a status bit set is spurious, as ACPICA allows */
}

/* Waits for the SCI that brings an event of CPU 1 into *events. */
static void wait_cpu_event(const volatile u32 *events, const char *what)
{
	if (!wait_bits(events, 2))
		test_fail("no SCI for %s within %d s (%u SCIs)", what, HOST_WAIT_S, gpe_count);
}

/* Boots with one vCPU of two: waits for the host's vm.resize to 2 (GPE, CPU 1 inserted and
 * present), starts CPU 1 with INIT/SIPI, then for the resize back to 1 (remove request), and
 * ejects CPU 1 as _EJ0 does. */
noreturn void test_cpu_hotplug(void)
{
	struct acpi_power p;

	if (acpi_power_regs(&p) || p.hw_reduced || !p.gpe0 || p.gpe0_len != 4 || !p.sci)
		test_fail("no GPE0 block / SCI in the FADT");
	if (inb(CPUHP_PORT) != 1)
		test_fail("present CPUs 0x%x at boot, expected 0x1", inb(CPUHP_PORT));
	sci_gpe_port = p.gpe0;
	irq_register(SCI_VECTOR, on_sci_gpe);
	sci_route(p.sci);
	outb((u16)(p.gpe0 + 2), 1u << GPE_CPUHP);   /* GPE0_EN */
	__asm__ volatile("sti");
	pr("probe: cpu-hotplug: ready for 2 vCPUs\n");
	wait_cpu_event(&cpu_inserted, "the insert of CPU 1");
	if (!(inb(CPUHP_PORT) & 2) || cpu_removed)
		test_fail("CPU 1 inserted but not present (0x%x), or removed (0x%x)", inb(CPUHP_PORT),
			  cpu_removed);
	if (!smp_start_one(1, 15))
		test_fail("the hotplugged CPU 1 did not check in");
	pr("probe: cpu-hotplug: CPU 1 runs; ready for 1 vCPU\n");
	wait_cpu_event(&cpu_removed, "the removal of CPU 1");
	outb(CPUHP_PORT + CPUHP_EJECT, 1);
	if (inb(CPUHP_PORT) != 1)
		test_fail("CPU 1 still present after its eject (0x%x)", inb(CPUHP_PORT));
	pr("probe: cpu-hotplug: CPU 1 ejected (%u SCIs)\n", gpe_count);
	test_pass();
}
