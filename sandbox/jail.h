/* jail.h: the jail every cellvm process enters: a spec with restrictive defaults and jail_enter(). */
#ifndef CELLVM_JAIL_H
#define CELLVM_JAIL_H

#include <stdbool.h>
#include <sys/types.h>

#define JAIL_MAX_FDS 48
#define JAIL_NOBODY 65534u   /* the default identity inside the jail (uid and gid) */
#define JAIL_WAITER 1        /* jail_enter() in the pid-namespace waiter: the worker ended */
#define JAIL_BIND_PATH "/bind" /* where jail_spec.bind_dir appears inside the jail */

enum jail_seccomp_mode {
	JAIL_SECCOMP_KILL = 0, /* a syscall outside the allowlist kills the process (SIGSYS) */
	JAIL_SECCOMP_LOG,      /* it is allowed and logged by the kernel: for writing policies */
};

/*
 * Adds a role's rules to the seccomp filter (a libseccomp scmp_filter_ctx, passed as void *
 * so this header does not need seccomp.h). Runs in the process that loads the filter, after
 * every other layer, so getpid() is the jailed pid. Returns 0 or -errno.
 */
typedef int jail_rules_fn(void *scmp_ctx, const void *arg);

/*
 * What a process keeps. jail_spec_default() gives the restrictive defaults: every layer on,
 * no fd kept but stderr, uid/gid 65534, no /proc, seccomp in kill mode with the base
 * allowlist only. A role adds what it needs and nothing else.
 */
struct jail_spec {
	const char *role;             /* names the process in messages: "blk" */
	int keep_fds[JAIL_MAX_FDS];   /* every other fd is closed (0-2 become /dev/null) */
	unsigned nkeep;
	uid_t uid;                    /* identity when started as root */
	gid_t gid;
	bool share_net;               /* stay in the caller's network namespace (a tap owner) */
	bool thread_only;             /* jail_thread_filter(): the calling thread's filter */
	bool no_seccomp;              /* --seccomp false: no filter at all (debugging) */
	bool no_pid_ns;               /* no pid namespace and no waiter: the VMM, whose vCPU
	                               * threads Kata finds under the pid it started */
	/* One host directory bind-mounted at JAIL_BIND_PATH (read-write, nosuid, nodev,
	 * noexec), e.g. where a device connects to Unix sockets; NULL (default): none. The
	 * rest of the root stays empty and read-only; Landlock still handles every file
	 * right with no rule, so only path walks and Unix-socket connects work there. */
	const char *bind_dir;
	bool strict;                  /* a layer the kernel lacks (Landlock) is an error */
	unsigned long nofile;         /* RLIMIT_NOFILE (soft = hard); RLIMIT_CORE is always 0 */
	unsigned long nproc;          /* RLIMIT_NPROC: tasks of the jailed uid, io-wq threads too */
	enum jail_seccomp_mode seccomp_mode;
	jail_rules_fn *rules;         /* the role's syscalls on top of sandbox/seccomp_base.c */
	const void *rules_arg;
};

/* What jail_enter() reports besides its return value. */
struct jail_result {
	const char *step;             /* the layer that failed, or NULL */
	bool no_landlock;             /* the kernel has no Landlock (warn, or fail when strict) */
	bool no_userns;               /* unprivileged and no user namespace allowed: no mount,
	                               * pid, ipc, uts, net namespaces, no empty root (warn) */
	int worker_status;            /* JAIL_WAITER only: the worker's wait status */
	pid_t worker_pid;             /* JAIL_WAITER only: the worker, as the waiter sees it */
};

struct jail_spec jail_spec_default(const char *role);

/* Adds fd to the fds the jail keeps. -E2BIG when the list is full. */
int jail_keep_fd(struct jail_spec *s, int fd) __attribute__((warn_unused_result));

/*
 * Applies every layer in order (the order and its reasons are in jail.c and
 * docs/sandbox.md). Returns 0 in the jailed process; -errno with r->step naming the layer
 * when a layer fails (the caller must exit: the process may be half-jailed); JAIL_WAITER in
 * the pid-namespace waiter once the worker has ended (the caller exits with
 * jail_exit_like(r->worker_status)). Single-threaded callers only.
 */
int jail_enter(const struct jail_spec *s, struct jail_result *r) __attribute__((warn_unused_result));

/*
 * Narrows the calling thread only (no TSYNC): loads base + rules on top of the process's
 * filter, so the thread may do what both allow. For a multi-threaded jailed process whose
 * threads have roles (the VMM's vCPU and API threads). Returns 0 or -errno.
 */
int jail_thread_filter(enum jail_seccomp_mode mode, jail_rules_fn *rules, const void *arg)
	__attribute__((warn_unused_result));

/* Ends the waiter the way the worker ended: the same exit code, or the same signal. */
__attribute__((noreturn)) void jail_exit_like(int wait_status);

#endif
