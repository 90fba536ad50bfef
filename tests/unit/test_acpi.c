/* test_acpi.c: unit tests for acpi_build (RSDP, XSDT, FADT, DSDT, MADT, MCFG), read back at spec offsets. */
#define _GNU_SOURCE     /* memmem */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "acpi.h"
#include "layout.h"

#define BIOS_LEN (LAYOUT_BIOS_END - LAYOUT_BIOS_START)

/* Field offsets from the ACPI 6.3 specification. */
#define HDR_LENGTH          4
#define HDR_REVISION        8
#define HDR_SIZE            36
#define RSDP_REVISION       15
#define RSDP_XSDT           24
#define FADT_DSDT           40
#define FADT_IAPC_BOOT_ARCH 109
#define FADT_FLAGS          112
#define FADT_RESET_REG      116
#define FADT_RESET_VALUE    128
#define FADT_X_DSDT         140
#define FADT_SLEEP_CTL      244
#define FADT_SLEEP_STS      256
#define MADT_LAPIC_ADDR     36
#define MADT_FLAGS          40
#define MADT_ENTRIES        44
#define MCFG_ALLOC          44      /* first allocation (PCI Firmware 3.2, 4.1.2) */

struct tables {
	uint8_t buf[BIOS_LEN];
	long used;
};

static struct machine_desc desc(unsigned int nr_cpus)
{
	return (struct machine_desc){ .nr_cpus = nr_cpus, .ioapic_base = LAYOUT_IOAPIC_BASE,
				      .lapic_base = LAYOUT_LAPIC_BASE, .sleep_ctl_port = PORT_ACPI_SLEEP_CTL,
				      .reset_port = PORT_ACPI_RESET, .reset_value = ACPI_RESET_VALUE,
				      .pci_ecam_base = LAYOUT_PCI_ECAM, .pci_last_bus = 0,
				      .pci_mmio_start = LAYOUT_PCI_MMIO_START, .pci_mmio_end = LAYOUT_PCI_MMIO_END };
}

static void build_desc(struct tables *t, const struct machine_desc *m)
{
	memset(t->buf, 0xa5, sizeof(t->buf));   /* garbage, so missing zeroing shows */
	t->used = acpi_build(t->buf, LAYOUT_BIOS_START, sizeof(t->buf), m);
	cr_assert_gt(t->used, 0, "acpi_build failed: %ld", t->used);
}

static void build(struct tables *t, unsigned int nr_cpus)
{
	struct machine_desc m = desc(nr_cpus);

	build_desc(t, &m);
}

static uint16_t rd16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }
static uint32_t rd32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t rd64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }

static uint8_t sum(const uint8_t *p, size_t len)
{
	uint8_t s = 0;

	for (size_t i = 0; i < len; i++)
		s = (uint8_t)(s + p[i]);
	return s;
}

/* Host pointer for a GPA inside the buffer (asserts it lies inside). */
static const uint8_t *at(const struct tables *t, uint64_t gpa)
{
	cr_assert(gpa >= LAYOUT_BIOS_START && gpa < LAYOUT_BIOS_START + (uint64_t)t->used,
		  "GPA 0x%llx outside the tables", (unsigned long long)gpa);
	return t->buf + (gpa - LAYOUT_BIOS_START);
}

static const uint8_t *xsdt(const struct tables *t) { return at(t, rd64(t->buf + RSDP_XSDT)); }
static const uint8_t *xsdt_entry(const struct tables *t, int i) { return at(t, rd64(xsdt(t) + HDR_SIZE + 8 * i)); }
static const uint8_t *fadt(const struct tables *t) { return xsdt_entry(t, 0); }
static const uint8_t *madt(const struct tables *t) { return xsdt_entry(t, 1); }
static const uint8_t *mcfg(const struct tables *t) { return xsdt_entry(t, 2); }
static const uint8_t *dsdt(const struct tables *t) { return at(t, rd64(fadt(t) + FADT_X_DSDT)); }

static uint8_t table_sum(const uint8_t *table)
{
	return sum(table, rd32(table + HDR_LENGTH));
}

/* Offset of the MADT entry after the one at off; asserts the entry has a sane length. */
static size_t madt_next(const uint8_t *m, size_t off)
{
	cr_assert(m[off + 1] >= 2 && off + m[off + 1] <= rd32(m + HDR_LENGTH),
		  "bad MADT entry length %u at %zu", m[off + 1], off);
	return off + m[off + 1];
}

/* Number of MADT entries of the given type. */
static unsigned int madt_count(const uint8_t *m, uint8_t type)
{
	unsigned int n = 0;

	for (size_t off = MADT_ENTRIES; off < rd32(m + HDR_LENGTH); off = madt_next(m, off))
		n += m[off] == type;
	return n;
}

/* The first MADT entry of the given type. */
static const uint8_t *madt_find(const uint8_t *m, uint8_t type)
{
	size_t off = MADT_ENTRIES;

	while (off < rd32(m + HDR_LENGTH) && m[off] != type)
		off = madt_next(m, off);
	cr_assert_lt(off, rd32(m + HDR_LENGTH), "no MADT entry of type %u", type);
	return m + off;
}

static bool dsdt_contains(const uint8_t *d, const uint8_t *needle, size_t len)
{
	return memmem(d, rd32(d + HDR_LENGTH), needle, len) != NULL;
}

/* True if the DSDT has Device (name): ExtOpPrefix, DeviceOp, a PkgLength of 1-4 bytes
 * (its lead byte's bits 7:6 count the extra bytes), then the 4-character name. */
static bool dsdt_has_device(const uint8_t *d, const char name[4])
{
	uint32_t len = rd32(d + HDR_LENGTH);

	for (uint32_t i = HDR_SIZE; i + 2 < len; i++) {
		uint32_t name_at = i + 2 + 1 + (d[i + 2] >> 6);

		if (d[i] == 0x5b && d[i + 1] == 0x82 && name_at + 4 <= len && !memcmp(d + name_at, name, 4))
			return true;
	}
	return false;
}

/* ---- RSDP ---- */

Test(acpi, rsdp_has_signature_at_buffer_start)
{
	struct tables t;
	build(&t, 1);
	cr_assert_arr_eq(t.buf, "RSD PTR ", 8);
}

Test(acpi, rsdp_is_revision_2)
{
	struct tables t;
	build(&t, 1);
	cr_assert_eq(t.buf[RSDP_REVISION], 2);
}

Test(acpi, rsdp_first_20_bytes_checksum_to_zero)
{
	struct tables t;
	build(&t, 1);
	cr_assert_eq(sum(t.buf, 20), 0);
}

Test(acpi, rsdp_all_36_bytes_checksum_to_zero)
{
	struct tables t;
	build(&t, 1);
	cr_assert_eq(rd32(t.buf + 20), 36);
	cr_assert_eq(sum(t.buf, 36), 0);
}

/* ---- Table checksums ---- */

Test(acpi, xsdt_checksums_to_zero)
{
	struct tables t;
	build(&t, 2);
	cr_assert_eq(table_sum(xsdt(&t)), 0);
}

Test(acpi, fadt_checksums_to_zero)
{
	struct tables t;
	build(&t, 2);
	cr_assert_eq(table_sum(fadt(&t)), 0);
}

Test(acpi, dsdt_checksums_to_zero)
{
	struct tables t;
	build(&t, 2);
	cr_assert_eq(table_sum(dsdt(&t)), 0);
}

Test(acpi, madt_checksums_to_zero)
{
	struct tables t;
	build(&t, 64);
	cr_assert_eq(table_sum(madt(&t)), 0);
}

/* ---- XSDT ---- */

Test(acpi, mcfg_checksums_to_zero)
{
	struct tables t;
	build(&t, 2);
	cr_assert_eq(table_sum(mcfg(&t)), 0);
}

Test(acpi, xsdt_has_three_entries)
{
	struct tables t;
	build(&t, 1);
	cr_assert_eq(rd32(xsdt(&t) + HDR_LENGTH), HDR_SIZE + 3 * 8);
}

Test(acpi, xsdt_first_entry_is_fadt_inside_buffer)
{
	struct tables t;
	build(&t, 1);
	cr_assert_arr_eq(fadt(&t), "FACP", 4);
}

Test(acpi, xsdt_second_entry_is_madt_inside_buffer)
{
	struct tables t;
	build(&t, 1);
	cr_assert_arr_eq(madt(&t), "APIC", 4);
}

Test(acpi, xsdt_third_entry_is_mcfg_inside_buffer)
{
	struct tables t;
	build(&t, 1);
	cr_assert_arr_eq(mcfg(&t), "MCFG", 4);
}

Test(acpi, last_table_ends_at_returned_size)
{
	struct tables t;
	build(&t, 3);
	cr_assert_eq(mcfg(&t) + rd32(mcfg(&t) + HDR_LENGTH), t.buf + t.used);
}

/* ---- FADT ---- */

Test(acpi, fadt_is_revision_6_with_276_bytes)
{
	struct tables t;
	build(&t, 1);
	cr_assert_eq(fadt(&t)[HDR_REVISION], 6);
	cr_assert_eq(rd32(fadt(&t) + HDR_LENGTH), 276);
}

Test(acpi, fadt_sets_hw_reduced_acpi_flag)
{
	struct tables t;
	build(&t, 1);
	cr_assert(rd32(fadt(&t) + FADT_FLAGS) & (1u << 20));
}

Test(acpi, fadt_sets_reset_reg_supported_flag)
{
	struct tables t;
	build(&t, 1);
	cr_assert(rd32(fadt(&t) + FADT_FLAGS) & (1u << 10));
}

Test(acpi, fadt_boot_arch_says_no_vga_and_no_8042)
{
	struct tables t;
	build(&t, 1);
	cr_assert_eq(rd16(fadt(&t) + FADT_IAPC_BOOT_ARCH), 1u << 2);
}

Test(acpi, fadt_sleep_control_register_is_8bit_system_io_port)
{
	struct tables t;
	const uint8_t expected[12] = { 1, 8, 0, 1, PORT_ACPI_SLEEP_CTL & 0xff, PORT_ACPI_SLEEP_CTL >> 8 };
	build(&t, 1);
	cr_assert_arr_eq(fadt(&t) + FADT_SLEEP_CTL, expected, 12);
}

Test(acpi, fadt_sleep_status_register_is_8bit_system_io_port)
{
	struct tables t;
	const uint8_t expected[12] = { 1, 8, 0, 1, PORT_ACPI_SLEEP_CTL & 0xff, PORT_ACPI_SLEEP_CTL >> 8 };
	build(&t, 1);
	cr_assert_arr_eq(fadt(&t) + FADT_SLEEP_STS, expected, 12);
}

Test(acpi, fadt_reset_register_is_8bit_system_io_port)
{
	struct tables t;
	const uint8_t expected[12] = { 1, 8, 0, 1, PORT_ACPI_RESET & 0xff, PORT_ACPI_RESET >> 8 };
	build(&t, 1);
	cr_assert_arr_eq(fadt(&t) + FADT_RESET_REG, expected, 12);
}

Test(acpi, fadt_reset_value_comes_from_machine_desc)
{
	struct tables t;
	build(&t, 1);
	cr_assert_eq(fadt(&t)[FADT_RESET_VALUE], ACPI_RESET_VALUE);
}

Test(acpi, fadt_x_dsdt_points_at_dsdt)
{
	struct tables t;
	build(&t, 1);
	cr_assert_arr_eq(dsdt(&t), "DSDT", 4);
}

Test(acpi, fadt_32bit_dsdt_matches_x_dsdt)
{
	struct tables t;
	build(&t, 1);
	cr_assert_eq(rd32(fadt(&t) + FADT_DSDT), rd64(fadt(&t) + FADT_X_DSDT));
}

/* ---- DSDT ---- */

Test(acpi, dsdt_has_s5_package_with_slp_typ_5)
{
	struct tables t;
	/* Name (_S5_, Package (4) { 0x05, Zero, Zero, Zero }) */
	const uint8_t s5[] = { 0x08, '_', 'S', '5', '_', 0x12, 0x07, 0x04, 0x0a, 0x05, 0x00, 0x00, 0x00 };
	build(&t, 1);
	cr_assert(dsdt_contains(dsdt(&t), s5, sizeof(s5)));
}

Test(acpi, dsdt_has_com1_with_pnp0501_hid)
{
	struct tables t;
	/* Name (_HID, EisaId ("PNP0501")) */
	const uint8_t hid[] = { 0x08, '_', 'H', 'I', 'D', 0x0c, 0x41, 0xd0, 0x05, 0x01 };
	build(&t, 1);
	cr_assert(dsdt_contains(dsdt(&t), hid, sizeof(hid)));
}

Test(acpi, dsdt_com1_crs_has_io_3f8_and_irq4)
{
	struct tables t;
	/* IO (Decode16, 0x3F8, 0x3F8, 0, 8), IRQNoFlags () {4}, EndTag */
	const uint8_t crs[] = { 0x47, 0x01, 0xf8, 0x03, 0xf8, 0x03, 0x00, 0x08, 0x22, 0x10, 0x00, 0x79, 0x00 };
	build(&t, 1);
	cr_assert(dsdt_contains(dsdt(&t), crs, sizeof(crs)));
}

/* ---- DSDT: PCI host bridge and motherboard resources ---- */

Test(acpi, dsdt_has_pci0_and_mb00_devices)
{
	struct tables t;
	build(&t, 1);
	cr_assert(dsdt_has_device(dsdt(&t), "COM1"));
	cr_assert(dsdt_has_device(dsdt(&t), "PCI0"));
	cr_assert(dsdt_has_device(dsdt(&t), "MB00"));
	cr_assert_not(dsdt_has_device(dsdt(&t), "PCI1"));
}

Test(acpi, dsdt_pci0_has_pnp0a08_hid)
{
	struct tables t;
	/* Device (PCI0) { Name (_HID, EisaId ("PNP0A08")) */
	const uint8_t hid[] = { 'P', 'C', 'I', '0', 0x08, '_', 'H', 'I', 'D', 0x0c, 0x41, 0xd0, 0x0a, 0x08 };
	build(&t, 1);
	cr_assert(dsdt_contains(dsdt(&t), hid, sizeof(hid)));
}

Test(acpi, dsdt_pci0_has_pnp0a03_cid)
{
	struct tables t;
	/* Name (_CID, EisaId ("PNP0A03")) */
	const uint8_t cid[] = { 0x08, '_', 'C', 'I', 'D', 0x0c, 0x41, 0xd0, 0x0a, 0x03 };
	build(&t, 1);
	cr_assert(dsdt_contains(dsdt(&t), cid, sizeof(cid)));
}

Test(acpi, dsdt_pci0_is_segment_0_bus_0_uid_0)
{
	struct tables t;
	/* Name (_SEG, Zero), Name (_BBN, Zero), Name (_UID, Zero) */
	const uint8_t ids[] = { 0x08, '_', 'S', 'E', 'G', 0x00, 0x08, '_', 'B', 'B', 'N', 0x00,
				0x08, '_', 'U', 'I', 'D', 0x00 };
	build(&t, 1);
	cr_assert(dsdt_contains(dsdt(&t), ids, sizeof(ids)));
}

Test(acpi, dsdt_pci0_crs_has_word_bus_number_0_to_0)
{
	struct tables t;
	/* WordBusNumber (ResourceProducer, MinFixed, MaxFixed, PosDecode, 0, 0, 0, 0, 1) */
	const uint8_t bus[] = { 0x88, 0x0d, 0x00, 0x02, 0x0c, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0 };
	build(&t, 1);
	cr_assert(dsdt_contains(dsdt(&t), bus, sizeof(bus)));
}

Test(acpi, dsdt_pci0_crs_consumes_config_ports)
{
	struct tables t;
	/* IO (Decode16, 0x0CF8, 0x0CF8, 0x01, 0x08) */
	const uint8_t io[] = { 0x47, 0x01, 0xf8, 0x0c, 0xf8, 0x0c, 0x01, 0x08 };
	build(&t, 1);
	cr_assert(dsdt_contains(dsdt(&t), io, sizeof(io)));
}

Test(acpi, dsdt_pci0_crs_forwards_io_below_and_above_config_ports)
{
	struct tables t;
	/* WordIO (ResourceProducer, MinFixed, MaxFixed, PosDecode, EntireRange, 0, min, max, 0, len) */
	const uint8_t low[] = { 0x88, 0x0d, 0x00, 0x01, 0x0c, 0x03, 0, 0, 0x00, 0x00, 0xf7, 0x0c, 0, 0, 0xf8, 0x0c };
	const uint8_t high[] = { 0x88, 0x0d, 0x00, 0x01, 0x0c, 0x03, 0, 0, 0x00, 0x0d, 0xff, 0xff, 0, 0, 0x00, 0xf3 };
	build(&t, 1);
	cr_assert(dsdt_contains(dsdt(&t), low, sizeof(low)));
	cr_assert(dsdt_contains(dsdt(&t), high, sizeof(high)));
}

Test(acpi, dsdt_pci0_crs_forwards_32bit_bar_window)
{
	struct tables t;
	/* DWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed, NonCacheable, ReadWrite,
	 * 0, 0xC0000000, 0xDFFFFFFF, 0, 0x20000000) */
	const uint8_t mem[] = { 0x87, 0x17, 0x00, 0x00, 0x0c, 0x01, 0, 0, 0, 0, 0x00, 0x00, 0x00, 0xc0,
				0xff, 0xff, 0xff, 0xdf, 0, 0, 0, 0, 0x00, 0x00, 0x00, 0x20 };
	build(&t, 1);
	cr_assert(dsdt_contains(dsdt(&t), mem, sizeof(mem)));
}

Test(acpi, dsdt_mb00_has_pnp0c02_hid)
{
	struct tables t;
	/* Device (MB00) { Name (_HID, EisaId ("PNP0C02")) */
	const uint8_t hid[] = { 'M', 'B', '0', '0', 0x08, '_', 'H', 'I', 'D', 0x0c, 0x41, 0xd0, 0x0c, 0x02 };
	build(&t, 1);
	cr_assert(dsdt_contains(dsdt(&t), hid, sizeof(hid)));
}

Test(acpi, dsdt_mb00_crs_reserves_the_ecam_window)
{
	struct tables t;
	/* Memory32Fixed (ReadWrite, 0xE0000000, 0x00100000), EndTag */
	const uint8_t crs[] = { 0x86, 0x09, 0x00, 0x01, 0x00, 0x00, 0x00, 0xe0, 0x00, 0x00, 0x10, 0x00,
				0x79, 0x00 };
	build(&t, 1);
	cr_assert(dsdt_contains(dsdt(&t), crs, sizeof(crs)));
}

Test(acpi, dsdt_bus_range_and_ecam_size_follow_last_bus)
{
	struct tables t;
	struct machine_desc m = desc(1);
	const uint8_t bus[] = { 0x88, 0x0d, 0x00, 0x02, 0x0c, 0x00, 0, 0, 0, 0, 3, 0, 0, 0, 4, 0 };
	const uint8_t ecam[] = { 0x86, 0x09, 0x00, 0x01, 0x00, 0x00, 0x00, 0xe0, 0x00, 0x00, 0x40, 0x00 };

	m.pci_last_bus = 3;
	build_desc(&t, &m);
	cr_assert(dsdt_contains(dsdt(&t), bus, sizeof(bus)));
	cr_assert(dsdt_contains(dsdt(&t), ecam, sizeof(ecam)));
	cr_assert_eq(mcfg(&t)[MCFG_ALLOC + 11], 3);
}

/* ---- MCFG ---- */

Test(acpi, mcfg_is_revision_1_with_one_allocation)
{
	struct tables t;
	build(&t, 1);
	cr_assert_eq(mcfg(&t)[HDR_REVISION], 1);
	cr_assert_eq(rd32(mcfg(&t) + HDR_LENGTH), 44 + 16);
	cr_assert_eq(rd64(mcfg(&t) + HDR_SIZE), 0, "reserved bytes 36-43 must be zero");
}

Test(acpi, mcfg_allocation_base_is_the_ecam)
{
	struct tables t;
	build(&t, 1);
	cr_assert_eq(rd64(mcfg(&t) + MCFG_ALLOC), LAYOUT_PCI_ECAM);
}

Test(acpi, mcfg_allocation_is_segment_0_buses_0_to_0)
{
	struct tables t;
	build(&t, 1);
	cr_assert_eq(rd16(mcfg(&t) + MCFG_ALLOC + 8), 0);
	cr_assert_eq(mcfg(&t)[MCFG_ALLOC + 10], 0, "start bus");
	cr_assert_eq(mcfg(&t)[MCFG_ALLOC + 11], 0, "end bus");
	cr_assert_eq(rd32(mcfg(&t) + MCFG_ALLOC + 12), 0, "reserved");
}

/* ---- MADT ---- */

Test(acpi, madt_has_one_lapic_for_1_cpu)
{
	struct tables t;
	build(&t, 1);
	cr_assert_eq(madt_count(madt(&t), 0), 1);
}

Test(acpi, madt_has_one_lapic_per_cpu_for_2_cpus)
{
	struct tables t;
	build(&t, 2);
	cr_assert_eq(madt_count(madt(&t), 0), 2);
}

Test(acpi, madt_has_one_lapic_per_cpu_for_64_cpus)
{
	struct tables t;
	build(&t, 64);
	cr_assert_eq(madt_count(madt(&t), 0), 64);
}

Test(acpi, madt_lapic_address_and_pcat_compat)
{
	struct tables t;
	build(&t, 1);
	cr_assert_eq(rd32(madt(&t) + MADT_LAPIC_ADDR), LAYOUT_LAPIC_BASE);
	cr_assert_eq(rd32(madt(&t) + MADT_FLAGS), 1);
}

Test(acpi, madt_last_lapic_has_uid_and_apic_id_equal_to_index_and_enabled)
{
	struct tables t;
	const uint8_t expected[8] = { 0, 8, 63, 63, 1, 0, 0, 0 };
	build(&t, 64);
	cr_assert_arr_eq(madt(&t) + MADT_ENTRIES + 63 * 8, expected, 8);
}

Test(acpi, madt_ioapic_id_follows_cpu_apic_ids)
{
	struct tables t;
	const uint8_t expected[12] = { 1, 12, 4, 0, 0x00, 0x00, 0xc0, 0xfe, 0, 0, 0, 0 };
	build(&t, 4);
	cr_assert_arr_eq(madt_find(madt(&t), 1), expected, 12);
}

Test(acpi, madt_overrides_irq0_to_gsi2_edge_high)
{
	struct tables t;
	const uint8_t expected[10] = { 2, 10, 0, 0, 2, 0, 0, 0, 0x05, 0x00 };
	build(&t, 1);
	cr_assert_arr_eq(madt_find(madt(&t), 2), expected, 10);
}

Test(acpi, madt_routes_nmi_to_lint1_of_all_cpus)
{
	struct tables t;
	const uint8_t expected[6] = { 4, 6, 0xff, 0, 0, 1 };
	build(&t, 1);
	cr_assert_arr_eq(madt_find(madt(&t), 4), expected, 6);
}

/* ---- Errors ---- */

Test(acpi, tiny_buffer_gives_enospc)
{
	uint8_t buf[64];
	struct machine_desc m = desc(1);
	cr_assert_eq(acpi_build(buf, LAYOUT_BIOS_START, sizeof(buf), &m), -ENOSPC);
}

Test(acpi, buffer_one_byte_short_gives_enospc)
{
	struct tables t;
	struct machine_desc m = desc(8);
	build(&t, 8);
	cr_assert_eq(acpi_build(t.buf, LAYOUT_BIOS_START, (size_t)t.used - 1, &m), -ENOSPC);
}

Test(acpi, buffer_of_exact_size_is_enough)
{
	struct tables t;
	struct machine_desc m = desc(8);
	build(&t, 8);
	cr_assert_eq(acpi_build(t.buf, LAYOUT_BIOS_START, (size_t)t.used, &m), t.used);
}

Test(acpi, zero_cpus_gives_einval)
{
	struct tables t;
	struct machine_desc m = desc(0);
	cr_assert_eq(acpi_build(t.buf, LAYOUT_BIOS_START, sizeof(t.buf), &m), -EINVAL);
}

Test(acpi, cpus_beyond_254_give_einval)
{
	struct tables t;
	struct machine_desc m = desc(255);
	cr_assert_eq(acpi_build(t.buf, LAYOUT_BIOS_START, sizeof(t.buf), &m), -EINVAL);
}

Test(acpi, max_254_cpus_fit)
{
	struct tables t;
	build(&t, 254);
	cr_assert_eq(madt_count(madt(&t), 0), 254);
}

Test(acpi, missing_ecam_gives_einval)
{
	struct tables t;
	struct machine_desc m = desc(1);
	m.pci_ecam_base = 0;
	cr_assert_eq(acpi_build(t.buf, LAYOUT_BIOS_START, sizeof(t.buf), &m), -EINVAL);
}

Test(acpi, ecam_not_aligned_to_its_size_gives_einval)
{
	struct tables t;
	struct machine_desc m = desc(1);
	m.pci_ecam_base = LAYOUT_PCI_ECAM + 0x80000;
	cr_assert_eq(acpi_build(t.buf, LAYOUT_BIOS_START, sizeof(t.buf), &m), -EINVAL);
	m.pci_ecam_base = LAYOUT_PCI_ECAM + MiB;      /* 2 buses need 2 MiB alignment */
	m.pci_last_bus = 1;
	cr_assert_eq(acpi_build(t.buf, LAYOUT_BIOS_START, sizeof(t.buf), &m), -EINVAL);
}

Test(acpi, ecam_above_4g_gives_einval)
{
	struct tables t;
	struct machine_desc m = desc(1);
	m.pci_ecam_base = 4 * GiB;
	cr_assert_eq(acpi_build(t.buf, LAYOUT_BIOS_START, sizeof(t.buf), &m), -EINVAL);
}

Test(acpi, empty_or_64bit_bar_window_gives_einval)
{
	struct tables t;
	struct machine_desc m = desc(1);
	m.pci_mmio_end = m.pci_mmio_start;
	cr_assert_eq(acpi_build(t.buf, LAYOUT_BIOS_START, sizeof(t.buf), &m), -EINVAL);
	m.pci_mmio_end = 4 * GiB + 1;
	cr_assert_eq(acpi_build(t.buf, LAYOUT_BIOS_START, sizeof(t.buf), &m), -EINVAL);
}
