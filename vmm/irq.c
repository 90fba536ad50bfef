/* irq.c: keeps the full GSI routing table (KVM replaces it whole) and binds irqfds to MSI routes. */
#include "irq.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#define PIC_MASTER 0
#define PIC_SLAVE  1
#define IOAPIC     2

void irq_routing_init(struct irq_routing *r, int vm_fd)
{
	memset(r, 0, sizeof(*r));
	r->vm_fd = vm_fd;
	pthread_mutex_init(&r->lock, NULL);
}

void irq_routing_destroy(struct irq_routing *r)
{
	pthread_mutex_destroy(&r->lock);
}

int irq_msi_alloc(struct irq_routing *r)
{
	int gsi = -ENOSPC;

	pthread_mutex_lock(&r->lock);
	for (int i = 0; i < IRQ_MAX_MSI && gsi < 0; i++) {
		if (!r->msi[i].used) {
			r->msi[i] = (struct irq_msi){ .used = true };
			gsi = IRQ_MSI_GSI_BASE + i;
		}
	}
	pthread_mutex_unlock(&r->lock);
	return gsi;
}

void irq_msi_free(struct irq_routing *r, int gsi)
{
	irq_msi_set(r, gsi, 0, 0, false);
	pthread_mutex_lock(&r->lock);
	r->msi[gsi - IRQ_MSI_GSI_BASE].used = false;
	pthread_mutex_unlock(&r->lock);
}

/* KVM's default routes: GSI 0-15 to the PICs and every GSI 0-23 to the IOAPIC pin. */
static unsigned int add_default_routes(struct kvm_irq_routing_entry *e)
{
	unsigned int n = 0;

	for (unsigned int gsi = 0; gsi < IRQ_IOAPIC_PINS; gsi++) {
		if (gsi < 16)
			e[n++] = (struct kvm_irq_routing_entry){ .gsi = gsi, .type = KVM_IRQ_ROUTING_IRQCHIP,
				.u.irqchip = { gsi < 8 ? PIC_MASTER : PIC_SLAVE, gsi % 8 } };
		e[n++] = (struct kvm_irq_routing_entry){ .gsi = gsi, .type = KVM_IRQ_ROUTING_IRQCHIP,
			.u.irqchip = { IOAPIC, gsi } };
	}
	return n;
}

/* Called with the lock held. */
static int push_routes(struct irq_routing *r)
{
	size_t max = 16 + IRQ_IOAPIC_PINS + IRQ_MAX_MSI;
	struct kvm_irq_routing *t = calloc(1, sizeof(*t) + max * sizeof(t->entries[0]));
	int rc = 0;

	if (!t)
		return -ENOMEM;
	t->nr = add_default_routes(t->entries);
	for (int i = 0; i < IRQ_MAX_MSI; i++) {
		const struct irq_msi *m = &r->msi[i];
		if (!m->used || !m->enabled)
			continue;
		t->entries[t->nr++] = (struct kvm_irq_routing_entry){
			.gsi = (uint32_t)(IRQ_MSI_GSI_BASE + i), .type = KVM_IRQ_ROUTING_MSI,
			.u.msi = { .address_lo = (uint32_t)m->addr, .address_hi = (uint32_t)(m->addr >> 32),
				   .data = m->data } };
	}
	if (ioctl(r->vm_fd, KVM_SET_GSI_ROUTING, t) < 0)
		rc = -errno;
	free(t);
	return rc;
}

int irq_msi_set(struct irq_routing *r, int gsi, uint64_t addr, uint32_t data, bool enabled)
{
	struct irq_msi *m;
	int rc = 0;

	if (gsi < IRQ_MSI_GSI_BASE || gsi >= IRQ_MSI_GSI_BASE + IRQ_MAX_MSI)
		return -EINVAL;
	pthread_mutex_lock(&r->lock);
	m = &r->msi[gsi - IRQ_MSI_GSI_BASE];
	if (m->enabled != enabled || m->addr != addr || m->data != data) {
		m->enabled = enabled;
		m->addr = addr;
		m->data = data;
		rc = push_routes(r);
	}
	pthread_mutex_unlock(&r->lock);
	return rc;
}

int irq_irqfd(struct irq_routing *r, int gsi, int eventfd, bool assign)
{
	struct kvm_irqfd f = { .fd = (uint32_t)eventfd, .gsi = (uint32_t)gsi,
			       .flags = assign ? 0 : KVM_IRQFD_FLAG_DEASSIGN };

	return ioctl(r->vm_fd, KVM_IRQFD, &f) < 0 ? -errno : 0;
}
