/* acpi_pm.c: ACPI PM1 event/control blocks, PM timer, GPE0, the SCI, and the PCI and CPU hotplug registers. */
#include "acpi_pm.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "acpi.h"
#include "exit_codes.h"
#include "layout.h"
#include "log.h"
#include "pci_hotplug.h"
#include "vm.h"

/* Written from ACPI 6.3, 4.8.2 (PM1 registers, PM timer) and 5.6.4 (GPE blocks); the hotplug
 * registers follow the layout QEMU's PIIX4 machine gives its ACPI PCI hotplug (PCIU, PCID,
 * B0EJ), which the DSDT's \_SB.PCI0.PCNT and PCEJ methods read and write (acpi.c). */

#define PM1_TMR                 (1u << 0)
#define PM1_GBL                 (1u << 5)
#define PM1_PWRBTN              (1u << 8)
#define PM1_SLPBTN              (1u << 9)
#define PM1_RTC                 (1u << 10)
#define PM1_WAK                 (1u << 15)
#define PM1_EN_MASK             (PM1_TMR | PM1_GBL | PM1_PWRBTN | PM1_SLPBTN | PM1_RTC)
#define PM1_CNT_SCI_EN          (1u << 0)
#define PM1_CNT_SLP_TYP(v)      (((v) >> 10) & 7)
#define PM1_CNT_SLP_EN          (1u << 13)
#define PM1_CNT_RW_MASK         0x1c06u   /* BM_RLD, GBL_RLS, SLP_TYP; SCI_EN reads 1 */
#define SLP_TYP_S5              5         /* the DSDT's \_S5 */
#define PM_TIMER_HZ             3579545ull
#define PCIHP_UP                0         /* register offsets in the hotplug block */
#define PCIHP_DOWN              4
#define PCIHP_EJECT             8
#define PCIHP_LEN               12
#define PCIHP_SLOTS             0xfffffffeu /* slots 1..31; 0 is the host bridge */

struct acpi_pm;

/* A 16-bit status register (write 1 to clear) followed by its 16-bit enable register: the
 * layout of both the PM1 event block and this GPE0 block. */
struct sts_en {
	struct acpi_pm *pm;
	uint16_t sts, en, en_mask;
};

struct acpi_pm {
	struct vm *vm;
	pthread_mutex_t lock;      /* every register below: vCPU threads, the main loop */
	struct sts_en pm1, gpe;
	uint16_t pm1_cnt;
	uint32_t pci_up, pci_down; /* slots to report as arrived / to ask the guest to eject */
	uint8_t cpu_present[32], cpu_insert[32], cpu_remove[32]; /* CPUHP_* bitmaps, bit n: CPU n */
	bool sci;                  /* the level last put on the SCI line */
};

uint32_t acpi_pm_timer_ticks(uint64_t ns)
{
	return (uint32_t)((ns / 1000000000ull) * PM_TIMER_HZ +
			  (ns % 1000000000ull) * PM_TIMER_HZ / 1000000000ull);
}

/* Raises or lowers the SCI to match the enabled status bits; lock held. */
static void sci_update(struct acpi_pm *pm)
{
	bool level = (pm->pm1.sts & pm->pm1.en) || (pm->gpe.sts & pm->gpe.en);

	if (level != pm->sci && vm_set_irq_line(pm->vm, ACPI_SCI_IRQ, level) == 0)
		pm->sci = level;
}

/* Byte i (0-based) of a little-endian value, and a merge of one written byte. */
static uint8_t byte_of(uint32_t v, unsigned int i)
{
	return (uint8_t)(v >> (8 * i));
}

static uint16_t with_byte(uint16_t v, unsigned int i, uint8_t b)
{
	return (uint16_t)((v & ~(0xffu << (8 * i))) | ((unsigned int)b << (8 * i)));
}

/* ---- PM1 event block and GPE0 block: status (write 1 to clear), then enable ---------- */

static void sts_en_read(void *opaque, uint64_t off, uint8_t *d, uint32_t len)
{
	struct sts_en *r = opaque;

	pthread_mutex_lock(&r->pm->lock);
	for (uint32_t i = 0; i < len; i++) {
		uint64_t o = off + i;
		d[i] = o < 2 ? byte_of(r->sts, (unsigned int)o) :
		       o < 4 ? byte_of(r->en, (unsigned int)o - 2) : 0xff;
	}
	pthread_mutex_unlock(&r->pm->lock);
}

static void sts_en_write(void *opaque, uint64_t off, const uint8_t *d, uint32_t len)
{
	struct sts_en *r = opaque;

	pthread_mutex_lock(&r->pm->lock);
	for (uint32_t i = 0; i < len; i++) {
		uint64_t o = off + i;
		if (o < 2)
			r->sts &= (uint16_t)~((unsigned int)d[i] << (8 * o));
		else if (o < 4)
			r->en = with_byte(r->en, (unsigned int)o - 2, d[i]) & r->en_mask;
	}
	sci_update(r->pm);
	pthread_mutex_unlock(&r->pm->lock);
}

/* ---- PM1 control: SCI_EN always set (no SMI_CMD: the machine is always in ACPI mode) ---- */

static void pm1_cnt_read(void *opaque, uint64_t off, uint8_t *d, uint32_t len)
{
	struct acpi_pm *pm = opaque;

	pthread_mutex_lock(&pm->lock);
	for (uint32_t i = 0; i < len; i++)
		d[i] = off + i < 2 ? byte_of(pm->pm1_cnt | PM1_CNT_SCI_EN, (unsigned int)(off + i)) : 0xff;
	pthread_mutex_unlock(&pm->lock);
}

static void pm1_cnt_write(void *opaque, uint64_t off, const uint8_t *d, uint32_t len)
{
	struct acpi_pm *pm = opaque;
	uint16_t v;

	pthread_mutex_lock(&pm->lock);
	v = pm->pm1_cnt;
	for (uint32_t i = 0; i < len && off + i < 2; i++)
		v = with_byte(v, (unsigned int)(off + i), d[i]);
	pm->pm1_cnt = v & PM1_CNT_RW_MASK;
	pthread_mutex_unlock(&pm->lock);
	/* SLP_EN is write-only: it acts on the SLP_TYP written with it. */
	if ((v & PM1_CNT_SLP_EN) && PM1_CNT_SLP_TYP(v) == SLP_TYP_S5)
		vm_request_stop(pm->vm, EXIT_POWEROFF, "guest powered off (ACPI S5, PM1 control)");
	else if (v & PM1_CNT_SLP_EN)
		log_warn("acpi: guest asked for sleep type %u, which cellvm does not offer; ignored",
			 PM1_CNT_SLP_TYP(v));
}

/* ---- PM timer: free-running 32-bit counter (FADT TMR_VAL_EXT) ------------------------- */

static void pm_tmr_read(void *opaque, uint64_t off, uint8_t *d, uint32_t len)
{
	struct timespec ts;
	uint32_t t;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	t = acpi_pm_timer_ticks((uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec);
	for (uint32_t i = 0; i < len; i++)
		d[i] = off + i < 4 ? byte_of(t, (unsigned int)(off + i)) : 0xff;
}

static void ignore_write(void *opaque, uint64_t off, const uint8_t *d, uint32_t len)
{
}

/* ---- PCI hotplug: PCIU and PCID clear as they are read; a B0EJ write ejects slots ----- */

static uint8_t take_byte(uint32_t *reg, unsigned int i)
{
	uint8_t b = byte_of(*reg, i);

	*reg &= ~(0xffu << (8 * i));
	return b;
}

static void pcihp_read(void *opaque, uint64_t off, uint8_t *d, uint32_t len)
{
	struct acpi_pm *pm = opaque;

	pthread_mutex_lock(&pm->lock);
	for (uint32_t i = 0; i < len; i++) {
		uint64_t o = off + i;
		d[i] = o < PCIHP_DOWN ? take_byte(&pm->pci_up, (unsigned int)(o - PCIHP_UP)) :
		       o < PCIHP_EJECT ? take_byte(&pm->pci_down, (unsigned int)(o - PCIHP_DOWN)) : 0;
	}
	pthread_mutex_unlock(&pm->lock);
}

static void pcihp_write(void *opaque, uint64_t off, const uint8_t *d, uint32_t len)
{
	struct acpi_pm *pm = opaque;
	uint32_t ej = 0;

	for (uint32_t i = 0; i < len; i++)
		if (off + i >= PCIHP_EJECT && off + i < PCIHP_LEN)
			ej |= (uint32_t)d[i] << (8 * (off + i - PCIHP_EJECT));
	ej &= PCIHP_SLOTS;
	for (unsigned int slot = 1; slot < 32; slot++) {
		if (!(ej & (1u << slot)))
			continue;
		log_info("acpi: the guest ejected PCI slot %u", slot);
		if (pm->vm->pci_ejected)
			pm->vm->pci_ejected(pm->vm, slot);
	}
}

/* Sets bit in up or down and the hotplug GPE; any thread. */
static void pcihp_event(struct vm *vm, unsigned int slot, bool up)
{
	struct acpi_pm *pm = vm->acpi_pm;

	if (!pm || slot == 0 || slot >= 32)
		return;
	pthread_mutex_lock(&pm->lock);
	if (up)
		pm->pci_up |= 1u << slot;
	else
		pm->pci_down |= 1u << slot;
	pm->gpe.sts |= 1u << ACPI_GPE_PCIHP;
	sci_update(pm);
	pthread_mutex_unlock(&pm->lock);
}

void pci_hotplug_inserted(struct vm *vm, unsigned int slot)
{
	pcihp_event(vm, slot, true);
}

void pci_hotplug_request_eject(struct vm *vm, unsigned int slot)
{
	pcihp_event(vm, slot, false);
}

/* ---- CPU hotplug: present bitmap, insert and remove events (write 1 to clear), eject -- */

static bool bit(const uint8_t *map, unsigned int n)
{
	return map[n / 8] & (1u << (n % 8));
}

static void cpuhp_read(void *opaque, uint64_t off, uint8_t *d, uint32_t len)
{
	struct acpi_pm *pm = opaque;

	pthread_mutex_lock(&pm->lock);
	for (uint32_t i = 0; i < len; i++) {
		uint64_t o = off + i;
		d[i] = o < CPUHP_INSERT ? pm->cpu_present[o] :
		       o < CPUHP_REMOVE ? pm->cpu_insert[o - CPUHP_INSERT] :
		       o < CPUHP_EJECT ? pm->cpu_remove[o - CPUHP_REMOVE] : 0;
	}
	pthread_mutex_unlock(&pm->lock);
}

/* The guest's _EJ0 for cpu: it has offlined it; the vCPU stays parked (KVM cannot destroy one)
 * and can be hotplugged again. CPU 0 (the boot processor) is never ejected. */
static void cpu_ejected(struct acpi_pm *pm, unsigned int cpu)
{
	if (cpu == 0 || !bit(pm->cpu_present, cpu)) {
		log_warn("acpi: the guest ejected CPU %u, which %s; ignored", cpu,
			 cpu ? "is not present" : "is the boot processor");
		return;
	}
	pm->cpu_present[cpu / 8] &= (uint8_t)~(1u << (cpu % 8));
	pm->cpu_remove[cpu / 8] &= (uint8_t)~(1u << (cpu % 8));
	log_info("acpi: the guest ejected CPU %u", cpu);
}

static void cpuhp_write(void *opaque, uint64_t off, const uint8_t *d, uint32_t len)
{
	struct acpi_pm *pm = opaque;

	pthread_mutex_lock(&pm->lock);
	for (uint32_t i = 0; i < len; i++) {
		uint64_t o = off + i;
		if (o >= CPUHP_INSERT && o < CPUHP_REMOVE)
			pm->cpu_insert[o - CPUHP_INSERT] &= (uint8_t)~d[i];
		else if (o >= CPUHP_REMOVE && o < CPUHP_EJECT)
			pm->cpu_remove[o - CPUHP_REMOVE] &= (uint8_t)~d[i];
		else if (o == CPUHP_EJECT)
			cpu_ejected(pm, d[i]);
	}
	pthread_mutex_unlock(&pm->lock);
}

/* Sets cpu's bit in map (and present with it for an insert) and raises the CPU hotplug GPE. */
static void cpuhp_event(struct vm *vm, unsigned int cpu, bool insert)
{
	struct acpi_pm *pm = vm->acpi_pm;

	if (!pm || cpu == 0 || cpu >= 256)
		return;
	pthread_mutex_lock(&pm->lock);
	if (insert) {
		pm->cpu_present[cpu / 8] |= (uint8_t)(1u << (cpu % 8));
		pm->cpu_insert[cpu / 8] |= (uint8_t)(1u << (cpu % 8));
	} else {
		pm->cpu_remove[cpu / 8] |= (uint8_t)(1u << (cpu % 8));
	}
	pm->gpe.sts |= 1u << ACPI_GPE_CPUHP;
	sci_update(pm);
	pthread_mutex_unlock(&pm->lock);
}

void acpi_pm_cpu_inserted(struct vm *vm, unsigned int cpu)
{
	cpuhp_event(vm, cpu, true);
}

void acpi_pm_cpu_request_eject(struct vm *vm, unsigned int cpu)
{
	cpuhp_event(vm, cpu, false);
}

bool acpi_pm_cpu_present(struct vm *vm, unsigned int cpu)
{
	struct acpi_pm *pm = vm->acpi_pm;
	bool present;

	if (!pm || cpu >= 256)
		return false;
	pthread_mutex_lock(&pm->lock);
	present = bit(pm->cpu_present, cpu);
	pthread_mutex_unlock(&pm->lock);
	return present;
}

bool acpi_pm_cpu_removal_pending(struct vm *vm)
{
	struct acpi_pm *pm = vm->acpi_pm;
	bool pending = false;

	if (!pm)
		return false;
	pthread_mutex_lock(&pm->lock);
	for (unsigned int i = 0; i < sizeof(pm->cpu_remove); i++)
		pending |= (pm->cpu_remove[i] & pm->cpu_present[i]) != 0;
	pthread_mutex_unlock(&pm->lock);
	return pending;
}

bool acpi_pm_power_button(struct vm *vm)
{
	struct acpi_pm *pm = vm->acpi_pm;
	bool enabled;

	if (!pm)
		return false;
	pthread_mutex_lock(&pm->lock);
	pm->pm1.sts |= PM1_PWRBTN;
	enabled = pm->pm1.en & PM1_PWRBTN;
	sci_update(pm);
	pthread_mutex_unlock(&pm->lock);
	return enabled;
}

/* ---- the platform device ------------------------------------------------------------ */

static const struct bus_ops sts_en_ops = { .read = sts_en_read, .write = sts_en_write };
static const struct bus_ops pm1_cnt_ops = { .read = pm1_cnt_read, .write = pm1_cnt_write };
static const struct bus_ops pm_tmr_ops = { .read = pm_tmr_read, .write = ignore_write };
static const struct bus_ops pcihp_ops = { .read = pcihp_read, .write = pcihp_write };
static const struct bus_ops cpuhp_ops = { .read = cpuhp_read, .write = cpuhp_write };

static int acpi_pm_register(struct vm *vm, struct acpi_pm *pm)
{
	int rc = bus_register(&vm->pio, PORT_ACPI_PM1_EVT, 4, &sts_en_ops, &pm->pm1, "acpi-pm1-evt");

	if (rc == 0)
		rc = bus_register(&vm->pio, PORT_ACPI_PM1_CNT, 2, &pm1_cnt_ops, pm, "acpi-pm1-cnt");
	if (rc == 0)
		rc = bus_register(&vm->pio, PORT_ACPI_PM_TMR, 4, &pm_tmr_ops, pm, "acpi-pm-tmr");
	if (rc == 0)
		rc = bus_register(&vm->pio, PORT_ACPI_GPE0, 4, &sts_en_ops, &pm->gpe, "acpi-gpe0");
	if (rc == 0)
		rc = bus_register(&vm->pio, PORT_ACPI_PCIHP, PCIHP_LEN, &pcihp_ops, pm, "acpi-pcihp");
	if (rc == 0)
		rc = bus_register(&vm->pio, PORT_ACPI_CPUHP, CPUHP_LEN, &cpuhp_ops, pm, "acpi-cpuhp");
	return rc;
}

static int acpi_pm_create(struct vm *vm, void **state)
{
	struct acpi_pm *pm = calloc(1, sizeof(*pm));
	int rc;

	*state = NULL;
	if (!pm)
		return -ENOMEM;
	pm->vm = vm;
	pm->pm1 = (struct sts_en){ .pm = pm, .en_mask = PM1_EN_MASK };
	pm->gpe = (struct sts_en){ .pm = pm, .en_mask = 0xffff };
	for (unsigned int cpu = 0; cpu < vm->nr_vcpus && cpu < 256; cpu++)  /* the boot vCPUs */
		pm->cpu_present[cpu / 8] |= (uint8_t)(1u << (cpu % 8));
	pthread_mutex_init(&pm->lock, NULL);
	rc = acpi_pm_register(vm, pm);
	if (rc < 0) {
		pthread_mutex_destroy(&pm->lock);
		free(pm);
		return rc;
	}
	*state = pm;
	vm->acpi_pm = pm;
	return 0;
}

static void acpi_pm_destroy(void *state)
{
	struct acpi_pm *pm = state;

	pm->vm->acpi_pm = NULL;
	pthread_mutex_destroy(&pm->lock);
	free(pm);
}

static const struct platform_device acpi_pm_device = {
	.name = "acpi-pm",
	.create = acpi_pm_create,
	.destroy = acpi_pm_destroy,
};
PLATFORM_DEVICE_DECLARE(acpi_pm_device);
