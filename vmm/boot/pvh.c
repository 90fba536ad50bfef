/* pvh.c: builds the Xen PVH hvm_start_info, its memory map and module list. */
#include <errno.h>

#include "boot/boot_internal.h"
#include "boot/memmap.h"
#include "layout.h"

#define HVM_START_MAGIC   0x336ec578U
#define HVM_START_VERSION 1

/* xen/include/public/arch-x86/hvm/start_info.h */
struct hvm_start_info {
	uint32_t magic;
	uint32_t version;
	uint32_t flags;
	uint32_t nr_modules;
	uint64_t modlist_paddr;
	uint64_t cmdline_paddr;
	uint64_t rsdp_paddr;
	uint64_t memmap_paddr;   /* version 1 */
	uint32_t memmap_entries; /* version 1 */
	uint32_t reserved;
} __attribute__((packed));
_Static_assert(sizeof(struct hvm_start_info) == 56, "hvm_start_info is 56 bytes");

struct hvm_modlist_entry {
	uint64_t paddr;
	uint64_t size;
	uint64_t cmdline_paddr;
	uint64_t reserved;
} __attribute__((packed));
_Static_assert(sizeof(struct hvm_modlist_entry) == 32, "hvm_modlist_entry is 32 bytes");

struct hvm_memmap_table_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
	uint32_t reserved;
} __attribute__((packed));
_Static_assert(sizeof(struct hvm_memmap_table_entry) == 24, "hvm memmap entry is 24 bytes");

/* The module list follows the memmap; even a full memmap leaves room before the zero page. */
_Static_assert(LAYOUT_PVH_START_INFO + sizeof(struct hvm_start_info) <= LAYOUT_PVH_MEMMAP,
	       "start_info overlaps the memmap");
_Static_assert(LAYOUT_PVH_MEMMAP + BOOT_MEMMAP_MAX * sizeof(struct hvm_memmap_table_entry) +
		       sizeof(struct hvm_modlist_entry) <= LAYOUT_ZERO_PAGE,
	       "PVH memmap and module list overlap the zero page");

/* Returns the number of entries written, or -errno. */
static int write_memmap(struct guest_mem *mem)
{
	struct boot_mem_range map[BOOT_MEMMAP_MAX];
	int n = boot_memmap_build(mem, map, BOOT_MEMMAP_MAX);
	uint8_t *dst;

	if (n < 0)
		return n;
	dst = gpa_to_hva(mem, LAYOUT_PVH_MEMMAP, (uint64_t)n * sizeof(struct hvm_memmap_table_entry));
	if (!dst)
		return -ENOSPC;
	for (int i = 0; i < n; i++) {
		struct hvm_memmap_table_entry e = { map[i].addr, map[i].size, map[i].type, 0 };

		memcpy(dst + (size_t)i * sizeof(e), &e, sizeof(e));
	}
	return n;
}

int boot_write_pvh(struct guest_mem *mem, const struct boot_payload *p, uint64_t *gpa, char *err,
		   size_t errlen)
{
	struct hvm_start_info si = {
		.magic = HVM_START_MAGIC, .version = HVM_START_VERSION,
		.cmdline_paddr = p->cmdline_gpa, .rsdp_paddr = p->rsdp_gpa,
		.memmap_paddr = LAYOUT_PVH_MEMMAP,
	};
	void *si_hva = gpa_to_hva(mem, LAYOUT_PVH_START_INFO, sizeof(si));
	int n = write_memmap(mem);

	if (n < 0 || !si_hva)
		return boot_fail(err, errlen, BOOT_ERR_NOFIT, "PVH start info does not fit in guest RAM");
	si.memmap_entries = (uint32_t)n;
	if (p->initrd_size) {
		struct hvm_modlist_entry mod = { .paddr = p->initrd_gpa, .size = p->initrd_size };
		uint64_t mod_gpa = LAYOUT_PVH_MEMMAP +
				   (uint64_t)si.memmap_entries * sizeof(struct hvm_memmap_table_entry);
		void *mod_hva = gpa_to_hva(mem, mod_gpa, sizeof(mod));

		if (!mod_hva)
			return boot_fail(err, errlen, BOOT_ERR_NOFIT,
					 "PVH module list does not fit in guest RAM");
		memcpy(mod_hva, &mod, sizeof(mod));
		si.nr_modules = 1;
		si.modlist_paddr = mod_gpa;
	}
	memcpy(si_hva, &si, sizeof(si));
	*gpa = LAYOUT_PVH_START_INFO;
	return 0;
}
