/* virtio.c: virtio 1.x over PCI (modern transport): capabilities, status/feature handshake,
   MSI-X vectors, split virtqueues with interrupt-driven completion. */
#include "virtio.h"

#define PCI_CAP_VENDOR 0x09
#define CAP_COMMON 1
#define CAP_NOTIFY 2
#define CAP_ISR 3
#define CAP_DEVICE 4
#define CAP_PCI_CFG 5

/* common configuration */
#define CC_DFSELECT 0x00
#define CC_DF 0x04
#define CC_GFSELECT 0x08
#define CC_GF 0x0c
#define CC_MSIX 0x10
#define CC_NUMQ 0x12
#define CC_STATUS 0x14
#define CC_CFGGEN 0x15
#define CC_Q_SELECT 0x16
#define CC_Q_SIZE 0x18
#define CC_Q_MSIX 0x1a
#define CC_Q_ENABLE 0x1c
#define CC_Q_NOFF 0x1e
#define CC_Q_DESC 0x20
#define CC_Q_DRIVER 0x28
#define CC_Q_DEVICE 0x30

#define S_ACK 1
#define S_DRIVER 2
#define S_DRIVER_OK 4
#define S_FEATURES_OK 8
#define S_NEEDS_RESET 0x40
#define S_FAILED 0x80

#define LAPIC_ID 0x20
#define LAPIC_SVR 0xf0
#define LAPIC_TPR 0x80
#define LAPIC_LVT_TIMER 0x320
#define LAPIC_TIMER_INIT 0x380
#define LAPIC_TIMER_DIV 0x3e0

static volatile u64 irq_count[256];

static void virtio_irq(int vector)
{
	irq_count[vector]++;
}

static void tick(int vector)
{
	(void)vector;
	timer_ticks++;
}

/* LAPIC on, the MSI-X vectors' gates, and a 10 ms periodic LAPIC timer so that every
   `sti; hlt` wait is bounded even if no device interrupt comes. */
void virtio_irq_start(void)
{
	u64 base = rdmsr(0x1b);
	if (!(base & (1u << 11)) || (base & (1u << 10)))
		test_fail("local APIC disabled or in x2APIC mode (APIC base MSR 0x%lx)", base);
	for (int v = 0; v < VIRTIO_VECTORS; v++)
		irq_register(VIRTIO_VECTOR_BASE + v, virtio_irq);
	irq_register(TIMER_VECTOR, tick);
	lapic_write(LAPIC_SVR, 0x100 | SPURIOUS_VECTOR);
	lapic_write(LAPIC_TPR, 0);
	lapic_write(LAPIC_TIMER_DIV, 0x3);
	lapic_write(LAPIC_LVT_TIMER, (1u << 17) | TIMER_VECTOR);
	lapic_write(LAPIC_TIMER_INIT, 625000);
}

void virtio_irq_stop(void)
{
	lapic_write(LAPIC_LVT_TIMER, (1u << 16) | TIMER_VECTOR);
	lapic_write(LAPIC_TIMER_INIT, 0);
}

static const char *cap_name(u8 t)
{
	static const char *n[] = { "?", "common", "notify", "isr", "device", "pci-cfg", "shm", "vendor" };
	return t < 8 ? n[t] : "?";
}

static int virtio_parse_caps(struct vdev *v)
{
	struct pci_dev *d = &v->pci;
	int have = 0;
	for (u8 c = pci_find_cap(d, PCI_CAP_VENDOR, 0); c; c = pci_find_cap(d, PCI_CAP_VENDOR, c)) {
		u8 type = pci_read8(d, c + 3u), bar = pci_read8(d, c + 4u), len = pci_read8(d, c + 2u);
		u32 off = pci_read32(d, c + 8u), length = pci_read32(d, c + 12u);
		u32 mult = type == CAP_NOTIFY ? pci_read32(d, c + 16u) : 0;
		pr("probe: virtio cap 0x%x: %s (type %u) BAR%u offset 0x%x length 0x%x cap_len %u%s\n", c,
		   cap_name(type), type, bar, off, length, len, type == CAP_NOTIFY ? " (notify)" : "");
		if (type < CAP_COMMON || type > CAP_DEVICE || (have & (1 << type)))
			continue;	/* the first of each type is the preferred one */
		if (bar > 5 || d->bar_io[bar] || !d->bar[bar] || (u64)off + length > d->bar_size[bar]) {
			pr("probe: virtio cap 0x%x: BAR%u not a usable memory BAR; ignored\n", c, bar);
			continue;
		}
		u64 a = d->bar[bar] + off;
		switch (type) {
		case CAP_COMMON:
			if (length < 0x38)
				test_fail("common config capability too short (0x%x)", length);
			v->common = a;
			break;
		case CAP_NOTIFY:
			v->notify = a;
			v->notify_mult = mult;
			v->notify_len = length;
			pr("probe: virtio notify_off_multiplier %u\n", mult);
			break;
		case CAP_ISR: v->isr = a; break;
		case CAP_DEVICE:
			v->device = a;
			v->device_len = length;
			break;
		}
		have |= 1 << type;
	}
	return have;
}

int virtio_find(struct vdev *v, u16 type)
{
	static struct pci_dev devs[PCI_MAX_DEVS];
	int n = pci_scan(devs, PCI_MAX_DEVS);
	memset(v, 0, sizeof(*v));
	for (int i = 0; i < n; i++) {
		struct pci_dev *d = &devs[i];
		if (d->vendor != VIRTIO_VENDOR)
			continue;
		u16 dtype = 0;
		if (d->device >= 0x1040 && d->device <= 0x107f)
			dtype = (u16)(d->device - 0x1040);
		else if (d->device >= 0x1000 && d->device <= 0x103f)
			dtype = pci_read16(d, 0x2e);	/* transitional: subsystem ID */
		if (dtype != type)
			continue;
		v->pci = *d;
		pr("probe: virtio device type %u at 00:%02x.%x (%04x:%04x, revision %u)\n", type, d->dev, d->fn,
		   d->vendor, d->device, pci_read8(d, 0x08));
		pci_setup_bars(&v->pci);
		int have = virtio_parse_caps(v);
		int need = (1 << CAP_COMMON) | (1 << CAP_NOTIFY) | (1 << CAP_ISR) | (1 << CAP_DEVICE);
		if ((have & need) != need)
			test_fail("virtio device at 00:%02x.%x lacks modern capabilities (have mask 0x%x)", d->dev,
				  d->fn, have);
		return 0;
	}
	return -1;
}

u16 virtio_status(struct vdev *v)
{
	return mmio_read8(v->common + CC_STATUS);
}

static void set_status(struct vdev *v, u8 bits)
{
	mmio_write8(v->common + CC_STATUS, (u8)(mmio_read8(v->common + CC_STATUS) | bits));
}

void virtio_reset(struct vdev *v)
{
	mmio_write8(v->common + CC_STATUS, 0);
	u64 deadline = rdtsc() + tsc_hz();
	while (mmio_read8(v->common + CC_STATUS) != 0) {
		if (rdtsc() > deadline)
			test_fail("device status still 0x%x 1 s after reset", mmio_read8(v->common + CC_STATUS));
		cpu_relax();
	}
}

/* Device-config reads, retried while config_generation changes. */
#define CFG_READ(bits)                                                                           \
	u##bits virtio_cfg##bits(struct vdev *v, u32 off)                                        \
	{                                                                                        \
		if (off + bits / 8 > v->device_len)                                              \
			test_fail("device config read at 0x%x beyond its length 0x%x", off, v->device_len); \
		u8 g;                                                                            \
		u##bits r;                                                                       \
		do {                                                                             \
			g = mmio_read8(v->common + CC_CFGGEN);                                   \
			r = *(volatile u##bits *)(v->device + off);                              \
		} while (g != mmio_read8(v->common + CC_CFGGEN));                                \
		return r;                                                                        \
	}
CFG_READ(8)
CFG_READ(16)
CFG_READ(32)

u64 virtio_cfg64(struct vdev *v, u32 off)
{
	u8 g;
	u64 r;
	do {
		g = mmio_read8(v->common + CC_CFGGEN);
		r = virtio_cfg32(v, off) | ((u64)virtio_cfg32(v, off + 4) << 32);
	} while (g != mmio_read8(v->common + CC_CFGGEN));
	return r;
}

static void write64(u64 a, u64 val)
{
	mmio_write32(a, (u32)val);
	mmio_write32(a + 4, (u32)(val >> 32));
}

static void queue_setup(struct vdev *v, int i)
{
	struct vq *q = &v->vq[i];
	u64 c = v->common;
	mmio_write16(c + CC_Q_SELECT, (u16)i);
	u16 max = mmio_read16(c + CC_Q_SIZE);
	if (!max)
		test_fail("queue %d: size 0 (not available)", i);
	if (mmio_read16(c + CC_Q_ENABLE))
		test_fail("queue %d: enabled before the driver set it up", i);
	u16 size = max > VQ_MAX_SIZE ? VQ_MAX_SIZE : max;
	if (size & (size - 1))
		test_fail("queue %d: size %u is not a power of 2", i, size);
	memset(q, 0, sizeof(*q));
	q->index = (u16)i;
	q->size = size;
	/* one page each: descriptors (16 * size), avail (6 + 2 * size), used (6 + 8 * size) */
	u64 mem = heap_alloc(4096 * 3, 4096);
	memset(phys(mem), 0, 4096 * 3);
	q->desc = phys(mem);
	q->avail = phys(mem + 4096);
	q->used = phys(mem + 8192);
	for (u16 d = 0; d < size; d++)
		q->desc[d].next = (u16)(d + 1);
	q->num_free = size;
	mmio_write16(c + CC_Q_SIZE, size);
	write64(c + CC_Q_DESC, mem);
	write64(c + CC_Q_DRIVER, mem + 4096);
	write64(c + CC_Q_DEVICE, mem + 8192);
	q->vector = (u16)(VIRTIO_VECTOR_BASE + 1 + i);
	pci_msix_set(&v->msix, (u16)(i + 1), (u8)q->vector, v->apic_id);
	mmio_write16(c + CC_Q_MSIX, (u16)(i + 1));
	u16 got = mmio_read16(c + CC_Q_MSIX);
	if (got != i + 1)
		test_fail("queue %d: device did not accept MSI-X entry %d (reads 0x%x)", i, i + 1, got);
	q->notify_off = mmio_read16(c + CC_Q_NOFF);
	q->notify_addr = v->notify + (u64)q->notify_off * v->notify_mult;
	if ((u64)q->notify_off * v->notify_mult + 2 > v->notify_len)
		test_fail("queue %d: notify_off %u * multiplier %u + 2 is beyond the notify capability's length 0x%x",
			  i, q->notify_off, v->notify_mult, v->notify_len);
	mmio_write16(c + CC_Q_ENABLE, 1);
	if (mmio_read16(c + CC_Q_ENABLE) != 1)
		test_fail("queue %d: queue_enable did not stick", i);
	q->irq_seen = irq_count[q->vector];
	pr("probe: virtio queue %d: size %u (device max %u), rings at 0x%lx, MSI-X entry %d -> vector 0x%x, "
	   "notify_off %u -> 0x%lx\n",
	   i, size, max, mem, i + 1, q->vector, q->notify_off, q->notify_addr);
}

void virtio_start(struct vdev *v, u64 wanted, int nq)
{
	u64 c = v->common;
	virtio_reset(v);
	set_status(v, S_ACK);
	set_status(v, S_DRIVER);
	mmio_write32(c + CC_DFSELECT, 0);
	u64 f = mmio_read32(c + CC_DF);
	mmio_write32(c + CC_DFSELECT, 1);
	f |= (u64)mmio_read32(c + CC_DF) << 32;
	v->offered = f;
	v->num_queues = mmio_read16(c + CC_NUMQ);
	pr("probe: virtio features offered 0x%lx, num_queues %u\n", f, v->num_queues);
	if (!(f & (1ULL << VIRTIO_F_VERSION_1))) {
		set_status(v, S_FAILED);
		test_fail("device does not offer VIRTIO_F_VERSION_1 (features 0x%lx)", f);
	}
	v->features = f & (wanted | (1ULL << VIRTIO_F_VERSION_1));
	mmio_write32(c + CC_GFSELECT, 0);
	mmio_write32(c + CC_GF, (u32)v->features);
	mmio_write32(c + CC_GFSELECT, 1);
	mmio_write32(c + CC_GF, (u32)(v->features >> 32));
	set_status(v, S_FEATURES_OK);
	u8 st = mmio_read8(c + CC_STATUS);
	if (!(st & S_FEATURES_OK))
		test_fail("FEATURES_OK did not stick (status 0x%x) for features 0x%lx", st, v->features);
	/* num_queues may depend on the features (virtio-net's MQ): read it again */
	v->num_queues = mmio_read16(c + CC_NUMQ);
	pr("probe: virtio features negotiated 0x%lx, status 0x%x, num_queues %u\n", v->features, st, v->num_queues);

	if (nq > VIRTIO_MAX_QUEUES || nq > v->num_queues)
		test_fail("%d queues wanted, device has %u (probe max %d)", nq, v->num_queues, VIRTIO_MAX_QUEUES);
	if (pci_msix_enable(&v->pci, &v->msix))
		test_fail("no MSI-X capability");
	if (v->msix.nvec < nq + 1)
		test_fail("MSI-X table has %u entries, %d needed (config + %d queues)", v->msix.nvec, nq + 1, nq);
	v->apic_id = (u8)(lapic_read(LAPIC_ID) >> 24);
	pci_msix_set(&v->msix, 0, VIRTIO_VECTOR_BASE, v->apic_id);
	mmio_write16(c + CC_MSIX, 0);
	if (mmio_read16(c + CC_MSIX) != 0)
		test_fail("device did not accept MSI-X entry 0 for config changes (reads 0x%x)",
			  mmio_read16(c + CC_MSIX));
	for (int i = 0; i < nq; i++)
		queue_setup(v, i);
	v->nq = nq;
	pci_msix_unmask_function(&v->pci, &v->msix);
	set_status(v, S_DRIVER_OK);
	st = mmio_read8(c + CC_STATUS);
	if ((st & (S_DRIVER_OK | S_NEEDS_RESET | S_FAILED)) != S_DRIVER_OK)
		test_fail("device status 0x%x after DRIVER_OK", st);
	pr("probe: virtio DRIVER_OK, status 0x%x, MSI-X destination APIC %u\n", st, v->apic_id);
}

int vq_add(struct vq *q, const struct vbuf *b, int n, void *cookie)
{
	if (n < 1 || q->num_free < n)
		return -1;
	u16 head = q->free_head, d = head, last = head;
	for (int i = 0; i < n; i++) {
		q->desc[d].addr = b[i].addr;
		q->desc[d].len = b[i].len;
		q->desc[d].flags = (u16)((b[i].device_writes ? VIRTQ_DESC_F_WRITE : 0) |
					 (i + 1 < n ? VIRTQ_DESC_F_NEXT : 0));
		last = d;
		d = q->desc[d].next;
	}
	q->free_head = d;
	q->num_free = (u16)(q->num_free - n);
	(void)last;
	q->cookie[head] = cookie;
	q->avail->ring[q->avail_idx & (q->size - 1)] = head;
	q->avail_idx++;
	q->requests++;
	return 0;
}

void vq_kick(struct vdev *v, struct vq *q)
{
	barrier();			/* ring entries before the index (x86 keeps store order) */
	q->avail->idx = q->avail_idx;
	__asm__ volatile("mfence" ::: "memory");	/* index before the notify write */
	(void)v;
	mmio_write16(q->notify_addr, q->index);
}

/* Takes every new used entry of q; returns how many. */
static int vq_harvest(struct vq *q, void (*done)(void *cookie, u32 len))
{
	int n = 0;
	for (;;) {
		u16 idx = q->used->idx;
		barrier();		/* the index before the entries it covers */
		if (idx == q->last_used)
			break;
		while (q->last_used != idx) {
			struct virtq_used_elem e = { q->used->ring[q->last_used & (q->size - 1)].id,
						     q->used->ring[q->last_used & (q->size - 1)].len };
			q->last_used++;
			if (e.id >= q->size)
				test_fail("queue %u: used id %u out of range", q->index, e.id);
			u16 d = (u16)e.id, cnt = 1;
			while (q->desc[d].flags & VIRTQ_DESC_F_NEXT) {
				d = q->desc[d].next;
				cnt++;
			}
			q->desc[d].next = q->free_head;
			q->free_head = (u16)e.id;
			q->num_free = (u16)(q->num_free + cnt);
			void *ck = q->cookie[e.id];
			q->cookie[e.id] = 0;
			if (!ck)
				test_fail("queue %u: used id %u was not in flight", q->index, e.id);
			done(ck, e.len);
			n++;
		}
	}
	return n;
}

#define POLL_AFTER_S 2

int vq_wait(struct vdev *v, struct vq **qs, int n, void (*done)(void *cookie, u32 len), u64 timeout_s)
{
	u64 start = rdtsc(), hz = tsc_hz();
	u64 poll_at = start + hz * POLL_AFTER_S, deadline = start + hz * timeout_s;
	for (;;) {
		int fired = 0, got = 0;
		__asm__ volatile("cli");
		for (int i = 0; i < n; i++)
			fired |= irq_count[qs[i]->vector] != qs[i]->irq_seen;
		if (!fired) {
			if (rdtsc() < deadline && rdtsc() < poll_at) {
				__asm__ volatile("sti; hlt; cli" ::: "memory");
				continue;
			}
		}
		for (int i = 0; i < n; i++) {
			struct vq *q = qs[i];
			u64 c = irq_count[q->vector];
			if (c != q->irq_seen) {
				q->irqs += c - q->irq_seen;
				q->irq_seen = c;
				int k = vq_harvest(q, done);
				q->by_irq += (u64)k;
				got += k;
			}
		}
		if (got)
			return got;
		if (!fired && rdtsc() >= poll_at) {
			for (int i = 0; i < n; i++) {
				int k = vq_harvest(qs[i], done);
				if (k)
					pr("probe: virtio: queue %u: no interrupt within %d s; %d completions found by "
					   "POLLING the used ring\n",
					   qs[i]->index, POLL_AFTER_S, k);
				qs[i]->by_poll += (u64)k;
				got += k;
			}
			if (got)
				return got;
			poll_at = rdtsc() + hz * POLL_AFTER_S;
		}
		if (rdtsc() >= deadline) {
			u16 st = virtio_status(v);
			test_fail("no completion within %lu s (queue %u: avail %u used %u, status 0x%x, timer ticks %lu)",
				  timeout_s, qs[0]->index, qs[0]->avail_idx, qs[0]->used->idx, st, timer_ticks);
		}
	}
}
