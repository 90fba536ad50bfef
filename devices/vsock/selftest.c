/* selftest.c: cellvm-vsock's own --jail-selftest acts (its Unix sockets, its bind mount) on top of sandbox/selftest.c. */
#define _GNU_SOURCE
#include "selftest.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "../../sandbox/jail.h"
#include "../../sandbox/selftest.h"

static int rc_of(long r)
{
	return r < 0 ? -errno : 0;
}

/* socket() is allowed for AF_UNIX stream sockets only (policy.c). */
static int act_dgram(const struct jail_act_ctx *a)
{
	return rc_of(socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
}

/* The bound directory is for connects: Landlock grants no file right there. */
static int act_create(const struct jail_act_ctx *a)
{
	return rc_of(open(JAIL_BIND_PATH "/escape", O_CREAT | O_WRONLY, 0600));
}

/* A path outside the bind-mounted directory, where the host has a listener (the test's). */
static int act_connect_outside(const struct jail_act_ctx *a)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	const char *path = "/tmp/cellvm-vsock-selftest.sock";

	if (fd < 0)
		return -errno;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	return rc_of(connect(fd, (struct sockaddr *)&sa, sizeof(sa)));
}

static const struct jail_act vsock_acts[] = {
	{ "socket-dgram", act_dgram }, { "create-in-bind", act_create },
	{ "connect-outside", act_connect_outside },
};

#define NACTS (sizeof(vsock_acts) / sizeof(vsock_acts[0]))

bool vsock_selftest_known(const char *act)
{
	return jail_selftest_known(act, vsock_acts, NACTS);
}

int vsock_selftest_run(const char *act, pid_t parent)
{
	struct jail_act_ctx a = { .parent = parent };

	return jail_selftest_run(act, &a, vsock_acts, NACTS);
}
