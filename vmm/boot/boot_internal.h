/* boot_internal.h: private interfaces between the kernel-loader files in vmm/boot/. */
#ifndef CELLVM_BOOT_INTERNAL_H
#define CELLVM_BOOT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "boot/boot.h"
#include "guest_mem.h"

/* Offsets into struct boot_params (the zero page) and its setup_header (boot.rst, zero-page.rst). */
#define BP_SIZE               0x1000
#define BP_ACPI_RSDP_ADDR     0x070 /* u64 */
#define BP_EXT_RAMDISK_IMAGE  0x0c0 /* u32 */
#define BP_EXT_RAMDISK_SIZE   0x0c4 /* u32 */
#define BP_EXT_CMD_LINE_PTR   0x0c8 /* u32 */
#define BP_E820_ENTRIES       0x1e8 /* u8 */
#define BP_HDR_START          0x1f1 /* setup_header begins with setup_sects */
#define BP_HDR_MAX_END        0x290 /* setup_header never extends past this */
#define BP_E820_TABLE         0x2d0 /* struct boot_e820_entry[128] */
#define BP_E820_MAX           128

#define HDR_SETUP_SECTS       0x1f1 /* u8 */
#define HDR_BOOT_FLAG         0x1fe /* u16, 0xaa55 */
#define HDR_JUMP_LEN          0x201 /* u8: second byte of the jump at 0x200 */
#define HDR_HEADER            0x202 /* u32, "HdrS" */
#define HDR_VERSION           0x206 /* u16 */
#define HDR_TYPE_OF_LOADER    0x210 /* u8 */
#define HDR_LOADFLAGS         0x211 /* u8 */
#define HDR_CODE32_START      0x214 /* u32 */
#define HDR_RAMDISK_IMAGE     0x218 /* u32 */
#define HDR_RAMDISK_SIZE      0x21c /* u32 */
#define HDR_HEAP_END_PTR      0x224 /* u16 */
#define HDR_CMD_LINE_PTR      0x228 /* u32 */
#define HDR_INITRD_ADDR_MAX   0x22c /* u32 */
#define HDR_KERNEL_ALIGNMENT  0x230 /* u32 */
#define HDR_XLOADFLAGS        0x236 /* u16 */
#define HDR_CMDLINE_SIZE      0x238 /* u32 */
#define HDR_PREF_ADDRESS      0x258 /* u64 */
#define HDR_INIT_SIZE         0x260 /* u32 */

#define BOOT_FLAG_MAGIC       0xaa55
#define HDRS_MAGIC            0x53726448 /* "HdrS" little-endian */
#define LOADFLAG_LOADED_HIGH  0x01
#define LOADFLAG_CAN_USE_HEAP 0x80
#define XLF_KERNEL_64         0x0001
#define LOADER_TYPE_UNDEFINED 0xff
#define HEAP_END_PTR_DEFAULT  0xfe00 /* heap up to the end of the 64 KiB setup segment */
#define INITRD_ADDR_MAX_OLD   0x37ffffffU /* for protocol versions before 2.03 */

struct boot_e820_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
} __attribute__((packed));
_Static_assert(sizeof(struct boot_e820_entry) == 20, "e820 entry is 20 bytes");
_Static_assert(BP_E820_TABLE + BP_E820_MAX * 20 <= BP_SIZE, "e820 table fits the zero page");

/* An open kernel or initramfs file; every read is bounded by size. */
struct boot_file {
	int fd;
	const char *path;
	const char *what; /* "kernel" or "initramfs", for messages */
	uint64_t size;
};

/* What a format loader found out about the kernel, for the boot data that follows. */
struct boot_kernel {
	enum boot_entry_mode mode;
	uint64_t entry;
	uint64_t load_addr;      /* lowest loaded address */
	uint64_t kernel_end;     /* first byte above the image (bzImage: load + init_size) */
	uint64_t initrd_end_max; /* the initramfs must end at or below this (exclusive) */
	uint64_t cmdline_max;    /* longest command line, excluding the NUL */
	size_t setup_hdr_len;    /* bzImage: bytes of setup_hdr to copy to BP_HDR_START; 0 = ELF */
	uint8_t setup_hdr[BP_HDR_MAX_END - BP_HDR_START];
};

/* Where the command line and initramfs went. */
struct boot_payload {
	uint64_t cmdline_gpa;
	uint64_t initrd_gpa; /* 0 if none */
	uint64_t initrd_size;
	uint64_t rsdp_gpa;
};

static inline uint16_t get_le16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static inline uint32_t get_le32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static inline uint64_t get_le64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static inline void put_le16(uint8_t *p, uint16_t v) { memcpy(p, &v, sizeof(v)); }
static inline void put_le32(uint8_t *p, uint32_t v) { memcpy(p, &v, sizeof(v)); }
static inline void put_le64(uint8_t *p, uint64_t v) { memcpy(p, &v, sizeof(v)); }

/* load.c */
int boot_fail(char *err, size_t errlen, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
int boot_file_open(struct boot_file *f, const char *what, const char *path, char *err,
		   size_t errlen);
void boot_file_close(struct boot_file *f);
int boot_file_read(const struct boot_file *f, uint64_t off, void *buf, uint64_t len, char *err,
		   size_t errlen);

/* elf.c / bzimage.c: load the image into mem and describe it in k. head holds the first
 * head_len bytes of the file. */
bool boot_is_elf(const uint8_t *head, size_t head_len);
int boot_load_elf(struct guest_mem *mem, const struct boot_file *f, const uint8_t *head,
		  size_t head_len, struct boot_kernel *k, char *err, size_t errlen);
bool boot_is_bzimage(const uint8_t *head, size_t head_len);
int boot_load_bzimage(struct guest_mem *mem, const struct boot_file *f, const uint8_t *head,
		      size_t head_len, struct boot_kernel *k, char *err, size_t errlen);

/* initrd.c */
int boot_place_cmdline(struct guest_mem *mem, const char *cmdline, const struct boot_kernel *k,
		       struct boot_payload *p, char *err, size_t errlen);
int boot_load_initrd(struct guest_mem *mem, const char *path, const struct boot_kernel *k,
		     struct boot_payload *p, char *err, size_t errlen);

/* bootparams.c / pvh.c: write the boot data; return its GPA through *gpa. */
int boot_write_params(struct guest_mem *mem, const struct boot_kernel *k,
		      const struct boot_payload *p, uint64_t *gpa, char *err, size_t errlen);
int boot_write_pvh(struct guest_mem *mem, const struct boot_payload *p, uint64_t *gpa, char *err,
		   size_t errlen);

#endif
