/* test_mptable.c: unit tests for mptable_build, read back at MultiProcessor Specification 1.4 offsets. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "acpi.h"
#include "layout.h"

#define EBDA_LEN 1024u

/* Offsets from the MP spec 1.4, chapter 4. */
#define MPF_CONFIG_PTR   4
#define MPF_LENGTH       8
#define MPF_SPEC_REV     9
#define MPF_SIZE         16
#define MPC_BASE_LENGTH  4
#define MPC_SPEC_REV     6
#define MPC_OEM_ID       8
#define MPC_ENTRY_COUNT  34
#define MPC_LAPIC_ADDR   36
#define MPC_SIZE         44
#define CPU_LAPIC_ID     1
#define CPU_FLAGS        3
#define CPU_FLAG_EN      0x01
#define CPU_FLAG_BP      0x02
#define INT_TYPE         1
#define INT_SRC_IRQ      5
#define INT_DST_ID       6
#define INT_DST_PIN      7

enum { MP_PROCESSOR = 0, MP_BUS = 1, MP_IOAPIC = 2, MP_IO_INT = 3, MP_LOCAL_INT = 4 };

struct mp {
	uint8_t buf[EBDA_LEN];
	long used;
};

static struct machine_desc desc(unsigned int nr_cpus)
{
	return (struct machine_desc){ .nr_cpus = nr_cpus, .ioapic_base = LAYOUT_IOAPIC_BASE,
				      .lapic_base = LAYOUT_LAPIC_BASE, .sleep_ctl_port = PORT_ACPI_SLEEP_CTL,
				      .reset_port = PORT_ACPI_RESET, .reset_value = ACPI_RESET_VALUE };
}

static void build(struct mp *t, unsigned int nr_cpus)
{
	struct machine_desc m = desc(nr_cpus);

	memset(t->buf, 0xa5, sizeof(t->buf));
	t->used = mptable_build(t->buf, LAYOUT_EBDA_START, sizeof(t->buf), &m);
	cr_assert_gt(t->used, 0, "mptable_build failed: %ld", t->used);
}

static uint16_t rd16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }
static uint32_t rd32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }

static uint8_t sum(const uint8_t *p, size_t len)
{
	uint8_t s = 0;

	for (size_t i = 0; i < len; i++)
		s = (uint8_t)(s + p[i]);
	return s;
}

/* The config table, found through the floating pointer. */
static const uint8_t *config(const struct mp *t)
{
	uint32_t gpa = rd32(t->buf + MPF_CONFIG_PTR);

	cr_assert(gpa >= LAYOUT_EBDA_START && gpa + MPC_SIZE <= LAYOUT_EBDA_START + (uint64_t)t->used);
	return t->buf + (gpa - LAYOUT_EBDA_START);
}

static size_t entry_size(uint8_t type)
{
	return type == MP_PROCESSOR ? 20 : 8;
}

/* The index-th entry (counting from 0) of the given type, or NULL. */
static const uint8_t *entry(const uint8_t *cfg, uint8_t type, unsigned int index)
{
	const uint8_t *p = cfg + MPC_SIZE, *end = cfg + rd16(cfg + MPC_BASE_LENGTH);

	for (; p < end; p += entry_size(*p))
		if (*p == type && index-- == 0)
			return p;
	return NULL;
}

static unsigned int count(const uint8_t *cfg, uint8_t type)
{
	unsigned int n = 0;

	while (entry(cfg, type, n))
		n++;
	return n;
}

/* Number of entries of the given type whose byte at field has all bits of mask set. */
static unsigned int count_with(const uint8_t *cfg, uint8_t type, size_t field, uint8_t mask)
{
	unsigned int n = 0;

	for (unsigned int i = 0; entry(cfg, type, i); i++)
		n += (entry(cfg, type, i)[field] & mask) == mask;
	return n;
}

/* ---- Floating pointer ---- */

Test(mptable, floating_pointer_has_signature_and_spec_rev_4)
{
	struct mp t;
	build(&t, 1);
	cr_assert_arr_eq(t.buf, "_MP_", 4);
	cr_assert_eq(t.buf[MPF_SPEC_REV], 4);
}

Test(mptable, floating_pointer_is_one_paragraph)
{
	struct mp t;
	build(&t, 1);
	cr_assert_eq(t.buf[MPF_LENGTH], 1);
}

Test(mptable, floating_pointer_checksums_to_zero)
{
	struct mp t;
	build(&t, 2);
	cr_assert_eq(sum(t.buf, MPF_SIZE), 0);
}

Test(mptable, floating_pointer_points_right_after_itself)
{
	struct mp t;
	build(&t, 2);
	cr_assert_eq(rd32(t.buf + MPF_CONFIG_PTR), LAYOUT_EBDA_START + MPF_SIZE);
}

/* ---- Config table ---- */

Test(mptable, config_table_has_signature_oem_and_spec_rev_4)
{
	struct mp t;
	build(&t, 1);
	cr_assert_arr_eq(config(&t), "PCMP", 4);
	cr_assert_arr_eq(config(&t) + MPC_OEM_ID, "CELLVM  ", 8);
	cr_assert_eq(config(&t)[MPC_SPEC_REV], 4);
}

Test(mptable, config_table_checksums_to_zero)
{
	struct mp t;
	build(&t, 4);
	cr_assert_eq(sum(config(&t), rd16(config(&t) + MPC_BASE_LENGTH)), 0);
}

Test(mptable, config_table_ends_at_returned_size)
{
	struct mp t;
	build(&t, 4);
	cr_assert_eq(config(&t) + rd16(config(&t) + MPC_BASE_LENGTH), t.buf + t.used);
}

Test(mptable, config_table_has_lapic_address)
{
	struct mp t;
	build(&t, 1);
	cr_assert_eq(rd32(config(&t) + MPC_LAPIC_ADDR), LAYOUT_LAPIC_BASE);
}

Test(mptable, entry_count_covers_all_entries)
{
	struct mp t;
	build(&t, 3);
	/* 3 CPUs + bus + I/O APIC + 15 I/O interrupts + 2 local interrupts */
	cr_assert_eq(rd16(config(&t) + MPC_ENTRY_COUNT), 3 + 1 + 1 + 15 + 2);
}

/* ---- Entries ---- */

Test(mptable, one_processor_entry_per_cpu)
{
	struct mp t;
	build(&t, 7);
	cr_assert_eq(count(config(&t), MP_PROCESSOR), 7);
}

Test(mptable, every_processor_is_enabled)
{
	struct mp t;
	build(&t, 7);
	cr_assert_eq(count_with(config(&t), MP_PROCESSOR, CPU_FLAGS, CPU_FLAG_EN), 7);
}

Test(mptable, cpu0_is_the_bsp)
{
	struct mp t;
	build(&t, 4);
	cr_assert_eq(entry(config(&t), MP_PROCESSOR, 0)[CPU_FLAGS], CPU_FLAG_EN | CPU_FLAG_BP);
}

Test(mptable, only_one_processor_is_the_bsp)
{
	struct mp t;
	build(&t, 8);
	cr_assert_eq(count_with(config(&t), MP_PROCESSOR, CPU_FLAGS, CPU_FLAG_BP), 1);
}

Test(mptable, processor_lapic_id_is_its_index)
{
	struct mp t;
	build(&t, 4);
	cr_assert_eq(entry(config(&t), MP_PROCESSOR, 3)[CPU_LAPIC_ID], 3);
}

Test(mptable, one_isa_bus)
{
	struct mp t;
	build(&t, 1);
	cr_assert_eq(count(config(&t), MP_BUS), 1);
	cr_assert_arr_eq(entry(config(&t), MP_BUS, 0) + 2, "ISA   ", 6);
}

Test(mptable, ioapic_entry_is_enabled_with_id_after_cpus)
{
	struct mp t;
	const uint8_t expected[8] = { MP_IOAPIC, 2, 0x11, 1, 0x00, 0x00, 0xc0, 0xfe };
	build(&t, 2);
	cr_assert_arr_eq(entry(config(&t), MP_IOAPIC, 0), expected, 8);
}

Test(mptable, fifteen_isa_io_interrupts)
{
	struct mp t;
	build(&t, 1);
	cr_assert_eq(count(config(&t), MP_IO_INT), 15);
}

Test(mptable, irq0_goes_to_ioapic_pin2)
{
	struct mp t;
	build(&t, 1);
	cr_assert_eq(entry(config(&t), MP_IO_INT, 0)[INT_SRC_IRQ], 0);
	cr_assert_eq(entry(config(&t), MP_IO_INT, 0)[INT_DST_PIN], 2);
}

Test(mptable, irq2_is_skipped_and_irq3_goes_to_pin3)
{
	struct mp t;
	build(&t, 1);
	cr_assert_eq(entry(config(&t), MP_IO_INT, 2)[INT_SRC_IRQ], 3);
	cr_assert_eq(entry(config(&t), MP_IO_INT, 2)[INT_DST_PIN], 3);
}

Test(mptable, io_interrupts_target_the_ioapic)
{
	struct mp t;
	build(&t, 5);
	cr_assert_eq(entry(config(&t), MP_IO_INT, 14)[INT_DST_ID], 5);
}

Test(mptable, lint0_is_extint_for_all_lapics)
{
	struct mp t;
	const uint8_t expected[8] = { MP_LOCAL_INT, 3, 0, 0, 0, 0, 0xff, 0 };
	build(&t, 1);
	cr_assert_arr_eq(entry(config(&t), MP_LOCAL_INT, 0), expected, 8);
}

Test(mptable, lint1_is_nmi_for_all_lapics)
{
	struct mp t;
	const uint8_t expected[8] = { MP_LOCAL_INT, 1, 0, 0, 0, 0, 0xff, 1 };
	build(&t, 1);
	cr_assert_arr_eq(entry(config(&t), MP_LOCAL_INT, 1), expected, 8);
}

/* ---- Limits and errors ---- */

Test(mptable, size_is_212_plus_20_per_cpu)
{
	struct mp t;
	build(&t, 10);
	cr_assert_eq(t.used, 212 + 20 * 10);
}

Test(mptable, max_cpus_fit_in_the_1k_ebda_region)
{
	struct mp t;
	build(&t, MPTABLE_EBDA_MAX_CPUS);
	cr_assert_eq(count(config(&t), MP_PROCESSOR), MPTABLE_EBDA_MAX_CPUS);
}

Test(mptable, one_cpu_more_than_max_gives_enospc_in_1k)
{
	struct mp t;
	struct machine_desc m = desc(MPTABLE_EBDA_MAX_CPUS + 1);
	cr_assert_eq(mptable_build(t.buf, LAYOUT_EBDA_START, sizeof(t.buf), &m), -ENOSPC);
}

Test(mptable, tiny_buffer_gives_enospc)
{
	uint8_t buf[16];
	struct machine_desc m = desc(1);
	cr_assert_eq(mptable_build(buf, LAYOUT_EBDA_START, sizeof(buf), &m), -ENOSPC);
}

Test(mptable, zero_cpus_gives_einval)
{
	struct mp t;
	struct machine_desc m = desc(0);
	cr_assert_eq(mptable_build(t.buf, LAYOUT_EBDA_START, sizeof(t.buf), &m), -EINVAL);
}
