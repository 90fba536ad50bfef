/* policy.c: cellvm-net's jail: the fds it keeps and its syscalls on top of sandbox/seccomp_base.c. */
#define _GNU_SOURCE
#include "policy.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <seccomp.h>
#include <sys/ioctl.h>
#include <unistd.h>

struct fd_rule {
	int nr;
	bool sock;       /* argument 0 is the socket, else the epoll fd */
	const char *why;
};

static const struct fd_rule fd_rules[] = {
	{ SCMP_SYS(epoll_wait), false, "the event loop" },
	{ SCMP_SYS(epoll_pwait), false, "the event loop (libc's epoll_wait on some builds)" },
	{ SCMP_SYS(epoll_ctl), false, "watch kick eventfds; watch a tap only while rx has buffers" },
	{ SCMP_SYS(recvfrom), true, "vhost-user message payloads (recv)" },
	{ SCMP_SYS(recvmsg), true, "vhost-user message headers, with their fds" },
	{ SCMP_SYS(sendmsg), true, "vhost-user replies" },
};

/* Per tap queue fd: the data path and the offloads. read and write are in the base. */
static const struct fd_rule tap_rules[] = {
	{ SCMP_SYS(readv), false, "rx: a frame straight into the driver's chain" },
	{ SCMP_SYS(writev), false, "tx: our header copy, then the driver's buffers" },
};

static int add_tap_rules(scmp_filter_ctx ctx, int fd)
{
	const scmp_datum_t set_offload = TUNSETOFFLOAD;
	int rc = 0;

	for (size_t i = 0; i < sizeof(tap_rules) / sizeof(tap_rules[0]) && !rc; i++)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, tap_rules[i].nr, 1,
				      SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)fd));
	/* The guest's offloads after SET_FEATURES; no other tap ioctl (no TUNSETIFF). */
	if (!rc)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 2,
				      SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)fd),
				      SCMP_A1(SCMP_CMP_EQ, set_offload));
	return rc;
}

static int net_rules(void *scmp_ctx, const void *arg)
{
	scmp_filter_ctx ctx = scmp_ctx;
	const struct net_policy *p = arg;
	int rc = 0;

	for (size_t i = 0; i < sizeof(fd_rules) / sizeof(fd_rules[0]) && !rc; i++)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, fd_rules[i].nr, 1,
				      SCMP_A0(SCMP_CMP_EQ,
					      (scmp_datum_t)(fd_rules[i].sock ? p->sock : p->epfd)));
	for (unsigned i = 0; i < p->ntaps && !rc; i++)
		rc = add_tap_rules(ctx, p->taps[i]);
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
