/* test_boot_helpers.c: builders for synthetic ELF and bzImage kernels used by the boot tests. */
#define _GNU_SOURCE
#include "test_boot_helpers.h"

#include <criterion/criterion.h>
#include <elf.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void tb_env_setup(struct tb_env *env, uint64_t ram_size)
{
	memset(env, 0, sizeof(*env));
	snprintf(env->dir, sizeof(env->dir), "/tmp/cellvm-boot-XXXXXX");
	cr_assert_not_null(mkdtemp(env->dir));
	snprintf(env->kernel, sizeof(env->kernel), "%s/kernel", env->dir);
	snprintf(env->initrd, sizeof(env->initrd), "%s/initrd", env->dir);
	cr_assert_eq(guest_mem_create(&env->mem, ram_size, 0), 0);
	env->cfg.kernel_path = env->kernel;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

void tb_env_teardown(struct tb_env *env)
{
	guest_mem_destroy(&env->mem);
	nftw(env->dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
}

int tb_boot(struct tb_env *env)
{
	return boot_load(&env->mem, &env->cfg, &env->out, env->err, sizeof(env->err));
}

void tb_write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, data, len), (ssize_t)len);
	close(fd);
}

void tb_write_sparse(const char *path, uint64_t size)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	cr_assert_geq(fd, 0);
	cr_assert_eq(ftruncate(fd, (off_t)size), 0);
	close(fd);
}

static size_t put_note(uint8_t *p, const struct tb_elf *e)
{
	Elf64_Nhdr nh = { .n_namesz = 4, .n_descsz = e->pvh_descsz, .n_type = 18 };

	memcpy(p, &nh, sizeof(nh));
	memcpy(p + sizeof(nh), "Xen", 4);
	memcpy(p + sizeof(nh) + 4, &e->pvh_entry, e->pvh_descsz);
	return sizeof(nh) + 4 + ((e->pvh_descsz + 3) & ~3U);
}

uint8_t *tb_build_elf(const struct tb_elf *e, size_t *len)
{
	Elf64_Ehdr eh = {
		.e_ident = { ELFMAG0, ELFMAG1, ELFMAG2, ELFMAG3, ELFCLASS64, ELFDATA2LSB, EV_CURRENT },
		.e_type = ET_EXEC, .e_machine = EM_X86_64, .e_version = EV_CURRENT,
		.e_entry = e->entry, .e_phoff = TB_ELF_PHOFF, .e_ehsize = sizeof(Elf64_Ehdr),
		.e_phentsize = sizeof(Elf64_Phdr), .e_phnum = 2,
	};
	size_t note_off = TB_ELF_PHOFF + 2 * sizeof(Elf64_Phdr);
	uint8_t *buf;
	Elf64_Phdr ph[2] = {
		{ .p_type = PT_LOAD, .p_offset = TB_ELF_DATA, .p_vaddr = e->paddr,
		  .p_paddr = e->paddr, .p_filesz = e->filesz, .p_memsz = e->memsz },
		{ .p_type = PT_NOTE, .p_offset = note_off },
	};

	*len = TB_ELF_DATA + e->filesz;
	buf = calloc(1, *len);
	cr_assert_not_null(buf);
	ph[1].p_filesz = e->pvh_descsz ? put_note(buf + note_off, e) : 0;
	memcpy(buf, &eh, sizeof(eh));
	memcpy(buf + TB_ELF_PHOFF, ph, sizeof(ph));
	memset(buf + TB_ELF_DATA, TB_ELF_BYTE, e->filesz);
	return buf;
}

void tb_write_elf(const char *path, const struct tb_elf *e)
{
	size_t len;
	uint8_t *buf = tb_build_elf(e, &len);

	tb_write_file(path, buf, len);
	free(buf);
}

struct tb_bz tb_bz_default(void)
{
	return (struct tb_bz){
		.setup_sects = 4, .version = 0x020f, .xloadflags = 1, .pref_address = 0x1000000,
		.init_size = 0x200000, .cmdline_size = 2048, .initrd_addr_max = 0x7fffffff,
		.loadflags = 0x01, .ksize = 0x3000,
	};
}

static void put(uint8_t *buf, size_t off, uint64_t v, size_t n)
{
	memcpy(buf + off, &v, n);
}

uint8_t *tb_build_bzimage(const struct tb_bz *b, size_t *len)
{
	size_t setup = ((size_t)(b->setup_sects ? b->setup_sects : 4) + 1) * 512;
	uint8_t *buf;

	*len = setup + b->ksize;
	buf = calloc(1, *len > 0x290 ? *len : 0x290);
	cr_assert_not_null(buf);
	put(buf, 0x1f1, b->setup_sects, 1);
	put(buf, 0x1fe, 0xaa55, 2);
	put(buf, 0x200, 0x66eb, 2); /* jmp short: header ends at 0x202 + 0x66 = 0x268 */
	put(buf, 0x202, 0x53726448, 4);
	put(buf, 0x206, b->version, 2);
	put(buf, 0x211, b->loadflags, 1);
	put(buf, 0x22c, b->initrd_addr_max, 4);
	put(buf, 0x230, 0x200000, 4);
	put(buf, 0x234, 1, 1);
	put(buf, 0x236, b->xloadflags, 2);
	put(buf, 0x238, b->cmdline_size, 4);
	put(buf, 0x258, b->pref_address, 8);
	put(buf, 0x260, b->init_size, 4);
	memset(buf + setup, TB_BZ_BYTE, b->ksize);
	return buf;
}

void tb_write_bzimage(const char *path, const struct tb_bz *b)
{
	size_t len;
	uint8_t *buf = tb_build_bzimage(b, &len);

	tb_write_file(path, buf, len);
	free(buf);
}

static void peek(const struct guest_mem *mem, uint64_t gpa, void *dst, size_t n)
{
	const void *src = gpa_to_hva(mem, gpa, n);

	cr_assert_not_null(src, "gpa 0x%llx not mapped", (unsigned long long)gpa);
	memcpy(dst, src, n);
}

uint8_t tb_rd8(const struct guest_mem *mem, uint64_t gpa)
{
	uint8_t v;

	peek(mem, gpa, &v, sizeof(v));
	return v;
}

uint16_t tb_rd16(const struct guest_mem *mem, uint64_t gpa)
{
	uint16_t v;

	peek(mem, gpa, &v, sizeof(v));
	return v;
}

uint32_t tb_rd32(const struct guest_mem *mem, uint64_t gpa)
{
	uint32_t v;

	peek(mem, gpa, &v, sizeof(v));
	return v;
}

uint64_t tb_rd64(const struct guest_mem *mem, uint64_t gpa)
{
	uint64_t v;

	peek(mem, gpa, &v, sizeof(v));
	return v;
}

int tb_all(const struct guest_mem *mem, uint64_t gpa, uint64_t len, uint8_t byte)
{
	const uint8_t *p = gpa_to_hva(mem, gpa, len);

	cr_assert_not_null(p);
	for (uint64_t i = 0; i < len; i++)
		if (p[i] != byte)
			return 0;
	return 1;
}
