/* load.c: boot_load() entry point, bounded kernel/initramfs file access, and format dispatch. */
#define _GNU_SOURCE
#include "boot/boot.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "boot/boot_internal.h"
#include "broker.h"
#include "log.h"

/* Enough of the file to recognise either format (the bzImage setup header ends by 0x290). */
#define BOOT_HEAD_LEN 1024

int boot_fail(char *err, size_t errlen, int code, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -code;
}

int boot_file_open(struct boot_file *f, const char *what, const char *path, char *err,
		   size_t errlen)
{
	struct stat st;
	int e;

	f->what = what;
	f->path = path;
	f->size = 0;
	/* O_NONBLOCK: opening a FIFO must not wait for a writer; it is rejected below. */
	f->fd = broker_open_read(path); /* the jailed VMM asks its broker; it checks S_ISREG too */
	if (f->fd < 0)
		return boot_fail(err, errlen, BOOT_ERR_IO, "%s %s: %s", what, path,
				 f->fd == -EINVAL ? "not a regular file" : strerror(-f->fd));
	if (fstat(f->fd, &st) != 0) {
		e = errno;
		boot_file_close(f);
		return boot_fail(err, errlen, BOOT_ERR_IO, "%s %s: %s", what, path, strerror(e));
	}
	if (!S_ISREG(st.st_mode)) {
		boot_file_close(f);
		return boot_fail(err, errlen, BOOT_ERR_IO, "%s %s: not a regular file", what, path);
	}
	f->size = (uint64_t)st.st_size;
	return 0;
}

void boot_file_close(struct boot_file *f)
{
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
}

/* Reads exactly [off, off+len) of the file; the range must already be checked against size. */
int boot_file_read(const struct boot_file *f, uint64_t off, void *buf, uint64_t len, char *err,
		   size_t errlen)
{
	uint8_t *dst = buf;
	uint64_t end;

	if (__builtin_add_overflow(off, len, &end) || end > f->size)
		return boot_fail(err, errlen, BOOT_ERR_FORMAT, "%s %s: read past end of file",
				 f->what, f->path);
	while (len > 0) {
		size_t chunk = len > (1U << 30) ? (1U << 30) : (size_t)len;
		ssize_t n = pread(f->fd, dst, chunk, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return boot_fail(err, errlen, BOOT_ERR_IO, "%s %s: %s", f->what, f->path,
					 strerror(errno));
		if (n == 0)
			return boot_fail(err, errlen, BOOT_ERR_IO, "%s %s: file shrank while reading",
					 f->what, f->path);
		dst += n;
		off += (uint64_t)n;
		len -= (uint64_t)n;
	}
	return 0;
}

static int load_kernel_image(struct guest_mem *mem, const struct boot_file *f,
			     struct boot_kernel *k, char *err, size_t errlen)
{
	uint8_t head[BOOT_HEAD_LEN];
	size_t head_len = f->size < sizeof(head) ? (size_t)f->size : sizeof(head);
	int ret;

	if (f->size > mem->ram_size)
		return boot_fail(err, errlen, BOOT_ERR_NOFIT,
				 "kernel %s: larger than guest RAM (%" PRIu64 " bytes, RAM %" PRIu64
				 " bytes)", f->path, f->size, mem->ram_size);
	ret = boot_file_read(f, 0, head, head_len, err, errlen);
	if (ret < 0)
		return ret;
	if (boot_is_elf(head, head_len))
		return boot_load_elf(mem, f, head, head_len, k, err, errlen);
	if (boot_is_bzimage(head, head_len))
		return boot_load_bzimage(mem, f, head, head_len, k, err, errlen);
	return boot_fail(err, errlen, BOOT_ERR_FORMAT,
			 "kernel %s: not an ELF64 x86-64 or bzImage kernel", f->path);
}

static int load_kernel(struct guest_mem *mem, const char *path, struct boot_kernel *k, char *err,
		       size_t errlen)
{
	struct boot_file f;
	int ret;

	ret = boot_file_open(&f, "kernel", path, err, errlen);
	if (ret < 0)
		return ret;
	ret = load_kernel_image(mem, &f, k, err, errlen);
	boot_file_close(&f);
	return ret;
}

int boot_load(struct guest_mem *mem, const struct boot_config *cfg, struct boot_result *out,
	      char *err, size_t errlen)
{
	struct boot_kernel k = { 0 };
	struct boot_payload p = { .rsdp_gpa = cfg->rsdp_gpa };
	uint64_t data_gpa = 0;
	int ret;

	memset(out, 0, sizeof(*out));
	if (err && errlen > 0)
		err[0] = '\0';
	if (!cfg->kernel_path || !cfg->kernel_path[0])
		return boot_fail(err, errlen, BOOT_ERR_IO, "kernel: no path given");
	ret = load_kernel(mem, cfg->kernel_path, &k, err, errlen);
	if (ret == 0)
		ret = boot_place_cmdline(mem, cfg->cmdline, &k, &p, err, errlen);
	if (ret == 0)
		ret = boot_load_initrd(mem, cfg->initramfs_path, &k, &p, err, errlen);
	if (ret == 0 && k.mode == BOOT_ENTRY_PVH32)
		ret = boot_write_pvh(mem, &p, &data_gpa, err, errlen);
	else if (ret == 0)
		ret = boot_write_params(mem, &k, &p, &data_gpa, err, errlen);
	if (ret < 0)
		return ret;
	*out = (struct boot_result){
		.mode = k.mode, .entry = k.entry, .boot_data = data_gpa, .kernel_end = k.kernel_end,
		.initrd_gpa = p.initrd_gpa, .initrd_size = p.initrd_size,
	};
	log_debug("boot: %s kernel %s entry 0x%" PRIx64 " end 0x%" PRIx64 " initrd 0x%" PRIx64
		  "+%" PRIu64, k.mode == BOOT_ENTRY_PVH32 ? "PVH" : "Linux 64-bit", cfg->kernel_path,
		  k.entry, k.kernel_end, p.initrd_gpa, p.initrd_size);
	return 0;
}
