/* acpi.c: builds the guest's ACPI tables (RSDP, XSDT, HW-reduced FADT, hand-encoded AML DSDT, MADT). */
#include "acpi.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

/*
 * Written from the ACPI 6.3 specification (chapter 5). All multi-byte fields are
 * little-endian; cellvm only runs on x86-64 hosts, so native stores are used.
 *
 * Buffer layout, each piece 16-byte aligned, gaps zero-filled:
 *   RSDP (36) | XSDT (36 + 2*8) | FADT (276) | DSDT (36 + AML) | MADT (44 + 8n + 12 + 10 + 6)
 * The XSDT lists the FADT and the MADT; the DSDT is reached through FADT.X_DSDT.
 */

#define ACPI_OEM_ID           "CELLVM"
#define ACPI_OEM_REVISION     1
#define ACPI_CREATOR_ID       "CLVM"
#define ACPI_CREATOR_REVISION 1
#define ACPI_ALIGN            16
#define ACPI_MAX_CPUS         254   /* xAPIC IDs 0..253; 255 is broadcast, 254 the I/O APIC */

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
#define FADT_F_RESET_REG_SUP       (1u << 10)
#define FADT_F_HW_REDUCED_ACPI     (1u << 20)
#define FADT_BOOT_ARCH_VGA_NOT_PRESENT (1u << 2)
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

#define MADT_REVISION         5
#define MADT_PCAT_COMPAT      1u
#define MADT_LAPIC_ENABLED    1u
#define MPS_INTI_EDGE_HIGH    0x0005  /* polarity 01 active high, trigger 01 edge */
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

/* ---- AML encoder (ACPI 6.3, chapter 20) --------------------------------------------- */

struct aml {
	uint8_t *p;
	size_t cap;
	size_t len;
	bool overflow;
};

#define AML_ZERO_OP      0x00
#define AML_ONE_OP       0x01
#define AML_NAME_OP      0x08
#define AML_BYTE_PREFIX  0x0a
#define AML_WORD_PREFIX  0x0b
#define AML_DWORD_PREFIX 0x0c
#define AML_QWORD_PREFIX 0x0e
#define AML_SCOPE_OP     0x10
#define AML_BUFFER_OP    0x11
#define AML_PACKAGE_OP   0x12
#define AML_EXT_OP       0x5b
#define AML_DEVICE_OP    0x82   /* after AML_EXT_OP */

static void aml_bytes(struct aml *a, const void *src, size_t n)
{
	if (a->overflow || n > a->cap - a->len) {
		a->overflow = true;
		return;
	}
	memcpy(a->p + a->len, src, n);
	a->len += n;
}

static void aml_byte(struct aml *a, uint8_t b)
{
	aml_bytes(a, &b, 1);
}

/* A NameString given literally: "_S5_", "COM1", "\\_SB_" (4-character segments). */
static void aml_namestring(struct aml *a, const char *name)
{
	aml_bytes(a, name, strlen(name));
}

/* Integer as ZeroOp, OneOp or the smallest Byte/Word/DWord/QWord constant. */
static void aml_integer(struct aml *a, uint64_t v)
{
	uint8_t prefix;
	size_t n;

	if (v <= 1) {
		aml_byte(a, v ? AML_ONE_OP : AML_ZERO_OP);
		return;
	}
	if (v <= UINT8_MAX) {
		prefix = AML_BYTE_PREFIX;
		n = 1;
	} else if (v <= UINT16_MAX) {
		prefix = AML_WORD_PREFIX;
		n = 2;
	} else if (v <= UINT32_MAX) {
		prefix = AML_DWORD_PREFIX;
		n = 4;
	} else {
		prefix = AML_QWORD_PREFIX;
		n = 8;
	}
	aml_byte(a, prefix);
	aml_bytes(a, &v, n);    /* little-endian host */
}

/* Starts a PkgLength-prefixed body; returns where the body begins. */
static size_t aml_pkg_begin(struct aml *a)
{
	return a->len;
}

/* Inserts the PkgLength (which counts itself and the body) in front of the body started at
 * start, using the shortest of the 1..4-byte encodings (ACPI 6.3, 20.2.4). */
static void aml_pkg_end(struct aml *a, size_t start)
{
	size_t body = a->len - start, n, total;
	uint8_t enc[4];

	if (a->overflow)
		return;
	n = body + 1 < 0x40 ? 1 : body + 2 < 0x1000 ? 2 : body + 3 < 0x100000 ? 3 : 4;
	total = body + n;
	if (total >= 0x10000000 || n > a->cap - a->len) {
		a->overflow = true;
		return;
	}
	enc[0] = n == 1 ? (uint8_t)total : (uint8_t)(((n - 1) << 6) | (total & 0x0f));
	for (size_t i = 1; i < n; i++)
		enc[i] = (uint8_t)(total >> (4 + 8 * (i - 1)));
	memmove(a->p + start + n, a->p + start, body);
	memcpy(a->p + start, enc, n);
	a->len += n;
}

/* Name (name, ...): the caller appends the data object. */
static void aml_name(struct aml *a, const char *name)
{
	aml_byte(a, AML_NAME_OP);
	aml_namestring(a, name);
}

/* Package (nr_elems) { ... }: returns the start for aml_pkg_end. */
static size_t aml_package_begin(struct aml *a, uint8_t nr_elems)
{
	size_t start;

	aml_byte(a, AML_PACKAGE_OP);
	start = aml_pkg_begin(a);
	aml_byte(a, nr_elems);
	return start;
}

/* Scope (name) { ... } */
static size_t aml_scope_begin(struct aml *a, const char *name)
{
	size_t start;

	aml_byte(a, AML_SCOPE_OP);
	start = aml_pkg_begin(a);
	aml_namestring(a, name);
	return start;
}

/* Device (name) { ... } */
static size_t aml_device_begin(struct aml *a, const char *name)
{
	size_t start;

	aml_byte(a, AML_EXT_OP);
	aml_byte(a, AML_DEVICE_OP);
	start = aml_pkg_begin(a);
	aml_namestring(a, name);
	return start;
}

/* Buffer () { bytes } */
static void aml_buffer(struct aml *a, const uint8_t *bytes, size_t n)
{
	size_t start;

	aml_byte(a, AML_BUFFER_OP);
	start = aml_pkg_begin(a);
	aml_integer(a, n);
	aml_bytes(a, bytes, n);
	aml_pkg_end(a, start);
}

/* EisaId ("PNP0501"): three letters in 5 bits each, then four hex digits, stored as a
 * big-endian 32-bit value (so PNP0501 is the DWord 0x0105D041). */
static void aml_eisaid(struct aml *a, const char id[7])
{
	static const char hex[] = "0123456789ABCDEF";
	uint32_t v = (uint32_t)((id[0] - 0x40) & 0x1f) << 26 | (uint32_t)((id[1] - 0x40) & 0x1f) << 21 |
		     (uint32_t)((id[2] - 0x40) & 0x1f) << 16;

	for (int i = 3; i < 7; i++)
		v |= (uint32_t)(strchr(hex, id[i]) - hex) << (4 * (6 - i));
	aml_integer(a, __builtin_bswap32(v));
}

/* ---- Resource descriptors (ACPI 6.3, 6.4) ------------------------------------------- */

struct res_template {
	uint8_t b[32];
	size_t n;
};

/* IO (Decode16, min, max, align, len): small item 0x08, length 7. */
static void res_io16(struct res_template *r, uint16_t min, uint16_t max, uint8_t align, uint8_t len)
{
	const uint8_t d[8] = { 0x47, 0x01, (uint8_t)min, (uint8_t)(min >> 8),
			       (uint8_t)max, (uint8_t)(max >> 8), align, len };

	memcpy(r->b + r->n, d, sizeof(d));
	r->n += sizeof(d);
}

/* IRQNoFlags () { irq }: small item 0x04, length 2 (16-bit IRQ mask). */
static void res_irq_noflags(struct res_template *r, unsigned int irq)
{
	uint16_t mask = (uint16_t)(1u << irq);
	const uint8_t d[3] = { 0x22, (uint8_t)mask, (uint8_t)(mask >> 8) };

	memcpy(r->b + r->n, d, sizeof(d));
	r->n += sizeof(d);
}

/* End tag, checksum 0 ("treat as valid"). */
static void res_end(struct res_template *r)
{
	const uint8_t d[2] = { 0x79, 0x00 };

	memcpy(r->b + r->n, d, sizeof(d));
	r->n += sizeof(d);
}

/* ---- DSDT ---------------------------------------------------------------------------- */

/* Device (COM1) { _HID EisaId("PNP0501"), _UID 0, _CRS { IO 0x3F8/8, IRQNoFlags {4} } } */
static void dsdt_com1(struct aml *a)
{
	struct res_template crs = { .n = 0 };
	size_t dev = aml_device_begin(a, "COM1");

	aml_name(a, "_HID");
	aml_eisaid(a, "PNP0501");
	aml_name(a, "_UID");
	aml_integer(a, 0);
	res_io16(&crs, 0x3f8, 0x3f8, 0, 8);
	res_irq_noflags(&crs, 4);
	res_end(&crs);
	aml_name(a, "_CRS");
	aml_buffer(a, crs.b, crs.n);
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
static long build_dsdt(struct acpi_out *o)
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
	aml_pkg_end(&a, sb);
	if (a.overflow)
		return -ENOSPC;
	o->used += a.len;
	acpi_header_init(&h, "DSDT", (uint32_t)(sizeof(h) + a.len), 2);  /* rev 2: 64-bit integers */
	memcpy(o->buf + off, &h, sizeof(h));
	acpi_table_seal(o, (size_t)off);
	return off;
}

/* ---- MADT ---------------------------------------------------------------------------- */

static size_t madt_size(unsigned int nr_cpus)
{
	return sizeof(struct acpi_madt) + nr_cpus * sizeof(struct madt_lapic) +
	       sizeof(struct madt_ioapic) + sizeof(struct madt_iso) + sizeof(struct madt_lapic_nmi);
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
					      .apic_id = (uint8_t)i, .flags = MADT_LAPIC_ENABLED };
		memcpy(p, &l, sizeof(l));
		p += sizeof(l);
	}
	memcpy(p, &io, sizeof(io));
	p += sizeof(io);
	memcpy(p, &iso, sizeof(iso));
	p += sizeof(iso);
	memcpy(p, &nmi, sizeof(nmi));
}

static long build_madt(struct acpi_out *o, const struct machine_desc *m)
{
	struct acpi_madt madt;
	size_t len = madt_size(m->nr_cpus);
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

/* ---- FADT, XSDT, RSDP ---------------------------------------------------------------- */

static struct acpi_gas gas_io8(uint16_t port)
{
	return (struct acpi_gas){ .space_id = ACPI_GAS_SYSTEM_IO, .bit_width = 8, .bit_offset = 0,
				  .access_size = ACPI_GAS_ACCESS_BYTE, .address = port };
}

static void build_fadt(struct acpi_out *o, size_t off, uint64_t dsdt_gpa, const struct machine_desc *m)
{
	struct acpi_fadt f;

	memset(&f, 0, sizeof(f));
	acpi_header_init(&f.hdr, "FACP", sizeof(f), FADT_REVISION);
	f.fadt_minor_version = FADT_MINOR_REVISION;
	f.dsdt = gpa32(dsdt_gpa);
	f.x_dsdt = dsdt_gpa;
	f.flags = FADT_F_HW_REDUCED_ACPI | FADT_F_RESET_REG_SUP;
	f.iapc_boot_arch = FADT_BOOT_ARCH_VGA_NOT_PRESENT;
	f.reset_reg = gas_io8(m->reset_port);
	f.reset_value = m->reset_value;
	f.sleep_control_reg = gas_io8(m->sleep_ctl_port);
	f.sleep_status_reg = gas_io8(m->sleep_ctl_port);
	memcpy(&f.hypervisor_vendor_identity, "CELLVM\0\0", 8);
	memcpy(o->buf + off, &f, sizeof(f));
	acpi_table_seal(o, off);
}

#define XSDT_ENTRIES 2

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

static int acpi_check_args(const uint8_t *buf, const struct machine_desc *m)
{
	if (!buf || !m || m->nr_cpus == 0 || m->nr_cpus > ACPI_MAX_CPUS)
		return -EINVAL;
	if (m->lapic_base > UINT32_MAX || m->ioapic_base > UINT32_MAX)
		return -EINVAL;     /* the MADT holds 32-bit APIC addresses */
	return 0;
}

long acpi_build(uint8_t *buf, uint64_t buf_gpa, size_t buf_len, const struct machine_desc *m)
{
	struct acpi_out o = { .buf = buf, .cap = buf_len, .used = 0 };
	long rsdp, xsdt, fadt, dsdt, madt;
	uint64_t entries[XSDT_ENTRIES];
	int err = acpi_check_args(buf, m);

	if (err)
		return err;
	rsdp = out_alloc(&o, sizeof(struct acpi_rsdp));
	xsdt = out_alloc(&o, sizeof(struct acpi_header) + XSDT_ENTRIES * sizeof(uint64_t));
	fadt = out_alloc(&o, sizeof(struct acpi_fadt));
	if (rsdp < 0 || xsdt < 0 || fadt < 0)
		return -ENOSPC;
	dsdt = build_dsdt(&o);
	if (dsdt < 0)
		return dsdt;
	madt = build_madt(&o, m);
	if (madt < 0)
		return madt;
	build_fadt(&o, (size_t)fadt, buf_gpa + (uint64_t)dsdt, m);
	entries[0] = buf_gpa + (uint64_t)fadt;
	entries[1] = buf_gpa + (uint64_t)madt;
	build_xsdt(&o, (size_t)xsdt, entries);
	build_rsdp(&o, (size_t)rsdp, buf_gpa + (uint64_t)xsdt);
	return (long)o.used;
}
