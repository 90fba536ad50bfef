/* irq.h: KVM GSI routing: the irqchip's default pins plus MSI routes for PCI devices. */
#ifndef CELLVM_IRQ_H
#define CELLVM_IRQ_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define IRQ_IOAPIC_PINS 24
#define IRQ_MAX_MSI     256
#define IRQ_MSI_GSI_BASE IRQ_IOAPIC_PINS

struct irq_msi {
	bool used, enabled;
	uint64_t addr;
	uint32_t data;
};

struct irq_routing {
	int vm_fd;
	pthread_mutex_t lock;       /* vCPU threads program MSI-X tables concurrently */
	struct irq_msi msi[IRQ_MAX_MSI];
};

void irq_routing_init(struct irq_routing *r, int vm_fd);
void irq_routing_destroy(struct irq_routing *r);
/* Reserves an MSI GSI (no route until irq_msi_set); returns it or -ENOSPC. */
int irq_msi_alloc(struct irq_routing *r);
void irq_msi_free(struct irq_routing *r, int gsi);
/* Points gsi at the MSI (addr, data), or removes its route when !enabled; pushes the whole
 * table to KVM. Returns 0 or -errno. */
int irq_msi_set(struct irq_routing *r, int gsi, uint64_t addr, uint32_t data, bool enabled);
/* Binds eventfd to gsi (KVM_IRQFD) or unbinds it. Returns 0 or -errno. */
int irq_irqfd(struct irq_routing *r, int gsi, int eventfd, bool assign);

#endif
