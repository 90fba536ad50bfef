/* main.c: cellvm-net, a vhost-user-net backend process over a tap: options, socket, epoll loop. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "net.h"
#include "policy.h"

enum exit_status {
	EXIT_DISCONNECTED = 0, EXIT_RUNTIME = 1, EXIT_USAGE = 2, EXIT_TAP = 3,
	EXIT_SOCKET = 4, EXIT_PROTOCOL = 5, EXIT_JAIL = 6, EXIT_SIGNAL = 8,
};

enum tag { TAG_SIGNAL = 1, TAG_SOCK = 2, TAG_KICK = 16, TAG_TAP = 64 };

struct config {
	struct net_opts net;
	const char *socket_path;
	int socket_fd;
	bool verbose;
	bool no_jail;
	bool seccomp_log;
	long uid, gid;          /* --uid/--gid: the jail's identity when started as root */
};

struct loop {
	int epfd;
	int sigfd;
	int sock;
	struct net_dev dev;
};

static const char usage_text[] =
	"usage: cellvm-net (--socket PATH | --socket-fd N) (--tap NAME | --tap-fd N[,N...]) [options]\n"
	"  --socket PATH       listen on this Unix socket and serve one frontend\n"
	"  --socket-fd N       use an inherited socket, listening or already connected\n"
	"  --tap NAME          open tap NAME (IFF_TAP|IFF_NO_PI|IFF_VNET_HDR, IFF_MULTI_QUEUE\n"
	"                      for several pairs); created if absent (CAP_NET_ADMIN)\n"
	"  --tap-fd N[,N...]   inherited tap queue fds, one per queue pair, opened with\n"
	"                      IFF_TAP|IFF_NO_PI|IFF_VNET_HDR\n"
	"  --num-queues N      queue pairs (rx+tx), 1 to 8 (default 1)\n"
	"  --mac MAC           the guest's MAC, xx:xx:xx:xx:xx:xx (default: random, local)\n"
	"  --verbose           log vhost-user progress\n"
	"  --seccomp MODE      kill (default): a forbidden system call kills the process;\n"
	"                      log: it is allowed and logged by the kernel (writing policies)\n"
	"  --uid N, --gid N    the jail's identity when started as root (default 65534)\n"
	"  --no-jail           run WITHOUT the sandbox (debugging only; logged)\n"
	"exit status: 0 the frontend disconnected; 1 run-time failure; 2 bad usage;\n"
	"  3 the tap cannot be opened or set up; 4 the socket cannot be set up;\n"
	"  5 the frontend broke the vhost-user protocol; 6 the jail cannot be entered;\n"
	"  8 stopped by SIGTERM/SIGINT/SIGHUP; 128+N killed by signal N (159: SIGSYS, seccomp)\n";

static const struct option long_opts[] = {
	{ "socket", required_argument, NULL, 's' }, { "socket-fd", required_argument, NULL, 'f' },
	{ "tap", required_argument, NULL, 't' }, { "tap-fd", required_argument, NULL, 'T' },
	{ "num-queues", required_argument, NULL, 'q' }, { "mac", required_argument, NULL, 'M' },
	{ "verbose", no_argument, NULL, 'v' }, { "seccomp", required_argument, NULL, 'm' },
	{ "no-jail", no_argument, NULL, 'J' }, { "help", no_argument, NULL, 'h' },
	{ "uid", required_argument, NULL, 'U' }, { "gid", required_argument, NULL, 'G' },
	{ NULL, 0, NULL, 0 },
};

static int parse_uint(const char *s, long lo, long hi, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		return -EINVAL;
	*out = v;
	return 0;
}

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
		if (o->ntap_fds == NET_MAX_PAIRS || parse_uint(t, 0, 1 << 20, &v))
			return -EINVAL;
		o->tap_fds[o->ntap_fds++] = (int)v;
	}
	return o->ntap_fds ? 0 : -EINVAL;
}

static int parse_id(const char *arg, long *out)
{
	return parse_uint(arg, 1, 0xfffffffeL, out);
}

static int parse_opt(struct config *c, int opt, const char *arg)
{
	long v;

	switch (opt) {
	case 's': c->socket_path = arg; return 0;
	case 't': c->net.tap_name = arg; return 0;
	case 'v': c->verbose = true; return 0;
	case 'J': c->no_jail = true; return 0;
	case 'U': case 'G':
		if (parse_id(arg, opt == 'U' ? &c->uid : &c->gid) < 0)
			return log_error("--%s: 1 to 4294967294, not %s", opt == 'U' ? "uid" : "gid", arg),
			       -EINVAL;
		return 0;
	case 'm':
		if (strcmp(arg, "kill") && strcmp(arg, "log"))
			return log_error("--seccomp: kill or log, not %s", arg), -EINVAL;
		c->seccomp_log = !strcmp(arg, "log");
		return 0;
	case 'M':
		if (parse_mac(arg, c->net.mac))
			return log_error("--mac: not a unicast xx:xx:xx:xx:xx:xx: %s", arg), -EINVAL;
		c->net.mac_set = true;
		return 0;
	case 'T':
		if (parse_fds(&c->net, arg))
			return log_error("--tap-fd: 1 to %d fd numbers separated by commas, not %s",
					 NET_MAX_PAIRS, arg), -EINVAL;
		return 0;
	case 'f':
		if (parse_uint(arg, 0, 1 << 20, &v))
			return log_error("--socket-fd: not a file descriptor number: %s", arg), -EINVAL;
		c->socket_fd = (int)v;
		return 0;
	case 'q':
		if (parse_uint(arg, 1, NET_MAX_PAIRS, &v))
			return log_error("--num-queues: 1 to %d queue pairs, not %s", NET_MAX_PAIRS,
					 arg), -EINVAL;
		c->net.pairs = (unsigned)v;
		return 0;
	default:
		return -EINVAL;
	}
}

static int check_args(const struct config *c)
{
	if (!c->net.tap_name == !c->net.ntap_fds)
		return log_error("exactly one of --tap NAME and --tap-fd N is required"), -EINVAL;
	if (c->net.ntap_fds && c->net.ntap_fds != c->net.pairs)
		return log_error("--tap-fd: %u fds for %u queue pairs (--num-queues): one per pair",
				 c->net.ntap_fds, c->net.pairs), -EINVAL;
	if (!c->socket_path == (c->socket_fd < 0))
		return log_error("exactly one of --socket PATH and --socket-fd N is required"),
		       -EINVAL;
	return 0;
}

/* 0: run; 1: --help printed; -EINVAL: bad usage (already reported). */
static int parse_args(struct config *c, int argc, char **argv)
{
	int opt;

	*c = (struct config){ .socket_fd = -1, .net.pairs = 1 };
	while ((opt = getopt_long(argc, argv, "", long_opts, NULL)) != -1) {
		if (opt == 'h')
			return fputs(usage_text, stdout), 1;
		if (opt == '?' || parse_opt(c, opt, optarg))
			return -EINVAL;
	}
	if (optind < argc)
		return log_error("unexpected argument: %s", argv[optind]), -EINVAL;
	return check_args(c);
}

static int listen_on(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return log_error("--socket %s: path too long", path), -ENAMETOOLONG;
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			return log_error("--socket %s: exists and is not a socket", path), -EEXIST;
		unlink(path); /* a stale socket from an earlier run */
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 1) < 0) {
		int err = errno;

		log_error("--socket %s: %s", path, strerror(err));
		if (fd >= 0)
			close(fd);
		return -err;
	}
	return fd;
}

static int watch(struct loop *l, int fd, uint64_t tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = tag };

	return epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

/* Waits for one frontend on a listening socket; a signal ends the wait. */
static int accept_one(struct loop *l, int lfd)
{
	struct epoll_event ev[2];

	if (watch(l, lfd, TAG_SOCK))
		return -errno;
	for (;;) {
		int n = epoll_wait(l->epfd, ev, 2, -1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		for (int i = 0; i < n; i++)
			if (ev[i].data.u64 == TAG_SIGNAL)
				return -EINTR;
		break;
	}
	epoll_ctl(l->epfd, EPOLL_CTL_DEL, lfd, NULL);
	int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

/* The connected socket, from --socket or --socket-fd (listening or connected). */
static int connect_frontend(struct loop *l, const struct config *c)
{
	int lfd = c->socket_fd, listening = 0, fd;
	socklen_t len = sizeof(listening);

	if (c->socket_path) {
		lfd = listen_on(c->socket_path);
		if (lfd < 0)
			return lfd;
		listening = 1;
	} else if (getsockopt(lfd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) < 0) {
		int err = errno;

		return log_error("--socket-fd %d: not a socket: %s", lfd, strerror(err)), -err;
	}
	if (!listening)
		return lfd;
	log_info("waiting for a frontend");
	fd = accept_one(l, lfd);
	close(lfd);
	/* One frontend per run: the name goes now, while the host's file system is in reach. */
	if (c->socket_path)
		unlink(c->socket_path);
	if (fd < 0 && fd != -EINTR)
		log_error("accept: %s", strerror(-fd));
	return fd;
}

static void watch_kick(void *loopp, unsigned q, int old_fd, int new_fd)
{
	struct loop *l = loopp;

	if (old_fd >= 0)
		epoll_ctl(l->epfd, EPOLL_CTL_DEL, old_fd, NULL);
	/* Non-blocking: a stale readiness report must not block the loop in read(). */
	if (new_fd >= 0)
		fcntl(new_fd, F_SETFL, fcntl(new_fd, F_GETFL) | O_NONBLOCK);
	if (new_fd >= 0 && watch(l, new_fd, TAG_KICK + q))
		log_error("queue %u: cannot watch the kick fd: %m", q);
}

static void watch_tap(void *loopp, unsigned pair, int fd, bool on)
{
	struct loop *l = loopp;

	if (on ? watch(l, fd, TAG_TAP + pair) : epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL))
		log_error("pair %u: cannot %s the tap: %m", pair, on ? "watch" : "unwatch");
}

static const struct net_loop_ops loop_ops = { .kick_changed = watch_kick, .tap_poll = watch_tap };

static int on_socket(struct loop *l)
{
	int rc = vu_dispatch(&l->dev.vu);

	if (rc == -ECONNRESET) {
		log_info("frontend disconnected");
		return EXIT_DISCONNECTED;
	}
	if (rc == -EPROTO) {
		log_error("frontend broke the vhost-user protocol; closing the connection");
		return EXIT_PROTOCOL;
	}
	if (rc < 0) {
		log_error("vhost-user socket: %s", strerror(-rc));
		return EXIT_RUNTIME;
	}
	/* New features set the offloads; a message may have started or enabled a queue. */
	net_after_message(&l->dev);
	return -1;
}

/* -1: keep going; otherwise the exit status. */
static int on_event(struct loop *l, uint64_t tag)
{
	uint64_t v;

	if (tag == TAG_SIGNAL) {
		struct signalfd_siginfo si;

		if (read(l->sigfd, &si, sizeof(si)) == sizeof(si))
			log_info("stopping on signal %u", si.ssi_signo);
		return EXIT_SIGNAL;
	}
	if (tag == TAG_SOCK)
		return on_socket(l);
	if (tag >= TAG_TAP && tag < TAG_TAP + l->dev.pairs) {
		net_tap_ready(&l->dev, (unsigned)(tag - TAG_TAP));
		return -1;
	}
	if (tag >= TAG_KICK && tag < TAG_KICK + l->dev.vu.num_queues) {
		unsigned q = (unsigned)(tag - TAG_KICK);
		int fd = l->dev.vu.queues[q].kick_fd;

		if (fd >= 0 && read(fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
			log_warn("queue %u: kick read: %m", q);
		net_kick(&l->dev, q);
	}
	return -1;
}

static int run(struct loop *l)
{
	struct epoll_event ev[32];

	if (watch(l, l->sock, TAG_SOCK))
		return log_error("epoll: %m"), EXIT_RUNTIME;
	for (;;) {
		int n = epoll_wait(l->epfd, ev, 32, -1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return log_error("epoll_wait: %m"), EXIT_RUNTIME;
		for (int i = 0; i < n; i++) {
			int st = on_event(l, ev[i].data.u64);

			if (st >= 0)
				return st;
		}
	}
}

static int setup_loop(struct loop *l)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	signal(SIGPIPE, SIG_IGN);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -errno;
	l->sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->sigfd < 0 || l->epfd < 0)
		return -errno;
	return watch(l, l->sigfd, TAG_SIGNAL);
}

/* The waiter (the pid namespace's parent): says how the worker died, then dies the same way. */
static void waiter_exit(const struct jail_result *r)
{
	int st = r->worker_status;

	if (WIFSIGNALED(st))
		log_error("jailed worker pid %d killed by signal %d (SIG%s: %s)%s", (int)r->worker_pid,
			  WTERMSIG(st), sigabbrev_np(WTERMSIG(st)) ?: "?", strsignal(WTERMSIG(st)),
			  WTERMSIG(st) == SIGSYS ? ": a system call outside its seccomp policy" : "");
	jail_exit_like(st);
}

/* -1: go on, jailed (or --no-jail); otherwise the exit status. Never returns in the waiter. */
static int enter_jail(struct loop *l, const struct config *c)
{
	struct jail_spec s;
	struct net_policy p;
	struct jail_result r = { 0 };
	int rc;

	if (c->no_jail) {
		log_warn("--no-jail: running WITHOUT the sandbox; for debugging only");
		return -1;
	}
	rc = net_jail_spec(&s, &p, &l->dev, l->epfd, l->sigfd, l->sock);
	s.seccomp_mode = c->seccomp_log ? JAIL_SECCOMP_LOG : JAIL_SECCOMP_KILL;
	if (c->uid > 0)
		s.uid = (uid_t)c->uid;
	if (c->gid > 0)
		s.gid = (gid_t)c->gid;
	if (!rc)
		rc = jail_enter(&s, &r);
	if (rc == JAIL_WAITER)
		waiter_exit(&r);
	if (rc < 0)
		return log_error("jail: %s: %s; refusing to run half-jailed",
				 r.step ? r.step : "spec", strerror(-rc)), EXIT_JAIL;
	/* A signalfd wakes epoll through the registering task's signal handlers: that was the
	 * process before the pid namespace's fork, now the waiter. Register it again from here. */
	if (epoll_ctl(l->epfd, EPOLL_CTL_DEL, l->sigfd, NULL) < 0 || watch(l, l->sigfd, TAG_SIGNAL))
		return log_error("jail: re-watching the signalfd: %m"), EXIT_RUNTIME;
	if (r.no_landlock)
		log_warn("jail: this kernel has no Landlock; running without that layer");
	if (c->seccomp_log)
		log_warn("--seccomp log: forbidden system calls are logged, not stopped");
	return -1;
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

static int open_device(struct loop *l, struct config *c)
{
	const char *what = "MAC";
	int rc = default_mac(&c->net);

	if (!rc)
		rc = net_open(&l->dev, &c->net, &what);
	if (rc)
		log_error("%s%s: %s: %s", c->net.tap_name ? "--tap " : "--tap-fd",
			  c->net.tap_name ? c->net.tap_name : "", what, strerror(-rc));
	return rc;
}

int main(int argc, char **argv)
{
	static struct loop l = { .epfd = -1, .sigfd = -1, .sock = -1 };
	struct config c;
	int rc, st;

	log_init("net", LOG_WARN, NULL);
	rc = parse_args(&c, argc, argv);
	if (rc)
		return rc > 0 ? 0 : (fputs(usage_text, stderr), EXIT_USAGE);
	if (c.verbose)
		log_init("net", LOG_INFO, NULL);
	if (open_device(&l, &c)) {
		net_close(&l.dev);
		return EXIT_TAP;
	}
	if (setup_loop(&l))
		return log_error("event loop setup: %m"), EXIT_RUNTIME;
	l.sock = connect_frontend(&l, &c);
	if (l.sock < 0) {
		net_close(&l.dev);
		return l.sock == -EINTR ? EXIT_SIGNAL : EXIT_SOCKET;
	}
	/* Everything the device needs is open: the jail before the first message is read. */
	st = enter_jail(&l, &c);
	if (st >= 0)
		return st;
	if (net_attach(&l.dev, l.sock, &loop_ops, &l))
		return log_error("vhost-user setup failed"), EXIT_RUNTIME;
	log_info("serving %u queue pair(s), mac %02x:%02x:%02x:%02x:%02x:%02x", l.dev.pairs,
		 l.dev.cfg.mac[0], l.dev.cfg.mac[1], l.dev.cfg.mac[2], l.dev.cfg.mac[3],
		 l.dev.cfg.mac[4], l.dev.cfg.mac[5]);
	st = run(&l);
	for (unsigned p = 0; p < l.dev.pairs; p++) {
		const struct net_stats *ns = &l.dev.pair[p].stats;

		log_info("pair %u: tx %llu frames, %llu dropped; rx %llu frames, %llu dropped", p,
			 (unsigned long long)ns->tx_frames, (unsigned long long)ns->tx_dropped,
			 (unsigned long long)ns->rx_frames, (unsigned long long)ns->rx_dropped);
	}
	net_close(&l.dev);
	close(l.sock);
	return st;
}
