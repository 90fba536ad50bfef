/* seccomp_base.c: the allowlist every jailed process starts from, and the filter loader. */
#define _GNU_SOURCE
#include <errno.h>
#include <seccomp.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include "internal.h"

struct base_rule {
	int nr;
	const char *why;
};

/* Unconditional rules. Rules with argument checks follow in add_arg_rules(). */
static const struct base_rule base_rules[] = {
	{ SCMP_SYS(read), "eventfd counters, signalfd records" },
	{ SCMP_SYS(write), "log lines on stderr, eventfd signals" },
	{ SCMP_SYS(close), "fds the peer replaces (kick/call eventfds, memory regions)" },
	{ SCMP_SYS(exit_group), "leaving" },
	{ SCMP_SYS(rt_sigreturn), "returning from a signal handler" },
	{ SCMP_SYS(rt_sigprocmask), "glibc blocks signals around abort() and raise()" },
	{ SCMP_SYS(restart_syscall), "the kernel restarts an interrupted sleep" },
	{ SCMP_SYS(brk), "malloc's main arena" },
	{ SCMP_SYS(munmap), "free() of large blocks, replaced memory regions" },
	{ SCMP_SYS(madvise), "malloc returns freed pages of its other arenas" },
	{ SCMP_SYS(getpid), "the log prefix" },
	{ SCMP_SYS(gettid), "raise() in abort()" },
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_UNDEFINED__)
	/* Sanitizer builds only (make check-asan): the runtimes' own syscalls at run time. */
	{ SCMP_SYS(sched_yield), "sanitizer: spin locks in the allocator" },
	{ SCMP_SYS(sigaltstack), "sanitizer: its signal stack" },
	{ SCMP_SYS(rt_sigaction), "sanitizer: reports reset handlers" },
	{ SCMP_SYS(prctl), "sanitizer: PR_GET_DUMPABLE and friends while reporting" },
	{ SCMP_SYS(getrlimit), "sanitizer: stack and core limits while reporting" },
	{ SCMP_SYS(prlimit64), "sanitizer: stack and core limits while reporting" },
	{ SCMP_SYS(mremap), "sanitizer: allocator internals" },
	{ SCMP_SYS(nanosleep), "sanitizer: back-off while another thread reports" },
	{ SCMP_SYS(clock_nanosleep), "sanitizer: back-off while another thread reports" },
#endif
};

/* mmap and mprotect, never executable; abort() only to this process. */
static int add_arg_rules(scmp_filter_ctx ctx)
{
	int rc;

	/* Anonymous memory and MAP_SHARED guest-memory regions, never PROT_EXEC. */
	rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mmap), 1,
			      SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
	/* malloc's non-main arenas grow by mprotect, never to PROT_EXEC. */
	if (!rc)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mprotect), 1,
				      SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
	/* glibc's fatal messages (fortify, stack protector) before abort(): stderr only. */
	if (!rc)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(writev), 1,
				      SCMP_A0(SCMP_CMP_EQ, STDERR_FILENO));
	/* abort(): SIGABRT to this process only. */
	if (!rc)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(tgkill), 2,
				      SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)getpid()),
				      SCMP_A2(SCMP_CMP_EQ, SIGABRT));
	return rc;
}

int seccomp_waiter_rules(void *scmp_ctx, const void *arg)
{
	scmp_filter_ctx ctx = scmp_ctx;
	pid_t worker = *(const pid_t *)arg;
	int rc;

	/* sigwaitinfo(): SIGCHLD from the worker, stop signals to forward. */
	rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(rt_sigtimedwait), 0);
	/* Reap the worker, and only it. */
	if (!rc)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(wait4), 1,
				      SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)worker));
	/* Forward SIGTERM/SIGINT/SIGHUP to the worker; re-raise its fatal signal on itself. */
	if (!rc)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(kill), 1,
				      SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)worker));
	if (!rc)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(kill), 1,
				      SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)getpid()));
	/* jail_exit_like(): the default action back before re-raising. */
	if (!rc)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(rt_sigaction), 0);
	return rc;
}

static int add_base(scmp_filter_ctx ctx)
{
	for (size_t i = 0; i < sizeof(base_rules) / sizeof(base_rules[0]); i++) {
		int rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, base_rules[i].nr, 0);

		if (rc)
			return rc;
	}
	return add_arg_rules(ctx);
}

int seccomp_load_role(const struct jail_spec *s, jail_rules_fn *role, const void *arg)
{
	uint32_t deny = s->seccomp_mode == JAIL_SECCOMP_LOG ? SCMP_ACT_LOG : SCMP_ACT_KILL_PROCESS;
	scmp_filter_ctx ctx = seccomp_init(deny);
	int rc;

	if (!ctx)
		return -ENOMEM;
	/* A syscall from another ABI (x32, i386) kills too, in every mode. */
	rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
	/* A thread's extra filter: no_new_privs is already set process-wide. */
	if (!rc && s->thread_only)
		rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
	if (!rc)
		rc = add_base(ctx);
	if (!rc && role)
		rc = role(ctx, arg);
	if (!rc)
		rc = seccomp_load(ctx);
	seccomp_release(ctx);
	return rc > 0 ? -rc : rc;
}

int jail_thread_filter(enum jail_seccomp_mode mode, jail_rules_fn *rules, const void *arg)
{
	struct jail_spec s = { .seccomp_mode = mode, .thread_only = true };

	return seccomp_load_role(&s, rules, arg);
}
