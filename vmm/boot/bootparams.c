/* bootparams.c: builds the Linux zero page (struct boot_params) with its e820 table. */
#include "boot/boot_internal.h"
#include "boot/memmap.h"
#include "layout.h"

#define SYNTH_PROTO_VERSION   0x020f     /* header we synthesize for an ELF vmlinux */
#define SYNTH_KERNEL_ALIGN    0x1000000U /* CONFIG_PHYSICAL_ALIGN default, 16 MiB */

/* vmlinux carries no setup header; give it the minimal one Linux's 64-bit entry reads. */
static void synthesize_header(uint8_t *bp, const struct boot_kernel *k)
{
	put_le16(bp + HDR_BOOT_FLAG, BOOT_FLAG_MAGIC);
	put_le32(bp + HDR_HEADER, HDRS_MAGIC);
	put_le16(bp + HDR_VERSION, SYNTH_PROTO_VERSION);
	bp[HDR_LOADFLAGS] = LOADFLAG_LOADED_HIGH;
	put_le32(bp + HDR_KERNEL_ALIGNMENT, SYNTH_KERNEL_ALIGN);
	put_le32(bp + HDR_CMDLINE_SIZE, (uint32_t)k->cmdline_max);
}

static int write_e820(const struct guest_mem *mem, uint8_t *bp)
{
	struct boot_mem_range map[BP_E820_MAX];
	int n = boot_memmap_build(mem, map, BP_E820_MAX);

	if (n < 0)
		return n;
	for (int i = 0; i < n; i++) {
		struct boot_e820_entry e = { map[i].addr, map[i].size, map[i].type };

		memcpy(bp + BP_E820_TABLE + (size_t)i * sizeof(e), &e, sizeof(e));
	}
	bp[BP_E820_ENTRIES] = (uint8_t)n;
	return 0;
}

static void write_payload(uint8_t *bp, const struct boot_payload *p)
{
	put_le32(bp + HDR_CMD_LINE_PTR, (uint32_t)p->cmdline_gpa);
	put_le32(bp + BP_EXT_CMD_LINE_PTR, (uint32_t)(p->cmdline_gpa >> 32));
	put_le32(bp + HDR_RAMDISK_IMAGE, (uint32_t)p->initrd_gpa);
	put_le32(bp + BP_EXT_RAMDISK_IMAGE, (uint32_t)(p->initrd_gpa >> 32));
	put_le32(bp + HDR_RAMDISK_SIZE, (uint32_t)p->initrd_size);
	put_le32(bp + BP_EXT_RAMDISK_SIZE, (uint32_t)(p->initrd_size >> 32));
	put_le64(bp + BP_ACPI_RSDP_ADDR, p->rsdp_gpa);
}

int boot_write_params(struct guest_mem *mem, const struct boot_kernel *k,
		      const struct boot_payload *p, uint64_t *gpa, char *err, size_t errlen)
{
	uint8_t *bp = gpa_to_hva(mem, LAYOUT_ZERO_PAGE, BP_SIZE);
	int ret;

	if (!bp)
		return boot_fail(err, errlen, BOOT_ERR_NOFIT, "boot_params do not fit in guest RAM");
	memset(bp, 0, BP_SIZE);
	if (k->setup_hdr_len) {
		memcpy(bp + BP_HDR_START, k->setup_hdr, k->setup_hdr_len);
		put_le32(bp + HDR_CODE32_START, (uint32_t)k->load_addr);
	} else {
		synthesize_header(bp, k);
	}
	bp[HDR_TYPE_OF_LOADER] = LOADER_TYPE_UNDEFINED;
	bp[HDR_LOADFLAGS] |= LOADFLAG_CAN_USE_HEAP;
	put_le16(bp + HDR_HEAP_END_PTR, HEAP_END_PTR_DEFAULT);
	write_payload(bp, p);
	ret = write_e820(mem, bp);
	if (ret < 0)
		return boot_fail(err, errlen, BOOT_ERR_NOFIT, "guest memory map does not fit (%s)",
				 strerror(-ret));
	*gpa = LAYOUT_ZERO_PAGE;
	return 0;
}
