/* test_boot_load.c: boot_load errors, command line and initramfs placement, vmlinux zero page. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layout.h"
#include "test_boot_helpers.h"

#define PADDR (2 * MiB)
#define RAM   (64 * MiB)
#define ZP(off) (LAYOUT_ZERO_PAGE + (off))

static struct tb_env env;

static void setup(void)
{
	struct tb_elf e = { .entry = PADDR, .paddr = PADDR, .filesz = 0x1000, .memsz = 0x2000 };

	tb_env_setup(&env, RAM);
	tb_write_elf(env.kernel, &e);
}

static void teardown(void)
{
	tb_env_teardown(&env);
}

TestSuite(boot_load, .init = setup, .fini = teardown);

static void use_initrd(size_t size)
{
	char *data = malloc(size + 1);

	cr_assert_not_null(data);
	memset(data, 'i', size);
	tb_write_file(env.initrd, data, size);
	free(data);
	env.cfg.initramfs_path = env.initrd;
}

static char *repeat(char c, size_t n)
{
	char *s = malloc(n + 1);

	cr_assert_not_null(s);
	memset(s, c, n);
	s[n] = '\0';
	return s;
}

Test(boot_load, missing_kernel_is_io_error_with_strerror)
{
	char expect[256];
	snprintf(expect, sizeof(expect), "kernel %s/nope: No such file or directory", env.dir);
	snprintf(env.kernel, sizeof(env.kernel), "%s/nope", env.dir);

	int ret = tb_boot(&env);

	cr_assert_eq(ret, -BOOT_ERR_IO);
	cr_assert_str_eq(env.err, expect);
}

Test(boot_load, directory_kernel_is_io_error)
{
	env.cfg.kernel_path = env.dir;

	int ret = tb_boot(&env);

	cr_assert_eq(ret, -BOOT_ERR_IO);
	cr_assert_not_null(strstr(env.err, "not a regular file"), "%s", env.err);
}

Test(boot_load, no_kernel_path_is_io_error)
{
	env.cfg.kernel_path = NULL;

	cr_assert_eq(tb_boot(&env), -BOOT_ERR_IO);
}

Test(boot_load, text_file_is_not_a_kernel)
{
	char expect[256];
	snprintf(expect, sizeof(expect), "kernel %s: not an ELF64 x86-64 or bzImage kernel", env.kernel);
	tb_write_file(env.kernel, "#!/bin/sh\necho hello\n", 21);

	int ret = tb_boot(&env);

	cr_assert_eq(ret, -BOOT_ERR_FORMAT);
	cr_assert_str_eq(env.err, expect);
}

Test(boot_load, empty_file_is_not_a_kernel)
{
	tb_write_file(env.kernel, "", 0);

	cr_assert_eq(tb_boot(&env), -BOOT_ERR_FORMAT);
}

Test(boot_load, kernel_larger_than_ram_is_nofit)
{
	tb_write_sparse(env.kernel, RAM + 1);

	int ret = tb_boot(&env);

	cr_assert_eq(ret, -BOOT_ERR_NOFIT);
	cr_assert_not_null(strstr(env.err, "larger than guest RAM"), "%s", env.err);
}

Test(boot_load, cmdline_is_copied_nul_terminated)
{
	memset(gpa_to_hva(&env.mem, LAYOUT_CMDLINE, 16), 'x', 16);
	env.cfg.cmdline = "root=/dev/vda";

	cr_assert_eq(tb_boot(&env), 0, "%s", env.err);

	cr_assert_str_eq((const char *)gpa_to_hva(&env.mem, LAYOUT_CMDLINE, 14), "root=/dev/vda");
}

Test(boot_load, null_cmdline_is_empty_string)
{
	memset(gpa_to_hva(&env.mem, LAYOUT_CMDLINE, 1), 'x', 1);

	cr_assert_eq(tb_boot(&env), 0, "%s", env.err);

	cr_assert_eq(tb_rd8(&env.mem, LAYOUT_CMDLINE), 0);
}

Test(boot_load, cmdline_of_max_length_fits)
{
	char *s = repeat('a', LAYOUT_CMDLINE_MAX - 1);
	env.cfg.cmdline = s;

	int ret = tb_boot(&env);

	cr_assert_eq(ret, 0, "%s", env.err);
	cr_assert_eq(tb_rd8(&env.mem, LAYOUT_CMDLINE + LAYOUT_CMDLINE_MAX - 1), 0);
	free(s);
}

Test(boot_load, cmdline_too_long_is_nofit)
{
	char *s = repeat('a', LAYOUT_CMDLINE_MAX);
	env.cfg.cmdline = s;

	int ret = tb_boot(&env);

	cr_assert_eq(ret, -BOOT_ERR_NOFIT);
	cr_assert_str_eq(env.err, "command line too long (65536 bytes, at most 65535)");
	free(s);
}

Test(boot_load, initramfs_is_page_aligned)
{
	use_initrd(10000);

	cr_assert_eq(tb_boot(&env), 0, "%s", env.err);

	cr_assert_eq(env.out.initrd_gpa % 4096, 0);
}

Test(boot_load, initramfs_is_as_high_as_ram_allows)
{
	use_initrd(10000);

	cr_assert_eq(tb_boot(&env), 0, "%s", env.err);

	cr_assert_eq(env.out.initrd_gpa, RAM - 3 * 4096);
	cr_assert_eq(env.out.initrd_size, 10000);
}

Test(boot_load, initramfs_contents_are_copied)
{
	use_initrd(10000);

	cr_assert_eq(tb_boot(&env), 0, "%s", env.err);

	cr_assert(tb_all(&env.mem, env.out.initrd_gpa, 10000, 'i'));
}

Test(boot_load, initramfs_filling_ram_above_kernel_fits)
{
	use_initrd(RAM - (PADDR + 0x2000));

	cr_assert_eq(tb_boot(&env), 0, "%s", env.err);

	cr_assert_eq(env.out.initrd_gpa, env.out.kernel_end);
}

Test(boot_load, initramfs_overlapping_kernel_is_nofit)
{
	char expect[256];
	snprintf(expect, sizeof(expect), "initramfs %s (%llu bytes) does not fit in guest memory",
		 env.initrd, (unsigned long long)(RAM - (PADDR + 0x2000) + 1));
	use_initrd(RAM - (PADDR + 0x2000) + 1);

	int ret = tb_boot(&env);

	cr_assert_eq(ret, -BOOT_ERR_NOFIT);
	cr_assert_str_eq(env.err, expect);
}

Test(boot_load, missing_initramfs_is_io_error)
{
	env.cfg.initramfs_path = env.initrd;

	int ret = tb_boot(&env);

	cr_assert_eq(ret, -BOOT_ERR_IO);
	cr_assert_not_null(strstr(env.err, "No such file or directory"), "%s", env.err);
	cr_assert_eq(strncmp(env.err, "initramfs ", 10), 0, "%s", env.err);
}

Test(boot_load, empty_initramfs_means_none)
{
	use_initrd(0);

	cr_assert_eq(tb_boot(&env), 0, "%s", env.err);

	cr_assert_eq(env.out.initrd_gpa, 0);
	cr_assert_eq(env.out.initrd_size, 0);
}

Test(boot_load, vmlinux_gets_synthesized_setup_header)
{
	cr_assert_eq(tb_boot(&env), 0, "%s", env.err);

	cr_assert_eq(tb_rd16(&env.mem, ZP(0x1fe)), 0xaa55);
	cr_assert_eq(tb_rd32(&env.mem, ZP(0x202)), 0x53726448);
	cr_assert_eq(tb_rd16(&env.mem, ZP(0x206)), 0x020f);
	cr_assert_eq(tb_rd8(&env.mem, ZP(0x210)), 0xff);
	cr_assert_eq(tb_rd32(&env.mem, ZP(0x230)), 0x1000000);
	cr_assert_eq(tb_rd32(&env.mem, ZP(0x238)), LAYOUT_CMDLINE_MAX - 1);
}

Test(boot_load, vmlinux_zero_page_describes_payload)
{
	use_initrd(10000);
	env.cfg.rsdp_gpa = 0xe0000;

	cr_assert_eq(tb_boot(&env), 0, "%s", env.err);

	cr_assert_eq(tb_rd32(&env.mem, ZP(0x228)), LAYOUT_CMDLINE);
	cr_assert_eq(tb_rd32(&env.mem, ZP(0x218)), RAM - 3 * 4096);
	cr_assert_eq(tb_rd32(&env.mem, ZP(0x21c)), 10000);
	cr_assert_eq(tb_rd64(&env.mem, ZP(0x070)), 0xe0000);
	cr_assert_eq(tb_rd8(&env.mem, ZP(0x1e8)), 5); /* 4 low/high RAM+BIOS entries and the ECAM */
}

Test(boot_load, zero_page_is_cleared_first)
{
	memset(gpa_to_hva(&env.mem, LAYOUT_ZERO_PAGE, 4096), 0xee, 4096);

	cr_assert_eq(tb_boot(&env), 0, "%s", env.err);

	cr_assert(tb_all(&env.mem, LAYOUT_ZERO_PAGE, 0x70, 0));
}
