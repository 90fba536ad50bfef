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

Test(boot_memmap, small_ram_has_four_entries)
{
	struct boot_mem_range map[BOOT_MEMMAP_MAX];

	cr_assert_eq(build(64 * MiB, map, BOOT_MEMMAP_MAX), 4);
}

Test(boot_memmap, low_ram_ends_at_ebda)
{
	struct boot_mem_range map[BOOT_MEMMAP_MAX];

	cr_assert_eq(build(64 * MiB, map, BOOT_MEMMAP_MAX), 4);

	cr_assert_eq(map[0].addr, 0);
	cr_assert_eq(map[0].size, 0x9fc00);
	cr_assert_eq(map[0].type, BOOT_MEM_RAM);
}

Test(boot_memmap, ebda_is_reserved)
{
	struct boot_mem_range map[BOOT_MEMMAP_MAX];

	cr_assert_eq(build(64 * MiB, map, BOOT_MEMMAP_MAX), 4);

	cr_assert_eq(map[1].addr, 0x9fc00);
	cr_assert_eq(map[1].size, 0x400);
	cr_assert_eq(map[1].type, BOOT_MEM_RESERVED);
}

Test(boot_memmap, bios_area_is_reserved)
{
	struct boot_mem_range map[BOOT_MEMMAP_MAX];

	cr_assert_eq(build(64 * MiB, map, BOOT_MEMMAP_MAX), 4);

	cr_assert_eq(map[2].addr, 0xe0000);
	cr_assert_eq(map[2].size, 0x20000);
	cr_assert_eq(map[2].type, BOOT_MEM_RESERVED);
}

Test(boot_memmap, ram_from_1m_to_end)
{
	struct boot_mem_range map[BOOT_MEMMAP_MAX];

	cr_assert_eq(build(64 * MiB, map, BOOT_MEMMAP_MAX), 4);

	cr_assert_eq(map[3].addr, 1 * MiB);
	cr_assert_eq(map[3].size, 63 * MiB);
	cr_assert_eq(map[3].type, BOOT_MEM_RAM);
}

Test(boot_memmap, ram_above_4g_gets_fifth_entry)
{
	struct boot_mem_range map[BOOT_MEMMAP_MAX];

	cr_assert_eq(build(5 * GiB, map, BOOT_MEMMAP_MAX), 5);

	cr_assert_eq(map[3].size, 3 * GiB - 1 * MiB);
	cr_assert_eq(map[4].addr, 4 * GiB);
	cr_assert_eq(map[4].size, 2 * GiB);
	cr_assert_eq(map[4].type, BOOT_MEM_RAM);
}

Test(boot_memmap, too_small_table_is_enospc)
{
	struct boot_mem_range map[3];

	cr_assert_eq(build(64 * MiB, map, 3), -ENOSPC);
}

Test(boot_memmap, empty_guest_is_einval)
{
	struct guest_mem m = { .fd = -1 };
	struct boot_mem_range map[BOOT_MEMMAP_MAX];

	cr_assert_eq(boot_memmap_build(&m, map, BOOT_MEMMAP_MAX), -EINVAL);
}
