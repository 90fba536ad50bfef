/* test_guest_mem.c: guest RAM layout around the MMIO gap, memfd creation and gpa_to_hva bounds. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "guest_mem.h"
#include "layout.h"

/* A layout with made-up host addresses: gpa_to_hva only does arithmetic, never dereferences. */
static struct guest_mem fake_mem(uint64_t ram_size)
{
	struct guest_mem m;

	cr_assert_eq(guest_mem_layout(&m, ram_size), 0);
	m.regions[0].hva = (uint8_t *)0x100000000000ULL;
	m.regions[1].hva = (uint8_t *)0x200000000000ULL;
	return m;
}

Test(guest_mem_layout, small_ram_is_one_region_at_zero)
{
	struct guest_mem m;

	int ret = guest_mem_layout(&m, 64 * MiB);

	cr_assert_eq(ret, 0);
	cr_assert_eq(m.nr_regions, 1);
	cr_assert_eq(m.regions[0].gpa, 0);
	cr_assert_eq(m.regions[0].size, 64 * MiB);
	cr_assert_eq(m.ram_size, 64 * MiB);
	cr_assert_eq(m.fd, -1);
}

Test(guest_mem_layout, exactly_3g_is_one_region)
{
	struct guest_mem m;

	int ret = guest_mem_layout(&m, 3 * GiB);

	cr_assert_eq(ret, 0);
	cr_assert_eq(m.nr_regions, 1);
	cr_assert_eq(m.regions[0].size, 3 * GiB);
}

Test(guest_mem_layout, above_3g_continues_at_4g)
{
	struct guest_mem m;

	int ret = guest_mem_layout(&m, 5 * GiB);

	cr_assert_eq(ret, 0);
	cr_assert_eq(m.nr_regions, 2);
	cr_assert_eq(m.regions[0].size, 3 * GiB);
	cr_assert_eq(m.regions[1].gpa, 4 * GiB);
	cr_assert_eq(m.regions[1].size, 2 * GiB);
}

Test(guest_mem_layout, high_region_follows_low_in_the_file)
{
	struct guest_mem m;

	cr_assert_eq(guest_mem_layout(&m, 5 * GiB), 0);

	cr_assert_eq(m.regions[0].fd_offset, 0);
	cr_assert_eq(m.regions[1].fd_offset, 3 * GiB);
}

Test(guest_mem_layout, rejects_zero)
{
	struct guest_mem m;

	cr_assert_eq(guest_mem_layout(&m, 0), -EINVAL);
}

Test(guest_mem_layout, rejects_size_not_multiple_of_4k)
{
	struct guest_mem m;

	cr_assert_eq(guest_mem_layout(&m, 64 * MiB + 512), -EINVAL);
}

Test(guest_mem_layout, rejects_below_2m)
{
	struct guest_mem m;

	cr_assert_eq(guest_mem_layout(&m, 2 * MiB - 4096), -EINVAL);
}

Test(guest_mem_layout, accepts_2m_minimum)
{
	struct guest_mem m;

	cr_assert_eq(guest_mem_layout(&m, 2 * MiB), 0);
}

Test(guest_mem_layout, rejects_above_1t)
{
	struct guest_mem m;

	cr_assert_eq(guest_mem_layout(&m, 1024 * GiB + 4096), -E2BIG);
}

Test(guest_mem_create, maps_writable_ram)
{
	struct guest_mem m;
	cr_assert_eq(guest_mem_create(&m, 64 * MiB, 0), 0);
	uint8_t *last = gpa_to_hva(&m, 64 * MiB - 1, 1);

	*last = 0xab;

	cr_assert_eq(*(uint8_t *)gpa_to_hva(&m, 64 * MiB - 1, 1), 0xab);
	cr_assert_geq(m.fd, 0);
	guest_mem_destroy(&m);
}

Test(guest_mem_create, hugepages_need_2m_multiple)
{
	struct guest_mem m;

	int ret = guest_mem_create(&m, 3 * MiB, 1);

	cr_assert_eq(ret, -EINVAL);
	cr_assert_eq(m.fd, -1);
	cr_assert_eq(m.nr_regions, 0);
}

Test(guest_mem_create, more_than_the_host_has_is_enomem)
{
	struct guest_mem m;

	int ret = guest_mem_create(&m, 1024 * GiB, 0);

	cr_assert_eq(ret, -ENOMEM);
	cr_assert_eq(m.fd, -1);
	cr_assert_eq(m.nr_regions, 0);
}

Test(guest_mem_create, destroy_twice_is_harmless)
{
	struct guest_mem m;
	cr_assert_eq(guest_mem_create(&m, 4 * MiB, 0), 0);

	guest_mem_destroy(&m);
	guest_mem_destroy(&m);

	cr_assert_eq(m.fd, -1);
	cr_assert_eq(m.nr_regions, 0);
}

Test(gpa_to_hva, first_byte_is_region_start)
{
	struct guest_mem m = fake_mem(64 * MiB);

	cr_assert_eq(gpa_to_hva(&m, 0, 1), m.regions[0].hva);
}

Test(gpa_to_hva, range_ending_at_ram_end_is_valid)
{
	struct guest_mem m = fake_mem(64 * MiB);

	cr_assert_eq(gpa_to_hva(&m, 64 * MiB - 16, 16), m.regions[0].hva + 64 * MiB - 16);
}

Test(gpa_to_hva, range_crossing_ram_end_is_null)
{
	struct guest_mem m = fake_mem(64 * MiB);

	cr_assert_null(gpa_to_hva(&m, 64 * MiB - 16, 17));
}

Test(gpa_to_hva, ram_end_is_null)
{
	struct guest_mem m = fake_mem(64 * MiB);

	cr_assert_null(gpa_to_hva(&m, 64 * MiB, 1));
}

Test(gpa_to_hva, zero_length_at_ram_end_is_null)
{
	struct guest_mem m = fake_mem(64 * MiB);

	cr_assert_null(gpa_to_hva(&m, 64 * MiB, 0));
}

Test(gpa_to_hva, zero_length_at_last_byte_is_valid)
{
	struct guest_mem m = fake_mem(64 * MiB);

	cr_assert_eq(gpa_to_hva(&m, 64 * MiB - 1, 0), m.regions[0].hva + 64 * MiB - 1);
}

Test(gpa_to_hva, wrapping_range_is_null)
{
	struct guest_mem m = fake_mem(64 * MiB);

	cr_assert_null(gpa_to_hva(&m, 16, UINT64_MAX));
}

Test(gpa_to_hva, range_ending_at_top_of_address_space_is_null)
{
	struct guest_mem m = fake_mem(64 * MiB);

	cr_assert_null(gpa_to_hva(&m, UINT64_MAX - 3, 4));
}

Test(gpa_to_hva, mmio_gap_is_null)
{
	struct guest_mem m = fake_mem(5 * GiB);

	cr_assert_null(gpa_to_hva(&m, LAYOUT_IOAPIC_BASE, 4));
}

Test(gpa_to_hva, range_spanning_the_gap_is_null)
{
	struct guest_mem m = fake_mem(5 * GiB);

	cr_assert_null(gpa_to_hva(&m, 3 * GiB - 8, 2 * GiB));
}

Test(gpa_to_hva, address_above_4g_maps_into_high_region)
{
	struct guest_mem m = fake_mem(5 * GiB);

	cr_assert_eq(gpa_to_hva(&m, 4 * GiB + 4096, 8), m.regions[1].hva + 4096);
}

Test(gpa_to_hva, layout_without_mapping_is_null)
{
	struct guest_mem m;
	cr_assert_eq(guest_mem_layout(&m, 64 * MiB), 0);

	cr_assert_null(gpa_to_hva(&m, 0, 1));
}
