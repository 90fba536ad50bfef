/* selftest.c: cellvm-blk's own --jail-selftest acts (io_uring) on top of sandbox/selftest.c. */
#define _GNU_SOURCE
#include "selftest.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

/* io_uring bypasses seccomp: the ring's own restrictions (blk.c) must refuse the opcode. */
static int act_uring_openat(const struct jail_act_ctx *a)
{
	struct io_uring *ring = &((struct blk_dev *)a->role)->ring;
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
	struct io_uring_cqe *cqe;
	int res;

	if (!sqe)
		return -EBUSY;
	io_uring_prep_openat(sqe, AT_FDCWD, "/etc/shadow", O_RDONLY, 0);
	io_uring_sqe_set_data(sqe, NULL);
	if (io_uring_submit_and_wait(ring, 1) < 0 || io_uring_peek_cqe(ring, &cqe))
		return -EIO;
	res = cqe->res;
	io_uring_cqe_seen(ring, cqe);
	return res < 0 ? res : 0;
}

static int act_uring_setup(const struct jail_act_ctx *a)
{
	struct io_uring r;

	return io_uring_queue_init(8, &r, 0);
}

/* Seccomp lets ENABLE_RINGS through (the worker enables its own ring); once enabled, the
 * ring's restrictions refuse every register call, that one included. */
static int act_uring_reenable(const struct jail_act_ctx *a)
{
	int fd = ((struct blk_dev *)a->role)->ring.ring_fd;

	return syscall(__NR_io_uring_register, fd, IORING_REGISTER_ENABLE_RINGS, NULL, 0) < 0 ?
	       -errno : 0;
}

/* Any other register call is killed by seccomp. */
static int act_uring_register(const struct jail_act_ctx *a)
{
	int fd = ((struct blk_dev *)a->role)->ring.ring_fd;

	return syscall(__NR_io_uring_register, fd, IORING_UNREGISTER_EVENTFD, NULL, 0) < 0 ?
	       -errno : 0;
}

/* The inline path's rule allows RWF_NOWAIT alone on the disk fd: other flags are killed. */
static int act_preadv2_flags(const struct jail_act_ctx *a)
{
	char b[512];
	struct iovec iov = { b, sizeof(b) };

	return preadv2(((struct blk_dev *)a->role)->fd, &iov, 1, 0, RWF_NOWAIT | RWF_HIPRI) < 0 ?
	       -errno : 0;
}

/* ... and so is another fd (here the io_uring eventfd). */
static int act_pwritev2_fd(const struct jail_act_ctx *a)
{
	uint64_t one = 1;
	struct iovec iov = { &one, sizeof(one) };

	return pwritev2(((struct blk_dev *)a->role)->ring_efd, &iov, 1, -1, RWF_NOWAIT) < 0 ?
	       -errno : 0;
}

/* The inline path's own calls: killed where the rules leave them out (--direct: neither;
 * --readonly: no pwritev2); a lone write's pwritev2 without flags: neither way. */
static int act_disk_rw(const struct jail_act_ctx *a, bool write, int flags)
{
	static char b[4096] __attribute__((aligned(4096)));
	struct iovec iov = { b, sizeof(b) };
	int fd = ((struct blk_dev *)a->role)->fd;

	return (write ? pwritev2(fd, &iov, 1, 0, flags) : preadv2(fd, &iov, 1, 0, flags)) < 0 ?
	       -errno : 0;
}

/* ftruncate is allowed for the inflight region's memfd, never on the disk (to its own size
 * here: harmless where --seccomp log lets it through). */
static int act_disk_ftruncate(const struct jail_act_ctx *a)
{
	struct blk_dev *dev = a->role;

	return ftruncate(dev->fd, (off_t)(dev->sectors * 512)) < 0 ? -errno : 0;
}

static int act_disk_preadv2(const struct jail_act_ctx *a) { return act_disk_rw(a, false, RWF_NOWAIT); }
static int act_disk_pwritev2(const struct jail_act_ctx *a) { return act_disk_rw(a, true, RWF_NOWAIT); }
static int act_disk_pwritev2_sync(const struct jail_act_ctx *a) { return act_disk_rw(a, true, 0); }

static const struct jail_act blk_acts[] = {
	{ "disk-preadv2", act_disk_preadv2 }, { "disk-pwritev2", act_disk_pwritev2 },
	{ "disk-pwritev2-sync", act_disk_pwritev2_sync }, { "disk-ftruncate", act_disk_ftruncate },
	{ "uring-openat", act_uring_openat }, { "uring-setup", act_uring_setup },
	{ "preadv2-flags", act_preadv2_flags }, { "pwritev2-fd", act_pwritev2_fd },
	{ "uring-reenable", act_uring_reenable }, { "uring-register", act_uring_register },
};

bool blk_selftest_known(const char *act)
{
	return jail_selftest_known(act, blk_acts, sizeof(blk_acts) / sizeof(blk_acts[0]));
}

int blk_selftest_run(const char *act, struct blk_dev *dev, pid_t parent)
{
	struct jail_act_ctx a = { .parent = parent, .role = dev };

	return jail_selftest_run(act, &a, blk_acts, sizeof(blk_acts) / sizeof(blk_acts[0]));
}
