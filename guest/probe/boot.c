/* boot.c: copies boot data from hvm_start_info (PVH) or boot_params (Linux) into struct bootinfo. */
#include "probe.h"

#define PVH_MAGIC 0x336ec578

struct bootinfo bi;

struct hvm_start_info {
	u32 magic, version, flags, nr_modules;
	u64 modlist_paddr, cmdline_paddr, rsdp_paddr;
	u64 memmap_paddr;
	u32 memmap_entries, reserved;
};
struct hvm_memmap_entry {
	u64 addr, size;
	u32 type, reserved;
};
struct hvm_modlist_entry {
	u64 paddr, size, cmdline_paddr, reserved;
};

static void copy_cmdline(u64 addr)
{
	bi.cmdline_addr = addr;
	if (!addr)
		return;
	const char *s = (const char *)addr;
	size_t i = 0;
	for (; i < CMDLINE_MAX - 1 && s[i]; i++)
		bi.cmdline[i] = s[i];
	bi.cmdline[i] = 0;
}

static void add_range(u64 addr, u64 size, u32 type)
{
	if (bi.nmem >= MAX_MEM_RANGES || size == 0)
		return;
	bi.mem[bi.nmem++] = (struct mem_range){ addr, size, type };
}

static void parse_pvh(u64 info)
{
	const struct hvm_start_info *si = (const void *)info;
	if (si->magic != PVH_MAGIC) {
		pr("probe: bad hvm_start_info magic 0x%x at 0x%lx\n", si->magic, info);
		probe_exit(1);
	}
	copy_cmdline(si->cmdline_paddr);
	bi.rsdp = si->rsdp_paddr;
	if (si->nr_modules && si->modlist_paddr) {
		const struct hvm_modlist_entry *m = (const void *)si->modlist_paddr;
		bi.initrd_addr = m->paddr;
		bi.initrd_size = m->size;
	}
	if (si->version >= 1 && si->memmap_paddr) {
		const struct hvm_memmap_entry *e = (const void *)si->memmap_paddr;
		for (u32 i = 0; i < si->memmap_entries; i++)
			add_range(e[i].addr, e[i].size, e[i].type);
	}
}

#define BP8(off) (*(const u8 *)(bp + (off)))
#define BP32(off) (*(const u32 *)(bp + (off)))
#define BP64(off) (*(const u64 *)(bp + (off)))

static void parse_linux(u64 bp)
{
	copy_cmdline(BP32(0x228) | ((u64)BP32(0x0c8) << 32));
	bi.rsdp = BP64(0x070);
	bi.initrd_addr = BP32(0x218) | ((u64)BP32(0x0c0) << 32);
	bi.initrd_size = BP32(0x21c) | ((u64)BP32(0x0c4) << 32);
	u32 n = BP8(0x1e8);
	for (u32 i = 0; i < n && i < 128; i++) {
		u64 e = bp + 0x2d0 + 20 * i;
		add_range(*(const u64 *)e, *(const u64 *)(e + 8), *(const u32 *)(e + 16));
	}
}

void boot_parse(u32 kind, u64 info)
{
	bi.kind = (int)kind;
	bi.info_addr = info;
	if (kind == KIND_PVH) {
		bi.kind_name = "pvh";
		parse_pvh(info);
	} else {
		bi.kind_name = kind == KIND_LINUX64 ? "linux64" : "linux32";
		parse_linux(info);
	}
}

/* End of the highest memory-map entry that is not plain "reserved" (RAM, ACPI data, NVS, ...). */
u64 mem_top(void)
{
	u64 top = 0;
	for (int i = 0; i < bi.nmem; i++)
		if (bi.mem[i].type != 2 && bi.mem[i].addr + bi.mem[i].size > top)
			top = bi.mem[i].addr + bi.mem[i].size;
	return top;
}
