/* virtio_pci.c: virtio-pci transport (common config, ISR, device config, notify, MSI-X) in BAR 0. */
#include "virtio_pci.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "log.h"
#include "loop.h"
#include "virtio_pci_internal.h"
#include "vm.h"

/* BAR 0 layout. */
#define BAR_SIZE      0x8000
#define OFF_COMMON    0x0000
#define LEN_COMMON    0x38
#define OFF_ISR       0x1000
#define OFF_DEVICE    0x2000
#define OFF_NOTIFY    0x3000
#define NOTIFY_MULT   4
#define OFF_MSIX      0x4000
#define OFF_PBA       0x5000

#define MSIX_ENABLE        0x8000
#define MSIX_FUNC_MASK     0x4000

static uint32_t rd32(const uint8_t *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }
static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static void wr16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void wr32(uint8_t *p, uint32_t v) { wr16(p, (uint16_t)v); wr16(p + 2, (uint16_t)(v >> 16)); }
static void wr64(uint8_t *p, uint64_t v) { wr32(p, (uint32_t)v); wr32(p + 4, (uint32_t)(v >> 32)); }

static struct vpci_queue *selected(struct virtio_pci *vp)
{
	return vp->queue_select < vp->nr_queues ? &vp->q[vp->queue_select] : NULL;
}

/* The common configuration structure as the guest currently sees it. */
static void common_serialize(struct virtio_pci *vp, uint8_t *b)
{
	struct vpci_queue *q = selected(vp);

	memset(b, 0, LEN_COMMON);
	wr32(b + 0x00, vp->dfselect);
	wr32(b + 0x04, vp->dfselect < 2 ? (uint32_t)(vp->device_features >> (32 * vp->dfselect)) : 0);
	wr32(b + 0x08, vp->gfselect);
	wr32(b + 0x0c, vp->gfselect < 2 ? (uint32_t)(vp->driver_features >> (32 * vp->gfselect)) : 0);
	wr16(b + 0x10, vp->msix_config);
	wr16(b + 0x12, (uint16_t)vp->nr_queues);
	b[0x14] = vp->status;
	b[0x15] = vp->config_generation;
	wr16(b + 0x16, vp->queue_select);
	if (!q)
		return;
	wr16(b + 0x18, q->size);
	wr16(b + 0x1a, q->msix_vector);
	wr16(b + 0x1c, q->enabled);
	wr16(b + 0x1e, vp->queue_select); /* notify offset = queue index */
	wr64(b + 0x20, q->desc);
	wr64(b + 0x28, q->driver);
	wr64(b + 0x30, q->device);
}

static uint16_t valid_vector(struct virtio_pci *vp, uint16_t v)
{
	return v < vp->nr_vectors ? v : VPCI_NO_VECTOR;
}

static bool touches(unsigned int off, unsigned int len, unsigned int field, unsigned int flen)
{
	return off < field + flen && field < off + len;
}

static uint64_t rd64(const uint8_t *p)
{
	return rd32(p) | (uint64_t)rd32(p + 4) << 32;
}

static void apply_features(struct virtio_pci *vp, const uint8_t *b)
{
	uint64_t half = rd32(b + 0x0c);

	if (vp->gfselect >= 2 || (vp->status & STATUS_FEATURES_OK))
		return;
	if (vp->gfselect == 0)
		vp->driver_features = (vp->driver_features & ~0xffffffffULL) | half;
	else
		vp->driver_features = (vp->driver_features & 0xffffffffULL) | half << 32;
}

static void apply_queue(struct virtio_pci *vp, const uint8_t *b, unsigned int off, unsigned int len)
{
	struct vpci_queue *q = selected(vp);

	if (!q)
		return;
	if (touches(off, len, 0x1a, 2))
		q->msix_vector = valid_vector(vp, rd16(b + 0x1a));
	if (q->enabled)
		return; /* ring size and addresses are fixed once the queue is enabled */
	if (touches(off, len, 0x18, 2))
		q->size = rd16(b + 0x18);
	if (touches(off, len, 0x20, 8))
		q->desc = rd64(b + 0x20);
	if (touches(off, len, 0x28, 8))
		q->driver = rd64(b + 0x28);
	if (touches(off, len, 0x30, 8))
		q->device = rd64(b + 0x30);
	if (touches(off, len, 0x1c, 2) && rd16(b + 0x1c) == 1)
		q->enabled = true;
}

static void set_status(struct virtio_pci *vp, uint8_t v);

static void common_apply(struct virtio_pci *vp, const uint8_t *b, unsigned int off, unsigned int len)
{
	if (touches(off, len, 0x00, 4))
		vp->dfselect = rd32(b);
	if (touches(off, len, 0x08, 4))
		vp->gfselect = rd32(b + 0x08);
	if (touches(off, len, 0x0c, 4))
		apply_features(vp, b);
	if (touches(off, len, 0x10, 2))
		vp->msix_config = valid_vector(vp, rd16(b + 0x10));
	if (touches(off, len, 0x16, 2))
		vp->queue_select = rd16(b + 0x16);
	else
		apply_queue(vp, b, off, len);
	if (touches(off, len, 0x14, 1))
		set_status(vp, b[0x14]);
}

/* ---- MSI-X ---- */

static bool msix_on(const struct virtio_pci *vp, unsigned int *cap)
{
	uint16_t ctrl = rd16(vp->pci.cfg + *cap + 2);

	return (ctrl & MSIX_ENABLE) && !(ctrl & MSIX_FUNC_MASK);
}

static unsigned int msix_cap_offset(const struct virtio_pci *vp)
{
	for (unsigned int p = vp->pci.cfg[0x34]; p; p = vp->pci.cfg[p + 1])
		if (vp->pci.cfg[p] == 0x11)
			return p;
	return 0;
}

/* Routes (or unroutes) a vector's GSI after the table or the MSI-X control changed. */
static void vector_update(struct virtio_pci *vp, unsigned int i)
{
	struct vpci_vector *v = &vp->vec[i];
	unsigned int cap = msix_cap_offset(vp);
	bool on = cap && msix_on(vp, &cap) && !(v->ctrl & 1);
	uint64_t addr = v->addr_lo | (uint64_t)v->addr_hi << 32;

	if (irq_msi_set(&vp->vm->irq, v->gsi, addr, v->data, on) < 0)
		log_warn("%s: MSI-X vector %u: KVM_SET_GSI_ROUTING failed", vp->name, i);
}

static void msix_read(struct virtio_pci *vp, uint64_t off, uint8_t *d, uint32_t len)
{
	unsigned int i = (unsigned int)(off / 16), field = (unsigned int)(off % 16) / 4;

	memset(d, 0, len);
	if (i >= vp->nr_vectors || len != 4 || off % 4)
		return;
	const struct vpci_vector *v = &vp->vec[i];
	const uint32_t vals[4] = { v->addr_lo, v->addr_hi, v->data, v->ctrl };
	wr32(d, vals[field]);
}

static void msix_write(struct virtio_pci *vp, uint64_t off, const uint8_t *d, uint32_t len)
{
	unsigned int i = (unsigned int)(off / 16), field = (unsigned int)(off % 16) / 4;
	struct vpci_vector *v;

	if (i >= vp->nr_vectors || len != 4 || off % 4)
		return;
	v = &vp->vec[i];
	uint32_t *fields[4] = { &v->addr_lo, &v->addr_hi, &v->data, &v->ctrl };
	*fields[field] = field == 3 ? (rd32(d) & 1) : rd32(d);
	vector_update(vp, i);
}

/* ---- the backend ---- */

static size_t ring_bytes(unsigned int part, uint16_t size)
{
	return part == 0 ? 16u * size : part == 1 ? 6u + 2u * size : 6u + 8u * size;
}

/* Hands one enabled queue to the backend; the guest's ring addresses are checked here. A
 * resumed queue (a new backend) starts at the used index in guest memory: what was popped
 * but never completed is popped again. */
static int activate_queue(struct virtio_pci *vp, unsigned int i, bool resume)
{
	struct vpci_queue *q = &vp->q[i];
	const uint64_t gpa[3] = { q->desc, q->driver, q->device };
	uint64_t hva[3];
	uint16_t base = 0;
	int call_fd;

	if (q->size == 0 || q->size > q->max_size || (q->size & (q->size - 1))) {
		log_error("%s: queue %u: size %u is not a power of two up to %u", vp->name, i, q->size,
			  q->max_size);
		return -EINVAL;
	}
	for (unsigned int p = 0; p < 3; p++) {
		void *h = gpa_to_hva(&vp->vm->mem, gpa[p], ring_bytes(p, q->size));
		if (!h) {
			log_error("%s: queue %u: ring at %#llx is outside guest RAM", vp->name, i,
				  (unsigned long long)gpa[p]);
			return -EFAULT;
		}
		hva[p] = (uint64_t)(uintptr_t)h;
	}
	if (resume)
		base = __atomic_load_n((uint16_t *)(uintptr_t)(hva[2] + 2), __ATOMIC_ACQUIRE);
	call_fd = q->msix_vector < vp->nr_vectors ? vp->vec[q->msix_vector].fd : q->idle_call_fd;
	int rc = vp->be_ops->set_vring(vp->be, i, q->size, hva[0], hva[1], hva[2], base, q->kick_fd,
				       call_fd);
	return rc ? rc : vp->be_ops->enable_vring(vp->be, i, true);
}

static void deactivate(struct virtio_pci *vp);
static void local_serve(struct virtio_pci *vp);

/* The VMM's own queue: its rings are checked and translated here, not by a backend. */
static int activate_local(struct virtio_pci *vp)
{
	struct vpci_queue *q = &vp->q[vp->nr_backend_queues];
	int rc;

	if (!q->enabled)
		return 0;
	if (q->size > q->max_size)
		rc = -EINVAL;
	else
		rc = vring_setup(&vp->local_ring, &vp->vm->mem, q->size, q->desc, q->driver, q->device,
				 vp->driver_features);
	if (rc < 0)
		log_error("%s: queue %u (served by cellvm): size %u or its rings are invalid", vp->name,
			  vp->nr_backend_queues, q->size);
	return rc;
}

/* The inflight region covers any size the driver may pick. */
static uint16_t max_queue_size(const struct virtio_pci *vp)
{
	uint16_t n = 0;

	for (unsigned int i = 0; i < vp->nr_backend_queues; i++)
		n = vp->q[i].max_size > n ? vp->q[i].max_size : n;
	return n;
}

int vpci_activate(struct virtio_pci *vp, bool resume)
{
	int rc = vp->be_ops->set_features(vp->be, vp->driver_features & ~vp->vmm_features);

	if (rc == 0)
		rc = vp->be_ops->set_mem_table(vp->be, &vp->vm->mem);
	if (rc == 0 && vp->be_ops->set_inflight)
		rc = vp->be_ops->set_inflight(vp->be, vp->nr_backend_queues, max_queue_size(vp), !resume);
	for (unsigned int i = 0; i < vp->nr_backend_queues && rc == 0; i++)
		if (vp->q[i].enabled)
			rc = activate_queue(vp, i, resume);
	if (rc == 0)
		rc = vp->be_ops->start(vp->be);
	/* The VMM's own queue survives a backend reconnect untouched (resume). */
	if (rc == 0 && vp->local && !resume)
		rc = activate_local(vp);
	vp->active = rc == 0;
	if (rc == 0 && vp->local && vp->local->activated)
		rc = vp->local->activated(vp->local->opaque, vp);
	if (rc < 0)
		deactivate(vp);
	else if (vp->local_ring.num)
		local_serve(vp); /* chains the driver queued (and kicked) before DRIVER_OK */
	return rc;
}

/* A backend to talk to: the kernel's, or a connected vhost-user one. */
static bool backend_present(const struct virtio_pci *vp)
{
	return vp->vhk.nfds > 0 || vp->vhu.fd >= 0;
}

/* Stops the rings. The kernel's are stopped even after a failed activation: a ring left
 * with its backend attached would refuse the next set-up (EBUSY). */
static void deactivate(struct virtio_pci *vp)
{
	bool stop = vp->active || vp->vhk.nfds > 0;

	for (unsigned int i = 0; i < vp->nr_backend_queues && stop && backend_present(vp); i++)
		if (vp->q[i].enabled && vp->be_ops->get_vring_base(vp->be, i) < 0)
			break;
	vring_reset(&vp->local_ring);
	vp->active = false;
}

int virtio_pci_backend_enable(struct virtio_pci *vp, unsigned int index, bool on)
{
	if (index >= vp->nr_backend_queues || !vp->q[index].enabled || !vp->active)
		return -EINVAL;
	return vp->be_ops->enable_vring(vp->be, index, on);
}

static void device_reset(struct virtio_pci *vp)
{
	deactivate(vp);
	vhu_drop_inflight(&vp->vhu); /* the next set-up asks for a zeroed region */
	vp->driver_features = 0;
	vp->dfselect = vp->gfselect = 0;
	vp->msix_config = VPCI_NO_VECTOR;
	vp->queue_select = 0;
	vp->isr = 0;
	for (unsigned int i = 0; i < vp->nr_queues; i++) {
		struct vpci_queue *q = &vp->q[i];
		q->size = q->max_size;
		q->msix_vector = VPCI_NO_VECTOR;
		q->enabled = false;
		q->desc = q->driver = q->device = 0;
	}
}

static void set_status(struct virtio_pci *vp, uint8_t v)
{
	uint8_t old = vp->status;

	if (v == 0) {
		device_reset(vp);
		vp->status = 0;
		return;
	}
	if ((v & STATUS_FEATURES_OK) && !(old & STATUS_FEATURES_OK) &&
	    ((vp->driver_features & ~vp->device_features) || !(vp->driver_features & VIRTIO_F_VERSION_1)))
		v &= (uint8_t)~STATUS_FEATURES_OK; /* the driver asked for what we do not offer */
	if ((v & STATUS_FEATURES_OK) && !(old & STATUS_FEATURES_OK) && vp->local &&
	    vp->local->features_ok && !vp->local->features_ok(vp->local->opaque, vp->driver_features))
		v &= (uint8_t)~STATUS_FEATURES_OK;
	vp->status = (uint8_t)(v | (old & STATUS_NEEDS_RESET));
	/* While an external backend is reconnecting (no socket), the reconnect activates. */
	if ((v & STATUS_DRIVER_OK) && !(old & STATUS_DRIVER_OK) && !vp->broken && backend_present(vp) &&
	    vpci_activate(vp, false) < 0) {
		log_error("%s: the backend refused the device set-up; device needs reset", vp->name);
		vp->status |= STATUS_NEEDS_RESET;
	}
}

/* ---- BAR 0 ---- */

static void bar_read(void *opaque, uint64_t off, uint8_t *d, uint32_t len)
{
	struct virtio_pci *vp = opaque;
	uint8_t b[LEN_COMMON];

	memset(d, 0, len);
	pthread_mutex_lock(&vp->lock);
	if (off + len <= LEN_COMMON) {
		common_serialize(vp, b);
		memcpy(d, b + off, len);
	} else if (off == OFF_ISR) {
		d[0] = vp->isr;
		vp->isr = 0; /* reading the ISR acknowledges it */
	} else if (off >= OFF_DEVICE && off + len <= OFF_DEVICE + vp->config_len) {
		memcpy(d, vp->config + (off - OFF_DEVICE), len);
	} else if (off >= OFF_MSIX && off < OFF_PBA) {
		msix_read(vp, off - OFF_MSIX, d, len);
	}
	pthread_mutex_unlock(&vp->lock);
}

static void notify(struct virtio_pci *vp, uint64_t off)
{
	uint64_t one = 1, i = (off - OFF_NOTIFY) / NOTIFY_MULT;

	/* Reaches here only before the ioeventfds are registered, or for odd accesses. */
	if (i < vp->nr_queues && write(vp->q[i].kick_fd, &one, sizeof(one)) < 0)
		log_debug("%s: kick: %s", vp->name, strerror(errno));
}

static void bar_write(void *opaque, uint64_t off, const uint8_t *d, uint32_t len)
{
	struct virtio_pci *vp = opaque;
	uint8_t b[LEN_COMMON];

	pthread_mutex_lock(&vp->lock);
	if (off + len <= LEN_COMMON) {
		common_serialize(vp, b);
		memcpy(b + off, d, len);
		common_apply(vp, b, (unsigned int)off, len);
	} else if (off >= OFF_NOTIFY && off < OFF_NOTIFY + NOTIFY_MULT * vp->nr_queues) {
		notify(vp, off);
	} else if (off >= OFF_MSIX && off < OFF_PBA) {
		msix_write(vp, off - OFF_MSIX, d, len);
	} else if (off >= OFF_DEVICE && off < OFF_DEVICE + 0x1000) {
		log_debug("%s: device config write at %#llx ignored", vp->name,
			  (unsigned long long)(off - OFF_DEVICE));
	}
	pthread_mutex_unlock(&vp->lock);
}

static const struct bus_ops bar_ops = { .read = bar_read, .write = bar_write };

/* Queue notifications go straight to the backend's kick eventfd through KVM. */
static void set_ioeventfds(struct virtio_pci *vp, uint64_t base, bool assign)
{
	for (unsigned int i = 0; i < vp->nr_queues; i++) {
		struct kvm_ioeventfd e = {
			.addr = base + OFF_NOTIFY + (uint64_t)NOTIFY_MULT * i,
			.len = 0, /* any access size (KVM_CAP_IOEVENTFD_ANY_LENGTH) */
			.fd = vp->q[i].kick_fd,
			.flags = assign ? 0 : KVM_IOEVENTFD_FLAG_DEASSIGN,
		};
		if (ioctl(vp->vm->vm_fd, KVM_IOEVENTFD, &e) < 0)
			log_warn("%s: KVM_IOEVENTFD queue %u: %s", vp->name, i, strerror(errno));
	}
}

static void on_bar_mapped(struct pci_device *dev, unsigned int bar, uint64_t addr)
{
	struct virtio_pci *vp = dev->opaque;

	if (vp->notify_base)
		set_ioeventfds(vp, vp->notify_base, false);
	vp->notify_base = addr;
	if (addr)
		set_ioeventfds(vp, addr, true);
}

static void on_cfg_written(struct pci_device *dev, unsigned int off, unsigned int len)
{
	struct virtio_pci *vp = dev->opaque;
	unsigned int cap = msix_cap_offset(vp);

	if (!cap || !(off < cap + 4 && cap + 2 < off + len))
		return;
	pthread_mutex_lock(&vp->lock);
	for (unsigned int i = 0; i < vp->nr_vectors; i++)
		vector_update(vp, i);
	pthread_mutex_unlock(&vp->lock);
}

static const struct pci_device_ops pci_ops = { .cfg_written = on_cfg_written,
					       .bar_mapped = on_bar_mapped };

/* ---- backend failure ---- */

#define ISR_CONFIG 0x02

/* Tells the driver the device failed: NEEDS_RESET plus a configuration-change interrupt. */
static void signal_needs_reset(struct virtio_pci *vp)
{
	uint64_t one = 1;

	vp->status |= STATUS_NEEDS_RESET;
	vp->isr |= ISR_CONFIG;
	vp->config_generation++;
	if (vp->msix_config < vp->nr_vectors &&
	    write(vp->vec[vp->msix_config].fd, &one, sizeof(one)) < 0)
		log_debug("%s: config interrupt: %s", vp->name, strerror(errno));
}

/* The backend is gone: the device stays failed, even across a reset. */
static void mark_broken_locked(struct virtio_pci *vp)
{
	vp->broken = true;
	vp->active = false;
	signal_needs_reset(vp);
}

void vpci_mark_broken(struct virtio_pci *vp)
{
	pthread_mutex_lock(&vp->lock);
	mark_broken_locked(vp);
	pthread_mutex_unlock(&vp->lock);
}

/* ---- the queue the VMM serves (struct vpci_local_ops) ---- */

#define LOCAL_REPLY_MAX 256

static void local_interrupt(struct virtio_pci *vp)
{
	uint16_t v = vp->q[vp->nr_backend_queues].msix_vector;
	uint64_t one = 1;

	vp->isr |= 1;
	if (v < vp->nr_vectors && write(vp->vec[v].fd, &one, sizeof(one)) < 0)
		log_debug("%s: local queue interrupt: %s", vp->name, strerror(errno));
}

/* Serves every available chain; a bad ring or chain marks the device as needing reset. */
static void local_serve(struct virtio_pci *vp)
{
	struct vring_chain *c = vp->local_chain;
	uint8_t reply[LOCAL_REPLY_MAX];
	const char *why;
	int rc, n = 0;

	while ((rc = vring_pop(&vp->local_ring, c, &why)) > 0) {
		size_t cap = c->out_cap < sizeof(reply) ? (size_t)c->out_cap : sizeof(reply);
		int len = vp->local->handle(vp->local->opaque, vp, c, reply, cap);
		if (len < 0 || (size_t)len > cap) {
			why = "the device refused a chain";
			rc = -EIO;
			break;
		}
		vring_push(&vp->local_ring, c, reply, (uint32_t)len);
		vring_arm(&vp->local_ring);
		n++;
	}
	if (n)
		local_interrupt(vp);
	if (rc < 0) {
		log_error("%s: queue %u (served by cellvm): %s; device needs reset", vp->name,
			  vp->nr_backend_queues, why);
		signal_needs_reset(vp); /* the ring stays broken until the driver resets the device */
	}
}

static void on_local_kick(void *opaque, uint32_t events)
{
	struct virtio_pci *vp = opaque;
	uint64_t n;

	if (read(vp->q[vp->nr_backend_queues].kick_fd, &n, sizeof(n)) < 0)
		return;
	pthread_mutex_lock(&vp->lock);
	if (vp->active && !vp->broken && vp->local_ring.num && !vp->local_ring.broken)
		local_serve(vp); /* a broken ring waits for the reset, quietly */
	pthread_mutex_unlock(&vp->lock);
}

/* ---- creation ---- */

static int add_virtio_cap(struct virtio_pci *vp, uint8_t type, uint32_t off, uint32_t len,
			  bool notify_cap)
{
	uint8_t cap[20] = { 0x09, 0, notify_cap ? 20 : 16, type, 0 /* BAR 0 */ };

	wr32(cap + 8, off);
	wr32(cap + 12, len);
	if (notify_cap)
		wr32(cap + 16, NOTIFY_MULT);
	return pci_device_add_cap(&vp->pci, cap, cap[2]);
}

static int add_caps(struct virtio_pci *vp)
{
	uint8_t msix[12] = { 0x11, 0 };
	int off, rc = 0;

	wr16(msix + 2, (uint16_t)(vp->nr_vectors - 1));
	wr32(msix + 4, OFF_MSIX);  /* BIR 0 */
	wr32(msix + 8, OFF_PBA);
	rc |= add_virtio_cap(vp, 1, OFF_COMMON, LEN_COMMON, false);
	rc |= add_virtio_cap(vp, 3, OFF_ISR, 1, false);
	rc |= add_virtio_cap(vp, 4, OFF_DEVICE, vp->config_len ? vp->config_len : 4, false);
	rc |= add_virtio_cap(vp, 2, OFF_NOTIFY, NOTIFY_MULT * vp->nr_queues, true);
	off = pci_device_add_cap(&vp->pci, msix, sizeof(msix));
	if (rc < 0 || off < 0)
		return -ENOSPC;
	wr16(vp->pci.cfg_wmask + off + 2, MSIX_ENABLE | MSIX_FUNC_MASK);
	return 0;
}

static int create_fds(struct virtio_pci *vp)
{
	for (unsigned int i = 0; i < vp->nr_queues; i++) {
		vp->q[i].kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		vp->q[i].idle_call_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (vp->q[i].kick_fd < 0 || vp->q[i].idle_call_fd < 0)
			return -errno;
	}
	for (unsigned int i = 0; i < vp->nr_vectors; i++) {
		struct vpci_vector *v = &vp->vec[i];
		v->ctrl = 1; /* masked until the driver programs it */
		v->fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		v->gsi = irq_msi_alloc(&vp->vm->irq);
		if (v->fd < 0 || v->gsi < 0 || irq_irqfd(&vp->vm->irq, v->gsi, v->fd, true) < 0)
			return v->gsi < 0 ? v->gsi : -EIO;
	}
	return 0;
}

static void init_fields(struct virtio_pci *vp, struct vm *vm, uint16_t type, const char *name,
			unsigned int nr_queues, uint32_t config_len, const struct vpci_local_ops *local)
{
	vp->local = local;
	vp->nr_backend_queues = nr_queues - (local ? 1 : 0);
	vp->vm = vm;
	vp->device_type = type;
	snprintf(vp->name, sizeof(vp->name), "%s", name);
	pthread_mutex_init(&vp->lock, NULL);
	vp->vhu = (struct vhost_user){ .fd = -1, .name = vp->name, .inflight.fd = -1 };
	vp->be_ops = &vhu_ops;
	vp->be = &vp->vhu;
	vp->nr_queues = nr_queues;
	vp->nr_vectors = nr_queues + 1;
	vp->config_len = config_len;
	for (unsigned int i = 0; i < VPCI_MAX_QUEUES; i++)
		vp->q[i] = (struct vpci_queue){ .kick_fd = -1, .idle_call_fd = -1, .max_size = 256 };
	for (unsigned int i = 0; i < VPCI_MAX_VECTORS; i++)
		vp->vec[i] = (struct vpci_vector){ .gsi = -1, .fd = -1 };
	vp->retry_fd = -1;
	device_reset(vp);
}

/* Connects the backend and reads what it offers: features, queue count, config space. */
static int connect_backend(struct virtio_pci *vp, int vhu_fd, const char *path)
{
	int rc = vhu_connect(&vp->vhu, path, vhu_fd);

	if (rc < 0)
		return rc;
	if (vp->nr_backend_queues > vpci_backend_queue_room(vp, vp->vhu.max_queues)) {
		log_error("%s: the backend serves %u queues%s, %u asked", vp->name, vp->vhu.max_queues,
			  vp->local && vp->local->queue_num_pairs ? " (or pairs)" : "", vp->nr_backend_queues);
		return -EINVAL;
	}
	uint64_t backend = vp->vhu.features & ~VHU_F_PROTOCOL_FEATURES;
	if (vp->local) {
		backend &= ~vp->local->hide;
		vp->vmm_features = vp->local->features & ~backend;
		backend |= vp->local->features;
	}
	vp->device_features = backend | VIRTIO_F_VERSION_1;
	if (vp->config_len && vpci_own_config(vp, &vp->vhu)) {
		memset(vp->config, 0, vp->config_len);
		vp->vmm_features |= vp->local->own_config_features & ~backend;
		vp->device_features |= vp->local->own_config_features;
		return 0;
	}
	if (vp->config_len && vhu_get_config(&vp->vhu, vp->config_len, vp->config) < 0) {
		log_error("%s: the backend does not give its config space (VHOST_USER_PROTOCOL_F_CONFIG)",
			  vp->name);
		return -ENOTSUP;
	}
	return 0;
}

/* The local queue's kicks (ioeventfd or a trapped notify write) come to the main loop. */
static int watch_local(struct virtio_pci *vp)
{
	if (!vp->local)
		return 0;
	int rc = event_loop_add(vp->vm->loop, vp->q[vp->nr_backend_queues].kick_fd, EPOLLIN,
				on_local_kick, vp);
	vp->local_watched = rc == 0;
	return rc;
}

struct virtio_pci *virtio_pci_create(struct vm *vm, uint16_t device_type, const char *name,
				     int vhu_fd, const char *socket_path, unsigned int nr_queues,
				     uint32_t config_len)
{
	return virtio_pci_create_local(vm, device_type, name, vhu_fd, socket_path, nr_queues,
				       config_len, NULL);
}

/* Allocates the device and its fields; NULL (vhu_fd closed) for impossible sizes. */
static struct virtio_pci *alloc_device(struct vm *vm, uint16_t device_type, const char *name,
				       int vhu_fd, unsigned int backend_queues, uint32_t config_len,
				       const struct vpci_local_ops *local)
{
	struct virtio_pci *vp = calloc(1, sizeof(*vp));
	unsigned int nr_queues = backend_queues + (local ? 1 : 0);

	if (vp && local)
		vp->local_chain = malloc(sizeof(*vp->local_chain));
	if (!vp || backend_queues == 0 || nr_queues > VPCI_MAX_QUEUES || config_len > VHU_CONFIG_MAX ||
	    (local && (!local->handle || !vp->local_chain))) {
		if (vp)
			free(vp->local_chain);
		free(vp);
		if (vhu_fd >= 0)
			close(vhu_fd);
		return NULL;
	}
	init_fields(vp, vm, device_type, name, nr_queues, config_len, local);
	pci_device_init(&vp->pci, 0x1af4, (uint16_t)(0x1040 + device_type),
			device_type == 2 ? 0x018000 : device_type == 1 ? 0x020000 : 0xff0000, 0x1af4, 0x40);
	vp->pci.bar_ops[0] = &bar_ops;
	vp->pci.opaque = vp;
	vp->pci.ops = &pci_ops;
	vp->pci.name = vp->name;
	return vp;
}

/* The kernel's vhost refused a ring (a descriptor it cannot use: it stops that ring). The
 * driver is told the device needs a reset, which sets the rings up afresh. */
static void on_kernel_error(void *opaque, uint32_t events)
{
	struct virtio_pci *vp = opaque;
	uint64_t n;

	if (read(vp->vhk.err_fd, &n, sizeof(n)) < 0)
		return;
	pthread_mutex_lock(&vp->lock);
	log_error("%s: the kernel's vhost stopped a ring on an error (a bad descriptor or ring); "
		  "device needs reset", vp->name);
	signal_needs_reset(vp);
	pthread_mutex_unlock(&vp->lock);
}

static int watch_kernel_errors(struct virtio_pci *vp)
{
	int rc = event_loop_add(vp->vm->loop, vp->vhk.err_fd, EPOLLIN, on_kernel_error, vp);

	vp->err_watched = rc == 0;
	return rc;
}

/* The PCI side: eventfds, capabilities, BAR 0, the bus, the local queue's kicks. */
static int add_to_bus(struct virtio_pci *vp)
{
	struct vm *vm = vp->vm;
	bool paused;
	int rc = 0;

	if (create_fds(vp) < 0 || add_caps(vp) < 0)
		return -EIO;
	paused = vm_devices_lock(vm); /* a running VM (hotplug): its vCPUs read the buses */
	if (pci_device_add_bar(&vm->pci, &vp->pci, 0, BAR_SIZE) < 0 || pci_bus_add(&vm->pci, &vp->pci) < 0)
		rc = -EIO;
	vm_devices_unlock(vm, paused);
	return rc == 0 && watch_local(vp) == 0 ? 0 : -EIO;
}

struct virtio_pci *virtio_pci_create_local(struct vm *vm, uint16_t device_type, const char *name,
					   int vhu_fd, const char *socket_path,
					   unsigned int backend_queues, uint32_t config_len,
					   const struct vpci_local_ops *local)
{
	struct virtio_pci *vp = alloc_device(vm, device_type, name, vhu_fd, backend_queues,
					     config_len, local);

	if (!vp)
		return NULL;
	if (socket_path && vhu_fd < 0)
		snprintf(vp->socket_path, sizeof(vp->socket_path), "%s", socket_path);
	if (connect_backend(vp, vhu_fd, socket_path) < 0 || add_to_bus(vp) < 0 || vpci_watch_backend(vp) < 0) {
		log_error("%s: cannot create the virtio-pci device", name);
		virtio_pci_destroy(vp);
		return NULL;
	}
	return vp;
}

struct virtio_pci *virtio_pci_create_kernel(struct vm *vm, uint16_t device_type, const char *name,
					    struct vhost_kernel *k, uint64_t extra,
					    unsigned int backend_queues, const uint8_t *config,
					    uint32_t config_len, const struct vpci_local_ops *local)
{
	struct virtio_pci *vp = alloc_device(vm, device_type, name, -1, backend_queues, config_len,
					     local);

	if (!vp) {
		vhk_close(k);
		return NULL;
	}
	vp->vhk = *k;
	vp->vhk.name = vp->name;
	vp->be_ops = &vhk_ops;
	vp->be = &vp->vhk;
	/* What the kernel does not know (MAC, offloads, the control queue) is never sent to it. */
	uint64_t offered = vp->vhk.features | extra | (local ? local->features : 0);
	vp->vmm_features = offered & ~vp->vhk.features;
	vp->device_features = offered | VIRTIO_F_VERSION_1;
	memcpy(vp->config, config, config_len);
	if (add_to_bus(vp) < 0 || watch_kernel_errors(vp) < 0) {
		log_error("%s: cannot create the virtio-pci device", name);
		virtio_pci_destroy(vp);
		return NULL;
	}
	return vp;
}

/* Also takes the device off a running VM's buses (its vCPUs paused meanwhile): hotplug. */
void virtio_pci_destroy(struct virtio_pci *vp)
{
	bool paused;

	if (!vp)
		return;
	paused = vm_devices_lock(vp->vm);
	if (vp->notify_base)
		set_ioeventfds(vp, vp->notify_base, false);
	vp->notify_base = 0;
	pci_bus_remove(&vp->vm->pci, &vp->pci);
	vm_devices_unlock(vp->vm, paused);
	if (vp->watched)
		event_loop_del(vp->vm->loop, vp->vhu.fd);
	vpci_stop_retry(vp);
	if (vp->local_watched)
		event_loop_del(vp->vm->loop, vp->q[vp->nr_backend_queues].kick_fd);
	if (vp->err_watched)
		event_loop_del(vp->vm->loop, vp->vhk.err_fd);
	vhu_close(&vp->vhu);
	vhu_drop_inflight(&vp->vhu);
	vhk_close(&vp->vhk);
	for (unsigned int i = 0; i < vp->nr_queues; i++) {
		if (vp->q[i].kick_fd >= 0)
			close(vp->q[i].kick_fd);
		if (vp->q[i].idle_call_fd >= 0)
			close(vp->q[i].idle_call_fd);
	}
	for (unsigned int i = 0; i < vp->nr_vectors; i++) {
		struct vpci_vector *v = &vp->vec[i];
		if (v->gsi >= 0 && v->fd >= 0)
			irq_irqfd(&vp->vm->irq, v->gsi, v->fd, false);
		if (v->gsi >= 0)
			irq_msi_free(&vp->vm->irq, v->gsi);
		if (v->fd >= 0)
			close(v->fd);
	}
	pthread_mutex_destroy(&vp->lock);
	free(vp->local_chain);
	free(vp);
}
