/* main.c: cellvm-vsock, a vhost-user-vsock backend process (hybrid vsock): options, sockets, and the epoll loop. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "policy.h"
#include "selftest.h"
#include "vsock.h"

enum exit_status {
	EXIT_DISCONNECTED = 0, EXIT_RUNTIME = 1, EXIT_USAGE = 2, EXIT_UDS = 3,
	EXIT_SOCKET = 4, EXIT_PROTOCOL = 5, EXIT_JAIL = 6, EXIT_SIGNAL = 8,
};

/* epoll tags: stream i is TAG_CONN + i. */
enum tag { TAG_SIGNAL = 1, TAG_SOCK, TAG_LISTEN, TAG_TIMER, TAG_KICK,
	   TAG_CONN = TAG_KICK + VSOCK_NUM_QUEUES };

struct config {
	struct vsock_opts vs;
	const char *socket_path;
	int socket_fd;
	bool verbose;
	bool no_jail;
	bool seccomp_log;
	const char *selftest;   /* --jail-selftest ACT: a test hook */
	long uid, gid;          /* --uid/--gid: the jail's identity when started as root */
};

struct loop {
	int epfd;
	int sigfd;
	int sock;
	struct vsock_dev dev;
};

static const char usage_text[] =
	"usage: cellvm-vsock (--socket PATH | --socket-fd N) --cid N --uds-path PATH [options]\n"
	"  --socket PATH       listen on this Unix socket and serve one vhost-user frontend\n"
	"  --socket-fd N       use an inherited socket, listening or already connected\n"
	"  --cid N             the guest's context id, 3 to 2^32-2\n"
	"  --uds-path PATH     the hybrid socket: a host process connects, sends \"CONNECT <port>\\n\"\n"
	"                      and gets \"OK <hostport>\\n\"; a guest connecting to CID 2 port P\n"
	"                      reaches the Unix socket PATH_P\n"
	"  --max-conns N       streams at once, 1 to 4096 (default 256); more are refused (RST)\n"
	"  --verbose           log vhost-user and stream progress\n"
	"  --seccomp MODE      kill (default): a forbidden system call kills the process;\n"
	"                      log: it is allowed and logged by the kernel (writing policies)\n"
	"  --uid N, --gid N    the jail's identity when started as root (default 65534)\n"
	"  --no-jail           run WITHOUT the sandbox (debugging only; logged)\n"
	"  --jail-selftest ACT test hook: enter the jail (no frontend), try one forbidden act\n"
	"exit status: 0 the frontend disconnected; 1 run-time failure; 2 bad usage;\n"
	"  3 the hybrid socket cannot be created; 4 the vhost-user socket cannot be set up;\n"
	"  5 the frontend broke the vhost-user protocol; 6 the jail cannot be entered;\n"
	"  8 stopped by SIGTERM/SIGINT/SIGHUP; 128+N killed by signal N (159: SIGSYS, seccomp)\n";

static const struct option long_opts[] = {
	{ "socket", required_argument, NULL, 's' }, { "socket-fd", required_argument, NULL, 'f' },
	{ "cid", required_argument, NULL, 'c' }, { "uds-path", required_argument, NULL, 'u' },
	{ "max-conns", required_argument, NULL, 'M' }, { "verbose", no_argument, NULL, 'v' },
	{ "seccomp", required_argument, NULL, 'm' }, { "no-jail", no_argument, NULL, 'J' },
	{ "jail-selftest", required_argument, NULL, 'T' },
	{ "uid", required_argument, NULL, 'U' }, { "gid", required_argument, NULL, 'G' },
	{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
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

static int parse_opt(struct config *c, int opt, const char *arg)
{
	long v;

	switch (opt) {
	case 's': c->socket_path = arg; return 0;
	case 'u': c->vs.uds_path = arg; return 0;
	case 'v': c->verbose = true; return 0;
	case 'J': c->no_jail = true; return 0;
	case 'm':
		if (strcmp(arg, "kill") && strcmp(arg, "log"))
			return log_error("--seccomp: kill or log, not %s", arg), -EINVAL;
		c->seccomp_log = !strcmp(arg, "log");
		return 0;
	case 'c':
		if (parse_cid(arg, &c->vs.cid))
			return log_error("--cid: 3 to 4294967294, not %s", arg), -EINVAL;
		return 0;
	case 'f':
		if (parse_uint(arg, 0, 1 << 20, &v))
			return log_error("--socket-fd: not a file descriptor number: %s", arg), -EINVAL;
		c->socket_fd = (int)v;
		return 0;
	case 'T':
		if (!vsock_selftest_known(arg))
			return log_error("--jail-selftest: unknown act %s", arg), -EINVAL;
		c->selftest = arg;
		return 0;
	case 'U': case 'G':
		if (parse_uint(arg, 1, 0xfffffffeL, &v))
			return log_error("--%s: 1 to 4294967294, not %s", opt == 'U' ? "uid" : "gid", arg),
			       -EINVAL;
		*(opt == 'U' ? &c->uid : &c->gid) = v;
		return 0;
	case 'M':
		if (parse_uint(arg, 1, VSOCK_MAX_CONNS, &v))
			return log_error("--max-conns: 1 to %d, not %s", VSOCK_MAX_CONNS, arg), -EINVAL;
		c->vs.max_conns = (unsigned)v;
		return 0;
	default:
		return -EINVAL;
	}
}

/* 0: run; 1: --help printed; -EINVAL: bad usage (already reported). */
static int parse_args(struct config *c, int argc, char **argv)
{
	int opt;

	*c = (struct config){ .socket_fd = -1, .vs.max_conns = 256 };
	while ((opt = getopt_long(argc, argv, "", long_opts, NULL)) != -1) {
		if (opt == 'h')
			return fputs(usage_text, stdout), 1;
		if (opt == '?' || parse_opt(c, opt, optarg))
			return -EINVAL;
	}
	if (optind < argc)
		return log_error("unexpected argument: %s", argv[optind]), -EINVAL;
	if (!c->vs.cid || !c->vs.uds_path)
		return log_error("--cid N and --uds-path PATH are required"), -EINVAL;
	if (!c->selftest && !c->socket_path == (c->socket_fd < 0))
		return log_error("exactly one of --socket PATH and --socket-fd N is required"),
		       -EINVAL;
	return 0;
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

/* Waits for one frontend on a listening socket; a signal ends the wait. */
static int accept_one(struct loop *l, int lfd)
{
	struct epoll_event ev[2];

	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, lfd,
		      &(struct epoll_event){ .events = EPOLLIN, .data.u64 = TAG_SOCK }) < 0)
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
	if (new_fd >= 0 &&
	    epoll_ctl(l->epfd, EPOLL_CTL_ADD, new_fd,
		      &(struct epoll_event){ .events = EPOLLIN, .data.u64 = TAG_KICK + q }) < 0)
		log_error("queue %u: cannot watch the kick fd: %m", q);
}

static int watch(struct loop *l, int fd, uint64_t tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = tag };

	return epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

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
	/* A message may have started or enabled a queue with buffers already posted. */
	vsock_process(&l->dev);
	return -1;
}

/* -1: keep going; otherwise the exit status. */
static int on_event(struct loop *l, const struct epoll_event *ev)
{
	uint64_t tag = ev->data.u64, v;

	if (tag == TAG_SIGNAL) {
		struct signalfd_siginfo si;

		if (read(l->sigfd, &si, sizeof(si)) == sizeof(si))
			log_info("stopping on signal %u", si.ssi_signo);
		return EXIT_SIGNAL;
	}
	if (tag == TAG_SOCK)
		return on_socket(l);
	if (tag == TAG_LISTEN) {
		vsock_accept(&l->dev);
		return -1;
	}
	if (tag == TAG_TIMER) {
		vsock_timer(&l->dev);
		return -1;
	}
	if (tag >= TAG_CONN) {
		vsock_conn_event(&l->dev, (unsigned)(tag - TAG_CONN), ev->events);
		return -1;
	}
	if (tag >= TAG_KICK && tag < TAG_KICK + VSOCK_NUM_QUEUES) {
		unsigned q = (unsigned)(tag - TAG_KICK);
		int fd = l->dev.vu.queues[q].kick_fd;

		if (fd >= 0 && read(fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
			log_warn("queue %u: kick read: %m", q);
		vsock_process(&l->dev);
	}
	return -1;
}

static int run(struct loop *l)
{
	struct epoll_event ev[32];

	if (watch(l, l->sock, TAG_SOCK) || watch(l, l->dev.listen_fd, TAG_LISTEN) ||
	    watch(l, l->dev.timer_fd, TAG_TIMER))
		return log_error("epoll: %m"), EXIT_RUNTIME;
	for (;;) {
		int n = epoll_wait(l->epfd, ev, 32, -1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return log_error("epoll_wait: %m"), EXIT_RUNTIME;
		for (int i = 0; i < n; i++) {
			int st = on_event(l, &ev[i]);

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
	struct vsock_policy p;
	struct jail_result r = { 0 };
	int rc;

	if (c->no_jail) {
		log_warn("--no-jail: running WITHOUT the sandbox; for debugging only");
		return -1;
	}
	rc = vsock_jail_spec(&s, &p, &l->dev, l->epfd, l->sigfd, l->sock);
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
		return log_error("jail: %s: %s%s; refusing to run half-jailed", r.step ? r.step : "spec",
				 strerror(-rc), r.step && !strcmp(r.step, "pivot_root") && rc == -EINVAL ?
				 " (the host's / is not a mount point, e.g. an initramfs: run from a "
				 "mounted root, see docs/sandbox.md)" : ""), EXIT_JAIL;
	/* A signalfd wakes epoll through the registering task's signal handlers: that was the
	 * process before the pid namespace's fork, now the waiter. Register it again from here. */
	if (epoll_ctl(l->epfd, EPOLL_CTL_DEL, l->sigfd, NULL) < 0 || watch(l, l->sigfd, TAG_SIGNAL))
		return log_error("jail: re-watching the signalfd: %m"), EXIT_RUNTIME;
	vsock_jail_paths(&l->dev);
	if (r.no_landlock)
		log_warn("jail: this kernel has no Landlock; running without that layer");
	if (c->seccomp_log)
		log_warn("--seccomp log: forbidden system calls are logged, not stopped");
	return -1;
}

int main(int argc, char **argv)
{
	static struct loop l = { .epfd = -1, .sigfd = -1, .sock = -1 };
	struct config c;
	const char *what;
	int rc, st;

	log_init("vsock", LOG_WARN, NULL);
	rc = parse_args(&c, argc, argv);
	if (rc)
		return rc > 0 ? 0 : (fputs(usage_text, stderr), EXIT_USAGE);
	if (c.verbose)
		log_init("vsock", LOG_INFO, NULL);
	if (setup_loop(&l))
		return log_error("event loop setup: %m"), EXIT_RUNTIME;
	rc = vsock_open(&l.dev, &c.vs, &what);
	if (rc) {
		log_error("%s %s: %s", what, c.vs.uds_path, strerror(-rc));
		vsock_close(&l.dev);
		return EXIT_UDS;
	}
	if (c.selftest) { /* test hook: no frontend; the jail, then one forbidden act */
		st = enter_jail(&l, &c);
		return st >= 0 ? st : vsock_selftest_run(c.selftest);
	}
	l.sock = connect_frontend(&l, &c);
	if (l.sock < 0) {
		vsock_close(&l.dev);
		return l.sock == -EINTR ? EXIT_SIGNAL : EXIT_SOCKET;
	}
	/* Everything the device needs is open: the jail before the first message is read. */
	st = enter_jail(&l, &c);
	if (st >= 0)
		return st;
	if (vsock_attach(&l.dev, l.sock, l.epfd, TAG_CONN, watch_kick, &l))
		return log_error("vhost-user setup failed"), EXIT_RUNTIME;
	log_info("guest cid %llu, hybrid socket %s", (unsigned long long)c.vs.cid, c.vs.uds_path);
	st = run(&l);
	vsock_close(&l.dev);
	close(l.sock);
	return st;
}
