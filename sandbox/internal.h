/* internal.h: the layers jail_enter() is built from; private to sandbox/. */
#ifndef CELLVM_SANDBOX_INTERNAL_H
#define CELLVM_SANDBOX_INTERNAL_H

#include <sys/types.h>

#include "jail.h"

/* landlock.c: a domain handling every access right the kernel knows, with no rule.
 * -EOPNOTSUPP when the kernel has no Landlock. */
int landlock_deny_all(void) __attribute__((warn_unused_result));

/* seccomp_base.c: loads base + role rules (or base + waiter rules when role is NULL). */
int seccomp_load_role(const struct jail_spec *s, jail_rules_fn *role, const void *arg)
	__attribute__((warn_unused_result));
/* The waiter's extra rules: arg points at the worker's pid_t. */
int seccomp_waiter_rules(void *scmp_ctx, const void *arg) __attribute__((warn_unused_result));

/* waiter.c: forks the pid-namespace worker; in the parent waits for it (jailed). */
int jail_fork_worker(const struct jail_spec *s, struct jail_result *r)
	__attribute__((warn_unused_result));

#endif
