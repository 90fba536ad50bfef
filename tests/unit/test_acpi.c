/* test_acpi.c: unit tests for acpi_build (RSDP, XSDT, FADT, DSDT, MADT), read back at ACPI spec offsets. */
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

struct tables {
	uint8_t buf[BIOS_LEN];
	long used;
};

static struct machine_desc desc(unsigned int nr_cpus)
{
	return (struct machine_desc){ .nr_cpus = nr_cpus, .ioapic_base = LAYOUT_IOAPIC_BASE,
				      .lapic_base = LAYOUT_LAPIC_BASE, .sleep_ctl_port = PORT_ACPI_SLEEP_CTL,
				      .reset_port = PORT_ACPI_RESET, .reset_value = ACPI_RESET_VALUE };
}

static void build(struct tables *t, unsigned int nr_cpus)
{
	struct machine_desc m = desc(nr_cpus);

	memset(t->buf, 0xa5, sizeof(t->buf));   /* garbage, so missing zeroing shows */
	t->used = acpi_build(t->buf, LAYOUT_BIOS_START, sizeof(t->buf), &m);
	cr_assert_gt(t->used, 0, "acpi_build failed: %ld", t->used);
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

Test(acpi, xsdt_has_two_entries)
{
	struct tables t;
	build(&t, 1);
	cr_assert_eq(rd32(xsdt(&t) + HDR_LENGTH), HDR_SIZE + 2 * 8);
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

Test(acpi, last_table_ends_at_returned_size)
{
	struct tables t;
	build(&t, 3);
	cr_assert_eq(madt(&t) + rd32(madt(&t) + HDR_LENGTH), t.buf + t.used);
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
