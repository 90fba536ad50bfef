/* main.c: cellvm-net, a vhost-user-net backend process over a tap: its options and the epoll loop. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <unistd.h>

#include "../lib/backend.h"
#include "log.h"
#include "net.h"
#include "policy.h"
#include "selftest.h"

enum tag { TAG_KICK = 16, TAG_TAP = 64 }; /* above BACKEND_TAG_DEVICE */

struct loop {
	struct backend be;        /* first: the kick callback's argument */
	struct net_dev dev;
	struct net_policy policy;
};

static const struct option net_opts_table[] = {
	{ "tap", required_argument, NULL, 't' }, { "tap-fd", required_argument, NULL, 'T' },
	{ "num-queues", required_argument, NULL, 'q' }, { "mac", required_argument, NULL, 'M' },
	{ NULL, 0, NULL, 0 },
};

/* A unicast MAC: six hex pairs separated by colons. */
static int parse_mac(const char *s, uint8_t mac[6])
{
	unsigned b[6];
	char tail;

	if (strlen(s) != 17 || sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3],
				      &b[4], &b[5], &tail) != 6)
		return -EINVAL;
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)b[i];
	return (mac[0] & 1) ? -EINVAL : 0;
}

/* N[,N...]: one fd per queue pair. */
static int parse_fds(struct net_opts *o, const char *arg)
{
	char buf[128], *save = NULL;
	long v;

	if (strlen(arg) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, arg);
	o->ntap_fds = 0;
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (o->ntap_fds == NET_MAX_PAIRS || backend_parse_uint(t, 0, 1 << 20, &v))
			return -EINVAL;
		o->tap_fds[o->ntap_fds++] = (int)v;
	}
	return o->ntap_fds ? 0 : -EINVAL;
}

static int parse_opt(void *cfg, int opt, const char *arg)
{
	struct net_opts *n = cfg;
	long v;

	switch (opt) {
	case 't': n->tap_name = arg; return 0;
	case 'M':
		if (parse_mac(arg, n->mac))
			return log_error("--mac: not a unicast xx:xx:xx:xx:xx:xx: %s", arg), -EINVAL;
		n->mac_set = true;
		return 0;
	case 'T':
		if (parse_fds(n, arg))
			return log_error("--tap-fd: 1 to %d fd numbers separated by commas, not %s",
					 NET_MAX_PAIRS, arg), -EINVAL;
		return 0;
	case 'q':
		if (backend_parse_uint(arg, 1, NET_MAX_PAIRS, &v))
			return log_error("--num-queues: 1 to %d queue pairs, not %s", NET_MAX_PAIRS,
					 arg), -EINVAL;
		n->pairs = (unsigned)v;
		return 0;
	default:
		return -EINVAL;
	}
}

static int check_args(const void *cfg, const struct backend_opts *o)
{
	const struct net_opts *n = cfg;

	if (!n->tap_name == !n->ntap_fds)
		return log_error("exactly one of --tap NAME and --tap-fd N is required"), -EINVAL;
	if (n->ntap_fds && n->ntap_fds != n->pairs)
		return log_error("--tap-fd: %u fds for %u queue pairs (--num-queues): one per pair",
				 n->ntap_fds, n->pairs), -EINVAL;
	return 0;
}

static const struct backend_cli cli = {
	.name = "net",
	.usage = "usage: cellvm-net (--socket PATH | --socket-fd N) (--tap NAME | --tap-fd N[,N...]) "
		 "[options]\n",
	.help = "  --tap NAME          open tap NAME (IFF_TAP|IFF_NO_PI|IFF_VNET_HDR, IFF_MULTI_QUEUE\n"
		"                      for several pairs); created if absent (CAP_NET_ADMIN)\n"
		"  --tap-fd N[,N...]   inherited tap queue fds, one per queue pair, opened with\n"
		"                      IFF_TAP|IFF_NO_PI|IFF_VNET_HDR\n"
		"  --num-queues N      queue pairs (rx+tx), 1 to 8 (default 1)\n"
		"  --mac MAC           the guest's MAC, xx:xx:xx:xx:xx:xx (default: random, local)\n",
	.exit_device = "the tap cannot be opened or set up",
	.opts = net_opts_table, .parse = parse_opt, .check = check_args,
	.selftest_known = net_selftest_known,
};

static void watch_tap(void *loopp, unsigned pair, int fd, bool on)
{
	struct loop *l = loopp;

	if (on ? backend_watch(&l->be, fd, TAG_TAP + pair) : epoll_ctl(l->be.epfd, EPOLL_CTL_DEL, fd, NULL))
		log_error("pair %u: cannot %s the tap: %m", pair, on ? "watch" : "unwatch");
}

static const struct net_loop_ops loop_ops = {
	.kick_changed = backend_kick_changed, .tap_poll = watch_tap,
};

/* New features set the offloads; a message may have started or enabled a queue. */
static void after_message(void *loopp)
{
	net_after_message(&((struct loop *)loopp)->dev);
}

/* -1: keep going; otherwise the exit status. */
static int on_event(void *loopp, const struct epoll_event *ev)
{
	struct loop *l = loopp;
	uint64_t tag = ev->data.u64;

	if (tag < BACKEND_TAG_DEVICE)
		return backend_event(&l->be, tag, &l->dev.vu, after_message, l);
	if (tag >= TAG_TAP && tag < TAG_TAP + l->dev.pairs) {
		net_tap_ready(&l->dev, (unsigned)(tag - TAG_TAP));
		return -1;
	}
	if (tag >= TAG_KICK && tag < TAG_KICK + l->dev.vu.num_queues) {
		unsigned q = (unsigned)(tag - TAG_KICK);

		backend_drain_kick(l->dev.vu.queues[q].kick_fd, q);
		net_kick(&l->dev, q);
	}
	return -1;
}

static int jail_spec(void *loopp, struct jail_spec *s)
{
	struct loop *l = loopp;

	return net_jail_spec(s, &l->policy, &l->dev, l->be.epfd, l->be.sigfd, l->be.sock);
}

/* Without --mac: a random locally administered unicast address. */
static int default_mac(struct net_opts *o)
{
	if (o->mac_set)
		return 0;
	if (getrandom(o->mac, 6, 0) != 6)
		return -errno;
	o->mac[0] = (uint8_t)((o->mac[0] & ~1u) | 2u);
	return 0;
}

static int open_device(struct loop *l, struct net_opts *n)
{
	const char *what = "MAC";
	int rc = default_mac(n);

	if (!rc)
		rc = net_open(&l->dev, n, &what);
	if (rc)
		log_error("%s%s: %s: %s", n->tap_name ? "--tap " : "--tap-fd",
			  n->tap_name ? n->tap_name : "", what, strerror(-rc));
	return rc;
}

static int serve(struct loop *l)
{
	int st;

	if (net_attach(&l->dev, l->be.sock, &loop_ops, l))
		return log_error("vhost-user setup failed"), BACKEND_EXIT_RUNTIME;
	log_info("serving %u queue pair(s), mac %02x:%02x:%02x:%02x:%02x:%02x", l->dev.pairs,
		 l->dev.cfg.mac[0], l->dev.cfg.mac[1], l->dev.cfg.mac[2], l->dev.cfg.mac[3],
		 l->dev.cfg.mac[4], l->dev.cfg.mac[5]);
	if (backend_watch(&l->be, l->be.sock, BACKEND_TAG_SOCK))
		return log_error("epoll: %m"), BACKEND_EXIT_RUNTIME;
	st = backend_run(&l->be, on_event, l);
	for (unsigned p = 0; p < l->dev.pairs; p++) {
		const struct net_stats *ns = &l->dev.pair[p].stats;

		log_info("pair %u: tx %llu frames, %llu dropped; rx %llu frames, %llu dropped", p,
			 (unsigned long long)ns->tx_frames, (unsigned long long)ns->tx_dropped,
			 (unsigned long long)ns->rx_frames, (unsigned long long)ns->rx_dropped);
	}
	return st;
}

static int selftest(void *loopp, const char *act, pid_t parent)
{
	return net_selftest_run(act, &((struct loop *)loopp)->dev, parent);
}

int main(int argc, char **argv)
{
	static struct loop l = { .be = BACKEND_INIT, .be.kick_tag = TAG_KICK };
	struct backend_opts o;
	struct net_opts n = { .pairs = 1 };
	int rc, st;

	log_init(cli.name, LOG_WARN, NULL);
	rc = backend_parse_args(&cli, &o, &n, argc, argv);
	if (rc)
		return rc > 0 ? 0 : (backend_usage(&cli, stderr), BACKEND_EXIT_USAGE);
	if (o.verbose)
		log_init(cli.name, LOG_INFO, NULL);
	if (open_device(&l, &n)) {
		net_close(&l.dev);
		return BACKEND_EXIT_DEVICE;
	}
	if (backend_setup_loop(&l.be))
		return log_error("event loop setup: %m"), BACKEND_EXIT_RUNTIME;
	st = backend_connect_and_jail(&l.be, &o, jail_spec, selftest, &l);
	if (st >= 0)
		return st; /* a selftest's or a failure's status: exiting closes the rest */
	st = serve(&l);
	net_close(&l.dev);
	close(l.be.sock);
	return st;
}
