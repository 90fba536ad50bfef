/* broker_client.c: the VMM's side of the broker: starting it and each request it may make. */
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


/* The client side's connection (see broker.h for the owner rule). */
static struct {
	pthread_mutex_t lock;
	int fd;
	pid_t pid;
	bool pending;       /* a request was sent whose reply has not been read (the cgroup) */
	int pending_rc;
} client = { PTHREAD_MUTEX_INITIALIZER, -1, 0, false, 0 };

static int path_call(uint32_t op, const char *path);

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

