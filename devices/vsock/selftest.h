/* selftest.h: cellvm-vsock's --jail-selftest hook: one forbidden act from inside the jail. */
#ifndef CELLVM_VSOCK_SELFTEST_H
#define CELLVM_VSOCK_SELFTEST_H

#include <stdbool.h>

bool vsock_selftest_known(const char *act);
/* Tries the act; 0 when it was refused (logged "refused: ENAME"), 1 when it worked (an escape). */
int vsock_selftest_run(const char *act);

#endif
