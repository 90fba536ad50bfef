/* vnet.h: virtio-net driver helpers over the test frontend, and a peer on the tap. */
#ifndef CELLVM_VNET_H
#define CELLVM_VNET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../vhost/vfront.h"

#define VN_F_CSUM       0
#define VN_F_GUEST_CSUM 1
#define VN_F_MAC        5
#define VN_F_GUEST_TSO4 7
#define VN_F_HOST_TSO4  11
#define VN_F_MRG_RXBUF  15
#define VN_F_STATUS     16
#define VN_F_MQ         22
#define VN_HDR_LEN      12
#define VN_MAX_FRAME    65550
#define VN_ETHERTYPE    0x88b5   /* IEEE local experimental: the tests' frames */

struct vn_hdr {
	uint8_t flags, gso_type;
	uint16_t hdr_len, gso_size, csum_start, csum_offset, num_buffers;
} __attribute__((packed));

/* The driver side: the frontend plus the queue pairs it set up. */
struct vn {
	struct vf f;
	unsigned pairs;
	uint8_t mac[6];
	uint16_t status, max_pairs;
};

/* Connects, negotiates features & offered (plus VERSION_1, ring features), sets up
 * 2 * pairs queues of qsize entries and reads the config space. */
int vn_start(struct vn *n, const char *sock, uint64_t features, unsigned pairs, uint16_t qsize);
bool vn_has(const struct vn *n, unsigned bit);
/* Posts one tx chain: header then frame, in nseg data segments (0: header and frame in
 * one buffer). Does not kick. Returns the head or -errno. */
int vn_tx_post(struct vn *n, unsigned pair, const struct vn_hdr *h, const void *frame,
	       size_t len, unsigned nseg, bool indirect);
/* Posts, kicks and waits for the chain to come back. */
int vn_tx(struct vn *n, unsigned pair, const struct vn_hdr *h, const void *frame, size_t len,
	  unsigned nseg, bool indirect);
/* Posts count rx chains, each of ndesc writable buffers totalling size bytes; kicks. */
int vn_rx_post(struct vn *n, unsigned pair, unsigned count, uint32_t size, unsigned ndesc);
/* Waits for one frame: the header (num_buffers chains merged when MRG_RXBUF) and the
 * frame after it. Returns the frame length or -errno. */
int vn_rx(struct vn *n, unsigned pair, int timeout_ms, struct vn_hdr *h, uint8_t *frame,
	  size_t cap);

/* The host peer: an AF_PACKET socket on the tap with PACKET_VNET_HDR. */
int peer_open(const char *ifname);
int peer_send(int fd, const struct vn_hdr *h, const void *frame, size_t len);
/* The next frame the tap received from the backend (our own sends skipped), only
 * frames with the tests' ethertype or IPv4 when any is false. Length or -errno. */
int peer_recv(int fd, int timeout_ms, struct vn_hdr *h, uint8_t *frame, size_t cap);

/* A test frame: dst, src, ethertype VN_ETHERTYPE, then seq and a pattern from it. */
void vn_frame(uint8_t *buf, size_t len, const uint8_t dst[6], uint32_t seq);

#endif
