/* selftest.c: cellvm-net's own --jail-selftest acts (tun, raw packets, its tap) on top of sandbox/selftest.c. */
#define _GNU_SOURCE
#include "selftest.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_ether.h>
#include <linux/if_tun.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

static int rc_of(long r)
{
	return r < 0 ? -errno : 0;
}

/* A new tap (or another one) by path: the jail has no /dev. */
static int act_open_tun(const struct jail_act_ctx *a)
{
	return rc_of(open("/dev/net/tun", O_RDWR | O_CLOEXEC));
}

/* Raw frames on a host interface: needs CAP_NET_RAW, and the worker's net namespace is empty. */
static int act_packet(const struct jail_act_ctx *a)
{
	return rc_of(socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL)));
}

/* Re-pointing the tap it holds at another interface: only TUNSETOFFLOAD is allowed on it. */
static int act_tap_setiff(const struct jail_act_ctx *a)
{
	const struct net_dev *dev = a->role;
	struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI };

	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "cellvm-esc0");
	return rc_of(ioctl(dev->pair[0].tap, TUNSETIFF, &ifr));
}

static const struct jail_act net_acts[] = {
	{ "open-tun", act_open_tun }, { "socket-packet", act_packet },
	{ "tap-setiff", act_tap_setiff },
};

#define NACTS (sizeof(net_acts) / sizeof(net_acts[0]))

bool net_selftest_known(const char *act)
{
	return jail_selftest_known(act, net_acts, NACTS);
}

int net_selftest_run(const char *act, struct net_dev *dev, pid_t parent)
{
	struct jail_act_ctx a = { .parent = parent, .role = dev };

	return jail_selftest_run(act, &a, net_acts, NACTS);
}
