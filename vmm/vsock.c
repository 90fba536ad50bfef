/* vsock.c: spawns cellvm-vsock for --vsock cid=N,socket=PATH and wires it to virtio-pci. */
#include "vsock.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>

#include "backend.h"
#include "broker.h"
#include "log.h"
#include "vm.h"

/*
 * The backend creates the hybrid socket itself (before its jail) rather than receiving a
 * listening fd from here: it needs PATH's directory anyway, bind-mounted into its jail, to
 * reach PATH_P for guest-initiated streams, and errors about PATH are then reported in one
 * place (its exit status 3 and log line).
 */
static int spawn_backend(const struct vsock_config *v, char *cid, size_t cidlen, pid_t *pid)
{
	struct backend_spawn s = { .binary = "cellvm-vsock" };
	int rc = 0;

	snprintf(cid, cidlen, "%llu", (unsigned long long)v->cid);
	rc |= backend_arg(&s, "--cid");
	rc |= backend_arg(&s, cid);
	rc |= backend_arg(&s, "--uds-path");
	rc |= backend_arg(&s, v->socket);
	if (log_get_level() >= LOG_DEBUG)
		rc |= backend_arg(&s, "--verbose");
	return rc ? -E2BIG : backend_start("vsock", &s, pid);
}

struct virtio_pci *vsock_create(struct vm *vm, const struct vsock_config *v)
{
	char cid[24];
	pid_t pid = 0;
	int fd = spawn_backend(v, cid, sizeof(cid), &pid);
	struct virtio_pci *vp;

	if (fd < 0)
		return NULL;
	vp = virtio_pci_create(vm, VIRTIO_ID_VSOCK, "vsock", fd, NULL, VIRTIO_VSOCK_QUEUES,
			       VIRTIO_VSOCK_CONFIG_LEN);
	if (!vp) {
		broker_kill(pid);
		waitpid(pid, NULL, 0);
		return NULL;
	}
	vp->backend_pid = pid;
	log_info("vsock: guest cid %s, hybrid socket %s, served by cellvm-vsock pid %d", cid,
		 v->socket, (int)pid);
	return vp;
}

void vsock_destroy(struct virtio_pci *vp)
{
	pid_t pid;

	if (!vp)
		return;
	pid = vp->backend_pid;
	virtio_pci_destroy(vp);
	if (pid > 0)
		backend_reap("vsock", pid);
}
