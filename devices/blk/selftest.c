/* selftest.c: the --jail-selftest test hook: each forbidden act, tried from inside the jail. */
#define _GNU_SOURCE
#include "selftest.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <linux/netlink.h>

struct act_ctx {
	struct blk_dev *dev;
	pid_t parent;
};

/* Each returns 0 when the act worked (an escape) or -errno when it was refused. */
typedef int act_fn(const struct act_ctx *a);

static int rc_of(long r)
{
	return r < 0 ? -errno : 0;
}

static int act_shadow(const struct act_ctx *a) { return rc_of(open("/etc/shadow", O_RDONLY)); }
static int act_kvm(const struct act_ctx *a) { return rc_of(open("/dev/kvm", O_RDWR)); }
static int act_root(const struct act_ctx *a) { return rc_of(open("/", O_RDONLY | O_DIRECTORY)); }
static int act_mount(const struct act_ctx *a) { return rc_of(mount("none", "/", "tmpfs", 0, NULL)); }
static int act_unshare(const struct act_ctx *a) { return rc_of(unshare(CLONE_NEWUSER)); }
static int act_setns(const struct act_ctx *a) { return rc_of(setns(STDERR_FILENO, 0)); }
static int act_setuid(const struct act_ctx *a) { return rc_of(setuid(0)); }
static int act_chroot(const struct act_ctx *a) { return rc_of(chroot("/")); }
static int act_fork(const struct act_ctx *a) { pid_t p = fork(); if (p == 0) _exit(0); return rc_of(p); }
static int act_kill(const struct act_ctx *a) { return rc_of(kill(a->parent, 0)); }

static int act_ptrace(const struct act_ctx *a)
{
	return rc_of(ptrace(PTRACE_ATTACH, a->parent, NULL, NULL));
}

static int act_vm_readv(const struct act_ctx *a)
{
	char buf[8];
	struct iovec local = { buf, sizeof(buf) }, remote = { (void *)0x400000, sizeof(buf) };

	return rc_of(process_vm_readv(a->parent, &local, 1, &remote, 1, 0));
}

static int act_execve(const struct act_ctx *a)
{
	char *const argv[] = { "/bin/sh", NULL };

	return rc_of(execve("/bin/sh", argv, argv + 1));
}

/* In log mode socket() goes through: then Landlock must refuse the TCP connect. */
static int act_inet(const struct act_ctx *a)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(22),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0)
		return -errno;
	return rc_of(connect(fd, (struct sockaddr *)&sa, sizeof(sa)));
}

static int act_netlink(const struct act_ctx *a)
{
	return rc_of(socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE));
}

static int act_mmap_exec(const struct act_ctx *a)
{
	return rc_of(mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) ==
		     MAP_FAILED ? -1 : 0);
}

static int act_mprotect_exec(const struct act_ctx *a)
{
	void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return -errno;
	return rc_of(mprotect(p, 4096, PROT_READ | PROT_EXEC));
}

/* dup() is added to the filter for this act alone (policy.c): RLIMIT_NOFILE must stop it. */
static int act_nofile(const struct act_ctx *a)
{
	for (int i = 0; i < 1 << 16; i++)
		if (dup(STDERR_FILENO) < 0)
			return -errno;
	return 0;
}

/* io_uring bypasses seccomp: the ring's own restrictions (blk.c) must refuse the opcode. */
static int act_uring_openat(const struct act_ctx *a)
{
	struct io_uring *ring = &a->dev->ring;
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

static int act_uring_setup(const struct act_ctx *a)
{
	struct io_uring r;

	return io_uring_queue_init(8, &r, 0);
}

static const struct {
	const char *name;
	act_fn *fn;
} acts[] = {
	{ "none", NULL },
	{ "open-shadow", act_shadow }, { "open-kvm", act_kvm }, { "open-root", act_root },
	{ "socket-inet", act_inet }, { "socket-netlink", act_netlink },
	{ "ptrace-parent", act_ptrace }, { "vm-readv-parent", act_vm_readv },
	{ "kill-parent", act_kill }, { "mount", act_mount }, { "unshare", act_unshare },
	{ "setns", act_setns }, { "setuid0", act_setuid }, { "chroot", act_chroot },
	{ "execve", act_execve }, { "fork", act_fork }, { "mmap-exec", act_mmap_exec },
	{ "mprotect-exec", act_mprotect_exec }, { "nofile", act_nofile },
	{ "uring-openat", act_uring_openat }, { "uring-setup", act_uring_setup },
};

int blk_selftest_known(const char *act)
{
	for (size_t i = 0; i < sizeof(acts) / sizeof(acts[0]); i++)
		if (!strcmp(acts[i].name, act))
			return 1;
	return 0;
}

int blk_selftest_run(const char *act, struct blk_dev *dev, pid_t parent)
{
	struct act_ctx a = { dev, parent };

	for (size_t i = 0; i < sizeof(acts) / sizeof(acts[0]); i++) {
		int rc;

		if (strcmp(acts[i].name, act))
			continue;
		rc = acts[i].fn ? acts[i].fn(&a) : 0;
		if (rc < 0)
			fprintf(stderr, "jail-selftest %s: refused: %s (%s)\n", act,
				strerrorname_np(-rc), strerror(-rc));
		else
			fprintf(stderr, "jail-selftest %s: %s\n", act,
				acts[i].fn ? "SUCCEEDED (not refused)" : "jailed");
		return rc < 0 || !acts[i].fn ? 0 : 1;
	}
	return 2;
}
