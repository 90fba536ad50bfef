/* vsock.c: spawns cellvm-vsock for --vsock cid=N,socket=PATH (or uses the kernel's vhost-vsock for
 * vhost=on) and wires it to virtio-pci. */
#include "vsock.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
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

/* vhost=on: /dev/vhost-vsock (through the broker) serves rx and tx; the event queue is parked
 * (no transport events are ever sent, as in QEMU). Config: the guest's cid. */
static struct virtio_pci *kernel_create(struct vm *vm, const struct vsock_config *v)
{
	uint8_t cfg[VIRTIO_VSOCK_CONFIG_LEN];
	struct vhost_kernel k;
	struct virtio_pci *vp;
	int fd = broker_open_dev("/dev/vhost-vsock");

	if (fd < 0) {
		log_error("--vsock cid=%llu,vhost=on: cannot open /dev/vhost-vsock: %s%s",
			  (unsigned long long)v->cid, strerror(-fd),
			  fd == -ENOENT ? " (the kernel's vhost_vsock module is not loaded)" : "");
		return NULL;
	}
	if (vhk_init(&k, "vsock", VHK_VSOCK, &fd, NULL, 1) < 0 || vhk_set_guest_cid(&k, v->cid) < 0) {
		vhk_close(&k);
		return NULL;
	}
	for (unsigned int i = 0; i < sizeof(cfg); i++)
		cfg[i] = (uint8_t)(v->cid >> (8 * i));
	vp = virtio_pci_create_kernel(vm, VIRTIO_ID_VSOCK, "vsock", &k, 0, VIRTIO_VSOCK_QUEUES, cfg,
				      VIRTIO_VSOCK_CONFIG_LEN, NULL);
	if (vp)
		log_info("vsock: guest cid %llu served by the kernel's vhost-vsock",
			 (unsigned long long)v->cid);
	return vp;
}

struct virtio_pci *vsock_create(struct vm *vm, const struct vsock_config *v)
{
	char cid[24];
	pid_t pid = 0;
	int fd;
	struct virtio_pci *vp;

	if (v->vhost)
		return kernel_create(vm, v);
	fd = spawn_backend(v, cid, sizeof(cid), &pid);
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
