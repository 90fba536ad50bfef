/* initrd.c: places the command line and the initramfs in guest RAM. */
#include <inttypes.h>

#include "boot/boot_internal.h"
#include "layout.h"

#define PAGE_SIZE 4096ULL

int boot_place_cmdline(struct guest_mem *mem, const char *cmdline, const struct boot_kernel *k,
		       struct boot_payload *p, char *err, size_t errlen)
{
	const char *s = cmdline ? cmdline : "";
	size_t len = strlen(s);
	char *dst;

	if (len > k->cmdline_max)
		return boot_fail(err, errlen, BOOT_ERR_NOFIT,
				 "command line too long (%zu bytes, at most %" PRIu64 ")", len,
				 k->cmdline_max);
	dst = gpa_to_hva(mem, LAYOUT_CMDLINE, len + 1);
	if (!dst)
		return boot_fail(err, errlen, BOOT_ERR_NOFIT, "command line does not fit in guest RAM");
	memcpy(dst, s, len);
	dst[len] = '\0';
	p->cmdline_gpa = LAYOUT_CMDLINE;
	return 0;
}

/* The highest page-aligned start for size bytes ending at or below the limits and starting at
 * or above the kernel's end, or 0 if there is none. */
static uint64_t initrd_address(const struct guest_mem *mem, const struct boot_kernel *k,
			       uint64_t size)
{
	uint64_t top = mem->regions[0].gpa + mem->regions[0].size;
	uint64_t floor = (k->kernel_end + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
	uint64_t addr;

	if (top > LAYOUT_MMIO_GAP_START)
		top = LAYOUT_MMIO_GAP_START;
	if (k->initrd_end_max < top)
		top = k->initrd_end_max;
	if (size > top)
		return 0;
	addr = (top - size) & ~(PAGE_SIZE - 1);
	return addr >= floor ? addr : 0;
}

static int load_initrd_file(struct guest_mem *mem, const struct boot_file *f,
			    const struct boot_kernel *k, struct boot_payload *p, char *err,
			    size_t errlen)
{
	uint64_t addr;
	void *hva;
	int ret;

	/* An empty file means no initramfs: Linux and PVH both read size 0 as "none". */
	if (f->size == 0)
		return 0;
	addr = initrd_address(mem, k, f->size);
	hva = addr ? gpa_to_hva(mem, addr, f->size) : NULL;
	if (!hva)
		return boot_fail(err, errlen, BOOT_ERR_NOFIT,
				 "initramfs %s (%" PRIu64 " bytes) does not fit in guest memory",
				 f->path, f->size);
	ret = boot_file_read(f, 0, hva, f->size, err, errlen);
	if (ret < 0)
		return ret;
	p->initrd_gpa = addr;
	p->initrd_size = f->size;
	return 0;
}

int boot_load_initrd(struct guest_mem *mem, const char *path, const struct boot_kernel *k,
		     struct boot_payload *p, char *err, size_t errlen)
{
	struct boot_file f;
	int ret;

	p->initrd_gpa = 0;
	p->initrd_size = 0;
	if (!path)
		return 0;
	ret = boot_file_open(&f, "initramfs", path, err, errlen);
	if (ret < 0)
		return ret;
	ret = load_initrd_file(mem, &f, k, p, err, errlen);
	boot_file_close(&f);
	return ret;
}
