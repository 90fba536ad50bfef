/* vhost_user.h: the backend side of the vhost-user protocol; the caller owns the loop. */
#ifndef CELLVM_VHOST_USER_H
#define CELLVM_VHOST_USER_H

#include <stdbool.h>
#include <stdint.h>

#include "virtqueue.h"

#define VU_MAX_QUEUES   16
#define VU_MAX_FDS      8
#define VU_CONFIG_MAX   256

/* Feature bits the library itself handles. */
#define VU_F_RING_INDIRECT_DESC  28
#define VU_F_RING_EVENT_IDX      29
#define VU_F_PROTOCOL_FEATURES   30
#define VU_F_VERSION_1           32

#define VU_PROTOCOL_F_MQ         0
#define VU_PROTOCOL_F_REPLY_ACK  3
#define VU_PROTOCOL_F_CONFIG     9
#define VU_PROTOCOL_F_INFLIGHT_SHMFD 12

enum vu_request {
	VU_GET_FEATURES = 1, VU_SET_FEATURES = 2, VU_SET_OWNER = 3, VU_RESET_OWNER = 4,
	VU_SET_MEM_TABLE = 5, VU_SET_LOG_BASE = 6, VU_SET_LOG_FD = 7, VU_SET_VRING_NUM = 8,
	VU_SET_VRING_ADDR = 9, VU_SET_VRING_BASE = 10, VU_GET_VRING_BASE = 11,
	VU_SET_VRING_KICK = 12, VU_SET_VRING_CALL = 13, VU_SET_VRING_ERR = 14,
	VU_GET_PROTOCOL_FEATURES = 15, VU_SET_PROTOCOL_FEATURES = 16, VU_GET_QUEUE_NUM = 17,
	VU_SET_VRING_ENABLE = 18, VU_GET_CONFIG = 24, VU_SET_CONFIG = 25,
	VU_GET_INFLIGHT_FD = 31, VU_SET_INFLIGHT_FD = 32,
	VU_REQUEST_MAX = 41,
};

struct vu_dev;

/* What a device supplies. Every hook is called from vu_dispatch(), on the caller's thread. */
struct vu_device_ops {
	/* Copies len bytes of config space at off into buf (range already checked). */
	void (*get_config)(void *opaque, uint32_t off, uint8_t *buf, uint32_t len);
	/* Applies a config write (range checked); -EPERM for read-only fields. */
	int (*set_config)(void *opaque, uint32_t off, const uint8_t *buf, uint32_t len,
			  uint32_t flags);
	/* A queue's kick fd changes (old closed right after); -1 means none. */
	void (*kick_changed)(void *opaque, unsigned q, int old_fd, int new_fd);
	/* Finishes every request in flight on queue q (or all queues when q < 0) and
	 * pushes them, before a ring stops or guest memory is replaced. */
	void (*quiesce)(void *opaque, int q);
};

struct vu_queue {
	struct virtq vq;
	uint64_t desc_uaddr, avail_uaddr, used_uaddr;
	bool addr_set;
	bool started;     /* kick fd received, not stopped by GET_VRING_BASE */
	bool enabled;
	int kick_fd, call_fd, err_fd;
};

/* The inflight region the frontend handed over (SET_INFLIGHT_FD); map NULL when none. */
struct vu_inflight_map {
	void *map;
	size_t map_len;
	uint8_t *base;                /* queue q's part: base + q * inflight_queue_bytes(queue_size) */
	uint16_t num_queues, queue_size;
};

struct vu_dev {
	int sock;
	unsigned num_queues;
	uint64_t features;            /* offered */
	uint64_t acked;               /* set by SET_FEATURES */
	uint64_t protocol_features;   /* offered */
	uint64_t protocol_acked;
	struct vu_inflight_map inflight;
	uint32_t config_len;
	bool owner;
	bool broken;                  /* latched: the connection spoke nonsense */
	struct guest_mem mem;
	struct vu_queue queues[VU_MAX_QUEUES];
	const struct vu_device_ops *ops;
	void *opaque;
};

struct vu_dev_params {
	int sock;
	unsigned num_queues;
	uint64_t features;
	uint64_t protocol_features;   /* offered beyond MQ, REPLY_ACK and CONFIG: INFLIGHT_SHMFD */
	uint32_t config_len;
	const struct vu_device_ops *ops;
	void *opaque;
};

int vu_dev_init(struct vu_dev *dev, const struct vu_dev_params *p)
	__attribute__((warn_unused_result));
/* Reads and handles one message. 0: handled (maybe refused); -ECONNRESET: the frontend
 * hung up; -EPROTO: malformed, dev->broken latched; other -errno: socket error. */
int vu_dispatch(struct vu_dev *dev) __attribute__((warn_unused_result));
/* Unmaps memory, closes fds (not the socket). */
void vu_dev_cleanup(struct vu_dev *dev);
/* True when the queue may be processed: started, enabled, rings and memory set. */
bool vu_queue_ready(const struct vu_dev *dev, unsigned q);
/* Signals the queue's call fd if the driver wants it. */
void vu_queue_notify(struct vu_dev *dev, unsigned q);
const char *vu_request_name(uint32_t req);

#endif
