/* broker_internal.h: what the broker process, its operations and the VMM's client side share. */
#ifndef CELLVM_BROKER_INTERNAL_H
#define CELLVM_BROKER_INTERNAL_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "cgroup.h"


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

/* broker_ops.c: fd passing on the broker's SEQPACKET socket (0 or -errno). */
int send_msg(int sock, const void *buf, size_t len, const int *fds, unsigned nfds);
int recv_msg(int sock, void *buf, size_t len, int *fds, unsigned *nfds);
/* broker_ops.c: the operations, run by the broker process or, with no broker, in process. */
int do_open_read(const char *path);
int do_open_log(const char *path);
int do_connect(const char *path);
int do_open_tap(const char *name, int queues, int *fds, bool only_new);
int do_open_dev(const char *path);
pid_t do_spawn(const char *binary, const char *const *args, const int *fds, unsigned nfds,
	       bool as_sibling, const int *cg_fds, unsigned ncg);
/* Whether a successful reply to op carries an fd. */
bool returns_fd(uint32_t op);

/* broker.c: in the forked child: keeps only sock and 0-2, then serves until the VMM goes. */
void broker_child_setup(int sock) __attribute__((noreturn));

#endif
