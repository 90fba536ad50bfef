/* selftest.c: --jail-selftest ACT, a test hook shared by every jailed process: try one forbidden act. */
#define _GNU_SOURCE
#include "selftest.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <linux/netlink.h>


static int rc_of(long r)
{
	return r < 0 ? -errno : 0;
}

static int act_shadow(const struct jail_act_ctx *a) { return rc_of(open("/etc/shadow", O_RDONLY)); }
static int act_kvm(const struct jail_act_ctx *a) { return rc_of(open("/dev/kvm", O_RDWR)); }
static int act_root(const struct jail_act_ctx *a) { return rc_of(open("/", O_RDONLY | O_DIRECTORY)); }
static int act_mount(const struct jail_act_ctx *a) { return rc_of(mount("none", "/", "tmpfs", 0, NULL)); }
static int act_unshare(const struct jail_act_ctx *a) { return rc_of(unshare(CLONE_NEWUSER)); }
static int act_setns(const struct jail_act_ctx *a) { return rc_of(setns(STDERR_FILENO, 0)); }
static int act_setuid(const struct jail_act_ctx *a) { return rc_of(setuid(0)); }
static int act_chroot(const struct jail_act_ctx *a) { return rc_of(chroot("/")); }
static int act_fork(const struct jail_act_ctx *a) { pid_t p = fork(); if (p == 0) _exit(0); return rc_of(p); }
static int act_kill(const struct jail_act_ctx *a) { return rc_of(kill(a->parent, 0)); }

static int act_ptrace(const struct jail_act_ctx *a)
{
	return rc_of(ptrace(PTRACE_ATTACH, a->parent, NULL, NULL));
}

static int act_vm_readv(const struct jail_act_ctx *a)
{
	char buf[8];
	struct iovec local = { buf, sizeof(buf) }, remote = { (void *)0x400000, sizeof(buf) };

	return rc_of(process_vm_readv(a->parent, &local, 1, &remote, 1, 0));
}

static int act_execve(const struct jail_act_ctx *a)
{
	char *const argv[] = { "/bin/sh", NULL };

	return rc_of(execve("/bin/sh", argv, argv + 1));
}

/* In log mode socket() goes through: then Landlock must refuse the TCP connect. */
static int act_inet(const struct jail_act_ctx *a)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(22),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0)
		return -errno;
	return rc_of(connect(fd, (struct sockaddr *)&sa, sizeof(sa)));
}

static int act_netlink(const struct jail_act_ctx *a)
{
	return rc_of(socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE));
}

static int act_mmap_exec(const struct jail_act_ctx *a)
{
	return rc_of(mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) ==
		     MAP_FAILED ? -1 : 0);
}

static int act_mprotect_exec(const struct jail_act_ctx *a)
{
	void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return -errno;
	return rc_of(mprotect(p, 4096, PROT_READ | PROT_EXEC));
}

/* dup() is added to the filter for this act alone (devices/lib/backend.c): RLIMIT_NOFILE must stop it. */
static int act_nofile(const struct jail_act_ctx *a)
{
	for (int i = 0; i < 1 << 16; i++)
		if (dup(STDERR_FILENO) < 0)
			return -errno;
	return 0;
}

static const struct jail_act generic_acts[] = {
	{ "none", NULL },
	{ "open-shadow", act_shadow }, { "open-kvm", act_kvm }, { "open-root", act_root },
	{ "socket-inet", act_inet }, { "socket-netlink", act_netlink },
	{ "ptrace-parent", act_ptrace }, { "vm-readv-parent", act_vm_readv },
	{ "kill-parent", act_kill }, { "mount", act_mount }, { "unshare", act_unshare },
	{ "setns", act_setns }, { "setuid0", act_setuid }, { "chroot", act_chroot },
	{ "execve", act_execve }, { "fork", act_fork }, { "mmap-exec", act_mmap_exec },
	{ "mprotect-exec", act_mprotect_exec }, { "nofile", act_nofile },
};

static const struct jail_act *find(const char *act, const struct jail_act *extra, size_t nextra)
{
	for (size_t i = 0; i < sizeof(generic_acts) / sizeof(generic_acts[0]); i++)
		if (!strcmp(generic_acts[i].name, act))
			return &generic_acts[i];
	for (size_t i = 0; i < nextra; i++)
		if (!strcmp(extra[i].name, act))
			return &extra[i];
	return NULL;
}

bool jail_selftest_known(const char *act, const struct jail_act *extra, size_t nextra)
{
	return find(act, extra, nextra) != NULL;
}

int jail_selftest_run(const char *act, const struct jail_act_ctx *ctx,
		      const struct jail_act *extra, size_t nextra)
{
	const struct jail_act *a = find(act, extra, nextra);
	int rc;

	if (!a)
		return 2;
	rc = a->fn ? a->fn(ctx) : 0;
	if (rc < 0)
		fprintf(stderr, "jail-selftest %s: refused: %s (%s)\n", act, strerrorname_np(-rc),
			strerror(-rc));
	else
		fprintf(stderr, "jail-selftest %s: %s\n", act,
			a->fn ? "SUCCEEDED (not refused)" : "jailed");
	return rc < 0 || !a->fn ? 0 : 1;
}
