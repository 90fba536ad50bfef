/* test_boot_elf.c: loading synthetic ELF64 kernels, with and without the Xen PVH entry note. */
#include <criterion/criterion.h>
#include <elf.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "layout.h"
#include "test_boot_helpers.h"

#define PADDR (2 * MiB)

static struct tb_env env;

static void setup(void)
{
	tb_env_setup(&env, 64 * MiB);
}

static void teardown(void)
{
	tb_env_teardown(&env);
}

TestSuite(boot_elf, .init = setup, .fini = teardown);

static struct tb_elf elf(uint32_t pvh_descsz)
{
	return (struct tb_elf){ .entry = PADDR + 0x40, .paddr = PADDR, .filesz = 0x1000,
				.memsz = 0x3000, .pvh_descsz = pvh_descsz, .pvh_entry = PADDR + 0x80 };
}

/* Writes the default ELF with the 64-bit field at file offset off replaced by v. */
static void write_patched(size_t off, uint64_t v, size_t n)
{
	struct tb_elf e = elf(0);
	size_t len;
	uint8_t *buf = tb_build_elf(&e, &len);

	memcpy(buf + off, &v, n);
	tb_write_file(env.kernel, buf, len);
	free(buf);
}

Test(boot_elf, without_note_enters_linux64_at_e_entry)
{
	struct tb_elf e = elf(0);
	tb_write_elf(env.kernel, &e);

	int ret = tb_boot(&env);

	cr_assert_eq(ret, 0, "%s", env.err);
	cr_assert_eq(env.out.mode, BOOT_ENTRY_LINUX64);
	cr_assert_eq(env.out.entry, PADDR + 0x40);
}

Test(boot_elf, linux64_boot_data_is_zero_page)
{
	struct tb_elf e = elf(0);
	tb_write_elf(env.kernel, &e);

	cr_assert_eq(tb_boot(&env), 0, "%s", env.err);

	cr_assert_eq(env.out.boot_data, LAYOUT_ZERO_PAGE);
}

Test(boot_elf, segment_lands_at_p_paddr)
{
	struct tb_elf e = elf(0);
	tb_write_elf(env.kernel, &e);

	cr_assert_eq(tb_boot(&env), 0, "%s", env.err);

	cr_assert(tb_all(&env.mem, PADDR, 0x1000, TB_ELF_BYTE));
}

Test(boot_elf, bss_beyond_filesz_is_zeroed)
{
	struct tb_elf e = elf(0);
	tb_write_elf(env.kernel, &e);
	memset(gpa_to_hva(&env.mem, PADDR, 0x3000), 0xee, 0x3000);

	cr_assert_eq(tb_boot(&env), 0, "%s", env.err);

	cr_assert(tb_all(&env.mem, PADDR + 0x1000, 0x2000, 0));
}

Test(boot_elf, kernel_end_is_end_of_memsz)
{
	struct tb_elf e = elf(0);
	tb_write_elf(env.kernel, &e);

	cr_assert_eq(tb_boot(&env), 0, "%s", env.err);

	cr_assert_eq(env.out.kernel_end, PADDR + 0x3000);
}

Test(boot_elf, pvh_note_with_32bit_desc_enters_pvh)
{
	struct tb_elf e = elf(4);
	tb_write_elf(env.kernel, &e);

	int ret = tb_boot(&env);

	cr_assert_eq(ret, 0, "%s", env.err);
	cr_assert_eq(env.out.mode, BOOT_ENTRY_PVH32);
	cr_assert_eq(env.out.entry, PADDR + 0x80);
}

Test(boot_elf, pvh_note_with_64bit_desc_enters_pvh)
{
	struct tb_elf e = elf(8);
	tb_write_elf(env.kernel, &e);

	int ret = tb_boot(&env);

	cr_assert_eq(ret, 0, "%s", env.err);
	cr_assert_eq(env.out.mode, BOOT_ENTRY_PVH32);
	cr_assert_eq(env.out.entry, PADDR + 0x80);
}

Test(boot_elf, pvh_boot_data_is_start_info)
{
	struct tb_elf e = elf(4);
	tb_write_elf(env.kernel, &e);

	cr_assert_eq(tb_boot(&env), 0, "%s", env.err);

	cr_assert_eq(env.out.boot_data, LAYOUT_PVH_START_INFO);
}

Test(boot_elf, malformed_pvh_note_is_format_error)
{
	struct tb_elf e = elf(2);
	tb_write_elf(env.kernel, &e);

	int ret = tb_boot(&env);

	cr_assert_eq(ret, -BOOT_ERR_FORMAT);
	cr_assert(strstr(env.err, "malformed Xen PHYS32_ENTRY note"), "%s", env.err);
}

Test(boot_elf, pvh_entry_outside_ram_is_format_error)
{
	struct tb_elf e = elf(4);
	e.pvh_entry = 128 * MiB;
	tb_write_elf(env.kernel, &e);

	cr_assert_eq(tb_boot(&env), -BOOT_ERR_FORMAT);
}

Test(boot_elf, segment_below_1m_is_format_error)
{
	struct tb_elf e = elf(0);
	e.paddr = 0x80000;
	tb_write_elf(env.kernel, &e);

	int ret = tb_boot(&env);

	cr_assert_eq(ret, -BOOT_ERR_FORMAT);
	cr_assert(strstr(env.err, "below 1 MiB"), "%s", env.err);
}

Test(boot_elf, segment_beyond_ram_is_nofit)
{
	struct tb_elf e = elf(0);
	e.paddr = 64 * MiB - 0x1000;
	tb_write_elf(env.kernel, &e);

	int ret = tb_boot(&env);

	cr_assert_eq(ret, -BOOT_ERR_NOFIT);
	cr_assert(strstr(env.err, "does not fit in guest RAM"), "%s", env.err);
}

Test(boot_elf, error_message_names_the_file)
{
	struct tb_elf e = elf(0);
	e.paddr = 64 * MiB;
	tb_write_elf(env.kernel, &e);

	cr_assert_eq(tb_boot(&env), -BOOT_ERR_NOFIT);

	cr_assert_eq(strncmp(env.err, "kernel ", 7), 0, "%s", env.err);
	cr_assert_not_null(strstr(env.err, env.kernel), "%s", env.err);
}

Test(boot_elf, truncated_phdr_table_is_format_error)
{
	write_patched(offsetof(Elf64_Ehdr, e_phoff), 0x1000 + TB_ELF_DATA - 100, 8);

	int ret = tb_boot(&env);

	cr_assert_eq(ret, -BOOT_ERR_FORMAT);
	cr_assert(strstr(env.err, "truncated ELF program header table"), "%s", env.err);
}

Test(boot_elf, huge_phoff_does_not_wrap)
{
	write_patched(offsetof(Elf64_Ehdr, e_phoff), UINT64_MAX - 8, 8);

	cr_assert_eq(tb_boot(&env), -BOOT_ERR_FORMAT);
}

Test(boot_elf, short_phentsize_is_format_error)
{
	write_patched(offsetof(Elf64_Ehdr, e_phentsize), 32, 2);

	cr_assert_eq(tb_boot(&env), -BOOT_ERR_FORMAT);
}

Test(boot_elf, zero_phnum_is_format_error)
{
	write_patched(offsetof(Elf64_Ehdr, e_phnum), 0, 2);

	cr_assert_eq(tb_boot(&env), -BOOT_ERR_FORMAT);
}

Test(boot_elf, segment_past_end_of_file_is_format_error)
{
	write_patched(TB_ELF_PHOFF + offsetof(Elf64_Phdr, p_offset), 0x10000, 8);

	int ret = tb_boot(&env);

	cr_assert_eq(ret, -BOOT_ERR_FORMAT);
	cr_assert(strstr(env.err, "past the end of the file"), "%s", env.err);
}

Test(boot_elf, filesz_above_memsz_is_format_error)
{
	write_patched(TB_ELF_PHOFF + offsetof(Elf64_Phdr, p_memsz), 0x800, 8);

	cr_assert_eq(tb_boot(&env), -BOOT_ERR_FORMAT);
}

Test(boot_elf, elf32_is_rejected_as_not_a_kernel)
{
	write_patched(EI_CLASS, ELFCLASS32, 1);

	int ret = tb_boot(&env);

	cr_assert_eq(ret, -BOOT_ERR_FORMAT);
	cr_assert(strstr(env.err, "not an ELF64 x86-64 or bzImage kernel"), "%s", env.err);
}

Test(boot_elf, other_machine_is_format_error)
{
	write_patched(offsetof(Elf64_Ehdr, e_machine), EM_AARCH64, 2);

	cr_assert_eq(tb_boot(&env), -BOOT_ERR_FORMAT);
}

Test(boot_elf, truncated_elf_header_is_format_error)
{
	tb_write_file(env.kernel, "\177ELF\2\1\1", 7);

	int ret = tb_boot(&env);

	cr_assert_eq(ret, -BOOT_ERR_FORMAT);
	cr_assert(strstr(env.err, "truncated ELF header"), "%s", env.err);
}
