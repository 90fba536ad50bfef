/* net.h: --net: a virtio-net PCI device, its cellvm-net process and the control queue the VMM serves. */
#ifndef CELLVM_NET_H
#define CELLVM_NET_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

#define VIRTIO_ID_NET 1
#define VIRTIO_NET_CONFIG_LEN 10 /* mac[6], status, max_virtqueue_pairs */

struct vm;
struct net_dev;
struct vring_chain;

/* Opens the tap (or takes the fds), spawns cellvm-net (or connects to socket) and adds the
 * device. Returns NULL with a log line. */
struct net_dev *net_create(struct vm *vm, const struct net_config *n, unsigned int index);
/* 0 if fd is an open tap queue with IFF_NO_PI|IFF_VNET_HDR (what cellvm-net needs), else
 * -errno with "fd=N: why" in err. */
int net_check_tap_fd(int fd, char *err, size_t errlen);
/* The virtio-pci device of nd. */
struct virtio_pci *net_virtio(const struct net_dev *nd);
/* Closes the device; a spawned backend sees the socket close, exits, and is reaped. */
void net_destroy(struct net_dev *nd);

/* The control-queue command in c (class, command, data) applied to a device of max_pairs
 * pairs: returns the ack byte (VIRTIO_NET_OK / VIRTIO_NET_ERR). set_pairs(opaque, n) does
 * VQ_PAIRS_SET once every value is checked; it returns 0 or -errno. For the unit tests. */
uint8_t net_ctrl_command(const struct vring_chain *c, uint64_t features, unsigned int max_pairs,
			 int (*set_pairs)(void *opaque, unsigned int n), void *opaque);

#endif
