/* tap.h: tap queues for cellvm-net: open by name, adopt inherited fds, offloads. */
#ifndef CELLVM_NET_TAP_H
#define CELLVM_NET_TAP_H

#include <stdbool.h>
#include <stdint.h>

/* Opens queue fds of tap NAME (created if absent, CAP_NET_ADMIN): IFF_TAP | IFF_NO_PI |
 * IFF_VNET_HDR, IFF_MULTI_QUEUE when n > 1. fds[] gets n non-blocking fds; -errno. */
int tap_open(const char *name, unsigned n, int *fds) __attribute__((warn_unused_result));
/* Checks an inherited fd is a tap queue with IFF_NO_PI and IFF_VNET_HDR; makes it
 * non-blocking. -errno. */
int tap_adopt(int fd) __attribute__((warn_unused_result));
/* TUNSETVNETHDRSZ to hdr_len and no offloads yet. -errno. */
int tap_setup(int fd, int hdr_len) __attribute__((warn_unused_result));
/* TUNSETOFFLOAD from the virtio-net features the driver acked. -errno. */
int tap_set_offloads(int fd, uint64_t acked) __attribute__((warn_unused_result));
/* The TUN_F_* flags those features give (for logs and tests). */
unsigned tap_offloads_for(uint64_t acked);
/* Puts a queue of a multi-queue tap back into (attach) or out of the tap's flow steering. */
int tap_set_queue(int fd, bool attach) __attribute__((warn_unused_result));

#endif
