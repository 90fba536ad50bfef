/* selftest.h: --jail-selftest ACT, a test hook shared by every jailed process: try one forbidden act. */
#ifndef CELLVM_SANDBOX_SELFTEST_H
#define CELLVM_SANDBOX_SELFTEST_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct jail_act_ctx {
	pid_t parent;       /* the process that started us: the target of ptrace, kill, ... */
	void *role;         /* the role's own context, for its own acts */
};

/* Each returns 0 when the act worked (an escape) or -errno when it was refused. */
typedef int jail_act_fn(const struct jail_act_ctx *a);

struct jail_act {
	const char *name;
	jail_act_fn *fn;    /* NULL: "none", just report that the jail was entered */
};

/* True when act names a generic act or one of the role's extra acts. */
bool jail_selftest_known(const char *act, const struct jail_act *extra, size_t nextra);
/* Runs act and reports on stderr ("jail-selftest ACT: refused: EPERM (...)"). Returns the
 * exit status: 0 refused with an errno, 1 it succeeded (an escape), 2 unknown act; or it
 * never returns because seccomp killed the process. */
int jail_selftest_run(const char *act, const struct jail_act_ctx *ctx,
		      const struct jail_act *extra, size_t nextra);

#endif
