/* acpi_hotplug.c: the DSDT's AML for ACPI events: PCI slot hotplug, CPU hotplug and the \_GPE methods. */
#include "acpi_internal.h"

#include "aml.h"

/* Written from ACPI 6.3 (5.6.6 device object notifications, 6.3 device insertion and removal,
 * 8.4 processor objects) and the register layouts in acpi.h and acpi_pm.c. */

#define NOTIFY_DEVICE_CHECK 1    /* ACPI 6.3, 5.6.6: rescan the slot */
#define NOTIFY_EJECT_REQUEST 3   /* let the device go, then call _EJ0 */

/* ---- ACPI PCI hotplug (full ACPI only; the registers are acpi_pm.c's) -------------------- */

#define PCIHP_FIRST_SLOT 1       /* slot 0 is the host bridge */
#define PCIHP_LAST_SLOT  31

static void slot_name(char name[5], unsigned int slot)
{
	static const char hex[] = "0123456789ABCDEF";

	name[0] = 'S';
	name[1] = hex[slot >> 4];
	name[2] = hex[slot & 15];
	name[3] = '_';
	name[4] = 0;
}

/* Method (PCEJ, 1) { Store (ShiftLeft (One, Arg0), B0EJ) }: the guest ejects slot Arg0. */
static void dsdt_pcej(struct aml *a)
{
	size_t m = aml_method_begin(a, "PCEJ", 1, true);

	aml_byte(a, AML_STORE_OP);
	aml_byte(a, AML_SHL_OP);
	aml_integer(a, 1);
	aml_byte(a, AML_ARG0);
	aml_byte(a, AML_NULL_NAME);
	aml_namestring(a, "B0EJ");
	aml_pkg_end(a, m);
}

/* Device (Sxx_) { Name (_ADR, slot << 16), Name (_SUN, slot), Method (_EJ0, 1) { PCEJ (slot) } } */
static void dsdt_slot(struct aml *a, unsigned int slot)
{
	char name[5];
	size_t dev, m;

	slot_name(name, slot);
	dev = aml_device_begin(a, name);
	aml_name_integer(a, "_ADR", (uint64_t)slot << 16);
	aml_name_integer(a, "_SUN", slot);
	m = aml_method_begin(a, "_EJ0", 1, false);
	aml_namestring(a, "PCEJ");
	aml_integer(a, slot);
	aml_pkg_end(a, m);
	aml_pkg_end(a, dev);
}

/* If (And (Localx, 1 << slot)) { Notify (Sxx_, value) } */
static void dsdt_notify_if(struct aml *a, uint8_t local, unsigned int slot, unsigned int value)
{
	char name[5];
	size_t i = aml_if_begin(a);

	slot_name(name, slot);
	aml_byte(a, AML_AND_OP);
	aml_byte(a, local);
	aml_integer(a, 1ull << slot);
	aml_byte(a, AML_NULL_NAME);
	aml_byte(a, AML_NOTIFY_OP);
	aml_namestring(a, name);
	aml_integer(a, value);
	aml_pkg_end(a, i);
}

/* Method (PCNT) { Local0 = PCIU; Local1 = PCID; then one Notify per slot whose bit is set:
 * device check for arrivals, eject request for removals }. Reading clears the registers. */
static void dsdt_pcnt(struct aml *a)
{
	size_t m = aml_method_begin(a, "PCNT", 0, true);

	aml_byte(a, AML_STORE_OP);
	aml_namestring(a, "PCIU");
	aml_byte(a, AML_LOCAL0);
	aml_byte(a, AML_STORE_OP);
	aml_namestring(a, "PCID");
	aml_byte(a, AML_LOCAL0 + 1);
	for (unsigned int slot = PCIHP_FIRST_SLOT; slot <= PCIHP_LAST_SLOT; slot++) {
		dsdt_notify_if(a, AML_LOCAL0, slot, NOTIFY_DEVICE_CHECK);
		dsdt_notify_if(a, AML_LOCAL0 + 1, slot, NOTIFY_EJECT_REQUEST);
	}
	aml_pkg_end(a, m);
}

/* Inside PCI0: the register block, PCEJ, PCNT and a slot object per hotpluggable slot, the
 * shape Linux's acpiphp (and Windows) drive on QEMU's i440fx machine. */
void dsdt_pcihp(struct aml *a, const struct machine_desc *m)
{
	static const char *const regs[] = { "PCIU", "PCID", "B0EJ" };

	aml_opregion_io(a, "PCST", m->pcihp_port, 12);
	aml_field_dwords(a, "PCST", regs, 3);
	dsdt_pcej(a);
	dsdt_pcnt(a);
	for (unsigned int slot = PCIHP_FIRST_SLOT; slot <= PCIHP_LAST_SLOT; slot++)
		dsdt_slot(a, slot);
}

/* ---- ACPI CPU hotplug (full ACPI with nr_boot_cpus < nr_cpus) ---------------------------- */

bool cpu_hotplug(const struct machine_desc *m)
{
	return m->pm1_evt_port && m->nr_boot_cpus && m->nr_boot_cpus < m->nr_cpus;
}

/* Two prefix letters and two hex digits of cpu: the per-CPU objects' names. */
static void cpu_name(char name[5], char prefix0, char prefix1, unsigned int cpu)
{
	static const char hex[] = "0123456789ABCDEF";

	name[0] = prefix0;
	name[1] = prefix1;
	name[2] = hex[(cpu >> 4) & 15];
	name[3] = hex[cpu & 15];
	name[4] = 0;
}

/* OperationRegion (PRST, SystemIO, port, CPUHP_LEN) and its Field: PRxx (present), CIxx
 * (inserted), CRxx (remove request), one bit per CPU at the bitmaps' offsets; CEJ_ the eject
 * byte. ByteAcc with WriteAsZeros, so Store (One, CIxx) writes only that bit: write-1-to-clear. */
static void dsdt_cpu_regs(struct aml *a, const struct machine_desc *m)
{
	static const char first[3] = { 'P', 'C', 'C' };
	static const char second[3] = { 'R', 'I', 'R' };
	char name[5];
	size_t f;

	aml_opregion_io(a, "PRST", m->cpuhp_port, CPUHP_LEN);
	f = aml_field_bytes_begin(a, "PRST");
	for (unsigned int map = 0; map < 3; map++) {
		for (unsigned int cpu = 0; cpu < m->nr_cpus; cpu++) {
			cpu_name(name, first[map], second[map], cpu);
			aml_field_entry(a, name, 1);
		}
		aml_field_entry(a, "", 256 - m->nr_cpus);
	}
	aml_field_entry(a, "CEJ_", 8);
	aml_pkg_end(a, f);
}

/* Device (CPxx) { _HID "ACPI0007", _UID, _MAT (its MADT entry, enabled), _STA from PRxx,
 * _EJ0 writing xx to CEJ_ (not for CPU 0, the boot processor) }. */
static void dsdt_cpu(struct aml *a, unsigned int cpu)
{
	const uint8_t mat[8] = { 0, 8, (uint8_t)cpu, (uint8_t)cpu, MADT_LAPIC_ENABLED, 0, 0, 0 };
	char name[5], present[5];
	size_t dev, meth, cond;

	cpu_name(name, 'C', 'P', cpu);
	cpu_name(present, 'P', 'R', cpu);
	dev = aml_device_begin(a, name);
	aml_name(a, "_HID");
	aml_string(a, "ACPI0007");
	aml_name_integer(a, "_UID", cpu);
	aml_name(a, "_MAT");
	aml_buffer(a, mat, sizeof(mat));
	meth = aml_method_begin(a, "_STA", 0, false);
	cond = aml_if_begin(a);
	aml_namestring(a, present);
	aml_byte(a, AML_RETURN_OP);
	aml_integer(a, 0x0f);
	aml_pkg_end(a, cond);
	aml_byte(a, AML_RETURN_OP);
	aml_integer(a, 0);
	aml_pkg_end(a, meth);
	if (cpu) {
		meth = aml_method_begin(a, "_EJ0", 1, false);
		aml_byte(a, AML_STORE_OP);
		aml_integer(a, cpu);
		aml_namestring(a, "CEJ_");
		aml_pkg_end(a, meth);
	}
	aml_pkg_end(a, dev);
}

/* If (event) { Store (One, event); Notify (CPxx, value) } */
static void dsdt_cpu_event(struct aml *a, unsigned int cpu, char kind, unsigned int value)
{
	char ev[5], dev[5];
	size_t cond = aml_if_begin(a);

	cpu_name(ev, 'C', kind, cpu);
	cpu_name(dev, 'C', 'P', cpu);
	aml_namestring(a, ev);
	aml_byte(a, AML_STORE_OP);
	aml_integer(a, 1);
	aml_namestring(a, ev);
	aml_byte(a, AML_NOTIFY_OP);
	aml_namestring(a, dev);
	aml_integer(a, value);
	aml_pkg_end(a, cond);
}

/* In \_SB: the registers, a device per possible CPU, and CSCN, which the CPU hotplug GPE runs:
 * device check for each arrived CPU, eject request for each one asked back. */
void dsdt_cpus(struct aml *a, const struct machine_desc *m)
{
	size_t meth;

	dsdt_cpu_regs(a, m);
	for (unsigned int cpu = 0; cpu < m->nr_cpus; cpu++)
		dsdt_cpu(a, cpu);
	meth = aml_method_begin(a, "CSCN", 0, true);
	for (unsigned int cpu = 1; cpu < m->nr_cpus; cpu++) {
		dsdt_cpu_event(a, cpu, 'I', NOTIFY_DEVICE_CHECK);
		dsdt_cpu_event(a, cpu, 'R', NOTIFY_EJECT_REQUEST);
	}
	aml_pkg_end(a, meth);
}

/* Method (_Exx) { path () }: xx is gpe in hex, path the NameString of the method to call. */
static void gpe_method(struct aml *a, uint8_t gpe, const char *path, size_t path_len)
{
	static const char hex[] = "0123456789ABCDEF";
	char name[5] = { '_', 'E', hex[(gpe >> 4) & 15], hex[gpe & 15], 0 };
	size_t meth = aml_method_begin(a, name, 0, false);

	aml_bytes(a, path, path_len);
	aml_pkg_end(a, meth);
}

/* Scope (\_GPE) { Method (_E01) { \_SB.PCI0.PCNT () } [Method (_E02) { \_SB.CSCN () }] } */
void dsdt_gpe(struct aml *a, const struct machine_desc *m)
{
	static const char pcnt[] = "\\\x2f\x03_SB_PCI0PCNT"; /* \ MultiNamePrefix, 3 segments */
	static const char cscn[] = "\\\x2e_SB_CSCN";          /* \ DualNamePrefix */
	size_t scope = aml_scope_begin(a, "\\_GPE");

	gpe_method(a, m->pcihp_gpe, pcnt, sizeof(pcnt) - 1);
	if (cpu_hotplug(m))
		gpe_method(a, m->cpuhp_gpe, cscn, sizeof(cscn) - 1);
	aml_pkg_end(a, scope);
}

