/* main.c: cellvm-blk, a vhost-user-blk backend process: options, socket, and the epoll loop. */
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
#include <x86intrin.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "blk.h"
#include "log.h"
#include "policy.h"
#include "selftest.h"

enum exit_status {
	EXIT_DISCONNECTED = 0, EXIT_RUNTIME = 1, EXIT_USAGE = 2, EXIT_DISK = 3,
	EXIT_SOCKET = 4, EXIT_PROTOCOL = 5, EXIT_JAIL = 6, EXIT_SIGNAL = 8,
};

enum tag { TAG_SIGNAL = 1, TAG_SOCK, TAG_URING, TAG_KICK };

struct config {
	struct blk_opts blk;
	const char *socket_path;
	int socket_fd;
	bool verbose;
	bool no_jail;
	bool no_poll;
	bool seccomp_log;
	const char *selftest;   /* --jail-selftest ACT: a test hook */
	long uid, gid;          /* --uid/--gid: the jail's identity when started as root */
};

struct loop {
	int epfd;
	int sigfd;
	int sock;
	bool poll;                /* busy-poll after work (--poll) */
	struct blk_dev dev;
};

static const char usage_text[] =
	"usage: cellvm-blk (--socket PATH | --socket-fd N) --path FILE [options]\n"
	"  --socket PATH       listen on this Unix socket and serve one frontend\n"
	"  --socket-fd N       use an inherited socket, listening or already connected\n"
	"  --path FILE         disk image or block device\n"
	"  --readonly          refuse writes, discard and write-zeroes (VIRTIO_BLK_F_RO)\n"
	"  --direct            open the disk with O_DIRECT\n"
	"  --num-queues N      request queues, 1 to 16 (default 1)\n"
	"  --serial STR        GET_ID serial, at most 20 bytes\n"
	"  --verbose           log vhost-user progress\n"
	"  --no-poll           never busy-poll the rings after I/O (default: up to ~40 us,\n"
	"                      adaptive, never while idle)\n"
	"  --seccomp MODE      kill (default): a forbidden system call kills the process;\n"
	"                      log: it is allowed and logged by the kernel (writing policies)\n"
	"  --uid N, --gid N    the jail's identity when started as root (default 65534;\n"
	"                      cellvm passes its VM's id)\n"
	"  --no-jail           run WITHOUT the sandbox (debugging only; logged)\n"
	"  --jail-selftest ACT test hook: enter the jail, try one forbidden act, report\n"
	"exit status: 0 the frontend disconnected; 1 run-time failure; 2 bad usage;\n"
	"  3 the disk cannot be opened or sized; 4 the socket cannot be set up;\n"
	"  5 the frontend broke the vhost-user protocol; 6 the jail cannot be entered;\n"
	"  8 stopped by SIGTERM/SIGINT/SIGHUP; 128+N killed by signal N (159: SIGSYS, seccomp)\n";

static const struct option long_opts[] = {
	{ "socket", required_argument, NULL, 's' }, { "socket-fd", required_argument, NULL, 'f' },
	{ "path", required_argument, NULL, 'p' }, { "readonly", no_argument, NULL, 'r' },
	{ "direct", no_argument, NULL, 'd' }, { "num-queues", required_argument, NULL, 'q' },
	{ "serial", required_argument, NULL, 'S' }, { "verbose", no_argument, NULL, 'v' },
	{ "seccomp", required_argument, NULL, 'm' }, { "no-jail", no_argument, NULL, 'J' },
	{ "jail-selftest", required_argument, NULL, 'T' }, { "no-poll", no_argument, NULL, 'P' },
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

static int parse_opt(struct config *c, int opt, const char *arg)
{
	long v;

	switch (opt) {
	case 's': c->socket_path = arg; return 0;
	case 'p': c->blk.path = arg; return 0;
	case 'r': c->blk.readonly = true; return 0;
	case 'd': c->blk.direct = true; return 0;
	case 'v': c->verbose = true; return 0;
	case 'J': c->no_jail = true; return 0;
	case 'P': c->no_poll = true; return 0;
	case 'm':
		if (strcmp(arg, "kill") && strcmp(arg, "log"))
			return log_error("--seccomp: kill or log, not %s", arg), -EINVAL;
		c->seccomp_log = !strcmp(arg, "log");
		return 0;
	case 'T':
		if (!blk_selftest_known(arg))
			return log_error("--jail-selftest: unknown act %s", arg), -EINVAL;
		c->selftest = arg;
		return 0;
	case 'S':
		if (strlen(arg) > BLK_SERIAL_LEN)
			return log_error("--serial: at most %d bytes", BLK_SERIAL_LEN), -EINVAL;
		c->blk.serial = arg;
		return 0;
	case 'f':
		if (parse_uint(arg, 0, 1 << 20, &v))
			return log_error("--socket-fd: not a file descriptor number: %s", arg), -EINVAL;
		c->socket_fd = (int)v;
		return 0;
	case 'U': case 'G':
		if (parse_uint(arg, 1, 0xfffffffeL, &v))
			return log_error("--%s: 1 to 4294967294, not %s", opt == 'U' ? "uid" : "gid", arg),
			       -EINVAL;
		*(opt == 'U' ? &c->uid : &c->gid) = v;
		return 0;
	case 'q':
		if (parse_uint(arg, 1, VU_MAX_QUEUES, &v))
			return log_error("--num-queues: 1 to %d, not %s", VU_MAX_QUEUES, arg), -EINVAL;
		c->blk.num_queues = (unsigned)v;
		return 0;
	default:
		return -EINVAL;
	}
}

/* 0: run; 1: --help printed; -EINVAL: bad usage (already reported). */
static int parse_args(struct config *c, int argc, char **argv)
{
	int opt;

	*c = (struct config){ .socket_fd = -1, .blk.num_queues = 1 };
	while ((opt = getopt_long(argc, argv, "", long_opts, NULL)) != -1) {
		if (opt == 'h')
			return fputs(usage_text, stdout), 1;
		if (opt == '?' || parse_opt(c, opt, optarg))
			return -EINVAL;
	}
	if (optind < argc)
		return log_error("unexpected argument: %s", argv[optind]), -EINVAL;
	if (!c->blk.path)
		return log_error("--path FILE is required"), -EINVAL;
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
	for (unsigned q = 0; q < l->dev.vu.num_queues; q++)
		blk_process(&l->dev, q);
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
	if (tag == TAG_URING) {
		blk_complete(&l->dev);
		return -1;
	}
	if (tag >= TAG_KICK && tag < TAG_KICK + l->dev.vu.num_queues) {
		unsigned q = (unsigned)(tag - TAG_KICK);
		int fd = l->dev.vu.queues[q].kick_fd;

		if (fd >= 0 && read(fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
			log_warn("queue %u: kick read: %m", q);
		blk_process(&l->dev, q);
	}
	return -1;
}

/* Busy-polling after work, bounded in TSC cycles (no clock syscall: seccomp allows none):
 * a window of idle spinning, grown back to the full size when a kick or completion came
 * soon after the loop went to sleep (polling would have caught it), halved when it came
 * late; at 0 the loop only sleeps. It never spins while nothing happens. */
#define POLL_WINDOW_CYCLES (100u * 1000u)  /* ~40 us at 2.5 GHz */
#define POLL_MIN_CYCLES    (10u * 1000u)
#define POLL_SLICE_CYCLES  (5u * 1000u * 1000u) /* then epoll once: socket, signals */

struct poller {
	uint64_t window;
	uint64_t slept_at;
	bool worker_io;           /* the last spin ended on I/O handed to io_uring's workers */
};

/* Spins while work keeps coming; true if it stopped only at the slice end (still busy). I/O
 * that did not complete at submission (buffered writes go to io_uring's workers, then the
 * flusher) ends the spin and skips the next one: measured, spinning beside those threads
 * halved QD1 write IOPS on a 2-core host, while reads served from the page cache gain. */
static bool busy_poll(struct loop *l, struct poller *p)
{
	uint64_t start = __rdtsc(), last_work = start, now = start;
	bool busy = false;

	blk_set_polling(&l->dev, true);
	while (now - last_work < p->window) {
		if (blk_poll(&l->dev))
			last_work = now;
		if (blk_io_pending(&l->dev)) {
			p->worker_io = true;
			break;
		}
		if (now - start > POLL_SLICE_CYCLES) {
			busy = true;
			break;
		}
		__builtin_ia32_pause();
		now = __rdtsc();
	}
	blk_set_polling(&l->dev, false);
	return blk_poll(&l->dev) || busy; /* what came in while re-arming */
}

static void adapt(struct poller *p)
{
	if (__rdtsc() - p->slept_at <= POLL_WINDOW_CYCLES)
		p->window = POLL_WINDOW_CYCLES;
	else
		p->window = p->window / 2 < POLL_MIN_CYCLES ? 0 : p->window / 2;
}

static int run(struct loop *l)
{
	struct epoll_event ev[32];
	struct poller p = { .window = l->poll ? POLL_WINDOW_CYCLES : 0 };
	bool again = false;

	if (watch(l, l->sock, TAG_SOCK) || watch(l, l->dev.ring_efd, TAG_URING))
		return log_error("epoll: %m"), EXIT_RUNTIME;
	for (;;) {
		p.slept_at = __rdtsc();
		int n = epoll_wait(l->epfd, ev, 32, again ? 0 : -1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return log_error("epoll_wait: %m"), EXIT_RUNTIME;
		for (int i = 0; i < n; i++) {
			int st = on_event(l, ev[i].data.u64);

			if (st >= 0)
				return st;
		}
		if (l->poll && n > 0 && !again)
			adapt(&p);
		if ((n > 0 || again) && p.worker_io)
			p.worker_io = again = false;
		else
			again = (n > 0 || again) && p.window && busy_poll(l, &p);
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
	struct blk_policy p;
	struct jail_result r = { 0 };
	int rc;

	if (c->no_jail) {
		log_warn("--no-jail: running WITHOUT the sandbox; for debugging only");
		return -1;
	}
	rc = blk_jail_spec(&s, &p, &l->dev, l->epfd, l->sigfd, l->sock);
	p.test_dup = c->selftest && !strcmp(c->selftest, "nofile");
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

	log_init("blk", LOG_WARN, NULL);
	rc = parse_args(&c, argc, argv);
	if (rc)
		return rc > 0 ? 0 : (fputs(usage_text, stderr), EXIT_USAGE);
	if (c.verbose)
		log_init("blk", LOG_INFO, NULL);
	rc = blk_open(&l.dev, &c.blk, &what);
	if (rc) {
		log_error("%s: %s: %s", c.blk.path, what, strerror(-rc));
		blk_close(&l.dev);
		return strcmp(what, "io_uring") ? EXIT_DISK : EXIT_RUNTIME;
	}
	if (setup_loop(&l))
		return log_error("event loop setup: %m"), EXIT_RUNTIME;
	if (c.selftest) { /* test hook: no frontend; the jail, then one forbidden act */
		pid_t parent = getppid();

		st = enter_jail(&l, &c);
		if (st < 0 && blk_enable_ring(&l.dev))
			return log_error("io_uring: enabling the ring: %m"), EXIT_RUNTIME;
		return st >= 0 ? st : blk_selftest_run(c.selftest, &l.dev, parent);
	}
	l.sock = connect_frontend(&l, &c);
	if (l.sock < 0) {
		blk_close(&l.dev);
		return l.sock == -EINTR ? EXIT_SIGNAL : EXIT_SOCKET;
	}
	/* Everything the device needs is open: the jail before the first message is read. */
	st = enter_jail(&l, &c);
	if (st >= 0)
		return st;
	rc = blk_enable_ring(&l.dev);
	if (rc)
		return log_error("io_uring: enabling the ring: %s", strerror(-rc)), EXIT_RUNTIME;
	if (blk_attach(&l.dev, l.sock, watch_kick, &l))
		return log_error("vhost-user setup failed"), EXIT_RUNTIME;
	log_info("serving %s (%llu sectors%s) with %u queue(s)", c.blk.path,
		 (unsigned long long)l.dev.sectors, c.blk.readonly ? ", read-only" : "",
		 c.blk.num_queues);
	l.poll = !c.no_poll;
	st = run(&l);
	blk_log_stats(&l.dev);
	blk_close(&l.dev);
	close(l.sock);
	return st;
}
