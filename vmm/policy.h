/* policy.h: the VMM's jail: its spec, its process-wide seccomp rules, and each thread role's. */
#ifndef CELLVM_POLICY_H
#define CELLVM_POLICY_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "config.h"

struct jail_spec;

enum vmm_thread_role { VMM_THREAD_VCPU, VMM_THREAD_API };

/* Fills the VMM's jail spec from --jail/--seccomp, keeping fds[0..n). */
int vmm_jail_spec(struct jail_spec *s, const struct jail_config *jc, const int *fds, unsigned n)
	__attribute__((warn_unused_result));
/* Records that the process is jailed (set once, before any thread exists), so threads
 * narrow their own filter with vmm_policy_thread(). */
void vmm_policy_set_jailed(const struct jail_config *jc);
/* Loads the thread role's filter on the calling thread (no-op when not jailed or with
 * --seccomp false). Returns 0 or -errno. */
int vmm_policy_thread(enum vmm_thread_role role) __attribute__((warn_unused_result));
/* The VM's identity (set once before the jail, root only): the VMM's and its backends'. */
void vmm_policy_set_identity(uint32_t uid, uint32_t gid);
bool vmm_policy_identity(uint32_t *uid, uint32_t *gid);
/* --print-jail: the effective jail of each process kind for this configuration. */
void vmm_policy_print(FILE *out, const struct vm_config *cfg);

#endif
