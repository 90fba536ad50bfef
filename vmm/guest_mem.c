/* guest_mem.c: guest RAM backed by one memfd, split around the 32-bit MMIO gap, and gpa_to_hva. */
#define _GNU_SOURCE
#include "guest_mem.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include "layout.h"

#ifndef MFD_HUGE_2MB
#define MFD_HUGE_2MB (21U << 26) /* log2(2 MiB) << MFD_HUGE_SHIFT */
#endif

/* Smallest guest: the low 1 MiB (boot data, EBDA, BIOS area) plus 1 MiB for a kernel. */
#define GUEST_MEM_MIN_SIZE   (2 * MiB)
/* Largest guest: keeps every guest-physical address below 1 TiB + the 1 GiB gap. */
#define GUEST_MEM_MAX_SIZE   (1024 * GiB)
#define GUEST_MEM_PAGE       4096ULL
#define GUEST_MEM_HUGE_PAGE  (2 * MiB)

static void add_region(struct guest_mem *mem, uint64_t gpa, uint64_t size, uint64_t fd_offset)
{
	struct guest_region *r = &mem->regions[mem->nr_regions++];

	r->gpa = gpa;
	r->size = size;
	r->hva = NULL;
	r->fd_offset = fd_offset;
}

/* Minimum size is 2 MiB (GUEST_MEM_MIN_SIZE), maximum 1 TiB; size must be a multiple of 4 KiB. */
int guest_mem_layout(struct guest_mem *mem, uint64_t ram_size)
{
	uint64_t low;

	memset(mem, 0, sizeof(*mem));
	mem->fd = -1;
	if (ram_size < GUEST_MEM_MIN_SIZE || ram_size % GUEST_MEM_PAGE != 0)
		return -EINVAL;
	if (ram_size > GUEST_MEM_MAX_SIZE)
		return -E2BIG;
	low = ram_size < LAYOUT_MMIO_GAP_START ? ram_size : LAYOUT_MMIO_GAP_START;
	add_region(mem, 0, low, 0);
	if (ram_size > low)
		add_region(mem, LAYOUT_MMIO_GAP_END, ram_size - low, low);
	mem->ram_size = ram_size;
	return 0;
}

/* -ENOMEM when the request exceeds what the host could ever back (RAM plus swap). */
static int check_host_capacity(uint64_t ram_size)
{
	struct sysinfo si;
	uint64_t unit, total;

	if (sysinfo(&si) != 0)
		return -errno;
	unit = si.mem_unit ? si.mem_unit : 1;
	total = ((uint64_t)si.totalram + (uint64_t)si.totalswap) * unit;
	return ram_size > total ? -ENOMEM : 0;
}

static int map_regions(struct guest_mem *mem)
{
	for (unsigned int i = 0; i < mem->nr_regions; i++) {
		struct guest_region *r = &mem->regions[i];
		void *p = mmap(NULL, r->size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE,
			       mem->fd, (off_t)r->fd_offset);

		if (p == MAP_FAILED)
			return -errno;
		r->hva = p;
		/* Guest RAM has no place in a VMM core dump; failure here is harmless. */
		(void)madvise(p, r->size, MADV_DONTDUMP);
	}
	return 0;
}

int guest_mem_create(struct guest_mem *mem, uint64_t ram_size, int hugepages)
{
	unsigned int flags = MFD_CLOEXEC;
	int ret;

	ret = guest_mem_layout(mem, ram_size);
	if (ret < 0)
		return ret;
	if (hugepages) {
		flags |= MFD_HUGETLB | MFD_HUGE_2MB;
		if (ram_size % GUEST_MEM_HUGE_PAGE != 0)
			ret = -EINVAL;
	}
	if (ret == 0)
		ret = check_host_capacity(ram_size);
	if (ret == 0) {
		mem->fd = memfd_create("cellvm-ram", flags);
		if (mem->fd < 0)
			ret = -errno;
	}
	if (ret == 0 && ftruncate(mem->fd, (off_t)ram_size) != 0)
		ret = -errno;
	if (ret == 0)
		ret = map_regions(mem);
	if (ret < 0)
		guest_mem_destroy(mem); /* leaves fd -1 and no regions */
	return ret;
}

/* mem owns a mapping only while nr_regions > 0 (a zeroed or destroyed struct owns nothing). */
void guest_mem_destroy(struct guest_mem *mem)
{
	for (unsigned int i = 0; i < mem->nr_regions && i < GUEST_MEM_MAX_REGIONS; i++) {
		struct guest_region *r = &mem->regions[i];

		if (r->hva)
			munmap(r->hva, r->size);
		r->hva = NULL;
	}
	if (mem->nr_regions > 0 && mem->fd >= 0)
		close(mem->fd);
	mem->fd = -1;
	mem->nr_regions = 0;
	mem->ram_size = 0;
}

void *gpa_to_hva(const struct guest_mem *mem, uint64_t gpa, uint64_t len)
{
	uint64_t last;

	if (len == 0)
		len = 1;
	if (__builtin_add_overflow(gpa, len - 1, &last))
		return NULL;
	for (unsigned int i = 0; i < mem->nr_regions && i < GUEST_MEM_MAX_REGIONS; i++) {
		const struct guest_region *r = &mem->regions[i];

		if (r->hva && gpa >= r->gpa && last - r->gpa < r->size)
			return r->hva + (gpa - r->gpa);
	}
	return NULL;
}
