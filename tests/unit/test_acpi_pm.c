/* test_acpi_pm.c: the ACPI PM1/GPE/hotplug registers as a guest (and a hostile one) drives them. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "acpi.h"
#include "acpi_pm.h"
#include "layout.h"
#include "pci_hotplug.h"
#include "vm.h"

extern const struct platform_device *const __start_cellvm_platform_devices[];
extern const struct platform_device *const __stop_cellvm_platform_devices[];

static struct vm vm;
static void *state;
static unsigned int ejected[32];

static void on_ejected(struct vm *v, unsigned int slot)
{
	cr_assert_eq(v, &vm);
	cr_assert_lt(slot, 32);
	ejected[slot]++;
}

/* A VM with no KVM fd (the SCI line then cannot move, which these tests do not look at). */
static void setup(void)
{
	const struct platform_device *const *d;

	memset(&vm, 0, sizeof(vm));
	memset(ejected, 0, sizeof(ejected));
	vm.vm_fd = -1;
	vm.stop_fd = eventfd(0, EFD_CLOEXEC);
	pthread_mutex_init(&vm.stop_lock, NULL);
	vm.pci_ejected = on_ejected;
	for (d = __start_cellvm_platform_devices; d < __stop_cellvm_platform_devices; d++)
		if (!strcmp((*d)->name, "acpi-pm"))
			cr_assert_eq((*d)->create(&vm, &state), 0);
	cr_assert_not_null(vm.acpi_pm);
}

static void teardown(void)
{
	const struct platform_device *const *d;

	for (d = __start_cellvm_platform_devices; d < __stop_cellvm_platform_devices; d++)
		if (!strcmp((*d)->name, "acpi-pm"))
			(*d)->destroy(state);
	close(vm.stop_fd);
}

static uint32_t in(uint16_t port, uint32_t len)
{
	uint8_t b[4] = { 0 };
	uint32_t v = 0;

	cr_assert_eq(bus_read(&vm.pio, port, b, len), 0);
	memcpy(&v, b, len);
	return v;
}

static void out(uint16_t port, uint32_t v, uint32_t len)
{
	cr_assert_eq(bus_write(&vm.pio, port, (const uint8_t *)&v, len), 0);
}

TestSuite(acpi_pm, .init = setup, .fini = teardown);

Test(acpi_pm, power_button_latches_until_written_one_to_clear)
{
	cr_assert_not(acpi_pm_power_button(&vm), "the event is not enabled yet");
	cr_assert_eq(in(PORT_ACPI_PM1_EVT, 2) & 0x100, 0x100);
	out(PORT_ACPI_PM1_EVT + 2, 0x100, 2);                /* PWRBTN_EN */
	cr_assert(acpi_pm_power_button(&vm));
	out(PORT_ACPI_PM1_EVT, 0x0001, 2);                   /* another bit: no effect */
	cr_assert_eq(in(PORT_ACPI_PM1_EVT, 2) & 0x100, 0x100);
	out(PORT_ACPI_PM1_EVT + 1, 0x01, 1);                 /* byte write of bit 8 */
	cr_assert_eq(in(PORT_ACPI_PM1_EVT, 2), 0);
}

Test(acpi_pm, pm1_enable_keeps_only_defined_bits)
{
	out(PORT_ACPI_PM1_EVT + 2, 0xffff, 2);
	cr_assert_eq(in(PORT_ACPI_PM1_EVT + 2, 2), 0x0721);
}

Test(acpi_pm, sci_en_reads_set_and_s5_stops_the_vm)
{
	cr_assert_eq(in(PORT_ACPI_PM1_CNT, 2) & 1, 1);
	out(PORT_ACPI_PM1_CNT, 5 << 10, 2);                  /* SLP_TYP alone: nothing */
	cr_assert_not(vm.stop_requested);
	out(PORT_ACPI_PM1_CNT, (3 << 10) | (1 << 13), 2);    /* S3: not offered, ignored */
	cr_assert_not(vm.stop_requested);
	out(PORT_ACPI_PM1_CNT, (5 << 10) | (1 << 13), 2);
	cr_assert(vm.stop_requested);
	cr_assert_eq(vm.stop.exit_status, 0);
	cr_assert_eq(in(PORT_ACPI_PM1_CNT, 2) & (1 << 13), 0, "SLP_EN is write-only");
}

Test(acpi_pm, pm_timer_counts_up_at_3_58_mhz)
{
	uint32_t a = in(PORT_ACPI_PM_TMR, 4), b;

	usleep(10000);
	b = in(PORT_ACPI_PM_TMR, 4);
	cr_assert_geq(b - a, 35000u, "10 ms is about 35795 ticks (got %u)", b - a);
	cr_assert_eq(acpi_pm_timer_ticks(1000000000ull), 3579545u);
	cr_assert_eq(acpi_pm_timer_ticks(1500000000ull), 3579545u + 1789772u);
}

Test(acpi_pm, hotplug_bitmaps_clear_on_read_and_set_the_gpe)
{
	pci_hotplug_inserted(&vm, 3);
	pci_hotplug_request_eject(&vm, 31);
	cr_assert_eq(in(PORT_ACPI_GPE0, 2), 1u << ACPI_GPE_PCIHP);
	cr_assert_eq(in(PORT_ACPI_PCIHP, 4), 1u << 3);
	cr_assert_eq(in(PORT_ACPI_PCIHP, 4), 0, "PCIU clears as it is read");
	cr_assert_eq(in(PORT_ACPI_PCIHP + 4, 4), 1u << 31);
	cr_assert_eq(in(PORT_ACPI_PCIHP + 4, 4), 0);
	out(PORT_ACPI_GPE0, 1u << ACPI_GPE_PCIHP, 2);
	cr_assert_eq(in(PORT_ACPI_GPE0, 2), 0);
}

Test(acpi_pm, slot_zero_and_out_of_range_slots_are_ignored)
{
	pci_hotplug_inserted(&vm, 0);
	pci_hotplug_inserted(&vm, 32);
	pci_hotplug_request_eject(&vm, 1000);
	cr_assert_eq(in(PORT_ACPI_GPE0, 2), 0);
	cr_assert_eq(in(PORT_ACPI_PCIHP, 4), 0);
}

Test(acpi_pm, eject_register_calls_back_per_slot_never_for_the_host_bridge)
{
	out(PORT_ACPI_PCIHP + 8, 0xffffffffu, 4);            /* a hostile guest: every slot */
	cr_assert_eq(ejected[0], 0);
	for (unsigned int s = 1; s < 32; s++)
		cr_assert_eq(ejected[s], 1, "slot %u", s);
	out(PORT_ACPI_PCIHP + 9, 0x01, 1);                   /* byte write: slot 8 */
	cr_assert_eq(ejected[8], 2);
	cr_assert_eq(in(PORT_ACPI_PCIHP + 8, 4), 0, "B0EJ reads 0");
}

Test(acpi_pm, gpe_enable_and_odd_accesses_stay_in_the_block)
{
	out(PORT_ACPI_GPE0 + 2, 0xffff, 2);
	cr_assert_eq(in(PORT_ACPI_GPE0 + 2, 2), 0xffff);
	out(PORT_ACPI_GPE0 + 3, 0x00, 1);
	cr_assert_eq(in(PORT_ACPI_GPE0 + 2, 2), 0x00ff);
	out(PORT_ACPI_GPE0, 0xffffffffu, 4);                 /* status bits never set by writes */
	cr_assert_eq(in(PORT_ACPI_GPE0, 2), 0);
}

Test(acpi_pm, cpu_hotplug_insert_remove_and_eject)
{
	cr_assert_eq(in(PORT_ACPI_CPUHP + CPUHP_PRESENT, 1), 0, "no vCPU in this bare VM");
	acpi_pm_cpu_inserted(&vm, 9);
	cr_assert(acpi_pm_cpu_present(&vm, 9));
	cr_assert_eq(in(PORT_ACPI_GPE0, 2), 1u << ACPI_GPE_CPUHP);
	cr_assert_eq(in(PORT_ACPI_CPUHP + CPUHP_PRESENT + 1, 1), 0x02);
	cr_assert_eq(in(PORT_ACPI_CPUHP + CPUHP_INSERT + 1, 1), 0x02);
	out(PORT_ACPI_CPUHP + CPUHP_INSERT + 1, 0x02, 1);            /* CSCN's Store (One, CI09) */
	cr_assert_eq(in(PORT_ACPI_CPUHP + CPUHP_INSERT + 1, 1), 0);
	acpi_pm_cpu_request_eject(&vm, 9);
	cr_assert(acpi_pm_cpu_removal_pending(&vm));
	out(PORT_ACPI_CPUHP + CPUHP_EJECT, 9, 1);                     /* _EJ0 */
	cr_assert_not(acpi_pm_cpu_present(&vm, 9));
	cr_assert_not(acpi_pm_cpu_removal_pending(&vm));
}

Test(acpi_pm, cpu_hotplug_hostile_ejects_are_ignored)
{
	acpi_pm_cpu_inserted(&vm, 0);                                 /* never: the boot CPU */
	cr_assert_not(acpi_pm_cpu_present(&vm, 0));
	acpi_pm_cpu_inserted(&vm, 3);
	out(PORT_ACPI_CPUHP + CPUHP_EJECT, 0, 1);                     /* the boot CPU */
	out(PORT_ACPI_CPUHP + CPUHP_EJECT, 200, 1);                   /* not present */
	cr_assert(acpi_pm_cpu_present(&vm, 3));
	out(PORT_ACPI_CPUHP + CPUHP_PRESENT, 0xffffffffu, 4);         /* present is read-only */
	cr_assert_eq(in(PORT_ACPI_CPUHP + CPUHP_PRESENT, 1), 0x08);
	acpi_pm_cpu_inserted(&vm, 1000);                              /* out of range */
	cr_assert_eq(in(PORT_ACPI_CPUHP + CPUHP_EJECT, 1), 0);
}
