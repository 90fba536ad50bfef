/* bzimage.c: loads a bzImage's protected-mode kernel for the 64-bit Linux boot protocol. */
#include <inttypes.h>

#include "boot/boot_internal.h"
#include "layout.h"

#define SECTOR_SIZE          512
#define DEFAULT_SETUP_SECTS  4      /* setup_sects 0 means 4 */
#define STARTUP_64_OFFSET    0x200  /* 64-bit entry relative to the protected-mode kernel */
#define PROTO_MIN_64BIT      0x020c /* xloadflags, hence XLF_KERNEL_64, exist from 2.12 */
#define PROTO_PREF_ADDRESS   0x020a /* pref_address and init_size exist from 2.10 */
#define PROTO_INITRD_MAX     0x0203
#define PROTO_CMDLINE_SIZE   0x0206
#define CMDLINE_SIZE_OLD     255

bool boot_is_bzimage(const uint8_t *head, size_t head_len)
{
	return head_len >= HDR_HEADER + 4 && get_le16(head + HDR_BOOT_FLAG) == BOOT_FLAG_MAGIC &&
	       get_le32(head + HDR_HEADER) == HDRS_MAGIC;
}

static int check_header(const struct boot_file *f, const uint8_t *head, size_t head_len,
			char *err, size_t errlen)
{
	uint16_t version;

	if (head_len < BP_HDR_MAX_END)
		return boot_fail(err, errlen, BOOT_ERR_FORMAT,
				 "kernel %s: truncated bzImage setup header", f->path);
	version = get_le16(head + HDR_VERSION);
	if (version < PROTO_MIN_64BIT || !(get_le16(head + HDR_XLOADFLAGS) & XLF_KERNEL_64))
		return boot_fail(err, errlen, BOOT_ERR_FORMAT,
				 "kernel %s: bzImage (boot protocol %u.%02u) has no 64-bit entry "
				 "point (needs protocol 2.12 and XLF_KERNEL_64)", f->path,
				 version >> 8, version & 0xff);
	return 0;
}

/* Copies the setup header as the file defines its length (0x202 + jump byte), capped. */
static void copy_setup_header(const uint8_t *head, struct boot_kernel *k)
{
	size_t end = HDR_HEADER + (size_t)head[HDR_JUMP_LEN];

	if (end > BP_HDR_MAX_END)
		end = BP_HDR_MAX_END;
	k->setup_hdr_len = end - BP_HDR_START;
	memcpy(k->setup_hdr, head + BP_HDR_START, k->setup_hdr_len);
}

static void read_limits(const uint8_t *head, struct boot_kernel *k)
{
	uint16_t version = get_le16(head + HDR_VERSION);
	uint64_t addr_max = version >= PROTO_INITRD_MAX ? get_le32(head + HDR_INITRD_ADDR_MAX)
						       : INITRD_ADDR_MAX_OLD;
	uint64_t cmdline = version >= PROTO_CMDLINE_SIZE ? get_le32(head + HDR_CMDLINE_SIZE)
							 : CMDLINE_SIZE_OLD;

	k->initrd_end_max = addr_max + 1;
	k->cmdline_max = cmdline < LAYOUT_CMDLINE_MAX - 1 ? cmdline : LAYOUT_CMDLINE_MAX - 1;
}

int boot_load_bzimage(struct guest_mem *mem, const struct boot_file *f, const uint8_t *head,
		      size_t head_len, struct boot_kernel *k, char *err, size_t errlen)
{
	uint64_t setup_sects, setup_size, ksize, load, need, pref = 0, init_size = 0;
	uint8_t *hva;
	int ret;

	ret = check_header(f, head, head_len, err, errlen);
	if (ret < 0)
		return ret;
	setup_sects = head[HDR_SETUP_SECTS] ? head[HDR_SETUP_SECTS] : DEFAULT_SETUP_SECTS;
	setup_size = (setup_sects + 1) * SECTOR_SIZE;
	if (setup_size >= f->size)
		return boot_fail(err, errlen, BOOT_ERR_FORMAT,
				 "kernel %s: truncated bzImage (setup %" PRIu64 " bytes, file %" PRIu64
				 " bytes)", f->path, setup_size, f->size);
	ksize = f->size - setup_size;
	if (get_le16(head + HDR_VERSION) >= PROTO_PREF_ADDRESS) {
		pref = get_le64(head + HDR_PREF_ADDRESS);
		init_size = get_le32(head + HDR_INIT_SIZE);
	}
	load = pref >= LAYOUT_HIGH_RAM_START ? pref : LAYOUT_HIGH_RAM_START;
	need = init_size > ksize ? init_size : ksize;
	hva = gpa_to_hva(mem, load, need);
	if (!hva)
		return boot_fail(err, errlen, BOOT_ERR_NOFIT,
				 "kernel %s: needs %" PRIu64 " bytes at 0x%" PRIx64
				 ", beyond guest RAM (%" PRIu64 " bytes)", f->path, need, load,
				 mem->ram_size);
	ret = boot_file_read(f, setup_size, hva, ksize, err, errlen);
	if (ret < 0)
		return ret;
	k->mode = BOOT_ENTRY_LINUX64;
	k->entry = load + STARTUP_64_OFFSET;
	k->load_addr = load;
	k->kernel_end = load + need;
	read_limits(head, k);
	copy_setup_header(head, k);
	return 0;
}
