/* policy.c: cellvm-net's jail: the fds it keeps and its syscalls on top of sandbox/seccomp_base.c. */
#define _GNU_SOURCE
#include "policy.h"

#include <errno.h>
#include <linux/if_tun.h>
#include <seccomp.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "../lib/backend.h"

struct fd_rule {
	int nr;
	const char *why;
};

/* Per tap queue fd: the data path and the offloads. read and write are in the base. */
static const struct fd_rule tap_rules[] = {
	{ SCMP_SYS(readv), "rx: a frame straight into the driver's chain" },
	{ SCMP_SYS(writev), "tx frames over 2 KiB (TSO): our header copy, then the driver's buffers" },
};

static int add_tap_rules(scmp_filter_ctx ctx, int fd)
{
	const scmp_datum_t set_offload = TUNSETOFFLOAD, set_queue = TUNSETQUEUE;
	int rc = 0;

	for (size_t i = 0; i < sizeof(tap_rules) / sizeof(tap_rules[0]) && !rc; i++)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, tap_rules[i].nr, 1,
				      SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)fd));
	/* The guest's offloads after SET_FEATURES; no TUNSETIFF. */
	if (!rc)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 2,
				      SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)fd),
				      SCMP_A1(SCMP_CMP_EQ, set_offload));
	/* A pair the driver stops using leaves the tap's steering (attach/detach of this queue,
	 * which needs no privilege and reaches no other interface). */
	if (!rc)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 2,
				      SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)fd),
				      SCMP_A1(SCMP_CMP_EQ, set_queue));
	return rc;
}

/* The calls made per frame, first in the filter (backend_hot_first): the tap's writev and
 * readv, the call eventfd's write, the kick's read and the loop's epoll_wait. */
static const int hot[] = { SCMP_SYS(writev), SCMP_SYS(readv), SCMP_SYS(write), SCMP_SYS(read),
			   SCMP_SYS(epoll_wait) };

static int net_rules(void *scmp_ctx, const void *arg)
{
	scmp_filter_ctx ctx = scmp_ctx;
	const struct net_policy *p = arg;
	int rc = backend_hot_first(ctx, hot, sizeof(hot) / sizeof(hot[0]));

	if (!rc)
		rc = backend_rules(ctx, p->epfd);

	if (!rc)
		rc = backend_socket_rules(ctx, p->sock);
	for (unsigned i = 0; i < p->ntaps && !rc; i++)
		rc = add_tap_rules(ctx, p->taps[i]);
	return rc;
}

int net_jail_spec(struct jail_spec *s, struct net_policy *p, const struct net_dev *dev,
		  int epfd, int sigfd, int sock)
{
	const int keep[] = { epfd, sigfd, sock };
	int rc = 0;

	*s = jail_spec_default("net");
	*p = (struct net_policy){ .epfd = epfd, .sock = sock, .ntaps = dev->pairs };
	for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]) && !rc; i++)
		if (keep[i] >= 0) /* sock: -1 in --jail-selftest, which has no frontend */
			rc = jail_keep_fd(s, keep[i]);
	for (unsigned i = 0; i < dev->pairs && !rc; i++)
		rc = jail_keep_fd(s, p->taps[i] = dev->pair[i].tap);
	/* A tap fd keeps working from any network namespace: the worker gets an empty one. */
	s->share_net = false;
	/* Per memory table: 8 region fds; per queue: kick, call, err; plus the fds above. */
	s->nofile = 8 + 3 * VU_MAX_QUEUES + JAIL_MAX_FDS + 8;
	/* One thread; the limit counts every task of the jail uid, shared by all backends. */
	s->nproc = 64;
	s->rules = net_rules;
	s->rules_arg = p;
	return rc;
}
