/* virtio.h: the probe's virtio 1.x modern PCI transport and split virtqueues. */
#ifndef PROBE_VIRTIO_H
#define PROBE_VIRTIO_H

#include "probe.h"

#define VIRTIO_VENDOR 0x1af4
#define VIRTIO_F_VERSION_1 32
#define VIRTIO_MAX_QUEUES (VIRTIO_VECTORS - 1)
#define VQ_MAX_SIZE 256
#define VIRTQ_DESC_F_NEXT 1
#define VIRTQ_DESC_F_WRITE 2
#define VIRTIO_NO_VECTOR 0xffff

struct virtq_desc {
	u64 addr;
	u32 len;
	u16 flags, next;
};
struct virtq_avail {
	u16 flags, idx;
	u16 ring[];
};
struct virtq_used_elem {
	u32 id, len;
};
struct virtq_used {
	u16 flags, idx;
	struct virtq_used_elem ring[];
};

struct vq {
	u16 index, size, notify_off, vector;
	u64 notify_addr;
	volatile struct virtq_desc *desc;
	volatile struct virtq_avail *avail;
	volatile struct virtq_used *used;
	u16 free_head, num_free, avail_idx, last_used;
	u64 irq_seen;		/* irq count of this queue's vector already looked at */
	u64 irqs, by_irq, by_poll, requests;
	void *cookie[VQ_MAX_SIZE];
	u32 used_len[VQ_MAX_SIZE];
};

struct vbuf {
	u64 addr;
	u32 len;
	int device_writes;
};

struct vdev {
	struct pci_dev pci;
	struct pci_msix msix;
	u64 common, notify, isr, device;
	u32 notify_mult, notify_len, device_len;
	u64 offered, features;
	u16 num_queues;		/* what common config reports */
	int nq;			/* queues set up */
	u8 apic_id;
	struct vq vq[VIRTIO_MAX_QUEUES];
};

/* Finds the first virtio device of this type (1 = net, 2 = blk, ...) on bus 0. */
int virtio_find(struct vdev *v, u16 type);
/* Reset, ACKNOWLEDGE, DRIVER, features (VERSION_1 | wanted & offered), FEATURES_OK, MSI-X,
   nq queues, DRIVER_OK. Fails the test on any refusal. */
void virtio_start(struct vdev *v, u64 wanted, int nq);
void virtio_reset(struct vdev *v);
u8 virtio_cfg8(struct vdev *v, u32 off);
u16 virtio_cfg16(struct vdev *v, u32 off);
u32 virtio_cfg32(struct vdev *v, u32 off);
u64 virtio_cfg64(struct vdev *v, u32 off);
/* Adds a descriptor chain; returns 0, or -1 if too few free descriptors. Not yet visible. */
int vq_add(struct vq *q, const struct vbuf *b, int n, void *cookie);
/* Publishes added chains (avail idx) and notifies the device. */
void vq_kick(struct vdev *v, struct vq *q);
/* Waits (sti; hlt, bounded) for interrupts on any of the queues, then takes their used
   entries, calling done(cookie, len) for each. Returns the number of completions. */
int vq_wait(struct vdev *v, struct vq **qs, int n, void (*done)(void *cookie, u32 len), u64 timeout_s);
void virtio_irq_start(void);
void virtio_irq_stop(void);
u16 virtio_status(struct vdev *v);

#endif
