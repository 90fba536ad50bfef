/* test_boot_helpers.h: synthetic kernels, temp files and guest-memory peeks for the boot tests. */
#ifndef CELLVM_TEST_BOOT_HELPERS_H
#define CELLVM_TEST_BOOT_HELPERS_H

#include <stddef.h>
#include <stdint.h>

#include "boot/boot.h"
#include "guest_mem.h"

/* A temp directory with a guest, a config pointing at dir/kernel and dir/initrd, and outputs. */
struct tb_env {
	char dir[64];
	char kernel[128];
	char initrd[128];
	struct guest_mem mem;
	struct boot_config cfg;
	struct boot_result out;
	char err[256];
};

void tb_env_setup(struct tb_env *env, uint64_t ram_size);
void tb_env_teardown(struct tb_env *env);
int tb_boot(struct tb_env *env); /* boot_load(&env->mem, &env->cfg, &env->out, env->err, ...) */

void tb_write_file(const char *path, const void *data, size_t len);
void tb_write_sparse(const char *path, uint64_t size);

/* Minimal ELF64 x86-64 ET_EXEC: one PT_LOAD (bytes 0x5a) and, optionally, a PT_NOTE with a
 * Xen PHYS32_ENTRY note (pvh_descsz 4 or 8; 0 for no note, the PT_NOTE is then empty). */
struct tb_elf {
	uint64_t entry;
	uint64_t paddr;
	uint64_t filesz;
	uint64_t memsz;
	uint32_t pvh_descsz;
	uint64_t pvh_entry;
};
#define TB_ELF_PHOFF   64
#define TB_ELF_DATA    0x200 /* file offset of the PT_LOAD bytes */
#define TB_ELF_BYTE    0x5a
uint8_t *tb_build_elf(const struct tb_elf *e, size_t *len);
void tb_write_elf(const char *path, const struct tb_elf *e);

/* Minimal bzImage: setup sectors then ksize bytes of 0xc3 as the protected-mode kernel. */
struct tb_bz {
	uint8_t setup_sects;
	uint16_t version;
	uint16_t xloadflags;
	uint64_t pref_address;
	uint32_t init_size;
	uint32_t cmdline_size;
	uint32_t initrd_addr_max;
	uint8_t loadflags;
	uint64_t ksize;
};
#define TB_BZ_BYTE 0xc3
struct tb_bz tb_bz_default(void);
uint8_t *tb_build_bzimage(const struct tb_bz *b, size_t *len);
void tb_write_bzimage(const char *path, const struct tb_bz *b);

/* Reads guest memory (asserting the range is mapped). */
uint8_t tb_rd8(const struct guest_mem *mem, uint64_t gpa);
uint16_t tb_rd16(const struct guest_mem *mem, uint64_t gpa);
uint32_t tb_rd32(const struct guest_mem *mem, uint64_t gpa);
uint64_t tb_rd64(const struct guest_mem *mem, uint64_t gpa);
/* 1 if all len bytes at gpa equal byte. */
int tb_all(const struct guest_mem *mem, uint64_t gpa, uint64_t len, uint8_t byte);

#endif
