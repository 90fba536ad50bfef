/* test_boot_memmap.c: the e820/PVH memory map built from the guest RAM layout. */
#include <criterion/criterion.h>
#include <errno.h>

#include "boot/memmap.h"
#include "layout.h"

static int build(uint64_t ram_size, struct boot_mem_range *map, unsigned int cap)
{
	struct guest_mem m;

	cr_assert_eq(guest_mem_layout(&m, ram_size), 0);
	return boot_memmap_build(&m, map, cap);
}

Test(boot_memmap, small_ram_has_five_entries)
{
	struct boot_mem_range map[BOOT_MEMMAP_MAX];

	cr_assert_eq(build(64 * MiB, map, BOOT_MEMMAP_MAX), 5);
}

Test(boot_memmap, low_ram_ends_at_ebda)
{
	struct boot_mem_range map[BOOT_MEMMAP_MAX];

	cr_assert_eq(build(64 * MiB, map, BOOT_MEMMAP_MAX), 5);

	cr_assert_eq(map[0].addr, 0);
	cr_assert_eq(map[0].size, 0x9fc00);
	cr_assert_eq(map[0].type, BOOT_MEM_RAM);
}

Test(boot_memmap, ebda_is_reserved)
{
	struct boot_mem_range map[BOOT_MEMMAP_MAX];

	cr_assert_eq(build(64 * MiB, map, BOOT_MEMMAP_MAX), 5);

	cr_assert_eq(map[1].addr, 0x9fc00);
	cr_assert_eq(map[1].size, 0x400);
	cr_assert_eq(map[1].type, BOOT_MEM_RESERVED);
}

Test(boot_memmap, bios_area_is_reserved)
{
	struct boot_mem_range map[BOOT_MEMMAP_MAX];

	cr_assert_eq(build(64 * MiB, map, BOOT_MEMMAP_MAX), 5);

	cr_assert_eq(map[2].addr, 0xe0000);
	cr_assert_eq(map[2].size, 0x20000);
	cr_assert_eq(map[2].type, BOOT_MEM_RESERVED);
}

Test(boot_memmap, ram_from_1m_to_end)
{
	struct boot_mem_range map[BOOT_MEMMAP_MAX];

	cr_assert_eq(build(64 * MiB, map, BOOT_MEMMAP_MAX), 5);

	cr_assert_eq(map[3].addr, 1 * MiB);
	cr_assert_eq(map[3].size, 63 * MiB);
	cr_assert_eq(map[3].type, BOOT_MEM_RAM);
}

Test(boot_memmap, pci_ecam_is_reserved_after_low_ram)
{
	struct boot_mem_range map[BOOT_MEMMAP_MAX];

	cr_assert_eq(build(64 * MiB, map, BOOT_MEMMAP_MAX), 5);

	cr_assert_eq(map[4].addr, LAYOUT_PCI_ECAM);
	cr_assert_eq(map[4].addr, 0xe0000000);
	cr_assert_eq(map[4].size, LAYOUT_PCI_ECAM_SIZE);
	cr_assert_eq(map[4].size, 1 * MiB);
	cr_assert_eq(map[4].type, BOOT_MEM_RESERVED);
}

Test(boot_memmap, ram_above_4g_gets_sixth_entry_after_ecam)
{
	struct boot_mem_range map[BOOT_MEMMAP_MAX];

	cr_assert_eq(build(5 * GiB, map, BOOT_MEMMAP_MAX), 6);

	cr_assert_eq(map[3].size, 3 * GiB - 1 * MiB);
	cr_assert_eq(map[4].addr, LAYOUT_PCI_ECAM);
	cr_assert_eq(map[4].type, BOOT_MEM_RESERVED);
	cr_assert_eq(map[5].addr, 4 * GiB);
	cr_assert_eq(map[5].size, 2 * GiB);
	cr_assert_eq(map[5].type, BOOT_MEM_RAM);
}

Test(boot_memmap, entries_ascend_without_overlap)
{
	struct boot_mem_range map[BOOT_MEMMAP_MAX];
	int n = build(5 * GiB, map, BOOT_MEMMAP_MAX);

	for (int i = 1; i < n; i++)
		cr_assert_geq(map[i].addr, map[i - 1].addr + map[i - 1].size, "entry %d overlaps", i);
}

Test(boot_memmap, ram_total_is_unchanged_by_reserved_entries)
{
	const uint64_t sizes[] = { 64 * MiB, 3 * GiB, 5 * GiB };

	for (unsigned int k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		struct boot_mem_range map[BOOT_MEMMAP_MAX];
		int n = build(sizes[k], map, BOOT_MEMMAP_MAX);
		uint64_t ram = 0;

		for (int i = 0; i < n; i++)
			ram += map[i].type == BOOT_MEM_RAM ? map[i].size : 0;
		/* Everything but the EBDA and the 640 KiB-1 MiB hole is RAM. */
		cr_assert_eq(ram, sizes[k] - (LAYOUT_HIGH_RAM_START - LAYOUT_EBDA_START));
	}
}

Test(boot_memmap, too_small_table_is_enospc)
{
	struct boot_mem_range map[3];

	cr_assert_eq(build(64 * MiB, map, 3), -ENOSPC);
}

Test(boot_memmap, table_without_room_for_ecam_is_enospc)
{
	struct boot_mem_range map[4];

	cr_assert_eq(build(64 * MiB, map, 4), -ENOSPC);
}

Test(boot_memmap, low_region_reaching_into_ecam_is_einval)
{
	struct guest_mem m = { .fd = -1, .nr_regions = 1, .regions = { { .gpa = 0, .size = LAYOUT_PCI_ECAM + MiB } } };
	struct boot_mem_range map[BOOT_MEMMAP_MAX];

	cr_assert_eq(boot_memmap_build(&m, map, BOOT_MEMMAP_MAX), -EINVAL);
}

Test(boot_memmap, empty_guest_is_einval)
{
	struct guest_mem m = { .fd = -1 };
	struct boot_mem_range map[BOOT_MEMMAP_MAX];

	cr_assert_eq(boot_memmap_build(&m, map, BOOT_MEMMAP_MAX), -EINVAL);
}
