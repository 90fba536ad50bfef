/* memmap.h: the guest's physical memory map (e820 / PVH memmap) derived from guest_mem. */
#ifndef CELLVM_BOOT_MEMMAP_H
#define CELLVM_BOOT_MEMMAP_H

#include <stdint.h>

#include "guest_mem.h"

/* Types shared by the e820 table and the PVH memmap (both use 1 and 2). */
enum boot_mem_type {
	BOOT_MEM_RAM = 1,
	BOOT_MEM_RESERVED = 2,
};

/* Most entries either table can carry (E820_MAX_ENTRIES_ZEROPAGE). */
#define BOOT_MEMMAP_MAX 128

struct boot_mem_range {
	uint64_t addr;
	uint64_t size;
	uint32_t type; /* enum boot_mem_type */
};

/* Fills map (capacity cap) with, in ascending order: RAM [0, EBDA), reserved EBDA, reserved
 * BIOS area, RAM [1 MiB, end of the first region), reserved PCI ECAM window, then one RAM
 * entry per further region.
 * Returns the entry count, -EINVAL if mem's first region does not start at 0 and cover
 * 1 MiB, or -ENOSPC if cap is too small. */
int boot_memmap_build(const struct guest_mem *mem, struct boot_mem_range *map, unsigned int cap)
	__attribute__((warn_unused_result));

#endif
