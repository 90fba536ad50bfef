/* guest_mem.h: guest RAM as memfd-backed regions and the one checked GPA-to-HVA helper. */
#ifndef CELLVM_GUEST_MEM_H
#define CELLVM_GUEST_MEM_H

#include <stddef.h>
#include <stdint.h>

#define GUEST_MEM_MAX_REGIONS 4

struct guest_region {
	uint64_t gpa;        /* guest-physical start */
	uint64_t size;       /* bytes */
	uint8_t *hva;        /* host mapping */
	uint64_t fd_offset;  /* offset of this region in the backing memfd */
};

struct guest_mem {
	int fd;              /* memfd (or hugetlbfs file) backing all regions, -1 if none */
	uint64_t ram_size;   /* total RAM in bytes (sum of regions) */
	unsigned int nr_regions;
	struct guest_region regions[GUEST_MEM_MAX_REGIONS];
};

/* Creates RAM of ram_size bytes laid out around the 32-bit MMIO gap (see layout.h).
 * Returns 0 or -errno; on failure nothing is left allocated. */
int guest_mem_create(struct guest_mem *mem, uint64_t ram_size, int hugepages)
	__attribute__((warn_unused_result));
void guest_mem_destroy(struct guest_mem *mem);

/* Lays out regions without allocating (hva NULL): used by guest_mem_create and by tests. */
int guest_mem_layout(struct guest_mem *mem, uint64_t ram_size) __attribute__((warn_unused_result));

/* Returns a host pointer for [gpa, gpa+len) or NULL unless the whole range lies inside one
 * region (overflow-checked). len 0 is treated as 1. Every guest address goes through here. */
void *gpa_to_hva(const struct guest_mem *mem, uint64_t gpa, uint64_t len);

#endif
