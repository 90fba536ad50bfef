/* audit.h: a check at teardown that cellvm left no fd open and no thread running. */
#ifndef CELLVM_AUDIT_H
#define CELLVM_AUDIT_H

#include <stdbool.h>

#define AUDIT_MAX_FDS 64

struct fd_audit {
	int nr;
	int fds[AUDIT_MAX_FDS];
};

/* Records the fds open now (before the VM is built). */
void audit_snapshot(struct fd_audit *a);
/* Logs an error for every fd open now that was not in the snapshot and for every thread
 * but the caller's; returns how many leaks it found. */
int audit_check(const struct fd_audit *a, bool jailed);

#endif
