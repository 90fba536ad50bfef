/* selftest.h: cellvm-vsock's --jail-selftest hook: one forbidden act from inside the jail. */
#ifndef CELLVM_VSOCK_SELFTEST_H
#define CELLVM_VSOCK_SELFTEST_H

#include <stdbool.h>
#include <sys/types.h>

/* True when act names a generic act (sandbox/selftest.c) or one of cellvm-vsock's own. */
bool vsock_selftest_known(const char *act);
/* Tries the act in the jailed process: 0 when it was refused (logged "refused: ENAME"), 1 when
 * it worked (an escape); or it never returns because seccomp killed the process. */
int vsock_selftest_run(const char *act, pid_t parent);

#endif
