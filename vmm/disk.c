/* disk.c: spawns cellvm-blk on a socketpair for each --disk path=FILE and wires it to virtio-pci. */
#include "disk.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "vm.h"

#define BACKEND_FD 3 /* the socket's number in the backend process */

static int backend_path(char *out, size_t len)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n <= 0)
		return -errno;
	self[n] = '\0';
	snprintf(out, len, "%s/cellvm-blk", dirname(self));
	return access(out, X_OK) == 0 ? 0 : -errno;
}

/* Builds the backend's argv in the parent: between fork and exec only async-signal-safe calls. */
static void backend_argv(const char **argv, const char *bin, const struct disk_config *d,
			 char *queues, size_t qlen)
{
	int n = 0;

	snprintf(queues, qlen, "%u", d->num_queues);
	argv[n++] = bin;
	argv[n++] = "--socket-fd";
	argv[n++] = "3";
	argv[n++] = "--path";
	argv[n++] = d->path;
	argv[n++] = "--num-queues";
	argv[n++] = queues;
	if (d->readonly)
		argv[n++] = "--readonly";
	if (d->direct)
		argv[n++] = "--direct";
	if (d->serial) {
		argv[n++] = "--serial";
		argv[n++] = d->serial;
	}
	if (log_get_level() >= LOG_DEBUG)
		argv[n++] = "--verbose"; /* cellvm -v -v: the backend logs its progress too */
	argv[n] = NULL;
}

/* Child side: the socket becomes fd 3 (the others are close-on-exec); then exec. */
static void exec_backend(const char **argv, int sock)
{
	if (dup2(sock, BACKEND_FD) < 0)
		_exit(127);
	fcntl(BACKEND_FD, F_SETFD, 0);
	execv(argv[0], (char *const *)argv);
	_exit(127);
}

static int spawn_backend(const struct disk_config *d, pid_t *pid)
{
	char bin[PATH_MAX], queues[16];
	const char *argv[16];
	int sv[2], rc = backend_path(bin, sizeof(bin));

	if (rc < 0) {
		log_error("disk %s: cannot find cellvm-blk next to cellvm: %s", d->path, strerror(-rc));
		return rc;
	}
	backend_argv(argv, bin, d, queues, sizeof(queues));
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	*pid = fork();
	if (*pid == 0)
		exec_backend(argv, sv[1]);
	close(sv[1]);
	if (*pid < 0) {
		close(sv[0]);
		return -errno;
	}
	return sv[0];
}

struct virtio_pci *disk_create(struct vm *vm, const struct disk_config *d, unsigned int index)
{
	char name[32];
	pid_t pid = 0;
	int fd = -1;
	struct virtio_pci *vp;

	snprintf(name, sizeof(name), "blk%u", index);
	if (!d->vhost_user && (fd = spawn_backend(d, &pid)) < 0)
		return NULL;
	vp = virtio_pci_create(vm, VIRTIO_ID_BLOCK, name, fd, d->socket, d->num_queues,
			       VIRTIO_BLK_CONFIG_LEN);
	if (vp && pid > 0)
		log_info("%s: %s served by cellvm-blk pid %d, %u queue(s)%s", name, d->path, (int)pid,
			 d->num_queues, d->readonly ? ", read-only" : "");
	if (!vp && pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	if (vp)
		vp->backend_pid = pid;
	return vp;
}

/* Waits up to about a second for a backend that was told to go (its socket closed). */
static void reap(const char *name, pid_t pid)
{
	struct timespec ms = { 0, 1000000 };
	int status;

	for (int i = 0; i < 1000; i++) {
		if (waitpid(pid, &status, WNOHANG) == pid) {
			if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
				log_warn("%s: backend pid %d ended with %s %d", name, (int)pid,
					 WIFEXITED(status) ? "status" : "signal",
					 WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
			return;
		}
		nanosleep(&ms, NULL);
	}
	log_warn("%s: backend pid %d did not exit; killing it", name, (int)pid);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

void disk_destroy(struct virtio_pci *vp)
{
	pid_t pid;
	char name[32];

	if (!vp)
		return;
	pid = vp->backend_pid;
	snprintf(name, sizeof(name), "%s", vp->name);
	virtio_pci_destroy(vp);
	if (pid > 0)
		reap(name, pid);
}
