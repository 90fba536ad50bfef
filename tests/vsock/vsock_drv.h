/* vsock_drv.h: a test virtio-vsock guest driver over tests/vhost/vfront.c, plus host-side helpers. */
#ifndef CELLVM_VSOCK_DRV_H
#define CELLVM_VSOCK_DRV_H

#include <stdbool.h>
#include <stdint.h>

#include "../vhost/vfront.h"

#define VD_QSIZE      256
#define VD_RXBUF      (4096 + 44)
#define VD_BUF_ALLOC  (64u << 10)    /* the test guest's receive buffer per stream */
#define VD_MAX_STREAMS 160

struct vd_hdr {
	uint64_t src_cid, dst_cid;
	uint32_t src_port, dst_port, len;
	uint16_t type, op;
	uint32_t flags, buf_alloc, fwd_cnt;
} __attribute__((packed));

enum { OP_REQUEST = 1, OP_RESPONSE, OP_RST, OP_SHUTDOWN, OP_RW, OP_CREDIT_UPDATE,
       OP_CREDIT_REQUEST };

/* One stream as the guest sees it, with its host end. */
struct vd_stream {
	uint32_t lport, rport;      /* guest port, host port */
	int hfd;                    /* the host end (-1 when none) */
	unsigned ops;               /* bit per op received */
	uint32_t shut_flags;
	/* guest side */
	uint32_t rx_cnt, fwd_cnt, told, tx_cnt, peer_alloc, peer_fwd;
	uint64_t g_in, g_out;       /* payload bytes received / sent by the guest */
	uint64_t h_in, h_out;       /* payload bytes read / written by the host end */
	bool bad;                   /* a byte or a credit check failed */
};

struct vd {
	struct vf f;
	uint64_t cid;
	uint64_t rx_area, tx_area;
	const char *uds;
	uint32_t rxlen;             /* rx buffer length (0: VD_RXBUF); tests set it short */
	uint32_t rxsplit;           /* rx buffers as indirect tables of this many pieces (0: one) */
	uint64_t rx_ind;            /* their tables */
	uint8_t payload[VD_RXBUF];
	struct vd_hdr last;         /* the last packet received */
	unsigned unmatched;         /* packets for no known stream */
	struct vd_stream s[VD_MAX_STREAMS];
	unsigned ns;
};

int vd_start(struct vd *d, const char *sock, const char *uds);
/* Sends one packet (header + payload in one buffer; split over ndesc descriptors). */
int vd_send(struct vd *d, const struct vd_hdr *h, const void *data, uint32_t len, unsigned ndesc);
/* A header from the guest for stream s (its counters filled in). */
struct vd_hdr vd_hdr(struct vd *d, struct vd_stream *s, uint16_t op, uint32_t len);
/* Waits up to timeout_ms for one rx packet: header in d->last, payload in d->payload;
 * 0, -ETIMEDOUT. Reposts the buffer. */
int vd_recv(struct vd *d, int timeout_ms);
/* Accounts d->last (just received) to its stream: counters, credit, CREDIT_REQUEST answered. */
void vd_deliver(struct vd *d);
/* Receives and accounts packets to streams until none comes for timeout_ms. */
void vd_drain(struct vd *d, int timeout_ms);
/* A host process connects with "CONNECT port"; the guest answers RESPONSE (or RST). */
struct vd_stream *vd_host_connect(struct vd *d, uint32_t port, bool accept);
/* Reads the host end's "OK <port>\n"; 0 when it matches the stream. */
int vd_host_ok(struct vd_stream *s);
/* The guest connects to host port; *listen_fd accepts (or -1: none is expected). */
struct vd_stream *vd_guest_connect(struct vd *d, uint32_t lport, uint32_t port, int listen_fd);
/* A client connected to the Unix socket path, or -1. */
int vd_dial(const char *path);
/* A listener at <uds>_<port>, connectable by the jail's identity. */
int vd_listen(const char *uds, uint32_t port);
/* Moves bytes each way on every stream at once, checking every byte and every credit. */
int vd_pump(struct vd *d, uint64_t bytes, int timeout_ms);
uint8_t vd_pattern(uint64_t off, uint32_t stream, int dir);

/* closeslow.c: the guest closes while the device still buffers bytes for a slow host reader. */
int t_close_slow(struct vd *d);
int t_close_slow_rst(struct vd *d);

#endif
