/* vsock.h: --vsock: a virtio-vsock PCI device and the cellvm-vsock process that serves it. */
#ifndef CELLVM_VMM_VSOCK_H
#define CELLVM_VMM_VSOCK_H

#include "config.h"
#include "virtio_pci.h"

#define VIRTIO_ID_VSOCK 19
#define VIRTIO_VSOCK_QUEUES 3      /* rx, tx, event */
#define VIRTIO_VSOCK_CONFIG_LEN 8  /* le64 guest_cid */

struct vm;

/* Spawns cellvm-vsock and adds the device. Returns NULL with a log line. */
struct virtio_pci *vsock_create(struct vm *vm, const struct vsock_config *v);
/* Closes the device; the backend sees its socket close, resets every stream, exits, is reaped. */
void vsock_destroy(struct virtio_pci *vp);

#endif
