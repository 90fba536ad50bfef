/* test_boot_bzimage.c: loading synthetic bzImages and the boot_params built for them. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "layout.h"
#include "test_boot_helpers.h"

/* Offsets from Documentation/arch/x86/boot.rst and zero-page.rst, spelled out independently. */
#define ZP(off) (LAYOUT_ZERO_PAGE + (off))

static struct tb_env env;

static void setup(void)
{
	tb_env_setup(&env, 64 * MiB);
}

static void teardown(void)
{
	tb_env_teardown(&env);
}

TestSuite(boot_bzimage, .init = setup, .fini = teardown);

static void write_default(void)
{
	struct tb_bz b = tb_bz_default();

	tb_write_bzimage(env.kernel, &b);
}

Test(boot_bzimage, enters_linux64_at_pref_address_plus_0x200)
{
	write_default();

	int ret = tb_boot(&env);

	cr_assert_eq(ret, 0, "%s", env.err);
	cr_assert_eq(env.out.mode, BOOT_ENTRY_LINUX64);
	cr_assert_eq(env.out.entry, 0x1000000 + 0x200);
}

Test(boot_bzimage, protected_mode_kernel_lands_at_pref_address)
{
	write_default();

	cr_assert_eq(tb_boot(&env), 0, "%s", env.err);

	cr_assert(tb_all(&env.mem, 0x1000000, 0x3000, TB_BZ_BYTE));
}

Test(boot_bzimage, low_pref_address_loads_at_1m)
{
	struct tb_bz b = tb_bz_default();
	b.pref_address = 0x10000;
	tb_write_bzimage(env.kernel, &b);

	cr_assert_eq(tb_boot(&env), 0, "%s", env.err);

	cr_assert_eq(env.out.entry, 1 * MiB + 0x200);
	cr_assert(tb_all(&env.mem, 1 * MiB, 0x3000, TB_BZ_BYTE));
}

Test(boot_bzimage, setup_sects_zero_means_four)
{
	struct tb_bz b = tb_bz_default();
	b.setup_sects = 0;
	tb_write_bzimage(env.kernel, &b);

	cr_assert_eq(tb_boot(&env), 0, "%s", env.err);

	cr_assert(tb_all(&env.mem, 0x1000000, 0x3000, TB_BZ_BYTE));
}

Test(boot_bzimage, kernel_end_covers_init_size)
{
	write_default();

	cr_assert_eq(tb_boot(&env), 0, "%s", env.err);

	cr_assert_eq(env.out.kernel_end, 0x1000000 + 0x200000);
}

Test(boot_bzimage, init_size_beyond_ram_is_nofit)
{
	struct tb_bz b = tb_bz_default();
	b.init_size = 48 * MiB + 1;
	tb_write_bzimage(env.kernel, &b);

	int ret = tb_boot(&env);

	cr_assert_eq(ret, -BOOT_ERR_NOFIT);
	cr_assert_not_null(strstr(env.err, "beyond guest RAM"), "%s", env.err);
}

Test(boot_bzimage, protocol_older_than_2_12_is_format_error)
{
	struct tb_bz b = tb_bz_default();
	b.version = 0x0206;
	tb_write_bzimage(env.kernel, &b);

	int ret = tb_boot(&env);

	cr_assert_eq(ret, -BOOT_ERR_FORMAT);
	cr_assert_not_null(strstr(env.err, "no 64-bit entry point"), "%s", env.err);
}

Test(boot_bzimage, missing_xlf_kernel_64_is_format_error)
{
	struct tb_bz b = tb_bz_default();
	b.xloadflags = 0;
	tb_write_bzimage(env.kernel, &b);

	cr_assert_eq(tb_boot(&env), -BOOT_ERR_FORMAT);
}

Test(boot_bzimage, setup_only_file_is_truncated)
{
	struct tb_bz b = tb_bz_default();
	b.ksize = 0;
	tb_write_bzimage(env.kernel, &b);

	int ret = tb_boot(&env);

	cr_assert_eq(ret, -BOOT_ERR_FORMAT);
	cr_assert_not_null(strstr(env.err, "truncated bzImage"), "%s", env.err);
}

Test(boot_bzimage, short_header_is_truncated)
{
	struct tb_bz b = tb_bz_default();
	size_t len;
	uint8_t *buf = tb_build_bzimage(&b, &len);
	tb_write_file(env.kernel, buf, 0x220);
	free(buf);

	cr_assert_eq(tb_boot(&env), -BOOT_ERR_FORMAT);
}

Test(boot_bzimage, setup_header_is_copied_into_zero_page)
{
	write_default();

	cr_assert_eq(tb_boot(&env), 0, "%s", env.err);

	cr_assert_eq(tb_rd16(&env.mem, ZP(0x1fe)), 0xaa55);
	cr_assert_eq(tb_rd32(&env.mem, ZP(0x202)), 0x53726448);
	cr_assert_eq(tb_rd16(&env.mem, ZP(0x206)), 0x020f);
	cr_assert_eq(tb_rd32(&env.mem, ZP(0x260)), 0x200000);
}

Test(boot_bzimage, type_of_loader_is_undefined)
{
	write_default();

	cr_assert_eq(tb_boot(&env), 0, "%s", env.err);

	cr_assert_eq(tb_rd8(&env.mem, ZP(0x210)), 0xff);
}

Test(boot_bzimage, loadflags_keep_kernel_bits_and_add_can_use_heap)
{
	write_default();

	cr_assert_eq(tb_boot(&env), 0, "%s", env.err);

	cr_assert_eq(tb_rd8(&env.mem, ZP(0x211)), 0x81);
}

Test(boot_bzimage, code32_start_is_load_address)
{
	write_default();

	cr_assert_eq(tb_boot(&env), 0, "%s", env.err);

	cr_assert_eq(tb_rd32(&env.mem, ZP(0x214)), 0x1000000);
}

Test(boot_bzimage, cmd_line_ptr_points_at_cmdline)
{
	write_default();
	env.cfg.cmdline = "console=ttyS0";

	cr_assert_eq(tb_boot(&env), 0, "%s", env.err);

	cr_assert_eq(tb_rd32(&env.mem, ZP(0x228)), LAYOUT_CMDLINE);
	cr_assert_str_eq((const char *)gpa_to_hva(&env.mem, LAYOUT_CMDLINE, 14), "console=ttyS0");
}

Test(boot_bzimage, acpi_rsdp_addr_is_set)
{
	write_default();
	env.cfg.rsdp_gpa = 0xe0000;

	cr_assert_eq(tb_boot(&env), 0, "%s", env.err);

	cr_assert_eq(tb_rd64(&env.mem, ZP(0x070)), 0xe0000);
}

Test(boot_bzimage, e820_table_is_in_zero_page)
{
	write_default();

	cr_assert_eq(tb_boot(&env), 0, "%s", env.err);

	cr_assert_eq(tb_rd8(&env.mem, ZP(0x1e8)), 5); /* 4 low/high RAM+BIOS entries and the ECAM */
	cr_assert_eq(tb_rd64(&env.mem, ZP(0x2d0 + 3 * 20)), 1 * MiB);
	cr_assert_eq(tb_rd64(&env.mem, ZP(0x2d0 + 3 * 20 + 8)), 63 * MiB);
	cr_assert_eq(tb_rd32(&env.mem, ZP(0x2d0 + 3 * 20 + 16)), 1);
}

Test(boot_bzimage, cmdline_longer_than_cmdline_size_is_nofit)
{
	struct tb_bz b = tb_bz_default();
	b.cmdline_size = 8;
	tb_write_bzimage(env.kernel, &b);
	env.cfg.cmdline = "123456789";

	int ret = tb_boot(&env);

	cr_assert_eq(ret, -BOOT_ERR_NOFIT);
	cr_assert_str_eq(env.err, "command line too long (9 bytes, at most 8)");
}

Test(boot_bzimage, initramfs_ends_below_initrd_addr_max)
{
	struct tb_bz b = tb_bz_default();
	b.initrd_addr_max = 0x2000fff;
	tb_write_bzimage(env.kernel, &b);
	tb_write_file(env.initrd, "0123456789", 10);
	env.cfg.initramfs_path = env.initrd;

	cr_assert_eq(tb_boot(&env), 0, "%s", env.err);

	cr_assert_eq(env.out.initrd_gpa, 0x2000000);
}

Test(boot_bzimage, ramdisk_fields_describe_initramfs)
{
	write_default();
	tb_write_file(env.initrd, "0123456789", 10);
	env.cfg.initramfs_path = env.initrd;

	cr_assert_eq(tb_boot(&env), 0, "%s", env.err);

	cr_assert_eq(tb_rd32(&env.mem, ZP(0x218)), env.out.initrd_gpa);
	cr_assert_eq(tb_rd32(&env.mem, ZP(0x21c)), 10);
	cr_assert_eq(tb_rd32(&env.mem, ZP(0x0c0)), 0);
}
