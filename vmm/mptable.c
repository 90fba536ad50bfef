/* mptable.c: builds the Intel MultiProcessor Specification 1.4 table (floating pointer + config table). */
#include "acpi.h"

#include <errno.h>
#include <string.h>

/*
 * Written from the Intel MultiProcessor Specification 1.4, chapter 4. Layout at buf:
 *   MP floating pointer (16) | config table header (44) | processors (20 each) | bus ISA (8)
 *   | I/O APIC (8) | I/O interrupts for ISA IRQs 0,1,3..15 (8 each) | LINT0, LINT1 (8 each)
 * Little-endian x86 host assumed, as in acpi.c.
 */

#define MP_SPEC_REV        4      /* MP spec 1.4 */
#define MP_MAX_CPUS        254    /* xAPIC IDs 0..253, the I/O APIC takes nr_cpus */
#define MP_LAPIC_VERSION   0x14   /* integrated local APIC */
#define MP_IOAPIC_VERSION  0x11
#define MP_CPU_SIGNATURE   0x00000600  /* family 6, model 0, stepping 0 */
#define MP_CPU_FEATURES    0x00000201  /* CPUID.1:EDX FPU (bit 0) | APIC (bit 9) */
#define MP_ISA_IRQS        16

struct mp_floating {
	char signature[4];      /* "_MP_" */
	uint32_t config_ptr;    /* GPA of the config table */
	uint8_t length;         /* in 16-byte units: 1 */
	uint8_t spec_rev;
	uint8_t checksum;
	uint8_t features[5];    /* all 0: config table present, virtual wire mode */
} __attribute__((packed));
_Static_assert(sizeof(struct mp_floating) == 16, "MP floating pointer is 16 bytes");

struct mp_config {
	char signature[4];      /* "PCMP" */
	uint16_t base_length;   /* header + entries */
	uint8_t spec_rev;
	uint8_t checksum;
	char oem_id[8];
	char product_id[12];
	uint32_t oem_table_ptr;
	uint16_t oem_table_size;
	uint16_t entry_count;
	uint32_t lapic_address;
	uint16_t ext_length;
	uint8_t ext_checksum;
	uint8_t reserved;
} __attribute__((packed));
_Static_assert(sizeof(struct mp_config) == 44, "MP config table header is 44 bytes");

enum mp_entry_type { MP_PROCESSOR = 0, MP_BUS = 1, MP_IOAPIC = 2, MP_IO_INT = 3, MP_LOCAL_INT = 4 };

struct mp_processor {
	uint8_t type, lapic_id, lapic_version, cpu_flags;   /* bit 0 EN, bit 1 BP */
	uint32_t cpu_signature;
	uint32_t feature_flags;
	uint32_t reserved[2];
} __attribute__((packed));
_Static_assert(sizeof(struct mp_processor) == 20, "MP processor entry is 20 bytes");

struct mp_bus {
	uint8_t type, bus_id;
	char bus_type[6];       /* "ISA   " */
} __attribute__((packed));
_Static_assert(sizeof(struct mp_bus) == 8, "MP bus entry is 8 bytes");

struct mp_ioapic {
	uint8_t type, ioapic_id, ioapic_version, flags;     /* bit 0 EN */
	uint32_t address;
} __attribute__((packed));
_Static_assert(sizeof(struct mp_ioapic) == 8, "MP I/O APIC entry is 8 bytes");

/* I/O interrupt (type 3) and local interrupt (type 4) entries share this layout. */
struct mp_interrupt {
	uint8_t type, int_type;
	uint16_t flags;         /* polarity bits 1:0, trigger bits 3:2; 0 = conforms to the bus */
	uint8_t src_bus_id, src_bus_irq, dst_id, dst_pin;
} __attribute__((packed));
_Static_assert(sizeof(struct mp_interrupt) == 8, "MP interrupt entry is 8 bytes");

enum mp_int_type { MP_INT = 0, MP_NMI = 1, MP_SMI = 2, MP_EXTINT = 3 };

#define MP_CPU_EN          0x01
#define MP_CPU_BP          0x02
#define MP_IOAPIC_EN       0x01
#define MP_ISA_BUS_ID      0
#define MP_ALL_LAPICS      0xff
#define MP_IO_INT_ENTRIES  (MP_ISA_IRQS - 1)    /* IRQ 2 (the cascade) has no entry */
#define MP_LOCAL_INT_ENTRIES 2

/* Bytes used by the floating pointer and the config table for n processors. */
#define MP_SIZE(n)                                                                              \
	(sizeof(struct mp_floating) + sizeof(struct mp_config) + (n) * sizeof(struct mp_processor) + \
	 sizeof(struct mp_bus) + sizeof(struct mp_ioapic) +                                       \
	 (MP_IO_INT_ENTRIES + MP_LOCAL_INT_ENTRIES) * sizeof(struct mp_interrupt))

_Static_assert(MP_SIZE(MPTABLE_EBDA_MAX_CPUS) <= 1024, "MPTABLE_EBDA_MAX_CPUS fits in 1 KiB");
_Static_assert(MP_SIZE(MPTABLE_EBDA_MAX_CPUS + 1) > 1024, "MPTABLE_EBDA_MAX_CPUS is the most that fit");

static uint8_t mp_checksum(const uint8_t *p, size_t len)
{
	uint8_t sum = 0;

	for (size_t i = 0; i < len; i++)
		sum = (uint8_t)(sum + p[i]);
	return (uint8_t)-sum;
}

/* Appends one entry at *p and advances it. */
static void mp_put(uint8_t **p, const void *entry, size_t len)
{
	memcpy(*p, entry, len);
	*p += len;
}

static void mp_processors(uint8_t **p, unsigned int nr_cpus)
{
	for (unsigned int i = 0; i < nr_cpus; i++) {
		const struct mp_processor cpu = {
			.type = MP_PROCESSOR, .lapic_id = (uint8_t)i, .lapic_version = MP_LAPIC_VERSION,
			.cpu_flags = (uint8_t)(MP_CPU_EN | (i == 0 ? MP_CPU_BP : 0)),
			.cpu_signature = MP_CPU_SIGNATURE, .feature_flags = MP_CPU_FEATURES,
		};
		mp_put(p, &cpu, sizeof(cpu));
	}
}

/* Bus ISA, the I/O APIC, ISA IRQs 0..15 (IRQ 0 on pin 2, no IRQ 2), LINT0 ExtINT, LINT1 NMI. */
static void mp_bus_and_interrupts(uint8_t **p, const struct machine_desc *m)
{
	const uint8_t ioapic_id = (uint8_t)m->nr_cpus;
	const struct mp_bus bus = { .type = MP_BUS, .bus_id = MP_ISA_BUS_ID, .bus_type = "ISA   " };
	const struct mp_ioapic io = { .type = MP_IOAPIC, .ioapic_id = ioapic_id,
				      .ioapic_version = MP_IOAPIC_VERSION, .flags = MP_IOAPIC_EN,
				      .address = (uint32_t)m->ioapic_base };
	const struct mp_interrupt lint0 = { .type = MP_LOCAL_INT, .int_type = MP_EXTINT,
					    .src_bus_id = MP_ISA_BUS_ID, .dst_id = MP_ALL_LAPICS, .dst_pin = 0 };
	const struct mp_interrupt lint1 = { .type = MP_LOCAL_INT, .int_type = MP_NMI,
					    .src_bus_id = MP_ISA_BUS_ID, .dst_id = MP_ALL_LAPICS, .dst_pin = 1 };

	mp_put(p, &bus, sizeof(bus));
	mp_put(p, &io, sizeof(io));
	for (uint8_t irq = 0; irq < MP_ISA_IRQS; irq++) {
		const struct mp_interrupt e = { .type = MP_IO_INT, .int_type = MP_INT, .flags = 0,
						.src_bus_id = MP_ISA_BUS_ID, .src_bus_irq = irq,
						.dst_id = ioapic_id, .dst_pin = irq == 0 ? 2 : irq };
		if (irq != 2)
			mp_put(p, &e, sizeof(e));
	}
	mp_put(p, &lint0, sizeof(lint0));
	mp_put(p, &lint1, sizeof(lint1));
}

static void mp_config_header(uint8_t *cfg, size_t len, const struct machine_desc *m)
{
	struct mp_config h;

	memset(&h, 0, sizeof(h));
	memcpy(h.signature, "PCMP", 4);
	h.base_length = (uint16_t)len;
	h.spec_rev = MP_SPEC_REV;
	memcpy(h.oem_id, "CELLVM  ", 8);
	memcpy(h.product_id, "CELLVM      ", 12);
	h.entry_count = (uint16_t)(m->nr_cpus + 2 + MP_IO_INT_ENTRIES + MP_LOCAL_INT_ENTRIES);
	h.lapic_address = (uint32_t)m->lapic_base;
	memcpy(cfg, &h, sizeof(h));
	cfg[offsetof(struct mp_config, checksum)] = mp_checksum(cfg, len);
}

static void mp_floating_pointer(uint8_t *buf, uint64_t config_gpa)
{
	struct mp_floating f;

	memset(&f, 0, sizeof(f));
	memcpy(f.signature, "_MP_", 4);
	f.config_ptr = (uint32_t)config_gpa;
	f.length = 1;
	f.spec_rev = MP_SPEC_REV;
	f.checksum = mp_checksum((const uint8_t *)&f, sizeof(f));
	memcpy(buf, &f, sizeof(f));
}

long mptable_build(uint8_t *buf, uint64_t buf_gpa, size_t buf_len, const struct machine_desc *m)
{
	uint8_t *cfg, *p;
	size_t len;

	if (!buf || !m || m->nr_cpus == 0 || m->nr_cpus > MP_MAX_CPUS)
		return -EINVAL;
	/* The MP table holds 32-bit addresses only. */
	if (m->lapic_base > UINT32_MAX || m->ioapic_base > UINT32_MAX ||
	    buf_gpa > UINT32_MAX - sizeof(struct mp_floating))
		return -EINVAL;
	len = MP_SIZE((size_t)m->nr_cpus);
	if (len > buf_len)
		return -ENOSPC;
	cfg = buf + sizeof(struct mp_floating);
	p = cfg + sizeof(struct mp_config);
	mp_processors(&p, m->nr_cpus);
	mp_bus_and_interrupts(&p, m);
	mp_config_header(cfg, (size_t)(p - cfg), m);
	mp_floating_pointer(buf, buf_gpa + sizeof(struct mp_floating));
	return (long)(p - buf);
}
