/* vhost_user.h: the frontend side of the vhost-user protocol (QEMU's docs/interop/vhost-user.rst). */
#ifndef CELLVM_VHOST_USER_H
#define CELLVM_VHOST_USER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "guest_mem.h"
#include "vhost_ops.h"

enum vhu_request {
	VHU_GET_FEATURES = 1, VHU_SET_FEATURES = 2, VHU_SET_OWNER = 3, VHU_RESET_OWNER = 4,
	VHU_SET_MEM_TABLE = 5, VHU_SET_VRING_NUM = 8, VHU_SET_VRING_ADDR = 9,
	VHU_SET_VRING_BASE = 10, VHU_GET_VRING_BASE = 11, VHU_SET_VRING_KICK = 12,
	VHU_SET_VRING_CALL = 13, VHU_SET_VRING_ERR = 14, VHU_GET_PROTOCOL_FEATURES = 15,
	VHU_SET_PROTOCOL_FEATURES = 16, VHU_GET_QUEUE_NUM = 17, VHU_SET_VRING_ENABLE = 18,
	VHU_GET_CONFIG = 24, VHU_SET_CONFIG = 25, VHU_GET_INFLIGHT_FD = 31, VHU_SET_INFLIGHT_FD = 32,
};

#define VHU_F_PROTOCOL_FEATURES (1ULL << 30)
#define VHU_PF_MQ        (1ULL << 0)
#define VHU_PF_REPLY_ACK (1ULL << 3)
#define VHU_PF_CONFIG    (1ULL << 9)
#define VHU_PF_INFLIGHT_SHMFD (1ULL << 12)
#define VHU_MAX_REGIONS  8
#define VHU_CONFIG_MAX   256

/* The backend's inflight region (VHU_PF_INFLIGHT_SHMFD): only held, never mapped here; handed
 * to each backend that connects. Valid while size > 0. */
struct vhu_inflight {
	int fd;
	uint64_t size, offset;
	uint16_t num_queues, queue_size;
};

struct vhost_user {
	int fd;                       /* connected socket, -1 when none */
	uint64_t features;            /* the backend's virtio + vhost-user features */
	uint64_t protocol_features;   /* negotiated */
	unsigned int max_queues;      /* GET_QUEUE_NUM, or 1 */
	const char *name;             /* for log lines */
	struct vhu_inflight inflight; /* outlives the socket: a reconnect hands it on */
};

/* Connects (path) or adopts a connected socket (fd >= 0), then negotiates protocol
 * features and sets the owner. Returns 0 or -errno (with a log line naming the device). */
int vhu_connect(struct vhost_user *v, const char *path, int fd) __attribute__((warn_unused_result));
/* The same for a path only, silent while nobody listens there: -ECONNREFUSED, -ENOENT. */
int vhu_reconnect(struct vhost_user *v, const char *path) __attribute__((warn_unused_result));
/* Closes the socket; the inflight region is kept. */
void vhu_close(struct vhost_user *v);
/* Closes the inflight region's fd (a device reset or its end). */
void vhu_drop_inflight(struct vhost_user *v);
/* GET_INFLIGHT_FD: a new region for nq queues of qsize (the old one dropped). 0, -ENOTSUP
 * when the backend gives none, other -errno. */
int vhu_get_inflight(struct vhost_user *v, uint16_t nq, uint16_t qsize)
	__attribute__((warn_unused_result));
/* SET_INFLIGHT_FD with the region held (before the rings). */
int vhu_set_inflight(struct vhost_user *v) __attribute__((warn_unused_result));

int vhu_set_features(struct vhost_user *v, uint64_t features) __attribute__((warn_unused_result));
int vhu_set_mem_table(struct vhost_user *v, const struct guest_mem *mem)
	__attribute__((warn_unused_result));
/* One ring: size, addresses (frontend virtual addresses), the avail index the backend
 * starts from (base_idx), kick/call fds. */
int vhu_set_vring(struct vhost_user *v, unsigned int index, unsigned int num, uint64_t desc,
		  uint64_t avail, uint64_t used, uint16_t base_idx, int kick_fd, int call_fd)
	__attribute__((warn_unused_result));
int vhu_enable_vring(struct vhost_user *v, unsigned int index, bool on) __attribute__((warn_unused_result));
/* Stops a ring; returns its last avail index or -errno. */
int vhu_get_vring_base(struct vhost_user *v, unsigned int index);
int vhu_get_config(struct vhost_user *v, uint32_t size, uint8_t *out) __attribute__((warn_unused_result));

/* The same operations for virtio_pci (vhost_ops.h). */
extern const struct vhost_ops vhu_ops;

#endif
