/* acpi.c: builds the guest's ACPI tables (RSDP, XSDT, HW-reduced FADT, AML DSDT, MADT, MCFG). */
#include "acpi.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "acpi_internal.h"
#include "aml.h"

/*
 * Written from the ACPI 6.3 specification (chapter 5) and the PCI Firmware Specification 3.2
 * (MCFG, 4.1.2; the host bridge's ACPI objects, chapter 4). All multi-byte fields are little-endian;
 * cellvm only runs on x86-64 hosts, so native stores are used.
 *
 * Buffer layout, each piece 16-byte aligned, gaps zero-filled:
 *   RSDP (36) | XSDT (36 + 3*8) | FADT (276) | DSDT (36 + AML) | MADT (44 + 8n + 12 + 10 + 6)
 *   | MCFG (44 + 16)
 * The XSDT lists the FADT, the MADT and the MCFG; the DSDT is reached through FADT.X_DSDT.
 */

#define ACPI_OEM_ID           "CELLVM"
#define ACPI_OEM_REVISION     1
#define ACPI_CREATOR_ID       "CLVM"
#define ACPI_CREATOR_REVISION 1
#define ACPI_ALIGN            16
#define ACPI_MAX_CPUS         254   /* xAPIC IDs 0..253; 255 is broadcast, 254 the I/O APIC */
#define PCI_TYPE1_PORT        0xcf8 /* CONFIG_ADDRESS/CONFIG_DATA, 0xcf8-0xcff (PCI 3.0, 3.2.2.3.2) */
#define PCI_TYPE1_PORT_LEN    8
#define PCI_ECAM_BUS_SIZE     (1u << 20)  /* 32 devices * 8 functions * 4 KiB */

/* ---- Table layouts ---------------------------------------------------------------- */

struct acpi_rsdp {
	char signature[8];          /* "RSD PTR " */
	uint8_t checksum;           /* first 20 bytes sum to 0 */
	char oem_id[6];
	uint8_t revision;           /* 2: ACPI 2.0+ */
	uint32_t rsdt_address;      /* 0: no RSDT, use the XSDT */
	uint32_t length;            /* 36 */
	uint64_t xsdt_address;
	uint8_t extended_checksum;  /* all 36 bytes sum to 0 */
	uint8_t reserved[3];
} __attribute__((packed));
_Static_assert(sizeof(struct acpi_rsdp) == 36, "RSDP is 36 bytes");

struct acpi_header {
	char signature[4];
	uint32_t length;
	uint8_t revision;
	uint8_t checksum;
	char oem_id[6];
	char oem_table_id[8];
	uint32_t oem_revision;
	char creator_id[4];
	uint32_t creator_revision;
} __attribute__((packed));
_Static_assert(sizeof(struct acpi_header) == 36, "ACPI table header is 36 bytes");

/* Generic Address Structure (ACPI 6.3, 5.2.3.2). */
struct acpi_gas {
	uint8_t space_id;           /* 1: System I/O */
	uint8_t bit_width;
	uint8_t bit_offset;
	uint8_t access_size;        /* 1: byte access */
	uint64_t address;
} __attribute__((packed));
_Static_assert(sizeof(struct acpi_gas) == 12, "GAS is 12 bytes");

/* Fixed ACPI Description Table, revision 6 (ACPI 6.3, 5.2.9, table 5-34). */
struct acpi_fadt {
	struct acpi_header hdr;
	uint32_t firmware_ctrl;
	uint32_t dsdt;
	uint8_t reserved0;
	uint8_t preferred_pm_profile;
	uint16_t sci_int;
	uint32_t smi_cmd;
	uint8_t acpi_enable, acpi_disable, s4bios_req, pstate_cnt;
	uint32_t pm1a_evt_blk, pm1b_evt_blk, pm1a_cnt_blk, pm1b_cnt_blk;
	uint32_t pm2_cnt_blk, pm_tmr_blk, gpe0_blk, gpe1_blk;
	uint8_t pm1_evt_len, pm1_cnt_len, pm2_cnt_len, pm_tmr_len;
	uint8_t gpe0_blk_len, gpe1_blk_len, gpe1_base, cst_cnt;
	uint16_t p_lvl2_lat, p_lvl3_lat, flush_size, flush_stride;
	uint8_t duty_offset, duty_width, day_alrm, mon_alrm, century;
	uint16_t iapc_boot_arch;
	uint8_t reserved1;
	uint32_t flags;
	struct acpi_gas reset_reg;
	uint8_t reset_value;
	uint16_t arm_boot_arch;
	uint8_t fadt_minor_version;
	uint64_t x_firmware_ctrl;
	uint64_t x_dsdt;
	struct acpi_gas x_pm1a_evt_blk, x_pm1b_evt_blk, x_pm1a_cnt_blk, x_pm1b_cnt_blk;
	struct acpi_gas x_pm2_cnt_blk, x_pm_tmr_blk, x_gpe0_blk, x_gpe1_blk;
	struct acpi_gas sleep_control_reg;
	struct acpi_gas sleep_status_reg;
	uint64_t hypervisor_vendor_identity;
} __attribute__((packed));
_Static_assert(sizeof(struct acpi_fadt) == 276, "FADT revision 6 is 276 bytes");
_Static_assert(offsetof(struct acpi_fadt, flags) == 112, "FADT Flags at 112");
_Static_assert(offsetof(struct acpi_fadt, x_dsdt) == 140, "FADT X_DSDT at 140");
_Static_assert(offsetof(struct acpi_fadt, sleep_control_reg) == 244, "FADT SLEEP_CONTROL_REG at 244");

#define FADT_REVISION              6
#define FADT_MINOR_REVISION        3      /* ACPI 6.3 */
#define FADT_F_WBINVD              (1u << 0)
#define FADT_F_PROC_C1             (1u << 2)
#define FADT_F_SLP_BUTTON          (1u << 5)  /* no sleep button (the power button is fixed) */
#define FADT_F_TMR_VAL_EXT         (1u << 8)  /* the PM timer counts 32 bits */
#define FADT_F_RESET_REG_SUP       (1u << 10)
#define FADT_F_HW_REDUCED_ACPI     (1u << 20)
#define FADT_BOOT_ARCH_VGA_NOT_PRESENT (1u << 2)
#define FADT_BOOT_ARCH_NO_CMOS_RTC     (1u << 5)
#define FADT_C2_NOT_SUPPORTED      101        /* P_LVL2_LAT > 100 */
#define FADT_C3_NOT_SUPPORTED      1001       /* P_LVL3_LAT > 1000 */
#define ACPI_GAS_SYSTEM_IO         1
#define ACPI_GAS_ACCESS_BYTE       1

/* Multiple APIC Description Table, revision 5 (ACPI 6.3, 5.2.12). */
struct acpi_madt {
	struct acpi_header hdr;
	uint32_t lapic_address;
	uint32_t flags;             /* bit 0: PCAT_COMPAT */
} __attribute__((packed));
_Static_assert(sizeof(struct acpi_madt) == 44, "MADT header is 44 bytes");

struct madt_lapic {             /* type 0 */
	uint8_t type, length, processor_uid, apic_id;
	uint32_t flags;             /* bit 0: Enabled */
} __attribute__((packed));
_Static_assert(sizeof(struct madt_lapic) == 8, "MADT Local APIC entry is 8 bytes");

struct madt_ioapic {            /* type 1 */
	uint8_t type, length, ioapic_id, reserved;
	uint32_t address;
	uint32_t gsi_base;
} __attribute__((packed));
_Static_assert(sizeof(struct madt_ioapic) == 12, "MADT I/O APIC entry is 12 bytes");

struct madt_iso {               /* type 2: Interrupt Source Override */
	uint8_t type, length, bus, source;
	uint32_t gsi;
	uint16_t flags;             /* MPS INTI flags */
} __attribute__((packed));
_Static_assert(sizeof(struct madt_iso) == 10, "MADT Interrupt Source Override is 10 bytes");

struct madt_lapic_nmi {         /* type 4 */
	uint8_t type, length, processor_uid;
	uint16_t flags;
	uint8_t lint;
} __attribute__((packed));
_Static_assert(sizeof(struct madt_lapic_nmi) == 6, "MADT Local APIC NMI is 6 bytes");

/* PCI Express memory-mapped configuration space table (PCI Firmware 3.2, 4.1.2). */
struct acpi_mcfg {
	struct acpi_header hdr;
	uint64_t reserved;
} __attribute__((packed));
_Static_assert(sizeof(struct acpi_mcfg) == 44, "MCFG header is 44 bytes");

struct mcfg_allocation {        /* one per PCI segment group / bus range */
	uint64_t base;              /* ECAM address of bus 0 of the segment (even if start_bus > 0) */
	uint16_t segment;
	uint8_t start_bus;
	uint8_t end_bus;
	uint32_t reserved;
} __attribute__((packed));
_Static_assert(sizeof(struct mcfg_allocation) == 16, "MCFG allocation is 16 bytes");

#define MCFG_REVISION         1
#define MADT_REVISION         5
#define MADT_PCAT_COMPAT      1u
#define MADT_LAPIC_ONLINE_CAPABLE 2u
#define MPS_INTI_EDGE_HIGH    0x0005  /* polarity 01 active high, trigger 01 edge */
#define MPS_INTI_LEVEL_HIGH   0x000d  /* polarity 01 active high, trigger 11 level */
#define MPS_INTI_CONFORMS     0x0000

/* ---- Output buffer ------------------------------------------------------------------ */

struct acpi_out {
	uint8_t *buf;
	size_t cap;
	size_t used;
};

/* Reserves size bytes at the next 16-byte boundary, zero-filling the gap and the piece.
 * Returns the offset or -ENOSPC. */
static long out_alloc(struct acpi_out *o, size_t size)
{
	size_t off = (o->used + ACPI_ALIGN - 1) & ~(size_t)(ACPI_ALIGN - 1);

	if (off > o->cap || size > o->cap - off)
		return -ENOSPC;
	memset(o->buf + o->used, 0, off + size - o->used);
	o->used = off + size;
	return (long)off;
}

static uint8_t acpi_checksum(const uint8_t *p, size_t len)
{
	uint8_t sum = 0;

	for (size_t i = 0; i < len; i++)
		sum = (uint8_t)(sum + p[i]);
	return (uint8_t)-sum;
}

/* Sets the checksum byte (offset 9) of the table at off, whose length is in its header. */
static void acpi_table_seal(struct acpi_out *o, size_t off)
{
	struct acpi_header h;

	memcpy(&h, o->buf + off, sizeof(h));
	h.checksum = 0;
	memcpy(o->buf + off, &h, sizeof(h));
	o->buf[off + offsetof(struct acpi_header, checksum)] = acpi_checksum(o->buf + off, h.length);
}

static void acpi_header_init(struct acpi_header *h, const char *sig, uint32_t len, uint8_t rev)
{
	memset(h, 0, sizeof(*h));
	memcpy(h->signature, sig, 4);
	h->length = len;
	h->revision = rev;
	memcpy(h->oem_id, ACPI_OEM_ID, 6);
	/* "CELLVM" + the first two letters of the signature: CELLVMFA, CELLVMDS, ... */
	memcpy(h->oem_table_id, ACPI_OEM_ID, 6);
	memcpy(h->oem_table_id + 6, sig, 2);
	h->oem_revision = ACPI_OEM_REVISION;
	memcpy(h->creator_id, ACPI_CREATOR_ID, 4);
	h->creator_revision = ACPI_CREATOR_REVISION;
}

/* 32-bit copy of a GPA for the legacy pointer fields, 0 where it does not fit. */
static uint32_t gpa32(uint64_t gpa)
{
	return gpa > UINT32_MAX ? 0 : (uint32_t)gpa;
}

/* ---- DSDT ---------------------------------------------------------------------------- */

/* Device (COM1) { _HID EisaId("PNP0501"), _UID 0, _CRS { IO 0x3F8/8, IRQNoFlags {4} } } */
static void dsdt_com1(struct aml *a)
{
	struct res_template crs = { .n = 0 };
	size_t dev = aml_device_begin(a, "COM1");

	aml_name(a, "_HID");
	aml_eisaid(a, "PNP0501");
	aml_name_integer(a, "_UID", 0);
	res_io16(&crs, 0x3f8, 0x3f8, 0, 8);
	res_irq_noflags(&crs, 4);
	res_end(&crs);
	aml_name_resources(a, "_CRS", &crs);
	aml_pkg_end(a, dev);
}

/* Bytes of ECAM for buses 0..last_bus of a segment. */
static uint64_t ecam_size(const struct machine_desc *m)
{
	return ((uint64_t)m->pci_last_bus + 1) * PCI_ECAM_BUS_SIZE;
}

/*
 * Device (PCI0): the PCI Express host bridge of segment 0, buses 0..pci_last_bus
 * (PCI Firmware 3.2, chapter 4; ACPI 6.3, 6.1 and 6.2). _CRS lists the bus numbers, the
 * type-1 configuration ports it consumes, and the windows it forwards: all I/O ports
 * but 0xcf8-0xcff, and the 32-bit BAR window. Devices use MSI-X only, so no _PRT.
 */
static void dsdt_pci0(struct aml *a, const struct machine_desc *m)
{
	struct res_template crs = { .n = 0 };
	size_t dev = aml_device_begin(a, "PCI0");

	aml_name(a, "_HID");
	aml_eisaid(a, "PNP0A08");     /* PCI Express root bridge */
	aml_name(a, "_CID");
	aml_eisaid(a, "PNP0A03");     /* PCI root bridge, for OSes without PCIe support */
	aml_name_integer(a, "_SEG", 0);
	aml_name_integer(a, "_BBN", 0);
	aml_name_integer(a, "_UID", 0);
	res_word_bus(&crs, 0, m->pci_last_bus);
	res_io16(&crs, PCI_TYPE1_PORT, PCI_TYPE1_PORT, 1, PCI_TYPE1_PORT_LEN);
	res_word_io(&crs, 0x0000, PCI_TYPE1_PORT - 1);
	res_word_io(&crs, PCI_TYPE1_PORT + PCI_TYPE1_PORT_LEN, 0xffff);
	res_dword_mem(&crs, (uint32_t)m->pci_mmio_start, (uint32_t)(m->pci_mmio_end - 1));
	res_end(&crs);
	aml_name_resources(a, "_CRS", &crs);
	if (m->pm1_evt_port)
		dsdt_pcihp(a, m);
	aml_pkg_end(a, dev);
}

/* Device (MB00): motherboard resources (PNP0C02) reserving the ECAM window. The MCFG alone
 * reserves nothing, and Linux uses the MCFG's ECAM only once it finds that range among
 * the _CRS of PNP0C01/PNP0C02 devices (or reserved in the e820 map). */
static void dsdt_mb00(struct aml *a, const struct machine_desc *m)
{
	struct res_template crs = { .n = 0 };
	size_t dev = aml_device_begin(a, "MB00");

	aml_name(a, "_HID");
	aml_eisaid(a, "PNP0C02");
	aml_name_integer(a, "_UID", 0);
	res_mem32_fixed(&crs, (uint32_t)m->pci_ecam_base, (uint32_t)ecam_size(m));
	res_end(&crs);
	aml_name_resources(a, "_CRS", &crs);
	aml_pkg_end(a, dev);
}

/*
 * Name (_S5, Package () { 0x05, 0x00, 0x00, 0x00 }): SLP_TYPa = 5.
 *
 * Power-off protocol the VMM must recognise on the sleep control port (m->sleep_ctl_port,
 * which is also the sleep status port): Linux first writes 0x80 (WAK_STS, "clear wake
 * status") and then (SLP_TYP << 2) | SLP_EN = (5 << 2) | (1 << 5) = 0x34. The VMM should
 * power off on a byte with SLP_EN (bit 5) set and SLP_TYP (bits 4:2) == 5, i.e. 0x34,
 * and ignore other writes (reads may return 0).
 */
static void dsdt_s5(struct aml *a)
{
	size_t pkg;

	aml_name(a, "_S5_");
	pkg = aml_package_begin(a, 4);
	aml_integer(a, 5);
	aml_integer(a, 0);
	aml_integer(a, 0);
	aml_integer(a, 0);
	aml_pkg_end(a, pkg);
}

/* Writes the DSDT at the end of o; returns its offset or -ENOSPC. */
static long build_dsdt(struct acpi_out *o, const struct machine_desc *m)
{
	struct acpi_header h;
	struct aml a;
	size_t sb;
	long off = out_alloc(o, sizeof(h));

	if (off < 0)
		return off;
	a = (struct aml){ .p = o->buf + o->used, .cap = o->cap - o->used };
	dsdt_s5(&a);
	sb = aml_scope_begin(&a, "\\_SB_");
	dsdt_com1(&a);
	dsdt_pci0(&a, m);
	dsdt_mb00(&a, m);
	if (cpu_hotplug(m))
		dsdt_cpus(&a, m);
	aml_pkg_end(&a, sb);
	if (m->pm1_evt_port)
		dsdt_gpe(&a, m);
	if (a.overflow)
		return -ENOSPC;
	o->used += a.len;
	acpi_header_init(&h, "DSDT", (uint32_t)(sizeof(h) + a.len), 2);  /* rev 2: 64-bit integers */
	memcpy(o->buf + off, &h, sizeof(h));
	acpi_table_seal(o, (size_t)off);
	return off;
}

/* ---- MADT ---------------------------------------------------------------------------- */

/* One override for IRQ 0, and with full ACPI a second one making the SCI level/high. */
static size_t madt_size(const struct machine_desc *m)
{
	return sizeof(struct acpi_madt) + m->nr_cpus * sizeof(struct madt_lapic) +
	       sizeof(struct madt_ioapic) + (m->pm1_evt_port ? 2 : 1) * sizeof(struct madt_iso) +
	       sizeof(struct madt_lapic_nmi);
}

/* Boot CPUs are enabled; hotpluggable ones are "online capable" (ACPI 6.3, 5.2.12.2), which
 * Linux needs to count them as possible CPUs with a revision 5 MADT. */
static uint32_t lapic_flags(const struct machine_desc *m, unsigned int i)
{
	return !m->nr_boot_cpus || i < m->nr_boot_cpus ? MADT_LAPIC_ENABLED : MADT_LAPIC_ONLINE_CAPABLE;
}

/* Writes the MADT entries after the header at p. */
static void madt_entries(uint8_t *p, const struct machine_desc *m)
{
	const struct madt_ioapic io = { .type = 1, .length = sizeof(io), .ioapic_id = (uint8_t)m->nr_cpus,
					.address = (uint32_t)m->ioapic_base, .gsi_base = 0 };
	const struct madt_iso iso = { .type = 2, .length = sizeof(iso), .bus = 0, .source = 0, .gsi = 2,
				      .flags = MPS_INTI_EDGE_HIGH };
	const struct madt_lapic_nmi nmi = { .type = 4, .length = sizeof(nmi), .processor_uid = 0xff,
					    .flags = MPS_INTI_CONFORMS, .lint = 1 };

	for (unsigned int i = 0; i < m->nr_cpus; i++) {
		const struct madt_lapic l = { .type = 0, .length = sizeof(l), .processor_uid = (uint8_t)i,
					      .apic_id = (uint8_t)i, .flags = lapic_flags(m, i) };
		memcpy(p, &l, sizeof(l));
		p += sizeof(l);
	}
	memcpy(p, &io, sizeof(io));
	p += sizeof(io);
	memcpy(p, &iso, sizeof(iso));
	p += sizeof(iso);
	if (m->pm1_evt_port) {
		const struct madt_iso sci = { .type = 2, .length = sizeof(sci), .bus = 0,
					      .source = m->sci_irq, .gsi = m->sci_irq,
					      .flags = MPS_INTI_LEVEL_HIGH };
		memcpy(p, &sci, sizeof(sci));
		p += sizeof(sci);
	}
	memcpy(p, &nmi, sizeof(nmi));
}

static long build_madt(struct acpi_out *o, const struct machine_desc *m)
{
	struct acpi_madt madt;
	size_t len = madt_size(m);
	long off = out_alloc(o, len);

	if (off < 0)
		return off;
	acpi_header_init(&madt.hdr, "APIC", (uint32_t)len, MADT_REVISION);
	madt.lapic_address = (uint32_t)m->lapic_base;
	madt.flags = MADT_PCAT_COMPAT;
	memcpy(o->buf + off, &madt, sizeof(madt));
	madt_entries(o->buf + off + sizeof(madt), m);
	acpi_table_seal(o, (size_t)off);
	return off;
}

/* ---- MCFG ---------------------------------------------------------------------------- */

/* One allocation: segment 0, buses 0..pci_last_bus at pci_ecam_base. */
static long build_mcfg(struct acpi_out *o, const struct machine_desc *m)
{
	struct acpi_mcfg mcfg;
	const struct mcfg_allocation alloc = { .base = m->pci_ecam_base, .segment = 0, .start_bus = 0,
					       .end_bus = m->pci_last_bus };
	long off = out_alloc(o, sizeof(mcfg) + sizeof(alloc));

	if (off < 0)
		return off;
	memset(&mcfg, 0, sizeof(mcfg));
	acpi_header_init(&mcfg.hdr, "MCFG", sizeof(mcfg) + sizeof(alloc), MCFG_REVISION);
	memcpy(o->buf + off, &mcfg, sizeof(mcfg));
	memcpy(o->buf + off + sizeof(mcfg), &alloc, sizeof(alloc));
	acpi_table_seal(o, (size_t)off);
	return off;
}

/* ---- FADT, XSDT, RSDP ---------------------------------------------------------------- */

static struct acpi_gas gas_io8(uint16_t port)
{
	return (struct acpi_gas){ .space_id = ACPI_GAS_SYSTEM_IO, .bit_width = 8, .bit_offset = 0,
				  .access_size = ACPI_GAS_ACCESS_BYTE, .address = port };
}

/* Full ACPI (ACPI 6.3, 4.8): the fixed registers of acpi_pm.c, the SCI, a fixed-feature power
 * button (PWR_BUTTON clear), no sleep button, no SMI_CMD (always in ACPI mode: SCI_EN reads 1),
 * no C2/C3, no CMOS RTC. Legacy 32-bit block fields only: ACPICA derives the X_ forms. */
static void fadt_full(struct acpi_fadt *f, uint64_t facs_gpa, const struct machine_desc *m)
{
	f->flags = FADT_F_WBINVD | FADT_F_PROC_C1 | FADT_F_SLP_BUTTON | FADT_F_TMR_VAL_EXT |
		   FADT_F_RESET_REG_SUP;
	f->iapc_boot_arch |= FADT_BOOT_ARCH_NO_CMOS_RTC;
	f->firmware_ctrl = gpa32(facs_gpa);
	f->sci_int = m->sci_irq;
	f->pm1a_evt_blk = m->pm1_evt_port;
	f->pm1_evt_len = 4;
	f->pm1a_cnt_blk = m->pm1_cnt_port;
	f->pm1_cnt_len = 2;
	f->pm_tmr_blk = m->pm_tmr_port;
	f->pm_tmr_len = 4;
	f->gpe0_blk = m->gpe0_port;
	f->gpe0_blk_len = 4;
	f->p_lvl2_lat = FADT_C2_NOT_SUPPORTED;
	f->p_lvl3_lat = FADT_C3_NOT_SUPPORTED;
}

/* Hardware-reduced ACPI: sleep through the sleep control/status registers. */
static void fadt_reduced(struct acpi_fadt *f, const struct machine_desc *m)
{
	f->flags = FADT_F_HW_REDUCED_ACPI | FADT_F_RESET_REG_SUP;
	f->sleep_control_reg = gas_io8(m->sleep_ctl_port);
	f->sleep_status_reg = gas_io8(m->sleep_ctl_port);
}

static void build_fadt(struct acpi_out *o, size_t off, uint64_t dsdt_gpa, uint64_t facs_gpa,
		       const struct machine_desc *m)
{
	struct acpi_fadt f;

	memset(&f, 0, sizeof(f));
	acpi_header_init(&f.hdr, "FACP", sizeof(f), FADT_REVISION);
	f.fadt_minor_version = FADT_MINOR_REVISION;
	f.dsdt = gpa32(dsdt_gpa);
	f.x_dsdt = dsdt_gpa;
	f.iapc_boot_arch = FADT_BOOT_ARCH_VGA_NOT_PRESENT;
	f.reset_reg = gas_io8(m->reset_port);
	f.reset_value = m->reset_value;
	if (m->pm1_evt_port)
		fadt_full(&f, facs_gpa, m);
	else
		fadt_reduced(&f, m);
	memcpy(&f.hypervisor_vendor_identity, "CELLVM\0\0", 8);
	memcpy(o->buf + off, &f, sizeof(f));
	acpi_table_seal(o, off);
}

/* Firmware ACPI Control Structure (ACPI 6.3, 5.2.10): 64 bytes, 64-byte aligned, no checksum.
 * Only full ACPI has one; no waking vector (no S3), no global lock owner. */
#define FACS_LEN     64
#define FACS_ALIGN   64
#define FACS_VERSION 2

static long build_facs(struct acpi_out *o)
{
	long off = out_alloc(o, FACS_LEN + FACS_ALIGN);
	size_t at;
	uint32_t len = FACS_LEN;

	if (off < 0)
		return off;
	at = ((size_t)off + FACS_ALIGN - 1) & ~(size_t)(FACS_ALIGN - 1);
	memcpy(o->buf + at, "FACS", 4);
	memcpy(o->buf + at + 4, &len, 4);
	o->buf[at + 32] = FACS_VERSION;
	return (long)at;
}

#define XSDT_ENTRIES 3   /* FADT, MADT, MCFG */

static void build_xsdt(struct acpi_out *o, size_t off, const uint64_t entries[XSDT_ENTRIES])
{
	struct acpi_header h;

	acpi_header_init(&h, "XSDT", sizeof(h) + XSDT_ENTRIES * sizeof(uint64_t), 1);
	memcpy(o->buf + off, &h, sizeof(h));
	memcpy(o->buf + off + sizeof(h), entries, XSDT_ENTRIES * sizeof(uint64_t));
	acpi_table_seal(o, off);
}

static void build_rsdp(struct acpi_out *o, size_t off, uint64_t xsdt_gpa)
{
	struct acpi_rsdp r;

	memset(&r, 0, sizeof(r));
	memcpy(r.signature, "RSD PTR ", 8);
	memcpy(r.oem_id, ACPI_OEM_ID, 6);
	r.revision = 2;
	r.rsdt_address = 0;
	r.length = sizeof(r);
	r.xsdt_address = xsdt_gpa;
	r.checksum = acpi_checksum((const uint8_t *)&r, 20);
	r.extended_checksum = acpi_checksum((const uint8_t *)&r, sizeof(r));
	memcpy(o->buf + off, &r, sizeof(r));
}

/* ECAM for buses 0..n needs (n + 1) MiB aligned to that size rounded up to a power of two
 * (PCIe Base 4.0, 7.2.2); it must lie below 4 GiB to fit a Memory32Fixed descriptor. */
static bool ecam_ok(const struct machine_desc *m)
{
	uint64_t align = PCI_ECAM_BUS_SIZE;

	while (align < ecam_size(m))
		align <<= 1;
	return m->pci_ecam_base && m->pci_ecam_base % align == 0 &&
	       m->pci_ecam_base + ecam_size(m) <= (1ULL << 32);
}

static int acpi_check_args(const uint8_t *buf, const struct machine_desc *m)
{
	if (!buf || !m || m->nr_cpus == 0 || m->nr_cpus > ACPI_MAX_CPUS)
		return -EINVAL;
	if (m->lapic_base > UINT32_MAX || m->ioapic_base > UINT32_MAX)
		return -EINVAL;     /* the MADT holds 32-bit APIC addresses */
	if (!ecam_ok(m))
		return -EINVAL;
	/* Full ACPI needs every fixed block, an ISA SCI and a GPE inside the 16-bit GPE0 block. */
	if (m->pm1_evt_port && (!m->pm1_cnt_port || !m->pm_tmr_port || !m->gpe0_port ||
				!m->pcihp_port || m->sci_irq == 0 || m->sci_irq > 15 ||
				m->pcihp_gpe > 15))
		return -EINVAL;
	if (m->nr_boot_cpus > m->nr_cpus ||
	    (cpu_hotplug(m) && (!m->cpuhp_port || m->cpuhp_gpe > 15 || m->cpuhp_gpe == m->pcihp_gpe)))
		return -EINVAL;
	/* The BAR window must fit a DWordMemory descriptor. */
	if (m->pci_mmio_start >= m->pci_mmio_end || m->pci_mmio_end > (1ULL << 32))
		return -EINVAL;
	return 0;
}

long acpi_build(uint8_t *buf, uint64_t buf_gpa, size_t buf_len, const struct machine_desc *m)
{
	struct acpi_out o = { .buf = buf, .cap = buf_len, .used = 0 };
	long rsdp, xsdt, fadt, dsdt, madt, mcfg, facs = 0;
	uint64_t entries[XSDT_ENTRIES];
	int err = acpi_check_args(buf, m);

	if (err)
		return err;
	rsdp = out_alloc(&o, sizeof(struct acpi_rsdp));
	xsdt = out_alloc(&o, sizeof(struct acpi_header) + XSDT_ENTRIES * sizeof(uint64_t));
	fadt = out_alloc(&o, sizeof(struct acpi_fadt));
	if (rsdp < 0 || xsdt < 0 || fadt < 0)
		return -ENOSPC;
	dsdt = build_dsdt(&o, m);
	if (dsdt < 0)
		return dsdt;
	madt = build_madt(&o, m);
	if (madt < 0)
		return madt;
	mcfg = build_mcfg(&o, m);
	if (mcfg < 0)
		return mcfg;
	if (m->pm1_evt_port && (facs = build_facs(&o)) < 0)
		return facs;
	build_fadt(&o, (size_t)fadt, buf_gpa + (uint64_t)dsdt, facs ? buf_gpa + (uint64_t)facs : 0, m);
	entries[0] = buf_gpa + (uint64_t)fadt;
	entries[1] = buf_gpa + (uint64_t)madt;
	entries[2] = buf_gpa + (uint64_t)mcfg;
	build_xsdt(&o, (size_t)xsdt, entries);
	build_rsdp(&o, (size_t)rsdp, buf_gpa + (uint64_t)xsdt);
	return (long)o.used;
}
