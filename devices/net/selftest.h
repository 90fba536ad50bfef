/* selftest.h: cellvm-net's --jail-selftest hook: one forbidden act from inside the jail. */
#ifndef CELLVM_NET_SELFTEST_H
#define CELLVM_NET_SELFTEST_H

#include <stdbool.h>
#include <sys/types.h>

#include "net.h"
#include "../../sandbox/selftest.h"

/* True when act names a generic act (sandbox/selftest.c) or one of cellvm-net's own. */
bool net_selftest_known(const char *act);
/* Tries the act in the jailed process: 0 when it was refused (logged "refused: ENAME"), 1 when
 * it worked (an escape); or it never returns because seccomp killed the process. */
int net_selftest_run(const char *act, struct net_dev *dev, pid_t parent);

#endif
