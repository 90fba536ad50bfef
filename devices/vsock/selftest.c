/* selftest.c: the --jail-selftest test hook: each act the vsock jail must refuse, tried from inside. */
#define _GNU_SOURCE
#include "selftest.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "../../sandbox/jail.h"
#include "log.h"

static int rc_of(long r)
{
	return r < 0 ? -errno : 0;
}

static int act_inet(void) { return rc_of(socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)); }
static int act_dgram(void) { return rc_of(socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)); }
static int act_create(void) { return rc_of(open(JAIL_BIND_PATH "/escape", O_CREAT | O_WRONLY, 0600)); }

/* A path outside the bind-mounted directory, where the host has a listener (the test's). */
static int act_connect_outside(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	const char *path = "/tmp/cellvm-vsock-selftest.sock";

	if (fd < 0)
		return -errno;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	return rc_of(connect(fd, (struct sockaddr *)&sa, sizeof(sa)));
}

static const struct { const char *name; int (*fn)(void); } acts[] = {
	{ "socket-inet", act_inet }, { "socket-dgram", act_dgram },
	{ "create-in-bind", act_create }, { "connect-outside", act_connect_outside },
	{ "none", NULL },
};

bool vsock_selftest_known(const char *act)
{
	for (size_t i = 0; i < sizeof(acts) / sizeof(acts[0]); i++)
		if (!strcmp(acts[i].name, act))
			return true;
	return false;
}

int vsock_selftest_run(const char *act)
{
	for (size_t i = 0; i < sizeof(acts) / sizeof(acts[0]); i++) {
		int rc;

		if (strcmp(acts[i].name, act))
			continue;
		if (!acts[i].fn) {
			log_error("jail-selftest none: jailed");
			return 0;
		}
		rc = acts[i].fn();
		if (rc == 0) {
			log_error("jail-selftest %s: ESCAPED: the act worked", act);
			return 1;
		}
		log_error("jail-selftest %s: refused: %s (%s)", act, strerrorname_np(-rc), strerror(-rc));
		return 0;
	}
	return 1;
}
