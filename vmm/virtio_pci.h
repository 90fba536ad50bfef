/* virtio_pci.h: a virtio 1.x PCI device whose queues are served by vhost-user or the kernel's vhost. */
#ifndef CELLVM_VIRTIO_PCI_H
#define CELLVM_VIRTIO_PCI_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "pci.h"
#include "vhost_kernel.h"
#include "vhost_user.h"
#include "vring.h"

#define VPCI_MAX_QUEUES  16
#define VPCI_MAX_VECTORS (VPCI_MAX_QUEUES + 1)
#define VPCI_NO_VECTOR   0xffff

struct vm;
struct virtio_pci;

/* A queue the VMM serves itself, placed after the backend's queues (virtio-net's control
 * queue). Its kicks come to the main loop; each chain is parsed and checked by vring.c. */
struct vpci_local_ops {
	/* One chain (c->in: the first c->in_len of its c->in_total readable bytes): writes at
	 * most reply_cap bytes to reply and returns how many, or -1 if the chain is unusable
	 * (the device is then marked as needing reset). Called with vp->lock held. */
	int (*handle)(void *opaque, struct virtio_pci *vp, const struct vring_chain *c,
		      uint8_t *reply, size_t reply_cap);
	/* Optional: false refuses FEATURES_OK for this feature set (lock held). */
	bool (*features_ok)(void *opaque, uint64_t features);
	/* Optional: after the backend took the queues at DRIVER_OK (lock held); < 0 fails it. */
	int (*activated)(void *opaque, struct virtio_pci *vp);
	uint64_t features;  /* device features the VMM serves, offered on top of the backend's */
	uint64_t hide;      /* backend features never offered (they would need the VMM's help) */
	/* Non-zero: a backend without VHOST_USER_PROTOCOL_F_CONFIG is accepted; the config space
	 * starts zeroed (the creator fills it) and the VMM offers these features (net: MAC). */
	uint64_t own_config_features;
	/* The backend's GET_QUEUE_NUM may count queue pairs (QEMU and DPDK read it so for net). */
	bool queue_num_pairs;
	void *opaque;
};

struct vpci_queue {
	uint16_t size, max_size, msix_vector;
	bool enabled;
	uint64_t desc, driver, device;     /* guest-physical ring addresses */
	int kick_fd;                       /* ioeventfd on the notify address */
	int idle_call_fd;                  /* call fd when the queue has no vector */
};

struct vpci_vector {
	uint32_t addr_lo, addr_hi, data, ctrl;
	int gsi;
	int fd;                            /* irqfd: the backend's call fd */
};

struct virtio_pci {
	struct vm *vm;
	struct pci_device pci;
	char name[32];
	pthread_mutex_t lock;              /* transport state: vCPU threads and the main loop */
	uint16_t device_type;
	uint64_t device_features, driver_features;
	uint32_t dfselect, gfselect;
	uint16_t msix_config, queue_select;
	uint8_t status, isr, config_generation;
	unsigned int nr_queues, nr_vectors;
	struct vpci_queue q[VPCI_MAX_QUEUES];
	struct vpci_vector vec[VPCI_MAX_VECTORS];
	uint64_t notify_base;              /* where the ioeventfds are registered, 0: none */
	uint8_t config[VHU_CONFIG_MAX];
	uint32_t config_len;
	struct vhost_user vhu;             /* the vhost-user backend (fd -1 when none) */
	struct vhost_kernel vhk;           /* or the kernel's vhost (nfds 0 when not) */
	const struct vhost_ops *be_ops;    /* vhu_ops or vhk_ops, on be */
	void *be;
	bool active, broken;
	bool watched;                      /* the backend socket is in the event loop */
	pid_t backend_pid;                 /* a backend cellvm spawned, or 0 */
	char socket_path[108];             /* an external backend's socket, reconnected on hang-up */
	int retry_fd;                      /* timerfd while reconnecting, else -1 */
	unsigned int retry_ms;             /* the next back-off */
	uint64_t retry_deadline_ms;        /* CLOCK_MONOTONIC end of the grace period */
	unsigned int nr_backend_queues;    /* queues 0..n-1 go to the backend */
	const struct vpci_local_ops *local; /* serves queue nr_backend_queues, or NULL */
	struct vring local_ring;
	struct vring_chain *local_chain;   /* the chain being served (4 KiB, not on a stack) */
	uint64_t vmm_features;             /* offered bits the backend is never told about */
	bool local_watched;                /* the local queue's kick fd is in the event loop */
	bool err_watched;                  /* the kernel's ring-error eventfd is in the event loop */
};

/* Creates the device on the VM's PCI bus, backed by the connected vhost-user backend in
 * vhu_fd (taken over) or at socket_path. Returns NULL with a log line on failure. */
struct virtio_pci *virtio_pci_create(struct vm *vm, uint16_t device_type, const char *name,
				     int vhu_fd, const char *socket_path, unsigned int nr_queues,
				     uint32_t config_len);
/* The same with one more queue, number backend_queues, served in the VMM by local. */
struct virtio_pci *virtio_pci_create_local(struct vm *vm, uint16_t device_type, const char *name,
					   int vhu_fd, const char *socket_path,
					   unsigned int backend_queues, uint32_t config_len,
					   const struct vpci_local_ops *local);
/* A device whose queues 0..backend_queues-1 the kernel's vhost serves (k: taken over, also on
 * failure); extra: device features the VMM (or the tap) provides on top of the kernel's;
 * config: the device config space the VMM serves (the kernel has none). local as above. */
struct virtio_pci *virtio_pci_create_kernel(struct vm *vm, uint16_t device_type, const char *name,
					    struct vhost_kernel *k, uint64_t extra,
					    unsigned int backend_queues, const uint8_t *config,
					    uint32_t config_len, const struct vpci_local_ops *local);
void virtio_pci_destroy(struct virtio_pci *vp);
/* Starts or stops one backend queue the driver has set up (SET_VRING_ENABLE); lock held.
 * -EINVAL for a queue that is not the backend's or not enabled by the driver. */
int virtio_pci_backend_enable(struct virtio_pci *vp, unsigned int index, bool on)
	__attribute__((warn_unused_result));

#endif
