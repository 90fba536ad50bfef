/* net.c: --net: opens the tap queues, spawns cellvm-net on them (or hands them to the kernel's
 * vhost-net), adds the virtio-net device and serves its control queue in the VMM (VQ_PAIRS_SET
 * becomes SET_VRING_ENABLE on the backend, or VHOST_NET_SET_BACKEND). */
#include "net.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backend.h"
#include "broker.h"
#include "log.h"
#include "virtio_pci.h"
#include "vm.h"

#define NET_F_CSUM       0
#define NET_F_GUEST_CSUM 1
#define NET_F_MAC        5
#define NET_F_GUEST_TSO4 7
#define NET_F_GUEST_TSO6 8
#define NET_F_HOST_TSO4 11
#define NET_F_HOST_TSO6 12
#define NET_F_STATUS    16
#define NET_STATUS_LINK_UP 1
#define NET_VNET_HDR_LEN 12 /* virtio_net_hdr_mrg_rxbuf: virtio 1.x always has num_buffers */
#define NET_F_CTRL_GUEST_OFFLOADS 2
#define NET_F_MTU       3
#define NET_F_MAC       5
#define NET_F_STATUS    16
#define VHOST_F_LOG_ALL 26
#define VIRTIO_F_RING_PACKED 34
#define NET_F_CTRL_VQ   17
#define NET_F_CTRL_RX   18
#define NET_F_CTRL_VLAN 19
#define NET_F_GUEST_ANNOUNCE 21
#define NET_F_MQ        22
#define NET_F_CTRL_MAC_ADDR 23
#define NET_F_VQ_NOTF_COAL 52
#define NET_F_NOTF_COAL 53
#define NET_F_HASH_REPORT 57
#define NET_F_RSS 60
#define NET_F_SPEED_DUPLEX 63
#define NET_S_LINK_UP 1
#define BIT(b) (1ULL << (b))

#define CTRL_MQ 4
#define CTRL_MQ_VQ_PAIRS_SET 0
#define NET_OK  0
#define NET_ERR 1

struct net_dev {
	struct virtio_pci *vp;
	unsigned int pairs;
	struct vpci_local_ops ops;
};

/* ---- the control queue ---- */

uint8_t net_ctrl_command(const struct vring_chain *c, uint64_t features, unsigned int max_pairs,
			 int (*set_pairs)(void *opaque, unsigned int n), void *opaque)
{
	/* Only MQ commands are offered (no CTRL_RX, CTRL_MAC_ADDR, ...): everything else is
	 * refused, as is a command whose data is not exactly the command's size. */
	if (c->in_total != c->in_len || c->in_len < 2 || c->in[0] != CTRL_MQ ||
	    c->in[1] != CTRL_MQ_VQ_PAIRS_SET || c->in_len != 4 || !(features & BIT(NET_F_MQ)))
		return NET_ERR;
	unsigned int n = c->in[2] | c->in[3] << 8;
	if (n < 1 || n > max_pairs)
		return NET_ERR;
	return set_pairs(opaque, n) == 0 ? NET_OK : NET_ERR;
}

/* Pairs below n run on the backend, the others stop; every one must be set up by the driver. */
static int set_pairs(void *opaque, unsigned int n)
{
	struct net_dev *nd = opaque;
	int rc = 0;

	for (unsigned int q = 2; q < 2 * nd->pairs && rc == 0; q++)
		if (q < 2 * n || nd->vp->q[q].enabled)
			rc = virtio_pci_backend_enable(nd->vp, q, q < 2 * n);
	/* debug only: the guest decides how often this happens */
	log_debug("%s: VQ_PAIRS_SET %u %s", nd->vp->name, n,
		  rc ? "refused: a queue not set up by the driver, or the backend said no" : "done");
	return rc;
}

static int ctrl_handle(void *opaque, struct virtio_pci *vp, const struct vring_chain *c,
		       uint8_t *reply, size_t cap)
{
	struct net_dev *nd = opaque;

	if (cap < 1) {
		log_warn("%s: control command without room for its ack", vp->name);
		return -1;
	}
	reply[0] = net_ctrl_command(c, vp->driver_features, nd->pairs, set_pairs, nd);
	return 1;
}

/* With CTRL_VQ but not MQ the control queue would be queue 2 (virtio 1.2, 5.1.2), a backend
 * queue when there are several pairs: that combination is refused, as is MQ without CTRL_VQ. */
static bool ctrl_features_ok(void *opaque, uint64_t f)
{
	struct net_dev *nd = opaque;

	if ((f & BIT(NET_F_MQ)) && !(f & BIT(NET_F_CTRL_VQ)))
		return false; /* MQ needs the control queue (virtio 1.2, 5.1.3.1) */
	return nd->pairs == 1 || !(f & BIT(NET_F_CTRL_VQ)) || (f & BIT(NET_F_MQ));
}

/* Kernel vhost-net: the tap writes the guest's receive offloads into the headers it hands on,
 * so it may only do those the driver accepted (TUNSETOFFLOAD, as cellvm-net does). */
static int tap_offloads(struct virtio_pci *vp)
{
	uint64_t f = vp->driver_features;
	unsigned int flags = 0;

	if (f & BIT(NET_F_GUEST_CSUM))
		flags = TUN_F_CSUM | (f & BIT(NET_F_GUEST_TSO4) ? TUN_F_TSO4 : 0) |
			(f & BIT(NET_F_GUEST_TSO6) ? TUN_F_TSO6 : 0);
	for (unsigned int i = 0; i < vp->vhk.nfds; i++)
		if (ioctl(vp->vhk.taps[i], TUNSETOFFLOAD, flags) < 0) {
			log_error("%s: TUNSETOFFLOAD %#x: %s", vp->name, flags, strerror(errno));
			return -errno;
		}
	return 0;
}

/* At DRIVER_OK only pair 0 runs (virtio 1.2, 5.1.6.5.5): the others wait for VQ_PAIRS_SET. */
static int ctrl_activated(void *opaque, struct virtio_pci *vp)
{
	struct net_dev *nd = opaque;

	if (vp->vhk.nfds && tap_offloads(vp) < 0)
		return -EIO;
	for (unsigned int q = 2; q < 2 * nd->pairs; q++)
		if (vp->q[q].enabled && virtio_pci_backend_enable(vp, q, false) < 0)
			return -EIO;
	return 0;
}

/* ---- the tap and the backend ---- */

/* One queue fd of tap `name` per pair, with the flags cellvm-net checks, opened by the broker
 * (the jailed VMM cannot open /dev/net/tun); cellvm-net sets the header size and offloads. */
static int tap_open(const char *name, unsigned int pairs, int *fds)
{
	int rc;

	if (strlen(name) >= IFNAMSIZ) {
		log_error("--net tap=%s: name longer than %d characters", name, IFNAMSIZ - 1);
		return -ENAMETOOLONG;
	}
	rc = broker_open_tap(name, pairs, fds);
	if (rc < 0)
		log_error("--net tap=%s: cannot open the tap: %s", name, strerror(-rc));
	return rc < 0 ? rc : 0;
}

static int net_args(struct backend_spawn *s, const struct net_config *n, unsigned int pairs,
		    char *fdlist, size_t fdlen, char *queues, size_t qlen)
{
	int rc = 0;
	size_t off = 0;

	for (unsigned int i = 0; i < pairs; i++)
		off += (size_t)snprintf(fdlist + off, fdlen - off, "%s%d", i ? "," : "", BACKEND_EXTRA_FD + (int)i);
	snprintf(queues, qlen, "%u", pairs);
	rc |= backend_arg(s, "--tap-fd");
	rc |= backend_arg(s, fdlist);
	rc |= backend_arg(s, "--num-queues");
	rc |= backend_arg(s, queues);
	if (n->mac) {
		rc |= backend_arg(s, "--mac");
		rc |= backend_arg(s, n->mac);
	}
	if (log_get_level() >= LOG_DEBUG)
		rc |= backend_arg(s, "--verbose");
	return rc ? -E2BIG : 0;
}

int net_check_tap_fd(int fd, char *err, size_t errlen)
{
	struct ifreq ifr = { 0 };

	if (fcntl(fd, F_GETFD) < 0) {
		snprintf(err, errlen, "fd=%d: not an open file descriptor", fd);
		return -EBADF;
	}
	if (ioctl(fd, TUNGETIFF, &ifr) < 0 || (ifr.ifr_flags & (IFF_TAP | IFF_TUN)) != IFF_TAP ||
	    (ifr.ifr_flags & (IFF_NO_PI | IFF_VNET_HDR)) != (IFF_NO_PI | IFF_VNET_HDR)) {
		snprintf(err, errlen, "fd=%d: not a tap queue opened with IFF_TAP|IFF_NO_PI|IFF_VNET_HDR",
			 fd);
		return -EINVAL;
	}
	return 0;
}

/* The tap queue fds: opened here by name, or copies of the caller's (checked to be tap
 * queues); the config keeps the caller's, so a reboot can start cellvm-net on them again. */
static int get_taps(const struct net_config *n, unsigned int pairs, int *fds)
{
	char err[128];
	int rc = 0;
	unsigned int i;

	if (n->tap)
		return tap_open(n->tap, pairs, fds);
	for (i = 0; i < pairs; i++) {
		rc = net_check_tap_fd(n->fds[i], err, sizeof(err));
		if (rc == 0 && (fds[i] = fcntl(n->fds[i], F_DUPFD_CLOEXEC, 0)) < 0) {
			rc = -errno;
			snprintf(err, sizeof(err), "fd=%d: cannot copy it: %s", n->fds[i], strerror(errno));
		}
		if (rc < 0) {
			log_error("--net %s", err);
			break;
		}
	}
	if (rc < 0)
		while (i-- > 0)
			close(fds[i]);
	return rc;
}

/* Spawns cellvm-net on the tap fds and closes what get_taps opened (the caller's stay with
 * the config). Returns the socket or -errno. */
static int spawn_backend(const char *name, const struct net_config *n, unsigned int pairs, pid_t *pid)
{
	struct backend_spawn s = { .binary = "cellvm-net" };
	char fdlist[64], queues[16];
	int fds[CONFIG_NET_MAX_PAIRS], rc = get_taps(n, pairs, fds);

	if (rc < 0)
		return rc;
	for (unsigned int i = 0; i < pairs; i++)
		s.extra_fds[s.nextra++] = fds[i];
	rc = net_args(&s, n, pairs, fdlist, sizeof(fdlist), queues, sizeof(queues));
	if (rc == 0)
		rc = backend_start(name, &s, pid);
	for (unsigned int i = 0; i < pairs; i++)
		close(fds[i]);
	return rc;
}

/* The device config the guest reads: the backend's, with the pair count the VMM serves and
 * the configured MAC. A backend without a config space (DPDK's vhost) gets the VMM's: the
 * configured MAC or 52:54:00:12:34:(0x56 + index), the link up. */
static void fix_config(struct virtio_pci *vp, const struct net_config *n, unsigned int pairs,
		       unsigned int index)
{
	pthread_mutex_lock(&vp->lock);
	if (!(vp->vhu.protocol_features & VHU_PF_CONFIG)) {
		const uint8_t mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, (uint8_t)(0x56 + index) };
		memcpy(vp->config, mac, sizeof(mac));
		vp->config[6] = NET_S_LINK_UP;
		vp->config[7] = 0;
	}
	if (n->mac)
		config_parse_mac(n->mac, vp->config);
	vp->config[8] = (uint8_t)pairs;
	vp->config[9] = 0;
	pthread_mutex_unlock(&vp->lock);
}

/* A backend's GET_QUEUE_NUM may count queues or pairs (virtio_pci.c takes either); one with a
 * config space and MQ says its pairs exactly in max_virtqueue_pairs. */
static bool backend_pairs_ok(struct virtio_pci *vp, unsigned int pairs)
{
	unsigned int have;

	if (!(vp->vhu.protocol_features & VHU_PF_CONFIG) || !(vp->vhu.features & BIT(NET_F_MQ)))
		return true;
	have = vp->config[8] | (unsigned int)vp->config[9] << 8;
	if (have >= pairs)
		return true;
	log_error("%s: the backend serves %u queue pair(s), %u asked", vp->name, have, pairs);
	return false;
}

/* ---- the kernel's vhost-net (vhost=on) ---- */

/* One /dev/vhost-net fd per pair (through the broker), on the pair's tap queue; the tap does
 * the virtio-net header (12 bytes), vhost-net only moves buffers. */
static int kernel_open(const char *name, const struct net_config *n, unsigned int pairs,
		       struct vhost_kernel *k)
{
	int taps[CONFIG_NET_MAX_PAIRS], vfds[CONFIG_NET_MAX_PAIRS], hdr = NET_VNET_HDR_LEN, rc;
	unsigned int nv = 0;

	rc = get_taps(n, pairs, taps);
	if (rc < 0)
		return rc;
	for (unsigned int i = 0; i < pairs && rc == 0; i++) {
		if (ioctl(taps[i], TUNSETVNETHDRSZ, &hdr) < 0 || ioctl(taps[i], TUNSETOFFLOAD, 0) < 0) {
			rc = -errno;
			log_error("%s: tap queue %u: setting its header size or offloads: %s", name, i,
				  strerror(-rc));
		} else if ((vfds[nv] = broker_open_dev("/dev/vhost-net")) < 0) {
			rc = vfds[nv];
			log_error("--net %s%s,vhost=on: cannot open /dev/vhost-net: %s%s", n->tap ? "tap=" : "fd=",
				  n->tap ? n->tap : "...",
				  strerror(-rc), rc == -ENOENT ? " (the kernel's vhost_net module is not loaded)" : "");
		} else {
			nv++;
		}
	}
	if (rc < 0) {
		for (unsigned int i = 0; i < pairs; i++)
			close(taps[i]);
		for (unsigned int i = 0; i < nv; i++)
			close(vfds[i]);
		return rc;
	}
	rc = vhk_init(k, name, VHK_NET, vfds, taps, pairs);
	if (rc < 0)
		vhk_close(k);
	return rc;
}

/* mac, status LINK_UP, max_virtqueue_pairs: the kernel has no config space to ask. */
static int kernel_config(const struct net_config *n, unsigned int pairs, uint8_t *cfg)
{
	memset(cfg, 0, VIRTIO_NET_CONFIG_LEN);
	if (n->mac)
		config_parse_mac(n->mac, cfg);
	else if (getrandom(cfg, 6, 0) != 6)
		return -EIO;
	else
		cfg[0] = (uint8_t)((cfg[0] & 0xfe) | 0x02); /* unicast, locally administered */
	cfg[6] = NET_STATUS_LINK_UP;
	cfg[8] = (uint8_t)pairs;
	return 0;
}

static struct virtio_pci *kernel_create(struct vm *vm, struct net_dev *nd, const struct net_config *n,
					const char *name)
{
	const uint64_t extra = BIT(NET_F_MAC) | BIT(NET_F_STATUS) | BIT(NET_F_CSUM) |
			       BIT(NET_F_GUEST_CSUM) | BIT(NET_F_GUEST_TSO4) | BIT(NET_F_GUEST_TSO6) |
			       BIT(NET_F_HOST_TSO4) | BIT(NET_F_HOST_TSO6);
	uint8_t cfg[VIRTIO_NET_CONFIG_LEN];
	struct vhost_kernel k;
	struct virtio_pci *vp;

	if (kernel_config(n, nd->pairs, cfg) < 0 || kernel_open(name, n, nd->pairs, &k) < 0)
		return NULL;
	vp = virtio_pci_create_kernel(vm, VIRTIO_ID_NET, name, &k, extra, 2 * nd->pairs, cfg,
				      VIRTIO_NET_CONFIG_LEN, &nd->ops);
	if (vp)
		log_info("%s: %s %s served by the kernel's vhost-net, %u queue pair(s)", name,
			 n->tap ? "tap" : "tap fds", n->tap ? n->tap : "", nd->pairs);
	return vp;
}

struct net_dev *net_create(struct vm *vm, const struct net_config *n, unsigned int index)
{
	char name[32];
	pid_t pid = 0;
	int fd = -1;
	struct net_dev *nd = calloc(1, sizeof(*nd));

	if (!nd)
		return NULL;
	snprintf(name, sizeof(name), "net%u", index);
	nd->pairs = n->num_queues / 2;
	nd->ops = (struct vpci_local_ops){
		.handle = ctrl_handle,
		.activated = ctrl_activated,
		.features_ok = ctrl_features_ok,
		.features = BIT(NET_F_CTRL_VQ) | BIT(NET_F_MQ),
		.hide = BIT(NET_F_CTRL_GUEST_OFFLOADS) | BIT(NET_F_CTRL_RX) | BIT(NET_F_CTRL_VLAN) |
			BIT(NET_F_GUEST_ANNOUNCE) | BIT(NET_F_CTRL_MAC_ADDR) | BIT(NET_F_VQ_NOTF_COAL) |
			BIT(NET_F_NOTF_COAL) | BIT(NET_F_HASH_REPORT) | BIT(NET_F_RSS) |
			/* fields past the 10 config bytes; a bit no driver may take; the control
			 * queue is served as a split ring */
			BIT(NET_F_MTU) | BIT(NET_F_SPEED_DUPLEX) | BIT(VHOST_F_LOG_ALL) |
			BIT(VIRTIO_F_RING_PACKED),
		.own_config_features = BIT(NET_F_MAC) | BIT(NET_F_STATUS),
		.queue_num_pairs = true,
		.opaque = nd,
	};
	if (n->vhost) {
		nd->vp = kernel_create(vm, nd, n, name);
		if (nd->vp)
			return nd;
		free(nd);
		return NULL;
	}
	if (!n->vhost_user && (fd = spawn_backend(name, n, nd->pairs, &pid)) < 0) {
		free(nd);
		return NULL;
	}
	nd->vp = virtio_pci_create_local(vm, VIRTIO_ID_NET, name, fd, n->socket, 2 * nd->pairs,
					 VIRTIO_NET_CONFIG_LEN, &nd->ops);
	if (!nd->vp) {
		if (pid > 0) {
			broker_kill(pid);
			waitpid(pid, NULL, 0);
		}
		free(nd);
		return NULL;
	}
	nd->vp->backend_pid = pid;
	if (!backend_pairs_ok(nd->vp, nd->pairs)) {
		net_destroy(nd);
		return NULL;
	}
	fix_config(nd->vp, n, nd->pairs, index);
	if (pid > 0)
		log_info("%s: tap %s served by cellvm-net pid %d, %u queue pair(s)", name,
			 n->tap ? n->tap : "fds", (int)pid, nd->pairs);
	return nd;
}

struct virtio_pci *net_virtio(const struct net_dev *nd)
{
	return nd->vp;
}

void net_destroy(struct net_dev *nd)
{
	pid_t pid;
	char name[32];

	if (!nd)
		return;
	pid = nd->vp->backend_pid;
	snprintf(name, sizeof(name), "%s", nd->vp->name);
	virtio_pci_destroy(nd->vp);
	if (pid > 0)
		backend_reap(name, pid);
	free(nd);
}
