/* broker.c: the VMM's one unjailed helper: opens host paths and starts device backends on request. */
#define _GNU_SOURCE
#include "broker.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "broker_hotplug.h"
#include "cgroup.h"
#include "log.h"

enum broker_op { OP_OPEN_READ = 1, OP_OPEN_LOG, OP_CONNECT, OP_SPAWN, OP_SEAL, OP_UNLINK_AT_EXIT,
		 OP_KILL, OP_CGROUP, OP_EXIT, OP_OPEN_TAP, OP_OPEN_DEV, OP_HOTPLUG };

#define ARGS_BYTES 3072
#define MANIFEST_MAX 32

struct broker_req {
	uint32_t op;
	int32_t pid;                /* OP_KILL: a backend this broker started;
				     * OP_OPEN_TAP: how many queues (path: the tap's name) */
	struct cgroup_limits limits; /* OP_CGROUP (path: the group's name) */
	uint32_t argc;              /* OP_SPAWN: strings in args */
	char path[PATH_MAX];        /* the path, or the binary's name */
	char args[ARGS_BYTES];      /* NUL-terminated strings, back to back */
};

struct broker_reply {
	int32_t result;             /* pid, 0, or -errno */
};

/* The backends the broker may start: the only binaries it ever executes. */
static const char *const known_binaries[] = { "cellvm-blk", "cellvm-net", "cellvm-vsock" };

/* The device nodes the broker may open (read-write): the kernel's vhost. */
static const char *const known_devices[] = { "/dev/vhost-net", "/dev/vhost-vsock" };

/* The client side's connection (see broker.h for the owner rule). */
static struct {
	pthread_mutex_t lock;
	int fd;
	pid_t pid;
	bool pending;       /* a request was sent whose reply has not been read (the cgroup) */
	int pending_rc;
} client = { PTHREAD_MUTEX_INITIALIZER, -1, 0, false, 0 };

static int path_call(uint32_t op, const char *path);

/* ---- fd passing ---------------------------------------------------------------------- */

static int send_msg(int sock, const void *buf, size_t len, const int *fds, unsigned nfds)
{
	char cbuf[CMSG_SPACE(sizeof(int) * BROKER_MAX_FDS)] = { 0 };
	struct iovec iov = { (void *)buf, len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (nfds > BROKER_MAX_FDS)
		return -E2BIG;
	if (nfds) {
		mh.msg_control = cbuf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	}
	return sendmsg(sock, &mh, MSG_NOSIGNAL) == (ssize_t)len ? 0 : -EPIPE;
}

/* Receives exactly len bytes and up to BROKER_MAX_FDS fds; *nfds gets their count. */
static int recv_msg(int sock, void *buf, size_t len, int *fds, unsigned *nfds)
{
	char cbuf[CMSG_SPACE(sizeof(int) * BROKER_MAX_FDS)];
	struct iovec iov = { buf, len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			     .msg_controllen = sizeof(cbuf) };
	ssize_t n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);

	*nfds = 0;
	if (n <= 0)
		return n == 0 ? -ECONNRESET : -errno;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		unsigned k = (unsigned)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		for (unsigned i = 0; i < k; i++) {
			int fd;
			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (*nfds < BROKER_MAX_FDS)
				fds[(*nfds)++] = fd;
			else
				close(fd);
		}
	}
	if ((mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || (size_t)n != len)
		return -EPROTO;
	return 0;
}

/* ---- the operations, shared by the broker and the in-process fallback ---------------- */

static int do_open_read(const char *path)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return -EINVAL; /* only regular files: no devices, FIFOs or directories */
	}
	return fd;
}

static int do_open_log(const char *path)
{
	struct stat st;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOCTTY | O_NONBLOCK, 0600);

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return -EINVAL;
	}
	return fd;
}

static int do_connect(const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(addr.sun_path))
		return -ENAMETOOLONG;
	strcpy(addr.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	return fd;
}

/* One queue fd per pair of tap `name` (made if missing; IFF_MULTI_QUEUE for several), with
 * the flags cellvm-net checks. Returns the count, or -errno with nothing left open. */
static int do_open_tap(const char *name, int queues, int *fds, bool only_new)
{
	struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR };

	if (!name[0] || strlen(name) >= IFNAMSIZ || queues < 1 || queues > BROKER_MAX_FDS)
		return -EINVAL;
	if (queues > 1)
		ifr.ifr_flags |= IFF_MULTI_QUEUE;
	for (int i = 0; i < queues; i++) {
		snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
		/* only_new (hotplug): the first queue makes the tap, or fails if it exists */
		ifr.ifr_flags = (short)((ifr.ifr_flags & ~IFF_TUN_EXCL) | (only_new && i == 0 ? IFF_TUN_EXCL : 0));
		fds[i] = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
		if (fds[i] < 0 || ioctl(fds[i], TUNSETIFF, &ifr) < 0) {
			int e = errno;

			for (int j = 0; j <= i; j++)
				if (fds[j] >= 0)
					close(fds[j]);
			return -e;
		}
	}
	return queues;
}

/* OP_OPEN_DEV: a character device from known_devices, read-write. */
static int do_open_dev(const char *path)
{
	struct stat st;
	bool known = false;
	int fd;

	for (size_t i = 0; i < sizeof(known_devices) / sizeof(known_devices[0]); i++)
		known |= strcmp(path, known_devices[i]) == 0;
	if (!known)
		return -EPERM;
	fd = open(path, O_RDWR | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || !S_ISCHR(st.st_mode)) {
		close(fd);
		return -EINVAL;
	}
	return fd;
}

/* The requests whose reply carries one fd (not its number). */
static bool returns_fd(uint32_t op)
{
	return (op >= OP_OPEN_READ && op <= OP_CONNECT) || op == OP_OPEN_DEV;
}

static bool known_binary(const char *name)
{
	for (size_t i = 0; i < sizeof(known_binaries) / sizeof(known_binaries[0]); i++)
		if (strcmp(name, known_binaries[i]) == 0)
			return true;
	return false;
}

static int binary_path(char *out, size_t len, const char *binary)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n <= 0)
		return -errno;
	self[n] = '\0';
	snprintf(out, len, "%s/%s", dirname(self), binary);
	return access(out, X_OK) == 0 ? 0 : -errno;
}

/* Child side, between clone and exec: async-signal-safe calls only. fds[i] becomes 3 + i,
 * each first moved above the target range so no dup2 clobbers another. */
static __attribute__((noreturn)) void exec_child(const char **argv, const int *fds, unsigned n,
						 const int *cg_fds, unsigned ncg)
{
	int moved[BROKER_MAX_FDS];

	signal(SIGTERM, SIG_DFL); /* the broker ignores these; the backend must not inherit that */
	signal(SIGINT, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	signal(SIGCHLD, SIG_DFL); /* ignored by the broker; the backend's waiter reaps its worker */
	for (unsigned i = 0; i < ncg; i++) /* join the device's child cgroup ("0": this process) */
		if (write(cg_fds[i], "0", 1) != 1)
			_exit(126);
	for (unsigned i = 0; i < n; i++)
		moved[i] = fcntl(fds[i], F_DUPFD, 64);
	for (unsigned i = 0; i < n; i++) {
		if (moved[i] < 0 || dup2(moved[i], 3 + (int)i) < 0)
			_exit(127);
		fcntl(3 + (int)i, F_SETFD, 0);
	}
	execv(argv[0], (char *const *)argv);
	_exit(127);
}

/* Starts a backend. as_sibling: CLONE_PARENT, so the caller's parent (the VMM) owns it. */
static pid_t do_spawn(const char *binary, const char *const *args, const int *fds,
		      unsigned nfds, bool as_sibling, const int *cg_fds, unsigned ncg)
{
	char bin[PATH_MAX];
	const char *argv[BROKER_MAX_ARGS + 2];
	int n = 0, rc;
	pid_t pid;

	if (!known_binary(binary))
		return -EPERM;
	rc = binary_path(bin, sizeof(bin), binary);
	if (rc < 0)
		return rc;
	argv[n++] = bin;
	for (unsigned i = 0; args[i] && i < BROKER_MAX_ARGS; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	pid = as_sibling ? (pid_t)syscall(SYS_clone, CLONE_PARENT | SIGCHLD, NULL, NULL, NULL, NULL)
			 : fork();
	if (pid == 0)
		exec_child(argv, fds, nfds, cg_fds, ncg);
	return pid < 0 ? -errno : pid;
}

/* ---- the broker process ---------------------------------------------------------------- */

struct manifest {
	unsigned n;
	bool sealed;
	char unlink_at_exit[PATH_MAX]; /* the API socket, removed when the VMM has gone */
	pid_t vmm;                     /* the broker's parent */
	bool has_cgroup;
	struct cgroup_vm cg;
	unsigned nspawned;
	pid_t spawned[MANIFEST_MAX * 4]; /* the only pids OP_KILL may signal */
	int spawned_fd[MANIFEST_MAX * 4]; /* their pidfds: a pid reused after the VMM reaped the
					   * backend is never signalled */
	struct broker_req served[MANIFEST_MAX];
	struct hp_policy hp;           /* after the seal: what a device add may still get */
};

/* Splits req->args into argv; -EINVAL unless exactly argc strings fill the buffer's start. */
static int unpack_args(const struct broker_req *req, const char **argv)
{
	size_t off = 0;

	if (req->argc > BROKER_MAX_ARGS)
		return -EINVAL;
	for (uint32_t i = 0; i < req->argc; i++) {
		const char *s = req->args + off;
		size_t len = strnlen(s, ARGS_BYTES - off);

		if (off + len >= ARGS_BYTES)
			return -EINVAL;
		argv[i] = s;
		off += len + 1;
	}
	argv[req->argc] = NULL;
	return 0;
}

static bool same_req(const struct broker_req *a, const struct broker_req *b)
{
	return a->op == b->op && a->argc == b->argc && a->pid == b->pid && strcmp(a->path, b->path) == 0 &&
	       memcmp(a->args, b->args, ARGS_BYTES) == 0;
}

/* Before the seal every valid request is recorded; after it only recorded ones pass. */
static int manifest_check(struct manifest *m, const struct broker_req *req)
{
	for (unsigned i = 0; i < m->n; i++)
		if (same_req(&m->served[i], req))
			return 0;
	if (m->sealed)
		return -EPERM;
	if (m->n >= MANIFEST_MAX)
		return -ENOSPC;
	m->served[m->n++] = *req;
	return 0;
}

/* Drops the backends that are gone (reaped by the VMM) from the kill list, so that devices
 * added and removed many times do not fill it. */
static void forget_gone(struct manifest *m)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < m->nspawned; i++) {
		bool gone = m->spawned_fd[i] >= 0 &&
			    syscall(SYS_pidfd_send_signal, m->spawned_fd[i], 0, NULL, 0) < 0 && errno == ESRCH;
		if (gone) {
			close(m->spawned_fd[i]);
			continue;
		}
		m->spawned[n] = m->spawned[i];
		m->spawned_fd[n++] = m->spawned_fd[i];
	}
	m->nspawned = n;
}

/* Starts a backend for the VMM, in its own child cgroup when the VM has one. */
static pid_t spawn_in_cgroup(struct manifest *m, const char *binary, const char **argv,
			     const int *fds, unsigned nfds)
{
	int cg_fds[CGROUP_MAX_HIER];
	unsigned ncg = 0;
	char label[24];
	pid_t pid;

	snprintf(label, sizeof(label), "%.12s-%u", binary + strlen("cellvm-"), m->nspawned + 1);
	if (m->has_cgroup && cgroup_child_open(&m->cg, label, cg_fds, &ncg) < 0)
		return -EIO;
	pid = do_spawn(binary, argv, fds, nfds, true, cg_fds, ncg);
	for (unsigned i = 0; i < ncg; i++)
		close(cg_fds[i]);
	if (pid > 0)
		forget_gone(m);
	if (pid > 0 && m->nspawned < sizeof(m->spawned) / sizeof(m->spawned[0])) {
		m->spawned_fd[m->nspawned] = (int)syscall(SYS_pidfd_open, pid, 0);
		m->spawned[m->nspawned++] = pid;
	}
	return pid;
}

/* The VMM joins its group in a short-lived child of the broker: a cgroup v1 migration can
 * wait ~10 ms for an RCU grace period, which neither the VMM nor the broker's next request
 * should pay. The groups and limits exist when the broker answers; the move follows within
 * milliseconds (a failure is logged by the child). */
static void move_vmm_async(const int *fds, unsigned n, pid_t vmm)
{
	pid_t pid = fork();

	if (pid == 0) {
		int rc = cgroup_move(fds, n, vmm);

		if (rc < 0 && rc != -ESRCH) /* ESRCH: the VMM has already exited */
			log_error("cgroup: moving the VMM (pid %d) into its group: %s", (int)vmm,
				  strerror(-rc));
		_exit(rc < 0);
	}
	if (pid < 0 && cgroup_move(fds, n, vmm) < 0) /* no child: do it here */
		log_error("cgroup: moving the VMM (pid %d) into its group: %s", (int)vmm, strerror(errno));
}

static int make_cgroup(struct manifest *m, const struct broker_req *req)
{
	int fds[CGROUP_MAX_HIER], rc;
	unsigned n = 0;

	if (m->sealed || m->has_cgroup)
		return -EPERM;
	rc = cgroup_vm_create(&m->cg, req->path, &req->limits, fds, &n);
	m->has_cgroup = rc == 0;
	if (rc == 0)
		move_vmm_async(fds, n, m->vmm);
	for (unsigned i = 0; i < n; i++)
		close(fds[i]);
	return rc;
}

/* SIGKILL to a stuck backend, for the VMM, which its Landlock domain keeps from signalling
 * processes outside it. Only pids this broker started. */
static int kill_spawned(const struct manifest *m, pid_t pid)
{
	for (unsigned i = 0; i < m->nspawned; i++)
		if (m->spawned[i] == pid && m->spawned_fd[i] >= 0)
			return syscall(SYS_pidfd_send_signal, m->spawned_fd[i], SIGKILL, NULL, 0) < 0 ?
			       -errno : 0;
	log_error("refused kill %d: not a backend this broker started", (int)pid);
	return -EPERM;
}

static const char *op_name(uint32_t op)
{
	static const char *const names[] = { "?", "open", "create", "connect", "spawn", "seal",
					     "unlink-at-exit", "kill", "cgroup", "exit", "open-tap",
					     "open-device", "hotplug" };
	return op < sizeof(names) / sizeof(names[0]) ? names[op] : "?";
}

/* The VMM is leaving: remove its API socket (if it still is a socket) now. */
static int exit_prepare(struct manifest *m)
{
	struct stat st;

	if (m->unlink_at_exit[0] && lstat(m->unlink_at_exit, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(m->unlink_at_exit);
	m->unlink_at_exit[0] = '\0';
	return 0;
}

/* OP_HOTPLUG: once, before the seal. */
static int set_hotplug(struct manifest *m, const struct broker_req *req)
{
	const char *argv[BROKER_MAX_ARGS + 1];
	int rc;

	if (m->sealed || m->hp.on || strnlen(req->path, PATH_MAX) == PATH_MAX || unpack_args(req, argv))
		return -EPERM;
	rc = hp_policy_set(&m->hp, req->path, argv, req->argc);
	if (rc < 0)
		log_error("hotplug-dir=%s: %s", req->path, strerror(-rc));
	return rc;
}

/* After the seal, a request never made before: served only for a device add (hotplug). */
static int serve_hotplug(struct manifest *m, struct broker_req *req, const char **argv,
			 const int *fds, unsigned nfds)
{
	char bufs[2 * PATH_MAX];

	if (req->op == OP_CONNECT)
		return hp_check_connect(&m->hp, req->path, bufs) < 0 ? -EPERM : do_connect(bufs);
	if (req->op == OP_SPAWN)
		return hp_check_spawn(&m->hp, req->path, argv, bufs) < 0 ? -EPERM :
		       spawn_in_cgroup(m, req->path, argv, fds, nfds);
	log_error("refused %s %s: not requested before the guest started (hotplug never opens files)",
		  op_name(req->op), req->path);
	return -EPERM;
}

static int serve_one(struct manifest *m, struct broker_req *req, const int *fds, unsigned nfds)
{
	const char *argv[BROKER_MAX_ARGS + 1];
	int rc;

	if (req->op == OP_HOTPLUG)
		return set_hotplug(m, req);
	if (req->op == OP_SEAL) {
		m->sealed = true;
		return 0;
	}
	if (req->op == OP_KILL)
		return kill_spawned(m, req->pid);
	if (req->op == OP_CGROUP)
		return make_cgroup(m, req);
	if (req->op == OP_EXIT)
		return exit_prepare(m);
	if (req->op == OP_UNLINK_AT_EXIT) {
		if (m->sealed || strnlen(req->path, PATH_MAX) == PATH_MAX)
			return -EPERM;
		memcpy(m->unlink_at_exit, req->path, PATH_MAX);
		return 0;
	}
	if (req->op < OP_OPEN_READ || req->op > OP_SPAWN || strnlen(req->path, PATH_MAX) == PATH_MAX ||
	    (req->op != OP_SPAWN && nfds) || (req->op == OP_SPAWN && (nfds < 1 || unpack_args(req, argv))))
		return -EINVAL;
	rc = manifest_check(m, req);
	if (rc == -EPERM && m->hp.on)
		return serve_hotplug(m, req, argv, fds, nfds);
	if (rc < 0) {
		log_error("refused %s %s: %s", op_name(req->op), req->path,
			  rc == -EPERM ? "not requested before the guest started" : "too many requests");
		return rc;
	}
	switch (req->op) {
	case OP_OPEN_READ: return do_open_read(req->path);
	case OP_OPEN_LOG: return do_open_log(req->path);
	case OP_CONNECT: return do_connect(req->path);
	default: return spawn_in_cgroup(m, req->path, argv, fds, nfds);
	}
}

/* OP_OPEN_TAP, OP_OPEN_DEV: recorded before the seal like the other opens, repeated after it. */
static int serve_tap_dev(struct manifest *m, struct broker_req *req, int *fds)
{
	int rc = strnlen(req->path, PATH_MAX) == PATH_MAX ? -EINVAL : manifest_check(m, req);
	bool hot = rc == -EPERM && m->hp.on;

	if (hot) /* a device added to the running VM: a new tap only, the fixed device list */
		log_warn("hotplug: %s %s (a device added to the running VM)", op_name(req->op), req->path);
	else if (rc < 0) {
		log_error("refused %s %s: %s", op_name(req->op), req->path,
			  rc == -EPERM ? "not requested before the guest started" : "invalid or too many");
		return rc;
	}
	return req->op == OP_OPEN_TAP ? do_open_tap(req->path, req->pid, fds, hot) : do_open_dev(req->path);
}

/* The VMM has closed the channel (or died): once it has exited, remove the VM's cgroups. */
static __attribute__((noreturn)) void broker_exit(struct manifest *m)
{
	struct timespec ms = { 0, 1000000 };

	exit_prepare(m);
	if (m->has_cgroup) {
		for (int i = 0; i < 5000 && getppid() == m->vmm; i++)
			nanosleep(&ms, NULL);
		cgroup_vm_remove(&m->cg);
	}
	_exit(0);
}

static __attribute__((noreturn)) void broker_main(int sock)
{
	static struct broker_req req;   /* the child's own copy-on-write page: not shared */
	static struct manifest m;
	int fds[BROKER_MAX_FDS];
	unsigned nfds;

	prctl(PR_SET_NAME, "cellvm-broker", 0, 0, 0);
	m.vmm = getppid();
	for (;;) {
		int rc = recv_msg(sock, &req, sizeof(req), fds, &nfds);
		struct broker_reply rep;

		if (rc == -ECONNRESET)
			broker_exit(&m);
		int out[BROKER_MAX_FDS], nout = 0;

		if (rc == 0 && req.op == OP_OPEN_TAP && !nfds)
			rc = nout = serve_tap_dev(&m, &req, out);
		else if (rc == 0 && req.op == OP_OPEN_DEV && !nfds)
			rc = serve_tap_dev(&m, &req, out);
		else if (rc == 0)
			rc = serve_one(&m, &req, fds, nfds);
		for (unsigned i = 0; i < nfds; i++)
			close(fds[i]);
		if (rc >= 0 && returns_fd(req.op)) {
			out[0] = rc; /* an open or connect: the fd goes back, not its number */
			nout = 1;
			rc = 0;
		}
		nout = nout < 0 ? 0 : nout;
		rep.result = rc;
		if (send_msg(sock, &rep, sizeof(rep), out, (unsigned)nout) < 0)
			_exit(1);
		for (int i = 0; i < nout; i++)
			close(out[i]);
		if (rc > 0 && req.op == OP_SPAWN)
			log_info("started %s pid %d", req.path, rc);
	}
}

/* In the child: keep only the socket and 0-2; die with the VMM. */
static void broker_child_setup(int sock)
{
	/* No parent-death signal: the channel's EOF tells the broker the VMM has gone, and it
	 * must outlive the VMM briefly to remove the VM's cgroups. Signals sent to the whole
	 * process group (timeout(1), a shell's ^C) are for the VMM, which then closes the
	 * channel: the broker ignores them. */
	signal(SIGTERM, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGCHLD, SIG_IGN); /* its only children are the cgroup movers: reaped by the kernel */
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);

	/* stdin and stdout are the VMM's serial console, maybe a pipe whose reader waits for
	 * every writer: the broker (and the backends it starts) must not hold them. */
	if (null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0)
		_exit(1);
	if (sock != 3 && dup2(sock, 3) < 0)
		_exit(1);
	close_range(4, ~0u, 0);
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	broker_main(3);
}

int broker_start(char *err, size_t errlen)
{
	int sv[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		snprintf(err, errlen, "broker: socketpair: %s", strerror(errno));
		return -1;
	}
	pid = fork();
	if (pid == 0) {
		close(sv[0]);
		broker_child_setup(sv[1]);
	}
	close(sv[1]);
	if (pid < 0 || prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0) {
		snprintf(err, errlen, "broker: %s: %s", pid < 0 ? "fork" : "subreaper", strerror(errno));
		close(sv[0]);
		return -1;
	}
	client.fd = sv[0];
	client.pid = pid;
	log_debug("broker pid %d started", (int)pid);
	return 0;
}

void broker_stop(void)
{
	if (client.fd < 0)
		return;
	path_call(OP_EXIT, ""); /* it removes the API socket before we are gone */
	close(client.fd);
	/* Not reaped here: it waits for us to exit to remove the VM's cgroups (we are in one),
	 * then our parent (or init) reaps it. Without cgroups it is gone at once. */
	client.fd = -1;
	client.pid = 0;
}

bool broker_running(void)
{
	return client.fd >= 0;
}

int broker_fd(void)
{
	return client.fd;
}

/* One request, one reply (with an fd for the open/connect requests). */
/* Under the lock: reads the reply of a request sent ahead (it comes first, in order). */
static void take_pending(void)
{
	struct broker_reply rep;
	int got[BROKER_MAX_FDS];
	unsigned ngot = 0;

	if (!client.pending)
		return;
	client.pending = false;
	client.pending_rc = recv_msg(client.fd, &rep, sizeof(rep), got, &ngot);
	if (client.pending_rc == 0)
		client.pending_rc = rep.result;
	for (unsigned i = 0; i < ngot; i++)
		close(got[i]);
}

static int call_fds(struct broker_req *req, const int *fds, unsigned nfds, int *got,
		    unsigned *ngot);

static int call(struct broker_req *req, const int *fds, unsigned nfds)
{
	int got[BROKER_MAX_FDS];
	unsigned ngot = 0;
	int rc = call_fds(req, fds, nfds, got, &ngot);

	if (rc >= 0 && returns_fd(req->op)) {
		for (unsigned i = 1; i < ngot; i++)
			close(got[i]);
		return ngot ? got[0] : -EPROTO;
	}
	for (unsigned i = 0; i < ngot; i++)
		close(got[i]);
	return rc;
}

/* One request, one reply; the fds that came back are the caller's (got, *ngot). */
static int call_fds(struct broker_req *req, const int *fds, unsigned nfds, int *got,
		    unsigned *ngot)
{
	struct broker_reply rep;
	int rc;

	pthread_mutex_lock(&client.lock);
	take_pending();
	rc = send_msg(client.fd, req, sizeof(*req), fds, nfds);
	if (rc == 0)
		rc = recv_msg(client.fd, &rep, sizeof(rep), got, ngot);
	pthread_mutex_unlock(&client.lock);
	if (rc < 0) {
		log_error("broker: %s", strerror(-rc));
		return rc;
	}
	return rep.result;
}

static struct broker_req *new_req(uint32_t op, const char *path)
{
	struct broker_req *req = calloc(1, sizeof(*req));

	if (!req)
		return NULL;
	req->op = op;
	if (path && snprintf(req->path, sizeof(req->path), "%s", path) >= (int)sizeof(req->path)) {
		free(req);
		return NULL;
	}
	return req;
}

static int path_call(uint32_t op, const char *path)
{
	struct broker_req *req = new_req(op, path);
	int rc;

	if (!req)
		return -ENAMETOOLONG;
	rc = call(req, NULL, 0);
	free(req);
	return rc;
}

int broker_open_read(const char *path)
{
	return client.fd < 0 ? do_open_read(path) : path_call(OP_OPEN_READ, path);
}

int broker_open_log(const char *path)
{
	return client.fd < 0 ? do_open_log(path) : path_call(OP_OPEN_LOG, path);
}

int broker_connect(const char *path)
{
	return client.fd < 0 ? do_connect(path) : path_call(OP_CONNECT, path);
}

int broker_open_dev(const char *path)
{
	return client.fd < 0 ? do_open_dev(path) : path_call(OP_OPEN_DEV, path);
}

static int pack_args(struct broker_req *req, const char *const *args)
{
	size_t off = 0;

	for (req->argc = 0; args[req->argc]; req->argc++) {
		size_t len = strlen(args[req->argc]) + 1;

		if (req->argc >= BROKER_MAX_ARGS || off + len > ARGS_BYTES)
			return -E2BIG;
		memcpy(req->args + off, args[req->argc], len);
		off += len;
	}
	return 0;
}

pid_t broker_spawn(const char *binary, const char *const *args, const int *fds, unsigned nfds)
{
	struct broker_req *req;
	int rc;

	if (nfds < 1 || nfds > BROKER_MAX_FDS)
		return -EINVAL;
	if (client.fd < 0)
		return do_spawn(binary, args, fds, nfds, false, NULL, 0);
	req = new_req(OP_SPAWN, binary);
	if (!req)
		return -ENOMEM;
	rc = pack_args(req, args);
	if (rc == 0)
		rc = call(req, fds, nfds);
	free(req);
	return rc;
}

int broker_open_tap(const char *name, unsigned queues, int *fds)
{
	struct broker_req *req;
	int got[BROKER_MAX_FDS];
	unsigned ngot = 0;
	int rc;

	if (client.fd < 0)
		return do_open_tap(name, (int)queues, fds, false);
	req = new_req(OP_OPEN_TAP, name);
	if (!req)
		return -ENAMETOOLONG;
	req->pid = (int32_t)queues;
	rc = call_fds(req, NULL, 0, got, &ngot);
	free(req);
	if (rc >= 0 && ngot != queues)
		rc = -EPROTO;
	for (unsigned i = 0; i < ngot; i++) {
		if (rc >= 0)
			fds[i] = got[i];
		else
			close(got[i]);
	}
	return rc < 0 ? rc : (int)queues;
}

int broker_kill(pid_t pid)
{
	struct broker_req *req;
	int rc;

	if (client.fd < 0)
		return kill(pid, SIGKILL) < 0 ? -errno : 0;
	req = new_req(OP_KILL, "");
	if (!req)
		return -ENOMEM;
	req->pid = pid;
	rc = call(req, NULL, 0);
	free(req);
	return rc;
}

int broker_cgroup_start(const char *name, const struct cgroup_limits *lim)
{
	struct broker_req *req;
	int rc;

	if (client.fd < 0)
		return -ENOTCONN;
	req = new_req(OP_CGROUP, name);
	if (!req)
		return -ENAMETOOLONG;
	req->limits = *lim;
	pthread_mutex_lock(&client.lock);
	take_pending();
	rc = send_msg(client.fd, req, sizeof(*req), NULL, 0);
	client.pending = rc == 0;
	pthread_mutex_unlock(&client.lock);
	free(req);
	return rc;
}

int broker_cgroup_result(void)
{
	int rc;

	if (client.fd < 0)
		return -ENOTCONN;
	pthread_mutex_lock(&client.lock);
	take_pending();
	rc = client.pending_rc;
	pthread_mutex_unlock(&client.lock);
	return rc;
}

int broker_unlink_at_exit(const char *path)
{
	return client.fd < 0 ? 0 : path_call(OP_UNLINK_AT_EXIT, path);
}

int broker_allow_hotplug(const char *dir, bool has_id, uint32_t uid, uint32_t gid)
{
	char u[16], g[16];
	const char *args[] = { u, g, NULL };
	struct broker_req *req;
	int rc;

	if (client.fd < 0)
		return 0; /* no broker (--jail off): nothing is sealed */
	req = new_req(OP_HOTPLUG, dir ? dir : "");
	if (!req)
		return -ENAMETOOLONG;
	snprintf(u, sizeof(u), "%u", uid);
	snprintf(g, sizeof(g), "%u", gid);
	rc = has_id ? pack_args(req, args) : 0;
	if (rc == 0)
		rc = call(req, NULL, 0);
	free(req);
	return rc;
}

void broker_seal(void)
{
	if (client.fd >= 0 && path_call(OP_SEAL, "") < 0)
		log_warn("broker: the seal was not acknowledged");
}
