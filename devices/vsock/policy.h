/* policy.h: cellvm-vsock's jail: the fds it keeps, the directory it connects in, its syscalls. */
#ifndef CELLVM_VSOCK_POLICY_H
#define CELLVM_VSOCK_POLICY_H

#include "../../sandbox/jail.h"
#include "vsock.h"

/* The fds the argument rules name; filled by vsock_jail_spec(), read by the rules. */
struct vsock_policy {
	int epfd;
	int listen_fd;
	int timer_fd;
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)]; /* bind_dir: uds_path's directory */
};

/* The jail for a device whose hybrid socket, epoll, signalfd and vhost-user socket are open. */
int vsock_jail_spec(struct jail_spec *s, struct vsock_policy *p, const struct vsock_dev *dev,
		    int epfd, int sigfd, int sock) __attribute__((warn_unused_result));
/* After jail_enter(): guest-initiated streams connect under JAIL_BIND_PATH. */
void vsock_jail_paths(struct vsock_dev *dev);

#endif
