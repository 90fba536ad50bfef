/* vsock_internal.h: what vsock.c (streams, tx, the hybrid socket) and vsock_rx.c (the rx queue) share. */
#ifndef CELLVM_VSOCK_INTERNAL_H
#define CELLVM_VSOCK_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "vsock.h"

#define HDR_LEN sizeof(struct vsock_hdr)

/* Copies len bytes between buf and the iovec, from byte skip of the iovec; returns how many. */
size_t iov_copy(const struct iovec *iov, unsigned n, size_t skip, void *buf, size_t len,
		bool to_iov);
/* Bytes the guest can still take on c (its buf_alloc less what is in flight). */
uint32_t peer_credit(const struct vsock_conn *c);
/* Closes the host side and sends RST to the guest (if the guest knows the stream). */
void conn_reset(struct vsock_dev *dev, struct vsock_conn *c);
/* Both directions finished and nothing owed, or the guest closed and its bytes are all written:
 * the stream ends with RST. */
void conn_maybe_finish(struct vsock_dev *dev, struct vsock_conn *c);
/* Fills h for a packet on c with op, credit fields included (fwd_cnt is then told). */
void hdr_for(const struct vsock_dev *dev, struct vsock_conn *c, struct vsock_hdr *h, uint16_t op);

/* vsock_rx.c: fills the guest's rx buffers with everything pending, then signals it. */
void rx_pump(struct vsock_dev *dev);

#endif
