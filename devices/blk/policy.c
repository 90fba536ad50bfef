/* policy.c: cellvm-blk's jail: the fds it keeps and its syscalls on top of sandbox/seccomp_base.c. */
#define _GNU_SOURCE
#include "policy.h"

#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <seccomp.h>
#include <sys/uio.h>
#include <unistd.h>

#include "../lib/backend.h"

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
	/* A lone buffered write (blk.c write_alone): no flags at all. */
	if (!rc && p->sync_write)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(pwritev2), 2,
				      SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)p->disk_fd),
				      SCMP_A5(SCMP_CMP_EQ, 0));
	return rc;
}

/* The calls made per request, first in the filter (backend_hot_first): the data path's
 * preadv2/pwritev2, io_uring_enter, the call eventfd's write and the loop's epoll_wait. */
static const int hot[] = { SCMP_SYS(preadv2), SCMP_SYS(pwritev2), SCMP_SYS(io_uring_enter),
			   SCMP_SYS(write), SCMP_SYS(epoll_wait), SCMP_SYS(read) };

static int blk_rules(void *scmp_ctx, const void *arg)
{
	scmp_filter_ctx ctx = scmp_ctx;
	const struct blk_policy *p = arg;
	int rc = backend_hot_first(ctx, hot, sizeof(hot) / sizeof(hot[0]));

	if (!rc)
		rc = backend_rules(ctx, p->epfd);

	if (!rc && p->disk_fd >= 0)
		rc = add_inline_rules(ctx, p);

	/* The ring is enabled inside the jail, by the task that will issue on it (DEFER_TASKRUN
	 * needs a single issuer): ENABLE_RINGS only, once; the ring's restrictions then refuse
	 * every register call (blk.c ring_init). */
	if (!rc && p->ring_fd >= 0)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(io_uring_register), 2,
				      SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)p->ring_fd),
				      SCMP_A1(SCMP_CMP_EQ, IORING_REGISTER_ENABLE_RINGS));
	if (!rc)
		rc = backend_socket_rules(ctx, p->sock);
	if (!rc)
		rc = backend_inflight_rules(ctx, p->disk_fd);
	/* Submit disk I/O and wait for it, on the ring set up before the jail. */
	if (!rc)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(io_uring_enter), 1,
				      SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)p->ring_fd));
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
				  .inline_write = dev->inl[1].on, .sync_write = dev->sync_alone };
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
