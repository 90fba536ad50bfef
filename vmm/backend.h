/* backend.h: spawning and reaping the device backend processes cellvm starts (cellvm-blk, ...). */
#ifndef CELLVM_BACKEND_H
#define CELLVM_BACKEND_H

#include <sys/types.h>

#define BACKEND_SOCK_FD   3  /* the vhost-user socket's number in the backend process */
#define BACKEND_EXTRA_FD  4  /* extra fds (a tap, ...) follow from here, in order */
#define BACKEND_MAX_ARGS  24
#define BACKEND_MAX_EXTRA 8

struct backend_spawn {
	const char *binary;            /* "cellvm-blk": looked up next to the cellvm binary */
	const char *args[BACKEND_MAX_ARGS]; /* after "--socket-fd 3"; NULL-terminated */
	int extra_fds[BACKEND_MAX_EXTRA];   /* become fds 4, 5, ... in the backend */
	unsigned int nextra;
};

/* Appends one argument; -E2BIG (and nothing added) when the list is full. */
int backend_arg(struct backend_spawn *s, const char *arg) __attribute__((warn_unused_result));
/* Starts the backend (through the broker when jailed) on one end of a socketpair. Returns our end (close-on-exec)
 * with *pid set, or -errno with a log line naming `name`. */
int backend_start(const char *name, const struct backend_spawn *s, pid_t *pid)
	__attribute__((warn_unused_result));
/* Waits about a second for a backend told to go (its socket closed), then kills it. */
void backend_reap(const char *name, pid_t pid);

#endif
