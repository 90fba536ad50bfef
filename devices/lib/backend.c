/* backend.c: the process skeleton every vhost-user backend's main.c shares: options, socket, signals, jail. */
#define _GNU_SOURCE
#include "backend.h"

#include <errno.h>
#include <fcntl.h>
#include <seccomp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "vhost_user.h"

/* Above any character, so that a device may use any letter for its own options. */
enum {
	OPT_SOCKET = 256, OPT_SOCKET_FD, OPT_VERBOSE, OPT_SECCOMP, OPT_NO_JAIL, OPT_SELFTEST,
	OPT_UID, OPT_GID, OPT_HELP,
};

static const struct option common_opts[] = {
	{ "socket", required_argument, NULL, OPT_SOCKET },
	{ "socket-fd", required_argument, NULL, OPT_SOCKET_FD },
	{ "verbose", no_argument, NULL, OPT_VERBOSE },
	{ "seccomp", required_argument, NULL, OPT_SECCOMP },
	{ "no-jail", no_argument, NULL, OPT_NO_JAIL },
	{ "jail-selftest", required_argument, NULL, OPT_SELFTEST },
	{ "uid", required_argument, NULL, OPT_UID },
	{ "gid", required_argument, NULL, OPT_GID },
	{ "help", no_argument, NULL, OPT_HELP },
};

#define NCOMMON (sizeof(common_opts) / sizeof(common_opts[0]))
#define MAX_OPTS 32

void backend_usage(const struct backend_cli *cli, FILE *f)
{
	fprintf(f, "%s"
		"  --socket PATH       listen on this Unix socket and serve one vhost-user frontend\n"
		"  --socket-fd N       use an inherited socket, listening or already connected\n"
		"%s"
		"  --verbose           log vhost-user progress\n"
		"  --seccomp MODE      kill (default): a forbidden system call kills the process;\n"
		"                      log: it is allowed and logged by the kernel (writing policies)\n"
		"  --uid N, --gid N    the jail's identity when started as root (default 65534;\n"
		"                      cellvm passes its VM's id)\n"
		"  --no-jail           run WITHOUT the sandbox (debugging only; logged)\n"
		"  --jail-selftest ACT test hook: enter the jail (no frontend), try one forbidden act\n"
		"exit status: 0 the frontend disconnected; 1 run-time failure; 2 bad usage;\n"
		"  3 %s; 4 the vhost-user socket cannot be set up;\n"
		"  5 the frontend broke the vhost-user protocol; 6 the jail cannot be entered;\n"
		"  8 stopped by SIGTERM/SIGINT/SIGHUP; 128+N killed by signal N (159: SIGSYS, seccomp)\n",
		cli->usage, cli->help, cli->exit_device);
}

int backend_parse_uint(const char *s, long lo, long hi, long *out)
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

/* 0 or -EINVAL (reported). */
static int parse_common(const struct backend_cli *cli, struct backend_opts *o, int opt,
			const char *arg)
{
	long v;

	switch (opt) {
	case OPT_SOCKET: o->socket_path = arg; return 0;
	case OPT_VERBOSE: o->verbose = true; return 0;
	case OPT_NO_JAIL: o->no_jail = true; return 0;
	case OPT_SECCOMP:
		if (strcmp(arg, "kill") && strcmp(arg, "log"))
			return log_error("--seccomp: kill or log, not %s", arg), -EINVAL;
		o->seccomp_log = !strcmp(arg, "log");
		return 0;
	case OPT_SELFTEST:
		if (!cli->selftest_known(arg))
			return log_error("--jail-selftest: unknown act %s", arg), -EINVAL;
		o->selftest = arg;
		return 0;
	case OPT_SOCKET_FD:
		if (backend_parse_uint(arg, 0, 1 << 20, &v))
			return log_error("--socket-fd: not a file descriptor number: %s", arg), -EINVAL;
		o->socket_fd = (int)v;
		return 0;
	case OPT_UID: case OPT_GID:
		if (backend_parse_uint(arg, 1, 0xfffffffeL, &v))
			return log_error("--%s: 1 to 4294967294, not %s", opt == OPT_UID ? "uid" : "gid",
					 arg), -EINVAL;
		*(opt == OPT_UID ? &o->uid : &o->gid) = v;
		return 0;
	default:
		return -EINVAL;
	}
}

/* The device's options, then the common ones, in one getopt_long table. */
static int merge_opts(const struct backend_cli *cli, struct option *all)
{
	size_t n = 0;

	for (const struct option *d = cli->opts; d->name; d++) {
		if (n == MAX_OPTS - NCOMMON - 1)
			return -E2BIG;
		all[n++] = *d;
	}
	memcpy(all + n, common_opts, sizeof(common_opts));
	all[n + NCOMMON] = (struct option){ 0 };
	return 0;
}

int backend_parse_args(const struct backend_cli *cli, struct backend_opts *o, void *cfg,
		       int argc, char **argv)
{
	struct option all[MAX_OPTS];
	int opt, rc;

	*o = (struct backend_opts){ .socket_fd = -1 };
	if (merge_opts(cli, all))
		return log_error("too many options"), -EINVAL;
	while ((opt = getopt_long(argc, argv, "", all, NULL)) != -1) {
		if (opt == OPT_HELP)
			return backend_usage(cli, stdout), 1;
		if (opt == '?')
			return -EINVAL;
		rc = opt >= OPT_SOCKET ? parse_common(cli, o, opt, optarg) : cli->parse(cfg, opt, optarg);
		if (rc)
			return -EINVAL;
	}
	if (optind < argc)
		return log_error("unexpected argument: %s", argv[optind]), -EINVAL;
	if (cli->check && cli->check(cfg, o))
		return -EINVAL;
	if (!o->selftest && !o->socket_path == (o->socket_fd < 0))
		return log_error("exactly one of --socket PATH and --socket-fd N is required"),
		       -EINVAL;
	return 0;
}

int backend_watch(struct backend *b, int fd, uint64_t tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = tag };

	return epoll_ctl(b->epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

int backend_setup_loop(struct backend *b)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	signal(SIGPIPE, SIG_IGN);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -errno;
	b->sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	b->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (b->sigfd < 0 || b->epfd < 0)
		return -errno;
	return backend_watch(b, b->sigfd, BACKEND_TAG_SIGNAL);
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
static int accept_one(struct backend *b, int lfd)
{
	struct epoll_event ev[2];
	int fd;

	if (backend_watch(b, lfd, BACKEND_TAG_SOCK))
		return -errno;
	for (;;) {
		int n = epoll_wait(b->epfd, ev, 2, -1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		for (int i = 0; i < n; i++)
			if (ev[i].data.u64 == BACKEND_TAG_SIGNAL)
				return -EINTR;
		break;
	}
	epoll_ctl(b->epfd, EPOLL_CTL_DEL, lfd, NULL);
	fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

int backend_connect(struct backend *b, const struct backend_opts *o)
{
	int lfd = o->socket_fd, listening = 0, fd;
	socklen_t len = sizeof(listening);

	if (o->socket_path) {
		lfd = listen_on(o->socket_path);
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
	fd = accept_one(b, lfd);
	close(lfd);
	/* One frontend per run: the name goes now, while the host's file system is in reach. */
	if (o->socket_path)
		unlink(o->socket_path);
	if (fd < 0 && fd != -EINTR)
		log_error("accept: %s", strerror(-fd));
	return fd;
}

void backend_kick_changed(void *bp, unsigned q, int old_fd, int new_fd)
{
	struct backend *b = bp;

	if (old_fd >= 0)
		epoll_ctl(b->epfd, EPOLL_CTL_DEL, old_fd, NULL);
	/* Non-blocking: a stale readiness report must not block the loop in read(). */
	if (new_fd >= 0)
		fcntl(new_fd, F_SETFL, fcntl(new_fd, F_GETFL) | O_NONBLOCK);
	if (new_fd >= 0 && backend_watch(b, new_fd, b->kick_tag + q))
		log_error("queue %u: cannot watch the kick fd: %m", q);
}

void backend_drain_kick(int fd, unsigned q)
{
	uint64_t v;

	if (fd >= 0 && read(fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		log_warn("queue %u: kick read: %m", q);
}

static int on_signal(struct backend *b)
{
	struct signalfd_siginfo si;

	if (read(b->sigfd, &si, sizeof(si)) == sizeof(si))
		log_info("stopping on signal %u", si.ssi_signo);
	return BACKEND_EXIT_SIGNAL;
}

/* vu_dispatch()'s result: -1 to keep going, otherwise the exit status (logged). */
static int dispatch_status(int rc)
{
	if (rc == -ECONNRESET) {
		log_info("frontend disconnected");
		return BACKEND_EXIT_DISCONNECTED;
	}
	if (rc == -EPROTO) {
		log_error("frontend broke the vhost-user protocol; closing the connection");
		return BACKEND_EXIT_PROTOCOL;
	}
	if (rc < 0) {
		log_error("vhost-user socket: %s", strerror(-rc));
		return BACKEND_EXIT_RUNTIME;
	}
	return -1;
}

int backend_event(struct backend *b, uint64_t tag, struct vu_dev *vu,
		  void (*after_message)(void *loop), void *loop)
{
	int st;

	if (tag == BACKEND_TAG_SIGNAL)
		return on_signal(b);
	st = dispatch_status(vu_dispatch(vu));
	if (st < 0)
		after_message(loop);
	return st;
}

int backend_run(struct backend *b, int (*on_event)(void *loop, const struct epoll_event *ev),
		void *loop)
{
	struct epoll_event ev[32];

	for (;;) {
		int n = epoll_wait(b->epfd, ev, 32, -1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return log_error("epoll_wait: %m"), BACKEND_EXIT_RUNTIME;
		for (int i = 0; i < n; i++) {
			int st = on_event(loop, &ev[i]);

			if (st >= 0)
				return st;
		}
	}
}

/* The waiter (the pid namespace's parent): says how the worker died, then dies the same way. */
__attribute__((noreturn)) static void waiter_exit(const struct jail_result *r)
{
	int st = r->worker_status;

	if (WIFSIGNALED(st))
		log_error("jailed worker pid %d killed by signal %d (SIG%s: %s)%s", (int)r->worker_pid,
			  WTERMSIG(st), sigabbrev_np(WTERMSIG(st)) ?: "?", strsignal(WTERMSIG(st)),
			  WTERMSIG(st) == SIGSYS ? ": a system call outside its seccomp policy" : "");
	jail_exit_like(st);
}

struct fd_rule {
	int nr;
	const char *why;
};

static const struct fd_rule epoll_rules[] = {
	{ SCMP_SYS(epoll_wait), "the event loop" },
	{ SCMP_SYS(epoll_pwait), "the event loop (libc's epoll_wait on some builds)" },
	{ SCMP_SYS(epoll_ctl), "watch kick eventfds and the device's own fds" },
};

static const struct fd_rule socket_rules[] = {
	{ SCMP_SYS(recvfrom), "vhost-user message payloads (recv)" },
	{ SCMP_SYS(recvmsg), "vhost-user message headers, with their fds" },
	{ SCMP_SYS(sendmsg), "vhost-user replies" },
};

/* Each rule's syscall, with argument 0 being fd. */
static int add_fd_rules(scmp_filter_ctx ctx, const struct fd_rule *r, size_t n, int fd)
{
	int rc = 0;

	for (size_t i = 0; i < n && !rc; i++)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, r[i].nr, 1,
				      SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)fd));
	return rc;
}

int backend_rules(void *scmp_ctx, int epfd)
{
	scmp_filter_ctx ctx = scmp_ctx;
	int rc = add_fd_rules(ctx, epoll_rules, sizeof(epoll_rules) / sizeof(epoll_rules[0]), epfd);

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

int backend_inflight_rules(void *scmp_ctx, int device_fd)
{
	scmp_filter_ctx ctx = scmp_ctx;
	/* GET_INFLIGHT_FD: a new region, created with exactly these flags. */
	int rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(memfd_create), 1,
				  SCMP_A1(SCMP_CMP_EQ, MFD_CLOEXEC | MFD_ALLOW_SEALING));

	/* Its size: any fd but the device's own (a disk never changes size). */
	if (!rc)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ftruncate), 1,
				      SCMP_A0(SCMP_CMP_NE, (scmp_datum_t)device_fd));
	/* Sealed against resizing, and the seals of the region SET_INFLIGHT_FD hands back. */
	if (!rc)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(fcntl), 1,
				      SCMP_A1(SCMP_CMP_EQ, F_ADD_SEALS));
	if (!rc)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(fcntl), 1,
				      SCMP_A1(SCMP_CMP_EQ, F_GET_SEALS));
	return rc;
}

int backend_socket_rules(void *scmp_ctx, int sock)
{
	if (sock < 0)
		return 0;
	return add_fd_rules(scmp_ctx, socket_rules, sizeof(socket_rules) / sizeof(socket_rules[0]),
			    sock);
}

int backend_hot_first(void *scmp_ctx, const int *nrs, size_t n)
{
	int rc = 0;

	for (size_t i = 0; i < n && !rc; i++)
		rc = seccomp_syscall_priority(scmp_ctx, nrs[i], (uint8_t)(255 - i));
	return rc;
}

/* The device's rules plus dup(), for --jail-selftest nofile alone: it must reach the rlimit. */
struct rules_and_dup {
	jail_rules_fn *rules;
	const void *arg;
};

static int add_rules_and_dup(void *ctx, const void *arg)
{
	const struct rules_and_dup *w = arg;
	int rc = w->rules ? w->rules(ctx, w->arg) : 0;

	return rc ? rc : seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(dup), 0);
}

static int jail_failed(const struct jail_result *r, int rc)
{
	bool no_mount = r->step && !strcmp(r->step, "pivot_root") && rc == -EINVAL;

	log_error("jail: %s: %s%s; refusing to run half-jailed", r->step ? r->step : "spec",
		  strerror(-rc), no_mount ? " (the host's / is not a mount point, e.g. an "
		  "initramfs: run from a mounted root, see docs/sandbox.md)" : "");
	return BACKEND_EXIT_JAIL;
}

int backend_jail(struct backend *b, const struct backend_opts *o, backend_spec_fn *spec,
		 void *loop)
{
	struct jail_spec s;
	struct jail_result r = { 0 };
	struct rules_and_dup w;
	int rc;

	if (o->no_jail) {
		log_warn("--no-jail: running WITHOUT the sandbox; for debugging only");
		return -1;
	}
	rc = spec(loop, &s);
	s.seccomp_mode = o->seccomp_log ? JAIL_SECCOMP_LOG : JAIL_SECCOMP_KILL;
	if (o->uid > 0)
		s.uid = (uid_t)o->uid;
	if (o->gid > 0)
		s.gid = (gid_t)o->gid;
	if (o->selftest && !strcmp(o->selftest, "nofile")) {
		w = (struct rules_and_dup){ s.rules, s.rules_arg };
		s.rules = add_rules_and_dup;
		s.rules_arg = &w;
	}
	if (!rc)
		rc = jail_enter(&s, &r);
	if (rc == JAIL_WAITER)
		waiter_exit(&r);
	if (rc < 0)
		return jail_failed(&r, rc);
	/* A signalfd wakes epoll through the registering task's signal handlers: that was the
	 * process before the pid namespace's fork, now the waiter. Register it again from here. */
	if (epoll_ctl(b->epfd, EPOLL_CTL_DEL, b->sigfd, NULL) < 0 ||
	    backend_watch(b, b->sigfd, BACKEND_TAG_SIGNAL))
		return log_error("jail: re-watching the signalfd: %m"), BACKEND_EXIT_RUNTIME;
	if (r.no_landlock)
		log_warn("jail: this kernel has no Landlock; running without that layer");
	if (o->seccomp_log)
		log_warn("--seccomp log: forbidden system calls are logged, not stopped");
	return -1;
}

int backend_connect_and_jail(struct backend *b, const struct backend_opts *o,
			     backend_spec_fn *spec, backend_selftest_fn *selftest, void *loop)
{
	int st;

	if (o->selftest) { /* test hook: no frontend; the jail, then one forbidden act */
		pid_t parent = getppid();

		st = backend_jail(b, o, spec, loop);
		return st >= 0 ? st : selftest(loop, o->selftest, parent);
	}
	b->sock = backend_connect(b, o);
	if (b->sock < 0)
		return b->sock == -EINTR ? BACKEND_EXIT_SIGNAL : BACKEND_EXIT_SOCKET;
	/* Everything the device needs is open: the jail before the first message is read. */
	return backend_jail(b, o, spec, loop);
}
