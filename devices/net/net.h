/* net.h: the virtio-net device behind cellvm-net: tap queues, config space, rx and tx. */
#ifndef CELLVM_NET_H
#define CELLVM_NET_H

#include <stdbool.h>
#include <stdint.h>

#include "../lib/vhost_user.h"

#define NET_MAX_PAIRS  (VU_MAX_QUEUES / 2)
#define NET_HDR_LEN    12                 /* struct virtio_net_hdr_v1 (num_buffers included) */
#define NET_MAX_FRAME  65550              /* the largest frame a tx chain may carry */
#define NET_RX_BUF     (NET_HDR_LEN + NET_MAX_FRAME)

/* virtio-net feature bits (virtio spec 5.1.3). */
#define NET_F_CSUM        0
#define NET_F_GUEST_CSUM  1
#define NET_F_MAC         5
#define NET_F_GUEST_TSO4  7
#define NET_F_GUEST_TSO6  8
#define NET_F_GUEST_ECN   9
#define NET_F_HOST_TSO4   11
#define NET_F_HOST_TSO6   12
#define NET_F_HOST_ECN    13
#define NET_F_MRG_RXBUF   15
#define NET_F_STATUS      16
#define NET_F_MQ          22

struct net_opts {
	const char *tap_name;       /* --tap NAME, or NULL */
	int tap_fds[NET_MAX_PAIRS]; /* --tap-fd N[,N...] */
	unsigned ntap_fds;
	unsigned pairs;             /* --num-queues */
	uint8_t mac[6];
	bool mac_set;
};

struct net_config {
	uint8_t mac[6];
	uint16_t status;
	uint16_t max_virtqueue_pairs;
} __attribute__((packed));

/* A frame read from the tap and being spread over several rx chains (MRG_RXBUF). */
struct net_rx_frame {
	bool active;
	uint32_t len, done;          /* bytes in the bounce buffer, bytes copied so far */
	unsigned nheads;
	uint8_t *num_buffers[2];     /* the two bytes of num_buffers in the first chain */
	uint16_t heads[VIRTQ_MAX_SIZE];
	uint32_t lens[VIRTQ_MAX_SIZE];
};

struct net_stats {
	uint64_t tx_frames, tx_dropped, rx_frames, rx_dropped;
};

struct net_pair {
	int tap;
	bool polling;                /* the tap is in the epoll set */
	bool detached;               /* out of the tap's steering: the driver does not use the pair */
	bool notify_rx, notify_tx;   /* something was pushed since the last call signal */
	uint8_t *bounce;             /* NET_RX_BUF bytes: one frame for MRG_RXBUF */
	struct net_rx_frame frame;
	struct net_stats stats;
	uint64_t warned;             /* rate limit for per-frame warnings */
};

/* How the owner of the event loop watches fds: a kick fd changed, or a tap goes in or out. */
struct net_loop_ops {
	void (*kick_changed)(void *loop, unsigned q, int old_fd, int new_fd);
	void (*tap_poll)(void *loop, unsigned pair, int fd, bool on);
};

struct net_dev {
	unsigned pairs;
	struct net_config cfg;
	uint64_t offloads_acked;     /* the acked features TUNSETOFFLOAD was last derived from */
	bool offloads_valid;
	struct vu_dev vu;
	struct net_pair pair[NET_MAX_PAIRS];
	struct virtq_elem elem;      /* scratch for one popped chain */
	const struct net_loop_ops *loop_ops;
	void *loop;
};

/* Opens or adopts the tap queues and sets them up; -errno, *what names the step. */
int net_open(struct net_dev *dev, const struct net_opts *o, const char **what)
	__attribute__((warn_unused_result));
/* Starts serving the vhost-user connection on sock. */
int net_attach(struct net_dev *dev, int sock, const struct net_loop_ops *ops, void *loop)
	__attribute__((warn_unused_result));
/* After each vhost-user message: offloads from new features, then every queue. */
void net_after_message(struct net_dev *dev);
/* Queue q was kicked. */
void net_kick(struct net_dev *dev, unsigned q);
/* The tap of a pair is readable. */
void net_tap_ready(struct net_dev *dev, unsigned pair);
void net_close(struct net_dev *dev);

#endif
