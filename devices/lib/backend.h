/* backend.h: the process skeleton every vhost-user backend's main.c shares: options, socket, signals, jail. */
#ifndef CELLVM_DEV_BACKEND_H
#define CELLVM_DEV_BACKEND_H

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/types.h>

#include "../../sandbox/jail.h"

/* Exit statuses, the same for every backend; 3 is the device's own resource (disk, tap...). */
enum backend_exit {
	BACKEND_EXIT_DISCONNECTED = 0, BACKEND_EXIT_RUNTIME = 1, BACKEND_EXIT_USAGE = 2,
	BACKEND_EXIT_DEVICE = 3, BACKEND_EXIT_SOCKET = 4, BACKEND_EXIT_PROTOCOL = 5,
	BACKEND_EXIT_JAIL = 6, BACKEND_EXIT_SIGNAL = 8,
};

/* epoll tags the skeleton uses; a device's own tags start at BACKEND_TAG_DEVICE. */
enum { BACKEND_TAG_SIGNAL = 1, BACKEND_TAG_SOCK = 2, BACKEND_TAG_DEVICE = 3 };

/* The options every backend takes. */
struct backend_opts {
	const char *socket_path;  /* --socket PATH */
	int socket_fd;            /* --socket-fd N, or -1 */
	bool verbose;
	bool no_jail;
	bool seccomp_log;         /* --seccomp log */
	const char *selftest;     /* --jail-selftest ACT: a test hook, no frontend */
	long uid, gid;            /* --uid/--gid: the jail's identity when started as root; 0: default */
};

/* What a device tells the shared option parser about itself. */
struct backend_cli {
	const char *name;           /* "blk": the log prefix; the binary is cellvm-NAME */
	const char *usage;          /* its usage line */
	const char *help;           /* its own options, one per line */
	const char *exit_device;    /* what exit status 3 means for it */
	const struct option *opts;  /* its own long options, {0}-terminated; vals below 256 */
	int (*parse)(void *cfg, int opt, const char *arg);    /* 0 or -EINVAL (reported) */
	int (*check)(const void *cfg, const struct backend_opts *o); /* after all options */
	bool (*selftest_known)(const char *act);
};

/* The loop state the skeleton owns; a device embeds it first in its own loop struct. */
struct backend {
	int epfd;
	int sigfd;
	int sock;                 /* the connected frontend, or -1 */
	uint64_t kick_tag;        /* queue q's kick eventfd is watched with kick_tag + q */
};

#define BACKEND_INIT { .epfd = -1, .sigfd = -1, .sock = -1 }

/* Strict decimal in [lo, hi]; 0 or -EINVAL. */
int backend_parse_uint(const char *s, long lo, long hi, long *out);

/* Parses argv into o and the device's cfg. 0: run; 1: --help printed; -EINVAL: bad usage
 * (reported in one line; the caller prints the usage with backend_usage and exits 2). */
int backend_parse_args(const struct backend_cli *cli, struct backend_opts *o, void *cfg,
		       int argc, char **argv);
void backend_usage(const struct backend_cli *cli, FILE *f);

/* Blocks the stop signals into a signalfd, makes the epoll set and watches the signalfd. */
int backend_setup_loop(struct backend *b) __attribute__((warn_unused_result));
int backend_watch(struct backend *b, int fd, uint64_t tag) __attribute__((warn_unused_result));

/* The connected socket from --socket or --socket-fd (listening or connected): waits for one
 * frontend, a stop signal ending the wait (-EINTR). Errors are logged; -errno. */
int backend_connect(struct backend *b, const struct backend_opts *o);

/* The vhost-user kick callback: b is the struct backend (first in the device's loop). */
void backend_kick_changed(void *b, unsigned q, int old_fd, int new_fd);
/* Drains a kick eventfd after it fired. */
void backend_drain_kick(int fd, unsigned q);
struct vu_dev;
/* The skeleton's own events (tag below BACKEND_TAG_DEVICE): a stop signal (logged; exit 8),
 * or a vhost-user message, read and handled, then after_message(loop) (a message may have
 * started a queue with buffers already posted). -1: keep going; otherwise the exit status. */
int backend_event(struct backend *b, uint64_t tag, struct vu_dev *vu,
		  void (*after_message)(void *loop), void *loop);

/* The event loop for devices with nothing between epoll waits: on_event returns -1 to keep
 * going, otherwise the exit status. */
int backend_run(struct backend *b, int (*on_event)(void *loop, const struct epoll_event *ev),
		void *loop);

/* For each device's seccomp rules (a scmp_filter_ctx as void *): the syscalls devices/lib
 * makes in every backend. The event loop on epfd, kick eventfds made non-blocking, fstat of a
 * memory region's fd. 0 or a libseccomp -errno. */
int backend_rules(void *scmp_ctx, int epfd);
/* A device offering PROTOCOL_F_INFLIGHT_SHMFD: GET_INFLIGHT_FD makes a sealed memfd (memfd_create,
 * ftruncate, F_ADD_SEALS), SET_INFLIGHT_FD checks its seals (F_GET_SEALS). ftruncate never on
 * device_fd (the disk). 0 or -errno. */
int backend_inflight_rules(void *scmp_ctx, int device_fd);
/* vhost-user messages on the connected socket; none when sock < 0 (--jail-selftest). */
int backend_socket_rules(void *scmp_ctx, int sock);
/* The syscalls a device makes per request, in order, come first in the generated filter
 * (libseccomp otherwise checks syscall numbers one after another in its own order). A hint:
 * what is allowed does not change. 0 or a libseccomp -errno. */
int backend_hot_first(void *scmp_ctx, const int *nrs, size_t n);

/* Fills the device's jail spec (its policy lives in loop); 0 or -errno. */
typedef int backend_spec_fn(void *loop, struct jail_spec *s);
/* Runs a --jail-selftest act in the jailed process; its exit status (sandbox/selftest.h). */
typedef int backend_selftest_fn(void *loop, const char *act, pid_t parent);

/* Enters the jail (unless --no-jail: logged), with the options' seccomp mode and ids. -1: go
 * on, jailed; otherwise the exit status (a layer failed: never half-jailed). In the pid
 * namespace's waiter it never returns: it ends the way the worker ended. */
int backend_jail(struct backend *b, const struct backend_opts *o, backend_spec_fn *spec,
		 void *loop);

/* Once the device is open: with --jail-selftest, no frontend: the jail, then the act. Else
 * the frontend (backend_connect) into b->sock, then the jail before its first message is
 * read. -1: go on, connected and jailed; otherwise the exit status. */
int backend_connect_and_jail(struct backend *b, const struct backend_opts *o,
			     backend_spec_fn *spec, backend_selftest_fn *selftest, void *loop);

#endif
