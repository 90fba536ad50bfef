/* main.c: cellvm-vsock, a vhost-user-vsock backend process (hybrid vsock): its options and the epoll loop. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "../lib/backend.h"
#include "log.h"
#include "policy.h"
#include "selftest.h"
#include "vsock.h"

/* epoll tags: stream i is TAG_CONN + i. */
enum tag { TAG_LISTEN = BACKEND_TAG_DEVICE, TAG_TIMER, TAG_KICK,
	   TAG_CONN = TAG_KICK + VSOCK_NUM_QUEUES };

struct loop {
	struct backend be;        /* first: the kick callback's argument */
	struct vsock_dev dev;
	struct vsock_policy policy;
};

static const struct option vsock_opts_table[] = {
	{ "cid", required_argument, NULL, 'c' }, { "uds-path", required_argument, NULL, 'u' },
	{ "max-conns", required_argument, NULL, 'M' }, { NULL, 0, NULL, 0 },
};

static int parse_cid(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	/* 0-2 are the hypervisor, local and host; 2^32-1 is VMADDR_CID_ANY. */
	if (errno || end == s || *end || *s == '-' || v < 3 || v >= UINT32_MAX)
		return -EINVAL;
	*out = v;
	return 0;
}

static int parse_opt(void *cfg, int opt, const char *arg)
{
	struct vsock_opts *vs = cfg;
	long v;

	switch (opt) {
	case 'u': vs->uds_path = arg; return 0;
	case 'c':
		if (parse_cid(arg, &vs->cid))
			return log_error("--cid: 3 to 4294967294, not %s", arg), -EINVAL;
		return 0;
	case 'M':
		if (backend_parse_uint(arg, 1, VSOCK_MAX_CONNS, &v))
			return log_error("--max-conns: 1 to %d, not %s", VSOCK_MAX_CONNS, arg), -EINVAL;
		vs->max_conns = (unsigned)v;
		return 0;
	default:
		return -EINVAL;
	}
}

static int check_args(const void *cfg, const struct backend_opts *o)
{
	const struct vsock_opts *vs = cfg;

	if (!vs->cid || !vs->uds_path)
		return log_error("--cid N and --uds-path PATH are required"), -EINVAL;
	return 0;
}

static const struct backend_cli cli = {
	.name = "vsock",
	.usage = "usage: cellvm-vsock (--socket PATH | --socket-fd N) --cid N --uds-path PATH "
		 "[options]\n",
	.help = "  --cid N             the guest's context id, 3 to 2^32-2\n"
		"  --uds-path PATH     the hybrid socket: a host process connects, sends "
		"\"CONNECT <port>\\n\"\n"
		"                      and gets \"OK <hostport>\\n\"; a guest connecting to CID 2 "
		"port P\n"
		"                      reaches the Unix socket PATH_P\n"
		"  --max-conns N       streams at once, 1 to 4096 (default 256); more are refused "
		"(RST)\n",
	.exit_device = "the hybrid socket cannot be created",
	.opts = vsock_opts_table, .parse = parse_opt, .check = check_args,
	.selftest_known = vsock_selftest_known,
};

static void after_message(void *loopp)
{
	vsock_process(&((struct loop *)loopp)->dev);
}

/* -1: keep going; otherwise the exit status. */
static int on_event(void *loopp, const struct epoll_event *ev)
{
	struct loop *l = loopp;
	uint64_t tag = ev->data.u64;

	if (tag < BACKEND_TAG_DEVICE)
		return backend_event(&l->be, tag, &l->dev.vu, after_message, l);
	if (tag == TAG_LISTEN)
		vsock_accept(&l->dev);
	else if (tag == TAG_TIMER)
		vsock_timer(&l->dev);
	else if (tag >= TAG_CONN)
		vsock_conn_event(&l->dev, (unsigned)(tag - TAG_CONN), ev->events);
	else if (tag >= TAG_KICK) {
		unsigned q = (unsigned)(tag - TAG_KICK);

		backend_drain_kick(l->dev.vu.queues[q].kick_fd, q);
		vsock_process(&l->dev);
	}
	return -1;
}

static int jail_spec(void *loopp, struct jail_spec *s)
{
	struct loop *l = loopp;

	return vsock_jail_spec(s, &l->policy, &l->dev, l->be.epfd, l->be.sigfd, l->be.sock);
}

static int selftest(void *loopp, const char *act, pid_t parent)
{
	return vsock_selftest_run(act, parent);
}

static int serve(struct loop *l, const struct vsock_opts *vs)
{
	if (vsock_attach(&l->dev, l->be.sock, l->be.epfd, TAG_CONN, backend_kick_changed, &l->be))
		return log_error("vhost-user setup failed"), BACKEND_EXIT_RUNTIME;
	log_info("guest cid %llu, hybrid socket %s", (unsigned long long)vs->cid, vs->uds_path);
	if (backend_watch(&l->be, l->be.sock, BACKEND_TAG_SOCK) ||
	    backend_watch(&l->be, l->dev.listen_fd, TAG_LISTEN) ||
	    backend_watch(&l->be, l->dev.timer_fd, TAG_TIMER))
		return log_error("epoll: %m"), BACKEND_EXIT_RUNTIME;
	return backend_run(&l->be, on_event, l);
}

int main(int argc, char **argv)
{
	static struct loop l = { .be = BACKEND_INIT, .be.kick_tag = TAG_KICK };
	struct backend_opts o;
	struct vsock_opts vs = { .max_conns = 256 };
	const char *what;
	int rc, st;

	log_init(cli.name, LOG_WARN, NULL);
	rc = backend_parse_args(&cli, &o, &vs, argc, argv);
	if (rc)
		return rc > 0 ? 0 : (backend_usage(&cli, stderr), BACKEND_EXIT_USAGE);
	if (o.verbose)
		log_init(cli.name, LOG_INFO, NULL);
	if (backend_setup_loop(&l.be))
		return log_error("event loop setup: %m"), BACKEND_EXIT_RUNTIME;
	rc = vsock_open(&l.dev, &vs, &what);
	if (rc) {
		log_error("%s %s: %s", what, vs.uds_path, strerror(-rc));
		vsock_close(&l.dev);
		return BACKEND_EXIT_DEVICE;
	}
	st = backend_connect_and_jail(&l.be, &o, jail_spec, selftest, &l);
	if (st >= 0)
		return st; /* a selftest's or a failure's status: exiting closes the rest */
	if (!o.no_jail) /* guest-initiated streams connect under the bind mount */
		vsock_jail_paths(&l.dev);
	st = serve(&l, &vs);
	vsock_close(&l.dev);
	close(l.be.sock);
	return st;
}
