/* waiter.c: the fork a pid namespace needs: the worker is its init, the parent waits, jailed. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"

/* The parent: keeps only 0-2, loads the waiter filter, forwards stop signals, reaps. */
static int wait_worker(const struct jail_spec *s, pid_t pid, const sigset_t *set,
		       struct jail_result *r)
{
	int rc;

	/* The worker's socket must not stay open here, or the frontend never sees a hang-up. */
	if (close_range(3, ~0u, 0) < 0)
		return -errno;
	rc = seccomp_load_role(s, seccomp_waiter_rules, &pid);
	if (rc)
		return rc; /* the caller exits; the worker follows through its death signal */
	for (;;) {
		siginfo_t si;
		int sig = sigwaitinfo(set, &si), st;

		if (sig < 0 && errno == EINTR)
			continue;
		if (sig < 0)
			return -errno;
		if (sig != SIGCHLD) {
			kill(pid, sig); /* SIGTERM/SIGINT/SIGHUP: the worker decides how to stop */
			continue;
		}
		if (waitpid(pid, &st, WNOHANG) == pid) {
			r->worker_status = st;
			r->worker_pid = pid;
			return JAIL_WAITER;
		}
	}
}

int jail_fork_worker(const struct jail_spec *s, struct jail_result *r)
{
	sigset_t set, old;
	pid_t pid;

	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	/* Blocked before the fork: a SIGCHLD that comes before sigwaitinfo() stays pending. */
	if (sigprocmask(SIG_BLOCK, &set, &old) < 0)
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid > 0)
		return wait_worker(s, pid, &set, r);
	/* The worker dies with its waiter. Set after the uid change, which clears it. If the
	 * waiter was killed before this line, the worker still ends when its frontend does. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
		return -errno;
	return sigprocmask(SIG_SETMASK, &old, NULL) < 0 ? -errno : 0;
}

void jail_exit_like(int st)
{
	if (WIFSIGNALED(st)) {
		int sig = WTERMSIG(st);
		sigset_t set;

		sigemptyset(&set);
		sigaddset(&set, sig);
		signal(sig, SIG_DFL);
		sigprocmask(SIG_UNBLOCK, &set, NULL);
		kill(getpid(), sig);
		_exit(128 + sig); /* a signal whose default is to be ignored */
	}
	_exit(WIFEXITED(st) ? WEXITSTATUS(st) : 1);
}
