/* boot.h: loading a kernel payload (PVH ELF, ELF vmlinux, bzImage) and its boot data into guest RAM. */
#ifndef CELLVM_BOOT_H
#define CELLVM_BOOT_H

#include <stddef.h>
#include <stdint.h>

#include "guest_mem.h"

enum boot_entry_mode {
	BOOT_ENTRY_PVH32,   /* 32-bit protected mode, paging off, EBX = hvm_start_info GPA */
	BOOT_ENTRY_LINUX64, /* 64-bit long mode, identity-mapped, RSI = boot_params GPA */
};

struct boot_config {
	const char *kernel_path;    /* required */
	const char *initramfs_path; /* NULL if none */
	const char *cmdline;        /* NULL or "" if none */
	uint64_t rsdp_gpa;          /* ACPI RSDP address given to the guest, 0 if none */
};

struct boot_result {
	enum boot_entry_mode mode;
	uint64_t entry;       /* guest-physical entry point (RIP/EIP) */
	uint64_t boot_data;   /* GPA of boot_params (LINUX64) or hvm_start_info (PVH32) */
	uint64_t kernel_end;  /* first byte above the loaded kernel image */
	uint64_t initrd_gpa;  /* 0 if no initramfs */
	uint64_t initrd_size;
};

/* Error classes, returned negated, so main() can map them to documented exit codes. */
enum boot_error {
	BOOT_ERR_IO = 1,      /* kernel or initramfs missing or unreadable */
	BOOT_ERR_FORMAT,      /* not a recognised payload, truncated, or corrupt */
	BOOT_ERR_NOFIT,       /* the payload, initramfs or cmdline does not fit in guest RAM */
};

/* Loads everything described by cfg into mem and fills out. Returns 0 or -BOOT_ERR_*,
 * with a one-line reason (naming the file and the problem) in err. */
int boot_load(struct guest_mem *mem, const struct boot_config *cfg, struct boot_result *out,
	      char *err, size_t errlen) __attribute__((warn_unused_result));

#endif
