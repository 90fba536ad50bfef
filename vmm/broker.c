/* broker.c: the VMM's one unjailed helper process: serves, records and seals its requests. */
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
#include "broker_internal.h"

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
void broker_child_setup(int sock)
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

