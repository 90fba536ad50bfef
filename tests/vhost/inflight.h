/* inflight.h: the inflight-region tests (PROTOCOL_F_INFLIGHT_SHMFD) of the vhost-user-blk frontend harness. */
#ifndef CELLVM_TEST_INFLIGHT_H
#define CELLVM_TEST_INFLIGHT_H

#include "vfront.h"

struct inflight_args {
	const char *sock;      /* the backend's socket path */
	const char *image;     /* its disk */
	const char *blk;       /* cellvm-blk, for the tests that start (and kill) backends */
};

/* Runs test name ("i-..."): 0 pass, 1 fail, 77 skip, -1 no such test. f is the harness's
 * frontend, not yet connected. */
int inflight_main(struct vf *f, const char *name, const struct inflight_args *a);

#endif
