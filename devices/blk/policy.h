/* policy.h: cellvm-blk's jail: the fds it keeps and the syscalls it may make. */
#ifndef CELLVM_BLK_POLICY_H
#define CELLVM_BLK_POLICY_H

#include "../../sandbox/jail.h"
#include "blk.h"

/* The fds the argument rules name; filled by blk_jail_spec(), read by the rules. */
struct blk_policy {
	int epfd;
	int sock;        /* -1 in --jail-selftest, which has no frontend */
	int ring_fd;
	int disk_fd;
	bool inline_read, inline_write; /* preadv2/pwritev2 RWF_NOWAIT on the disk (not --direct) */
	bool sync_write;                /* pwritev2 without flags on the disk (not --direct) */
};

/* The jail for a device whose disk, io_uring, epoll, signalfd and socket are open. */
int blk_jail_spec(struct jail_spec *s, struct blk_policy *p, const struct blk_dev *dev,
		  int epfd, int sigfd, int sock) __attribute__((warn_unused_result));

#endif
