/* policy.c: cellvm-blk's jail: the fds it keeps and its syscalls on top of sandbox/seccomp_base.c. */
#define _GNU_SOURCE
#include "policy.h"

#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <seccomp.h>
#include <sys/uio.h>
#include <unistd.h>

#define FD_EPOLL 1
#define FD_SOCK 2
#define FD_RING 3

struct fd_rule {
	int nr;
	int fd;          /* which fd argument 0 must be */
	const char *why;
};

static const struct fd_rule fd_rules[] = {
	{ SCMP_SYS(epoll_wait), FD_EPOLL, "the event loop" },
	{ SCMP_SYS(epoll_pwait), FD_EPOLL, "the event loop (libc's epoll_wait on some builds)" },
	{ SCMP_SYS(epoll_ctl), FD_EPOLL, "watch a queue's new kick eventfd" },
	{ SCMP_SYS(recvfrom), FD_SOCK, "vhost-user message payloads (recv)" },
	{ SCMP_SYS(recvmsg), FD_SOCK, "vhost-user message headers, with their fds" },
	{ SCMP_SYS(sendmsg), FD_SOCK, "vhost-user replies" },
	{ SCMP_SYS(io_uring_enter), FD_RING, "submit disk I/O and wait for it (set up before the jail)" },
};

static int fd_of(const struct blk_policy *p, int which)
{
	return which == FD_EPOLL ? p->epfd : which == FD_SOCK ? p->sock : p->ring_fd;
}

static int add_fd_rules(scmp_filter_ctx ctx, const struct blk_policy *p)
{
	for (size_t i = 0; i < sizeof(fd_rules) / sizeof(fd_rules[0]); i++) {
		int fd = fd_of(p, fd_rules[i].fd), rc;

		if (fd < 0)
			continue;
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, fd_rules[i].nr, 1,
				      SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)fd));
		if (rc)
			return rc;
	}
	return 0;
}

/* The inline fast path (blk.c rw_inline): the disk fd, RWF_NOWAIT and nothing else (no
 * RWF_HIPRI, RWF_APPEND...); reads and writes only where the device may do them. */
static int add_inline_rules(scmp_filter_ctx ctx, const struct blk_policy *p)
{
	int rc = 0;

	if (p->inline_read)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(preadv2), 2,
				      SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)p->disk_fd),
				      SCMP_A5(SCMP_CMP_EQ, RWF_NOWAIT));
	if (!rc && p->inline_write)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(pwritev2), 2,
				      SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)p->disk_fd),
				      SCMP_A5(SCMP_CMP_EQ, RWF_NOWAIT));
	return rc;
}

static int blk_rules(void *scmp_ctx, const void *arg)
{
	scmp_filter_ctx ctx = scmp_ctx;
	const struct blk_policy *p = arg;
	int rc = add_fd_rules(ctx, p);

	if (!rc && p->disk_fd >= 0)
		rc = add_inline_rules(ctx, p);

	/* The ring is enabled inside the jail, by the task that will issue on it (DEFER_TASKRUN
	 * needs a single issuer): ENABLE_RINGS only, once; the ring's restrictions then refuse
	 * every register call (blk.c ring_init). */
	if (!rc && p->ring_fd >= 0)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(io_uring_register), 2,
				      SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)p->ring_fd),
				      SCMP_A1(SCMP_CMP_EQ, IORING_REGISTER_ENABLE_RINGS));
	/* Kick eventfds are made non-blocking: F_GETFL and F_SETFL only. */
	if (!rc)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(fcntl), 1,
				      SCMP_A1(SCMP_CMP_EQ, F_GETFL));
	if (!rc)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(fcntl), 1,
				      SCMP_A1(SCMP_CMP_EQ, F_SETFL));
	/* fstat() of a memory region's fd (its size, against SIGBUS): AT_EMPTY_PATH only. */
	if (!rc)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(newfstatat), 1,
				      SCMP_A3(SCMP_CMP_EQ, AT_EMPTY_PATH));
	/* Test hook only (--jail-selftest nofile): an fd-creating call to reach the rlimit. */
	if (!rc && p->test_dup)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(dup), 0);
	return rc;
}

int blk_jail_spec(struct jail_spec *s, struct blk_policy *p, const struct blk_dev *dev,
		  int epfd, int sigfd, int sock)
{
	const int keep[] = { dev->fd, dev->ring.ring_fd, dev->ring_efd, epfd, sigfd, sock };
	int rc = 0;

	*s = jail_spec_default("blk");
	*p = (struct blk_policy){ .epfd = epfd, .sock = sock, .ring_fd = dev->ring.ring_fd,
				  .disk_fd = dev->fd, .inline_read = dev->inl[0].on,
				  .inline_write = dev->inl[1].on };
	for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]) && !rc; i++)
		if (keep[i] >= 0)
			rc = jail_keep_fd(s, keep[i]);
	/* Per memory table: 8 region fds; per queue: kick, call, err; plus the fds above. */
	s->nofile = 8 + 3 * VU_MAX_QUEUES + JAIL_MAX_FDS + 8;
	/* The worker and the io_uring io-wq threads it starts: bounded by the ring size. */
	s->nproc = 64;
	s->rules = blk_rules;
	s->rules_arg = p;
	return rc;
}
