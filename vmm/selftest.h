/* selftest.h: cellvm --jail-selftest: one forbidden act from the jailed VMM's main, vCPU or API role. */
#ifndef CELLVM_VMM_SELFTEST_H
#define CELLVM_VMM_SELFTEST_H

#include <stdbool.h>
#include <sys/types.h>

/* spec: ACT, vcpu:ACT or api:ACT (the act runs in a thread under that role's filter). */
bool vmm_selftest_known(const char *spec);
/* parent: getppid() taken before the jail (the target of ptrace, kill...).
 * 0: refused (reported on stderr), 1: it succeeded (an escape), 2: unknown, 3: set-up
 * failed; or seccomp kills the process (exit status 159). */
int vmm_selftest_run(const char *spec, pid_t parent);

#endif
