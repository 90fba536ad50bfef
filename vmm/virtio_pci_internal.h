/* virtio_pci_internal.h: what virtio_pci.c (the transport) and virtio_pci_backend.c (its backend's life) share. */
#ifndef CELLVM_VIRTIO_PCI_INTERNAL_H
#define CELLVM_VIRTIO_PCI_INTERNAL_H

#include <stdbool.h>

#include "virtio_pci.h"

#define STATUS_FEATURES_OK 0x08
#define STATUS_DRIVER_OK   0x04
#define STATUS_NEEDS_RESET 0x40
#define VIRTIO_F_VERSION_1 (1ULL << 32)

/* virtio_pci.c, with vp->lock held: sets up the backend's rings (resume: after a reconnect,
 * at the used ring's idx). 0 or -errno. */
int vpci_activate(struct virtio_pci *vp, bool resume);
/* virtio_pci.c: the backend is gone for good: NEEDS_RESET, kept across resets. */
void vpci_mark_broken(struct virtio_pci *vp);

/* virtio_pci_backend.c: watches the backend's socket for a hang-up (fails the device, or
 * starts reconnecting an external backend). 0 or -errno. */
int vpci_watch_backend(struct virtio_pci *vp);
/* Ends a reconnect in progress (its timer). */
void vpci_stop_retry(struct virtio_pci *vp);
/* The queues a backend answering GET_QUEUE_NUM with max_queues can serve. */
unsigned int vpci_backend_queue_room(const struct virtio_pci *vp, unsigned int max_queues);
/* Whether the VMM fills the config space itself (the backend has no F_CONFIG, the device
 * allows it). */
bool vpci_own_config(const struct virtio_pci *vp, const struct vhost_user *v);

#endif
