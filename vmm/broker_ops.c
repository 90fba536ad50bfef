/* broker_ops.c: the broker's operations (opens, connects, taps, spawns) and its fd passing. */
#define _GNU_SOURCE
#include "broker.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "broker_hotplug.h"
#include "cgroup.h"
#include "log.h"
#include "broker_internal.h"

/* The backends the broker may start: the only binaries it ever executes. */
static const char *const known_binaries[] = { "cellvm-blk", "cellvm-net", "cellvm-vsock" };

/* The device nodes the broker may open (read-write): the kernel's vhost. */
static const char *const known_devices[] = { "/dev/vhost-net", "/dev/vhost-vsock" };

/* ---- fd passing ---------------------------------------------------------------------- */

int send_msg(int sock, const void *buf, size_t len, const int *fds, unsigned nfds)
{
	char cbuf[CMSG_SPACE(sizeof(int) * BROKER_MAX_FDS)] = { 0 };
	struct iovec iov = { (void *)buf, len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (nfds > BROKER_MAX_FDS)
		return -E2BIG;
	if (nfds) {
		mh.msg_control = cbuf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	}
	return sendmsg(sock, &mh, MSG_NOSIGNAL) == (ssize_t)len ? 0 : -EPIPE;
}

/* Receives exactly len bytes and up to BROKER_MAX_FDS fds; *nfds gets their count. */
int recv_msg(int sock, void *buf, size_t len, int *fds, unsigned *nfds)
{
	char cbuf[CMSG_SPACE(sizeof(int) * BROKER_MAX_FDS)];
	struct iovec iov = { buf, len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			     .msg_controllen = sizeof(cbuf) };
	ssize_t n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);

	*nfds = 0;
	if (n <= 0)
		return n == 0 ? -ECONNRESET : -errno;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		unsigned k = (unsigned)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		for (unsigned i = 0; i < k; i++) {
			int fd;
			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (*nfds < BROKER_MAX_FDS)
				fds[(*nfds)++] = fd;
			else
				close(fd);
		}
	}
	if ((mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || (size_t)n != len)
		return -EPROTO;
	return 0;
}

/* ---- the operations, shared by the broker and the in-process fallback ---------------- */

/* Opens path (a file created with mode 0600 under O_CREAT) and keeps the fd only if it is of
 * the file type (S_IFREG, S_IFCHR): the fd, -errno, or -EINVAL for another type. */
static int open_typed(const char *path, int flags, mode_t type)
{
	struct stat st;
	int fd = open(path, flags, 0600);

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || (st.st_mode & S_IFMT) != type) {
		close(fd);
		return -EINVAL;
	}
	return fd;
}

int do_open_read(const char *path)
{
	/* only regular files: no devices, FIFOs or directories */
	return open_typed(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK, S_IFREG);
}

int do_open_log(const char *path)
{
	return open_typed(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOCTTY | O_NONBLOCK,
			  S_IFREG);
}

int do_connect(const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(addr.sun_path))
		return -ENAMETOOLONG;
	strcpy(addr.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	return fd;
}

/* One queue fd per pair of tap `name` (made if missing; IFF_MULTI_QUEUE for several), with
 * the flags cellvm-net checks. Returns the count, or -errno with nothing left open. */
int do_open_tap(const char *name, int queues, int *fds, bool only_new)
{
	struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR };

	if (!name[0] || strlen(name) >= IFNAMSIZ || queues < 1 || queues > BROKER_MAX_FDS)
		return -EINVAL;
	if (queues > 1)
		ifr.ifr_flags |= IFF_MULTI_QUEUE;
	for (int i = 0; i < queues; i++) {
		snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
		/* only_new (hotplug): the first queue makes the tap, or fails if it exists */
		ifr.ifr_flags = (short)((ifr.ifr_flags & ~IFF_TUN_EXCL) | (only_new && i == 0 ? IFF_TUN_EXCL : 0));
		fds[i] = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
		if (fds[i] < 0 || ioctl(fds[i], TUNSETIFF, &ifr) < 0) {
			int e = errno;

			for (int j = 0; j <= i; j++)
				if (fds[j] >= 0)
					close(fds[j]);
			return -e;
		}
	}
	return queues;
}

/* OP_OPEN_DEV: a character device from known_devices, read-write. */
int do_open_dev(const char *path)
{
	bool known = false;

	for (size_t i = 0; i < sizeof(known_devices) / sizeof(known_devices[0]); i++)
		known |= strcmp(path, known_devices[i]) == 0;
	if (!known)
		return -EPERM;
	return open_typed(path, O_RDWR | O_CLOEXEC | O_NOCTTY, S_IFCHR);
}

/* The requests whose reply carries one fd (not its number). */
bool returns_fd(uint32_t op)
{
	return (op >= OP_OPEN_READ && op <= OP_CONNECT) || op == OP_OPEN_DEV;
}

static bool known_binary(const char *name)
{
	for (size_t i = 0; i < sizeof(known_binaries) / sizeof(known_binaries[0]); i++)
		if (strcmp(name, known_binaries[i]) == 0)
			return true;
	return false;
}

static int binary_path(char *out, size_t len, const char *binary)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n <= 0)
		return -errno;
	self[n] = '\0';
	snprintf(out, len, "%s/%s", dirname(self), binary);
	return access(out, X_OK) == 0 ? 0 : -errno;
}

/* Child side, between clone and exec: async-signal-safe calls only. fds[i] becomes 3 + i,
 * each first moved above the target range so no dup2 clobbers another. */
static __attribute__((noreturn)) void exec_child(const char **argv, const int *fds, unsigned n,
						 const int *cg_fds, unsigned ncg)
{
	int moved[BROKER_MAX_FDS];

	signal(SIGTERM, SIG_DFL); /* the broker ignores these; the backend must not inherit that */
	signal(SIGINT, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	signal(SIGCHLD, SIG_DFL); /* ignored by the broker; the backend's waiter reaps its worker */
	for (unsigned i = 0; i < ncg; i++) /* join the device's child cgroup ("0": this process) */
		if (write(cg_fds[i], "0", 1) != 1)
			_exit(126);
	for (unsigned i = 0; i < n; i++)
		moved[i] = fcntl(fds[i], F_DUPFD, 64);
	for (unsigned i = 0; i < n; i++) {
		if (moved[i] < 0 || dup2(moved[i], 3 + (int)i) < 0)
			_exit(127);
		fcntl(3 + (int)i, F_SETFD, 0);
	}
	execv(argv[0], (char *const *)argv);
	_exit(127);
}

/* Starts a backend. as_sibling: CLONE_PARENT, so the caller's parent (the VMM) owns it. */
pid_t do_spawn(const char *binary, const char *const *args, const int *fds,
		      unsigned nfds, bool as_sibling, const int *cg_fds, unsigned ncg)
{
	char bin[PATH_MAX];
	const char *argv[BROKER_MAX_ARGS + 2];
	int n = 0, rc;
	pid_t pid;

	if (!known_binary(binary))
		return -EPERM;
	rc = binary_path(bin, sizeof(bin), binary);
	if (rc < 0)
		return rc;
	argv[n++] = bin;
	for (unsigned i = 0; args[i] && i < BROKER_MAX_ARGS; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	pid = as_sibling ? (pid_t)syscall(SYS_clone, CLONE_PARENT | SIGCHLD, NULL, NULL, NULL, NULL)
			 : fork();
	if (pid == 0)
		exec_child(argv, fds, nfds, cg_fds, ncg);
	return pid < 0 ? -errno : pid;
}

