/* vhost_ops.h: what virtio_pci asks of a device's data-path frontend (vhost-user or the kernel's vhost). */
#ifndef CELLVM_VHOST_OPS_H
#define CELLVM_VHOST_OPS_H

#include <stdbool.h>
#include <stdint.h>

struct guest_mem;

/* Each takes the frontend (struct vhost_user or struct vhost_kernel) and returns 0 or -errno
 * (get_vring_base: the ring's last avail index). Called with the device's lock held. */
struct vhost_ops {
	const char *kind;               /* for log lines */
	int (*set_features)(void *be, uint64_t features);
	int (*set_mem_table)(void *be, const struct guest_mem *mem);
	/* Optional (NULL: none), before the rings: the backend's inflight region for nqueues
	 * queues of up to queue_size entries. fresh (the rings start from zero): a new, zeroed
	 * region; otherwise the one kept from the last set-up, if any. */
	int (*set_inflight)(void *be, unsigned int nqueues, uint16_t queue_size, bool fresh);
	/* size, addresses (VMM virtual), the avail index to start from, kick and call fds */
	int (*set_vring)(void *be, unsigned int index, unsigned int num, uint64_t desc,
			 uint64_t avail, uint64_t used, uint16_t base_idx, int kick_fd, int call_fd);
	int (*enable_vring)(void *be, unsigned int index, bool on);
	int (*start)(void *be);         /* after every ring is set up */
	int (*get_vring_base)(void *be, unsigned int index); /* stops the ring */
};

#endif
