/* smp.c: the smp test: find CPUs in ACPI/MP tables, start APs with INIT-SIPI-SIPI and count check-ins. */
#include "probe.h"

#define ICR_LO 0x300
#define ICR_HI 0x310

static volatile u32 checked_in;
static volatile u8 seen[256];

static u32 my_apic_id(void)
{
	return lapic_read(0x20) >> 24;
}

static void check_in(void)
{
	static volatile u32 lock;
	u32 id = my_apic_id();
	spin_lock(&lock);
	pr("probe: cpu %u checked in\n", id);
	seen[id & 0xff] = 1;
	__atomic_fetch_add(&checked_in, 1, __ATOMIC_SEQ_CST);
	spin_unlock(&lock);
}

void ap_main(void)
{
	idt_load();
	check_in();
	halt_forever();
}

static void icr_send(u32 apic_id, u32 lo)
{
	lapic_write(ICR_HI, apic_id << 24);
	lapic_write(ICR_LO, lo);
	for (u32 i = 0; i < 100000 && (lapic_read(ICR_LO) & (1u << 12)); i++)
		cpu_relax();
}

static void start_ap(u32 apic_id)
{
	icr_send(apic_id, 0x00004500);			/* INIT, assert */
	delay_us(10000);
	icr_send(apic_id, 0x00004600 | (TRAMP_BASE >> 12));	/* SIPI */
	delay_us(200);
	icr_send(apic_id, 0x00004600 | (TRAMP_BASE >> 12));
}

static int wait_for(u32 n, u64 seconds)
{
	u64 end = rdtsc() + tsc_hz() * seconds;
	while (checked_in < n && rdtsc() < end)
		cpu_relax();
	return checked_in >= n;
}

static int expected_cpus(int found)
{
	u64 want;
	if (!param_size("cpus", &want))
		return found;
	if (want != (u64)found)
		test_fail("cpus=%lu but the %s lists %d", want, "firmware table", found);
	return found;
}

noreturn void test_smp(void)
{
	u8 ids[MAX_CPUS];
	const char *src;
	int n = find_cpus(ids, MAX_CPUS, &src);
	if (n <= 0)
		test_fail("no CPUs found (no ACPI MADT or MP table)");
	pr("probe: smp: %d cpus in %s\n", n, src);
	n = expected_cpus(n);
	memcpy(phys(TRAMP_BASE), tramp_start, (size_t)(tramp_end - tramp_start));
	lapic_write(0xf0, 0x100 | SPURIOUS_VECTOR);
	u32 bsp = my_apic_id();
	check_in();
	for (int i = 0; i < n; i++)
		if (ids[i] != bsp)
			start_ap(ids[i]);
	wait_for((u32)n, 15);
	delay_us(1000);
	for (int i = 0; i < n; i++)
		if (!seen[ids[i]])
			test_fail("cpu %u did not check in (%u of %d did)", ids[i], checked_in, n);
	if (checked_in != (u32)n)
		test_fail("%u cpus checked in, expected %d", checked_in, n);
	pr("probe: smp: all %d cpus checked in\n", n);
	test_pass();
}

/* Starts one more AP (CPU hotplug: the host just made apic_id present); 1 if it checked in. */
int smp_start_one(u32 apic_id, u64 seconds)
{
	u32 before = checked_in;

	memcpy(phys(TRAMP_BASE), tramp_start, (size_t)(tramp_end - tramp_start));
	lapic_write(0xf0, 0x100 | SPURIOUS_VECTOR);
	start_ap(apic_id);
	wait_for(before + 1, seconds);
	return seen[apic_id & 0xff];
}
