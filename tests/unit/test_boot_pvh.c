/* test_boot_pvh.c: the hvm_start_info, memmap and module list written for a PVH kernel. */
#include <criterion/criterion.h>
#include <string.h>

#include "layout.h"
#include "test_boot_helpers.h"

#define PADDR (2 * MiB)
#define SI(off) (LAYOUT_PVH_START_INFO + (off))

static struct tb_env env;

static void setup(void)
{
	struct tb_elf e = { .entry = PADDR, .paddr = PADDR, .filesz = 0x1000, .memsz = 0x1000,
			    .pvh_descsz = 4, .pvh_entry = PADDR };

	tb_env_setup(&env, 64 * MiB);
	tb_write_elf(env.kernel, &e);
}

static void teardown(void)
{
	tb_env_teardown(&env);
}

TestSuite(boot_pvh, .init = setup, .fini = teardown);

static void use_initrd(void)
{
	tb_write_file(env.initrd, "initramfs", 9);
	env.cfg.initramfs_path = env.initrd;
}

Test(boot_pvh, start_info_has_magic_and_version_1)
{
	cr_assert_eq(tb_boot(&env), 0, "%s", env.err);

	cr_assert_eq(tb_rd32(&env.mem, SI(0)), 0x336ec578);
	cr_assert_eq(tb_rd32(&env.mem, SI(4)), 1);
}

Test(boot_pvh, cmdline_paddr_points_at_cmdline)
{
	env.cfg.cmdline = "console=hvc0";

	cr_assert_eq(tb_boot(&env), 0, "%s", env.err);

	cr_assert_eq(tb_rd64(&env.mem, SI(24)), LAYOUT_CMDLINE);
	cr_assert_str_eq((const char *)gpa_to_hva(&env.mem, LAYOUT_CMDLINE, 13), "console=hvc0");
}

Test(boot_pvh, rsdp_paddr_is_config_value)
{
	env.cfg.rsdp_gpa = 0xe0040;

	cr_assert_eq(tb_boot(&env), 0, "%s", env.err);

	cr_assert_eq(tb_rd64(&env.mem, SI(32)), 0xe0040);
}

Test(boot_pvh, memmap_is_described)
{
	cr_assert_eq(tb_boot(&env), 0, "%s", env.err);

	cr_assert_eq(tb_rd64(&env.mem, SI(40)), LAYOUT_PVH_MEMMAP);
	cr_assert_eq(tb_rd32(&env.mem, SI(48)), 5);
}

Test(boot_pvh, memmap_entries_match_e820_layout)
{
	cr_assert_eq(tb_boot(&env), 0, "%s", env.err);

	cr_assert_eq(tb_rd64(&env.mem, LAYOUT_PVH_MEMMAP + 1 * 24), 0x9fc00);
	cr_assert_eq(tb_rd32(&env.mem, LAYOUT_PVH_MEMMAP + 1 * 24 + 16), 2);
	cr_assert_eq(tb_rd64(&env.mem, LAYOUT_PVH_MEMMAP + 3 * 24), 1 * MiB);
	cr_assert_eq(tb_rd64(&env.mem, LAYOUT_PVH_MEMMAP + 3 * 24 + 8), 63 * MiB);
	cr_assert_eq(tb_rd32(&env.mem, LAYOUT_PVH_MEMMAP + 3 * 24 + 16), 1);
}

Test(boot_pvh, no_initramfs_means_no_modules)
{
	cr_assert_eq(tb_boot(&env), 0, "%s", env.err);

	cr_assert_eq(tb_rd32(&env.mem, SI(12)), 0);
	cr_assert_eq(tb_rd64(&env.mem, SI(16)), 0);
}

Test(boot_pvh, initramfs_is_module_zero)
{
	use_initrd();

	cr_assert_eq(tb_boot(&env), 0, "%s", env.err);

	cr_assert_eq(tb_rd32(&env.mem, SI(12)), 1);
	cr_assert_eq(tb_rd64(&env.mem, SI(16)), LAYOUT_PVH_MEMMAP + 5 * 24);
}

Test(boot_pvh, module_entry_points_at_initramfs)
{
	use_initrd();

	cr_assert_eq(tb_boot(&env), 0, "%s", env.err);

	cr_assert_eq(tb_rd64(&env.mem, LAYOUT_PVH_MEMMAP + 5 * 24), env.out.initrd_gpa);
	cr_assert_eq(tb_rd64(&env.mem, LAYOUT_PVH_MEMMAP + 5 * 24 + 8), 9);
	cr_assert_eq(tb_rd64(&env.mem, LAYOUT_PVH_MEMMAP + 5 * 24 + 16), 0);
}

Test(boot_pvh, initramfs_lies_above_kernel)
{
	use_initrd();

	cr_assert_eq(tb_boot(&env), 0, "%s", env.err);

	cr_assert_geq(env.out.initrd_gpa, env.out.kernel_end);
}
