/* policy.c: cellvm-vsock's jail: the fds it keeps and its syscalls on top of sandbox/seccomp_base.c. */
#define _GNU_SOURCE
#include "policy.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <seccomp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../lib/backend.h"

struct rule {
	int nr;
	const char *why;
};

/* Stream sockets come and go, so these cannot name an fd. */
static const struct rule any_fd[] = {
	{ SCMP_SYS(recvfrom), "vhost-user payloads; the CONNECT line (recv, MSG_PEEK)" },
	{ SCMP_SYS(recvmsg), "vhost-user headers with fds; host bytes into guest rx buffers" },
	{ SCMP_SYS(sendmsg), "vhost-user replies; guest bytes to a stream" },
	{ SCMP_SYS(sendto), "buffered guest bytes and \"OK <port>\" to a stream (send)" },
	{ SCMP_SYS(connect), "guest-initiated streams to <uds-path>_<port> (AF_UNIX only, below)" },
};

static int add(scmp_filter_ctx ctx, int nr, unsigned n, struct scmp_arg_cmp a, struct scmp_arg_cmp b)
{
	return n == 0 ? seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0) :
	       n == 1 ? seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1, a) :
		        seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 2, a, b);
}

static int vsock_rules(void *scmp_ctx, const void *arg)
{
	scmp_filter_ctx ctx = scmp_ctx;
	const struct vsock_policy *p = arg;
	const struct scmp_arg_cmp none = SCMP_A0(SCMP_CMP_EQ, 0);
	/* The event loop (it watches streams too), kick fds, memory regions. */
	int rc = backend_rules(ctx, p->epfd);

	for (size_t i = 0; i < sizeof(any_fd) / sizeof(any_fd[0]) && !rc; i++)
		rc = add(ctx, any_fd[i].nr, 0, none, none);
	/* Host-initiated streams: accept on the hybrid socket only. */
	if (!rc)
		rc = add(ctx, SCMP_SYS(accept4), 1,
			 SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)p->listen_fd), none);
	/* Guest-initiated streams: Unix stream sockets only (no network, no netlink). */
	if (!rc)
		rc = add(ctx, SCMP_SYS(socket), 2, SCMP_A0(SCMP_CMP_EQ, AF_UNIX),
			 SCMP_A1(SCMP_CMP_EQ, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC));
	/* Connect deadlines: the timer fd is armed and disarmed; the clock read (vDSO or not). */
	if (!rc)
		rc = add(ctx, SCMP_SYS(timerfd_settime), 1,
			 SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)p->timer_fd), none);
	if (!rc)
		rc = add(ctx, SCMP_SYS(clock_gettime), 1, SCMP_A0(SCMP_CMP_EQ, CLOCK_MONOTONIC), none);
	/* A stream's send buffer sized to hold the guest's credit window (no copy into c->buf). */
	if (!rc)
		rc = add(ctx, SCMP_SYS(setsockopt), 2, SCMP_A1(SCMP_CMP_EQ, SOL_SOCKET),
			 SCMP_A2(SCMP_CMP_EQ, SO_SNDBUF));
	/* The guest's SHUTDOWN(SEND) becomes a half-close of the stream. */
	if (!rc)
		rc = add(ctx, SCMP_SYS(shutdown), 1, SCMP_A1(SCMP_CMP_EQ, SHUT_WR), none);
	return rc;
}

int vsock_jail_spec(struct jail_spec *s, struct vsock_policy *p, const struct vsock_dev *dev,
		    int epfd, int sigfd, int sock)
{
	const int keep[] = { dev->listen_fd, dev->timer_fd, epfd, sigfd, sock };
	char path[sizeof(p->dir)];
	int rc = 0;

	*s = jail_spec_default("vsock");
	*p = (struct vsock_policy){ .epfd = epfd, .listen_fd = dev->listen_fd,
				    .timer_fd = dev->timer_fd };
	for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]) && !rc; i++)
		if (keep[i] >= 0)
			rc = jail_keep_fd(s, keep[i]);
	snprintf(path, sizeof(path), "%s", dev->uds_path);
	snprintf(p->dir, sizeof(p->dir), "%s", dirname(path));
	s->bind_dir = p->dir;
	/* Memory regions, three fds a queue, the kept fds, and one fd a stream. */
	s->nofile = 8 + 3 * VU_MAX_QUEUES + JAIL_MAX_FDS + dev->max_conns + 8;
	s->rules = vsock_rules;
	s->rules_arg = p;
	return rc;
}

void vsock_jail_paths(struct vsock_dev *dev)
{
	char path[sizeof(dev->uds_path)];

	snprintf(path, sizeof(path), "%s", dev->uds_path);
	snprintf(dev->connect_base, sizeof(dev->connect_base), JAIL_BIND_PATH "/%s", basename(path));
}
