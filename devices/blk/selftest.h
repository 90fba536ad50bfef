/* selftest.h: --jail-selftest ACT, a test hook: after jail_enter(), try one forbidden act. */
#ifndef CELLVM_BLK_SELFTEST_H
#define CELLVM_BLK_SELFTEST_H

#include <stdbool.h>
#include <sys/types.h>

#include "blk.h"
#include "../../sandbox/selftest.h"

/* True when act names a known act. */
bool blk_selftest_known(const char *act);
/* Runs act in the jailed process and reports on stderr. Returns the exit status: 0 the act
 * was refused with an errno (printed), 1 it succeeded (an escape), or it never returns
 * because seccomp killed the process. */
int blk_selftest_run(const char *act, struct blk_dev *dev, pid_t parent);

#endif
