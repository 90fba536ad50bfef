/* vhost_kernel.h: the frontend side of the kernel's vhost (/dev/vhost-net, /dev/vhost-vsock ioctls). */
#ifndef CELLVM_VHOST_KERNEL_H
#define CELLVM_VHOST_KERNEL_H

#include <stdbool.h>
#include <stdint.h>

#include "guest_mem.h"
#include "vhost_ops.h"

#define VHK_MAX_FDS 8           /* vhost-net: one fd per queue pair */
#define VHK_RINGS_PER_FD 2      /* vhost-net: rx, tx; vhost-vsock: rx, tx */

enum vhk_kind { VHK_NET, VHK_VSOCK };

/*
 * One device served by the kernel: nfds vhost fds, each serving VHK_RINGS_PER_FD rings
 * (ring i is ring i % 2 of fd i / 2). Rings past those are parked: set up by the driver,
 * never served (vhost-vsock's event queue, as in QEMU). Net: each fd's rings get the tap
 * queue fd of the same pair as their backend while enabled.
 */
struct vhost_kernel {
	enum vhk_kind kind;
	unsigned int nfds;
	int fds[VHK_MAX_FDS];
	int taps[VHK_MAX_FDS];      /* VHK_NET: the tap queue of each pair; else -1 */
	bool detached[VHK_MAX_FDS]; /* VHK_NET: the pair's tap queue is out of the steering */
	int err_fd;                 /* eventfd every ring signals a kernel-side error on
				     * (VHOST_SET_VRING_ERR: a descriptor it refused) */
	uint64_t features;          /* what every fd offers (VHOST_GET_FEATURES, intersected) */
	bool running;               /* VHK_VSOCK: SET_RUNNING 1 was done */
	const char *name;
};

/* Takes the fds (and taps) over: SET_OWNER and GET_FEATURES on each, and makes err_fd.
 * Returns 0 or -errno with a log line; on failure the fds are closed by vhk_close. */
int vhk_init(struct vhost_kernel *k, const char *name, enum vhk_kind kind, const int *fds,
	     const int *taps, unsigned int nfds) __attribute__((warn_unused_result));
void vhk_close(struct vhost_kernel *k);

int vhk_set_features(struct vhost_kernel *k, uint64_t features) __attribute__((warn_unused_result));
int vhk_set_mem_table(struct vhost_kernel *k, const struct guest_mem *mem)
	__attribute__((warn_unused_result));
int vhk_set_vring(struct vhost_kernel *k, unsigned int index, unsigned int num, uint64_t desc,
		  uint64_t avail, uint64_t used, uint16_t base_idx, int kick_fd, int call_fd)
	__attribute__((warn_unused_result));
/* Net: attaches (detaches) the pair's tap to the ring. Vsock: a no-op (see vhk_start). */
int vhk_enable_vring(struct vhost_kernel *k, unsigned int index, bool on)
	__attribute__((warn_unused_result));
/* Vsock: VHOST_VSOCK_SET_GUEST_CID (-EADDRINUSE: another VM on this host has the cid). */
int vhk_set_guest_cid(struct vhost_kernel *k, uint64_t cid) __attribute__((warn_unused_result));
/* After every ring is set up: vsock: SET_RUNNING 1. */
int vhk_start(struct vhost_kernel *k) __attribute__((warn_unused_result));

/* The same operations for virtio_pci (vhost_ops.h). */
extern const struct vhost_ops vhk_ops;
/* Stops a ring (net: detaches its tap; vsock: SET_RUNNING 0); returns its last avail index. */
int vhk_get_vring_base(struct vhost_kernel *k, unsigned int index);

#endif
