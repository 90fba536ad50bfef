/* tap.c: tap queues for cellvm-net: TUNSETIFF by name, inherited fds checked, offloads. */
#define _GNU_SOURCE
#include "tap.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "net.h"

static int set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	return fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 ? -errno : 0;
}

int tap_open(const char *name, unsigned n, int *fds)
{
	struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR };
	unsigned i;
	int rc = 0;

	if (strlen(name) >= IFNAMSIZ)
		return -ENAMETOOLONG;
	if (n > 1)
		ifr.ifr_flags |= IFF_MULTI_QUEUE;
	for (i = 0; i < n; i++) {
		fds[i] = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
		snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
		if (fds[i] < 0 || ioctl(fds[i], TUNSETIFF, &ifr) < 0) {
			rc = -errno;
			break;
		}
	}
	if (rc)
		for (unsigned j = 0; j <= i && j < n; j++)
			if (fds[j] >= 0)
				close(fds[j]), fds[j] = -1;
	return rc;
}

int tap_adopt(int fd)
{
	struct ifreq ifr = { 0 };

	if (ioctl(fd, TUNGETIFF, &ifr) < 0)
		return -errno;
	if ((ifr.ifr_flags & (IFF_TAP | IFF_TUN)) != IFF_TAP || !(ifr.ifr_flags & IFF_NO_PI) ||
	    !(ifr.ifr_flags & IFF_VNET_HDR))
		return -EINVAL;
	if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
		return -errno;
	return set_nonblock(fd);
}

int tap_setup(int fd, int hdr_len)
{
	if (ioctl(fd, TUNSETVNETHDRSZ, &hdr_len) < 0 || ioctl(fd, TUNSETOFFLOAD, 0ul) < 0)
		return -errno;
	return 0;
}

unsigned tap_offloads_for(uint64_t acked)
{
	unsigned f = 0;

	/* The tap hands us what the guest accepts: partial checksums, then TSO on top. */
	if (!(acked & (1ull << NET_F_GUEST_CSUM)))
		return 0;
	f |= TUN_F_CSUM;
	if (acked & (1ull << NET_F_GUEST_TSO4))
		f |= TUN_F_TSO4;
	if (acked & (1ull << NET_F_GUEST_TSO6))
		f |= TUN_F_TSO6;
	if ((f & (TUN_F_TSO4 | TUN_F_TSO6)) && (acked & (1ull << NET_F_GUEST_ECN)))
		f |= TUN_F_TSO_ECN;
	return f;
}

int tap_set_offloads(int fd, uint64_t acked)
{
	return ioctl(fd, TUNSETOFFLOAD, (unsigned long)tap_offloads_for(acked)) < 0 ? -errno : 0;
}

int tap_set_queue(int fd, bool attach)
{
	struct ifreq ifr = { .ifr_flags = attach ? IFF_ATTACH_QUEUE : IFF_DETACH_QUEUE };

	return ioctl(fd, TUNSETQUEUE, &ifr) < 0 ? -errno : 0;
}
