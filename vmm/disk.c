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

#include "backend.h"
#include "broker.h"
#include "log.h"
#include "vm.h"

/* The backend's arguments after "--socket-fd 3"; the strings live in d and queues. */
static int disk_args(struct backend_spawn *s, const struct disk_config *d, char *queues,
		     size_t qlen)
{
	int rc = 0;

	*s = (struct backend_spawn){ .binary = "cellvm-blk" };
	snprintf(queues, qlen, "%u", d->num_queues);
	rc |= backend_arg(s, "--path");
	rc |= backend_arg(s, d->path);
	rc |= backend_arg(s, "--num-queues");
	rc |= backend_arg(s, queues);
	if (d->readonly)
		rc |= backend_arg(s, "--readonly");
	if (d->direct)
		rc |= backend_arg(s, "--direct");
	if (d->serial) {
		rc |= backend_arg(s, "--serial");
		rc |= backend_arg(s, d->serial);
	}
	if (log_get_level() >= LOG_DEBUG)
		rc |= backend_arg(s, "--verbose"); /* cellvm -v -v: the backend logs its progress too */
	return rc ? -E2BIG : 0;
}

static int spawn_backend(const char *name, const struct disk_config *d, pid_t *pid)
{
	struct backend_spawn s;
	char queues[16];
	int rc = disk_args(&s, d, queues, sizeof(queues));

	return rc < 0 ? rc : backend_start(name, &s, pid);
}

struct virtio_pci *disk_create(struct vm *vm, const struct disk_config *d, unsigned int index)
{
	char name[32];
	pid_t pid = 0;
	int fd = -1;
	struct virtio_pci *vp;

	snprintf(name, sizeof(name), "blk%u", index);
	if (!d->vhost_user && (fd = spawn_backend(name, d, &pid)) < 0)
		return NULL;
	vp = virtio_pci_create(vm, VIRTIO_ID_BLOCK, name, fd, d->socket, d->num_queues,
			       VIRTIO_BLK_CONFIG_LEN);
	if (vp && pid > 0)
		log_info("%s: %s served by cellvm-blk pid %d, %u queue(s)%s", name, d->path, (int)pid,
			 d->num_queues, d->readonly ? ", read-only" : "");
	if (!vp && pid > 0) {
		broker_kill(pid);
		waitpid(pid, NULL, 0);
	}
	if (vp)
		vp->backend_pid = pid;
	return vp;
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
		backend_reap(name, pid);
}
