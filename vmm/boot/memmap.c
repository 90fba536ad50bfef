/* memmap.c: builds the guest physical memory map shared by the e820 table and the PVH memmap. */
#include "boot/memmap.h"

#include <errno.h>

#include "layout.h"

/* The ECAM window lies in the MMIO gap, between the low RAM region and RAM above 4 GiB,
 * so the map stays in ascending order. */
_Static_assert(LAYOUT_PCI_ECAM >= LAYOUT_MMIO_GAP_START &&
	       LAYOUT_PCI_ECAM + LAYOUT_PCI_ECAM_SIZE <= LAYOUT_MMIO_GAP_END,
	       "PCI ECAM inside the 32-bit MMIO gap");

static int push(struct boot_mem_range *map, unsigned int cap, unsigned int *n, uint64_t addr,
		uint64_t end, uint32_t type)
{
	if (*n >= cap)
		return -ENOSPC;
	map[*n].addr = addr;
	map[*n].size = end - addr;
	map[*n].type = type;
	(*n)++;
	return 0;
}

/* RAM [0, EBDA), reserved EBDA and BIOS area, RAM [1 MiB, end of the first region),
 * reserved PCI ECAM (so Linux trusts the MCFG), then RAM of the regions above 4 GiB. */
int boot_memmap_build(const struct guest_mem *mem, struct boot_mem_range *map, unsigned int cap)
{
	const struct guest_region *low = &mem->regions[0];
	unsigned int n = 0;
	int ret;

	if (mem->nr_regions == 0 || mem->nr_regions > GUEST_MEM_MAX_REGIONS || low->gpa != 0 ||
	    low->size <= LAYOUT_HIGH_RAM_START || low->size > LAYOUT_PCI_ECAM)
		return -EINVAL;
	ret = push(map, cap, &n, 0, LAYOUT_EBDA_START, BOOT_MEM_RAM);
	if (!ret)
		ret = push(map, cap, &n, LAYOUT_EBDA_START, LAYOUT_LOW_RAM_END, BOOT_MEM_RESERVED);
	if (!ret)
		ret = push(map, cap, &n, LAYOUT_BIOS_START, LAYOUT_BIOS_END, BOOT_MEM_RESERVED);
	if (!ret)
		ret = push(map, cap, &n, LAYOUT_HIGH_RAM_START, low->size, BOOT_MEM_RAM);
	if (!ret)
		ret = push(map, cap, &n, LAYOUT_PCI_ECAM, LAYOUT_PCI_ECAM + LAYOUT_PCI_ECAM_SIZE,
			   BOOT_MEM_RESERVED);
	for (unsigned int i = 1; !ret && i < mem->nr_regions; i++) {
		const struct guest_region *r = &mem->regions[i];

		ret = push(map, cap, &n, r->gpa, r->gpa + r->size, BOOT_MEM_RAM);
	}
	return ret < 0 ? ret : (int)n;
}
