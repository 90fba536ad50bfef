/* vsock_guest.h: a benchmark guest driver for one vsock stream that behaves like Linux 6.1's virtio-vsock driver. */
#ifndef CELLVM_VSOCK_GUEST_H
#define CELLVM_VSOCK_GUEST_H

#include <stdbool.h>
#include <stdint.h>

#include "../../tests/vhost/vfront.h"

/* Linux 6.1 (include/linux/virtio_vsock.h, net/vmw_vsock/virtio_transport*.c):
 * rx buffers are a 44-byte header plus VIRTIO_VSOCK_DEFAULT_RX_BUF_SIZE (4 KiB) payload, two
 * descriptors (one indirect table when INDIRECT_DESC is negotiated); tx packets carry up to
 * VIRTIO_VSOCK_MAX_PKT_BUF_SIZE (64 KiB); a stream's buf_alloc is VIRTIO_VSOCK_DEFAULT_BUF_SIZE
 * (256 KiB) and a CREDIT_UPDATE goes out when the peer's view of the free space drops under
 * 64 KiB. */
#define GD_QSIZE      256
#define GD_RXBUF      4096u
#define GD_PKT_MAX    (64u << 10)
#define GD_BUF_ALLOC  (256u << 10)
#define GD_TX_SLOTS   32

struct gd_hdr {
	uint64_t src_cid, dst_cid;
	uint32_t src_port, dst_port, len;
	uint16_t type, op;
	uint32_t flags, buf_alloc, fwd_cnt;
} __attribute__((packed));

enum { GD_OP_REQUEST = 1, GD_OP_RESPONSE, GD_OP_RST, GD_OP_SHUTDOWN, GD_OP_RW,
       GD_OP_CREDIT_UPDATE, GD_OP_CREDIT_REQUEST };

struct gd {
	struct vf f;
	uint64_t cid;
	uint64_t rx_hdr, rx_buf, rx_ind, tx_hdr, tx_buf, tx_ind; /* guest-physical areas */
	uint16_t rx_free[GD_QSIZE], tx_free[GD_TX_SLOTS];       /* heads not posted */
	unsigned n_rx_free, n_tx_free, rx_max;
	uint16_t kicked[2];        /* avail idx at the last kick, per queue (rx 0, tx 1) */
	/* The one stream: guest port lport, host port rport. */
	uint32_t lport, rport;
	uint32_t buf_alloc;        /* ours: GD_BUF_ALLOC unless the application raised it */
	uint32_t fwd_cnt, last_fwd, tx_cnt, peer_alloc, peer_fwd;
	uint32_t pass_fwd;         /* fwd_cnt when this rx pass began (what a CREDIT_REQUEST gets) */
	uint64_t rx_bytes;         /* payload taken by the guest "application" */
	uint8_t *app;              /* the application's read buffer (GD_PKT_MAX bytes) */
	unsigned kicks, irqs, credit_updates;
	bool open;                 /* the host's REQUEST came and was answered */
	bool bad;                  /* a packet the driver did not expect */
};

/* Connects to the vhost-user socket, negotiates, posts every rx buffer. g->buf_alloc, if
 * set before, is the stream's receive buffer (SO_VM_SOCKETS_BUFFER_SIZE); else 256 KiB. */
int gd_start(struct gd *g, const char *sock) __attribute__((warn_unused_result));
/* Waits for the host's REQUEST and answers RESPONSE; 0 when the stream is open. */
int gd_accept(struct gd *g, int timeout_ms) __attribute__((warn_unused_result));
/* Processes rx used buffers (payload copied to the application buffer, credit returned as
 * Linux does); refills and kicks when half the buffers are gone. Returns packets seen. */
unsigned gd_rx(struct gd *g);
/* Queues RW packets of at most 64 KiB within the peer's credit, up to want bytes, copying
 * from src (the application's write); kicks once. Returns the bytes queued. */
uint64_t gd_tx(struct gd *g, const uint8_t *src, uint64_t want);
/* Re-enables interrupts on both queues (used_event) and sleeps until one fires or
 * timeout_ms; returns at once when work is already there. -ETIMEDOUT on a quiet timeout. */
int gd_wait(struct gd *g, int timeout_ms);

#endif
