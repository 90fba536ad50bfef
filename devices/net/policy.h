/* policy.h: cellvm-net's jail: the fds it keeps and the syscalls it may make. */
#ifndef CELLVM_NET_POLICY_H
#define CELLVM_NET_POLICY_H

#include "../../sandbox/jail.h"
#include "net.h"

/* The fds the argument rules name; filled by net_jail_spec(), read by the rules. */
struct net_policy {
	int epfd;
	int sock;
	int taps[NET_MAX_PAIRS];
	unsigned ntaps;
};

/* The jail for a device whose taps, epoll, signalfd and socket are open. */
int net_jail_spec(struct jail_spec *s, struct net_policy *p, const struct net_dev *dev,
		  int epfd, int sigfd, int sock) __attribute__((warn_unused_result));

#endif
