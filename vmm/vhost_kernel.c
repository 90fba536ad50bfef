/* vhost_kernel.c: a device's rings handed to the kernel's vhost (vhost-net, vhost-vsock) by ioctls. */
#include "vhost_kernel.h"

#include <errno.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <linux/vhost.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "log.h"

/* The kernel's own bits, never offered to the driver: dirty logging, the header done by
 * vhost-net (the tap does it here), an IOMMU (cellvm has none). */
#define VHK_HIDDEN ((1ULL << VHOST_F_LOG_ALL) | (1ULL << VHOST_NET_F_VIRTIO_NET_HDR) | \
		    (1ULL << 33) /* VIRTIO_F_ACCESS_PLATFORM */ | (1ULL << 34) /* RING_PACKED */)

static int vioctl(struct vhost_kernel *k, int fd, unsigned long req, const void *arg,
		  const char *what)
{
	if (ioctl(fd, req, arg) == 0)
		return 0;
	int e = errno;
	log_error("%s: %s: %s", k->name, what, strerror(e));
	return -e;
}

int vhk_init(struct vhost_kernel *k, const char *name, enum vhk_kind kind, const int *fds,
	     const int *taps, unsigned int nfds)
{
	int rc = 0;

	*k = (struct vhost_kernel){ .kind = kind, .name = name, .features = ~0ULL, .err_fd = -1 };
	if (nfds == 0 || nfds > VHK_MAX_FDS)
		return -EINVAL;
	for (unsigned int i = 0; i < nfds; i++) {
		k->fds[i] = fds[i];
		k->taps[i] = taps ? taps[i] : -1;
	}
	k->nfds = nfds;
	for (unsigned int i = 0; i < nfds && rc == 0; i++) {
		uint64_t f = 0;

		rc = vioctl(k, k->fds[i], VHOST_SET_OWNER, NULL, "VHOST_SET_OWNER");
		if (rc == 0)
			rc = vioctl(k, k->fds[i], VHOST_GET_FEATURES, &f, "VHOST_GET_FEATURES");
		k->features &= f;
	}
	k->features &= ~VHK_HIDDEN;
	if (rc == 0 && (k->err_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0)
		rc = -errno;
	return rc;
}

void vhk_close(struct vhost_kernel *k)
{
	for (unsigned int i = 0; i < k->nfds; i++) {
		if (k->fds[i] >= 0)
			close(k->fds[i]);
		if (k->taps[i] >= 0)
			close(k->taps[i]);
		k->fds[i] = k->taps[i] = -1;
	}
	if (k->nfds && k->err_fd >= 0)
		close(k->err_fd);
	k->err_fd = -1;
	k->nfds = 0;
}

/* The fd serving ring index, or -1 for a parked ring. */
static int ring_fd(const struct vhost_kernel *k, unsigned int index)
{
	return index / VHK_RINGS_PER_FD < k->nfds ? k->fds[index / VHK_RINGS_PER_FD] : -1;
}

int vhk_set_features(struct vhost_kernel *k, uint64_t features)
{
	uint64_t f = features & k->features; /* the rest (MAC, offloads) is the VMM's or the tap's */
	int rc = 0;

	for (unsigned int i = 0; i < k->nfds && rc == 0; i++)
		rc = vioctl(k, k->fds[i], VHOST_SET_FEATURES, &f, "VHOST_SET_FEATURES");
	return rc;
}

int vhk_set_mem_table(struct vhost_kernel *k, const struct guest_mem *mem)
{
	struct {
		struct vhost_memory m;
		struct vhost_memory_region r[GUEST_MEM_MAX_REGIONS];
	} t = { .m.nregions = mem->nr_regions };
	int rc = 0;

	if (mem->nr_regions > GUEST_MEM_MAX_REGIONS)
		return -EINVAL;
	for (unsigned int i = 0; i < mem->nr_regions; i++) {
		const struct guest_region *g = &mem->regions[i];
		t.r[i] = (struct vhost_memory_region){ .guest_phys_addr = g->gpa, .memory_size = g->size,
						       .userspace_addr = (uint64_t)(uintptr_t)g->hva };
	}
	for (unsigned int i = 0; i < k->nfds && rc == 0; i++)
		rc = vioctl(k, k->fds[i], VHOST_SET_MEM_TABLE, &t, "VHOST_SET_MEM_TABLE");
	return rc;
}

int vhk_set_vring(struct vhost_kernel *k, unsigned int index, unsigned int num, uint64_t desc,
		  uint64_t avail, uint64_t used, uint16_t base_idx, int kick_fd, int call_fd)
{
	int fd = ring_fd(k, index);
	unsigned int r = index % VHK_RINGS_PER_FD;
	struct vhost_vring_state s = { r, num }, b = { r, base_idx };
	struct vhost_vring_addr a = { .index = r, .desc_user_addr = desc, .used_user_addr = used,
				      .avail_user_addr = avail };
	struct vhost_vring_file kick = { r, kick_fd }, call = { r, call_fd }, err = { r, k->err_fd };
	int rc;

	if (fd < 0)
		return 0; /* parked */
	rc = vioctl(k, fd, VHOST_SET_VRING_NUM, &s, "VHOST_SET_VRING_NUM");
	if (rc == 0)
		rc = vioctl(k, fd, VHOST_SET_VRING_BASE, &b, "VHOST_SET_VRING_BASE");
	if (rc == 0)
		rc = vioctl(k, fd, VHOST_SET_VRING_ADDR, &a, "VHOST_SET_VRING_ADDR");
	if (rc == 0)
		rc = vioctl(k, fd, VHOST_SET_VRING_CALL, &call, "VHOST_SET_VRING_CALL");
	if (rc == 0)
		rc = vioctl(k, fd, VHOST_SET_VRING_ERR, &err, "VHOST_SET_VRING_ERR");
	if (rc == 0)
		rc = vioctl(k, fd, VHOST_SET_VRING_KICK, &kick, "VHOST_SET_VRING_KICK");
	return rc;
}

/* A pair the driver stops using (its rx ring off) leaves a multi-queue tap's flow steering, so
 * no flow hashes to a queue nobody reads; pair 0 always stays. A failure is only logged. */
static void net_steer(struct vhost_kernel *k, unsigned int pair, bool on)
{
	struct ifreq ifr = { .ifr_flags = on ? IFF_ATTACH_QUEUE : IFF_DETACH_QUEUE };

	if (pair == 0 || k->nfds < 2 || k->detached[pair] == !on)
		return;
	if (ioctl(k->taps[pair], TUNSETQUEUE, &ifr) < 0)
		log_warn("%s: pair %u: TUNSETQUEUE %s: %s", k->name, pair, on ? "attach" : "detach",
			 strerror(errno));
	else
		k->detached[pair] = !on;
}

static int net_backend(struct vhost_kernel *k, unsigned int index, bool on)
{
	unsigned int pair = index / VHK_RINGS_PER_FD;
	struct vhost_vring_file f = { index % VHK_RINGS_PER_FD, on ? k->taps[pair] : -1 };

	if (f.index == 0)  /* the rx ring */
		net_steer(k, pair, on);
	return vioctl(k, k->fds[pair], VHOST_NET_SET_BACKEND, &f, "VHOST_NET_SET_BACKEND");
}

int vhk_enable_vring(struct vhost_kernel *k, unsigned int index, bool on)
{
	if (ring_fd(k, index) < 0 || k->kind != VHK_NET)
		return 0;
	return net_backend(k, index, on);
}

static int vsock_running(struct vhost_kernel *k, bool on)
{
	int v = on;
	int rc = vioctl(k, k->fds[0], VHOST_VSOCK_SET_RUNNING, &v, "VHOST_VSOCK_SET_RUNNING");

	if (rc == 0)
		k->running = on;
	return rc;
}

int vhk_set_guest_cid(struct vhost_kernel *k, uint64_t cid)
{
	return vioctl(k, k->fds[0], VHOST_VSOCK_SET_GUEST_CID, &cid, "VHOST_VSOCK_SET_GUEST_CID");
}

int vhk_start(struct vhost_kernel *k)
{
	return k->kind == VHK_VSOCK ? vsock_running(k, true) : 0;
}

int vhk_get_vring_base(struct vhost_kernel *k, unsigned int index)
{
	int fd = ring_fd(k, index), rc = 0;
	struct vhost_vring_state s = { index % VHK_RINGS_PER_FD, 0 };

	if (fd < 0)
		return 0;
	if (k->kind == VHK_NET)
		rc = net_backend(k, index, false);
	else if (k->running)
		rc = vsock_running(k, false);
	if (rc == 0)
		rc = vioctl(k, fd, VHOST_GET_VRING_BASE, &s, "VHOST_GET_VRING_BASE");
	return rc < 0 ? rc : (int)(s.num & 0xffff);
}

/* ---- struct vhost_ops ---- */

static int o_features(void *b, uint64_t f) { return vhk_set_features(b, f); }
static int o_mem(void *b, const struct guest_mem *m) { return vhk_set_mem_table(b, m); }
static int o_enable(void *b, unsigned int i, bool on) { return vhk_enable_vring(b, i, on); }
static int o_start(void *b) { return vhk_start(b); }
static int o_base(void *b, unsigned int i) { return vhk_get_vring_base(b, i); }

static int o_vring(void *b, unsigned int i, unsigned int num, uint64_t desc, uint64_t avail,
		   uint64_t used, uint16_t base, int kick, int call)
{
	return vhk_set_vring(b, i, num, desc, avail, used, base, kick, call);
}

const struct vhost_ops vhk_ops = {
	.kind = "kernel vhost", .set_features = o_features, .set_mem_table = o_mem,
	.set_vring = o_vring, .enable_vring = o_enable, .start = o_start, .get_vring_base = o_base,
};
