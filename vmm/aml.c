/* aml.c: encodes AML byte code (names, integers, packages, devices, buffers) and ACPI resource descriptors. */
#include "aml.h"

#include <string.h>

/* Written from the ACPI 6.3 specification, chapters 6.4 and 20. Little-endian host. */

/* ---- AML encoder (ACPI 6.3, chapter 20) --------------------------------------------- */

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
#define AML_METHOD_OP    0x14
#define AML_IF_OP        0xa0
#define AML_OPREGION_OP  0x80   /* after AML_EXT_OP */
#define AML_FIELD_OP     0x81   /* after AML_EXT_OP */
#define AML_SPACE_IO     0x01   /* RegionSpace SystemIO */
#define AML_FIELD_DWORD_NOLOCK_ZEROS 0x43 /* AccessType DWordAcc (3), NoLock, WriteAsZeros (2 << 5) */
#define AML_FIELD_BYTE_NOLOCK_ZEROS  0x41 /* AccessType ByteAcc (1), NoLock, WriteAsZeros (2 << 5) */
#define AML_STRING_PREFIX 0x0d
#define AML_RESERVED_FIELD 0x00

void aml_bytes(struct aml *a, const void *src, size_t n)
{
	if (a->overflow || n > a->cap - a->len) {
		a->overflow = true;
		return;
	}
	memcpy(a->p + a->len, src, n);
	a->len += n;
}

void aml_byte(struct aml *a, uint8_t b)
{
	aml_bytes(a, &b, 1);
}

void aml_namestring(struct aml *a, const char *name)
{
	aml_bytes(a, name, strlen(name));
}

void aml_integer(struct aml *a, uint64_t v)
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
void aml_pkg_end(struct aml *a, size_t start)
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

void aml_name(struct aml *a, const char *name)
{
	aml_byte(a, AML_NAME_OP);
	aml_namestring(a, name);
}

/* Package (nr_elems) { ... }: returns the start for aml_pkg_end. */
size_t aml_package_begin(struct aml *a, uint8_t nr_elems)
{
	size_t start;

	aml_byte(a, AML_PACKAGE_OP);
	start = aml_pkg_begin(a);
	aml_byte(a, nr_elems);
	return start;
}

/* Scope (name) { ... } */
size_t aml_scope_begin(struct aml *a, const char *name)
{
	size_t start;

	aml_byte(a, AML_SCOPE_OP);
	start = aml_pkg_begin(a);
	aml_namestring(a, name);
	return start;
}

/* ExtOpPrefix op PkgLength NameString ...: Device and Field; returns the start for aml_pkg_end. */
static size_t ext_named_begin(struct aml *a, uint8_t op, const char *name)
{
	size_t start;

	aml_byte(a, AML_EXT_OP);
	aml_byte(a, op);
	start = aml_pkg_begin(a);
	aml_namestring(a, name);
	return start;
}

/* Device (name) { ... } */
size_t aml_device_begin(struct aml *a, const char *name)
{
	return ext_named_begin(a, AML_DEVICE_OP, name);
}

/* Method (name, nr_args, ...) { ... }: MethodFlags bits 0-2 ArgCount, bit 3 SerializeFlag. */
size_t aml_method_begin(struct aml *a, const char *name, uint8_t nr_args, bool serialized)
{
	size_t start;

	aml_byte(a, AML_METHOD_OP);
	start = aml_pkg_begin(a);
	aml_namestring(a, name);
	aml_byte(a, (uint8_t)((nr_args & 7) | (serialized ? 8 : 0)));
	return start;
}

size_t aml_if_begin(struct aml *a)
{
	aml_byte(a, AML_IF_OP);
	return aml_pkg_begin(a);
}

void aml_opregion_io(struct aml *a, const char *name, uint16_t port, uint8_t len)
{
	aml_byte(a, AML_EXT_OP);
	aml_byte(a, AML_OPREGION_OP);
	aml_namestring(a, name);
	aml_byte(a, AML_SPACE_IO);
	aml_integer(a, port);
	aml_integer(a, len);
}

/* Each NamedField is a NameSeg and its width in bits as a PkgLength (32 fits one byte). */
void aml_field_dwords(struct aml *a, const char *region, const char *const *names, unsigned int n)
{
	size_t start = ext_named_begin(a, AML_FIELD_OP, region);

	aml_byte(a, AML_FIELD_DWORD_NOLOCK_ZEROS);
	for (unsigned int i = 0; i < n; i++) {
		aml_namestring(a, names[i]);
		aml_byte(a, 32);
	}
	aml_pkg_end(a, start);
}

size_t aml_field_bytes_begin(struct aml *a, const char *region)
{
	size_t start = ext_named_begin(a, AML_FIELD_OP, region);

	aml_byte(a, AML_FIELD_BYTE_NOLOCK_ZEROS);
	return start;
}

/* A field's width is a PkgLength-encoded bit count that does not count its own bytes. */
void aml_field_entry(struct aml *a, const char *name, unsigned int bits)
{
	if (*name)
		aml_namestring(a, name);
	else
		aml_byte(a, AML_RESERVED_FIELD);
	if (bits < 0x40) {
		aml_byte(a, (uint8_t)bits);
	} else if (bits < 0x1000) {
		aml_byte(a, (uint8_t)(0x40 | (bits & 0x0f)));
		aml_byte(a, (uint8_t)(bits >> 4));
	} else {
		a->overflow = true;    /* not needed by any field here */
	}
}

void aml_string(struct aml *a, const char *str)
{
	aml_byte(a, AML_STRING_PREFIX);
	aml_bytes(a, str, strlen(str) + 1);
}

/* Buffer () { bytes } */
void aml_buffer(struct aml *a, const uint8_t *bytes, size_t n)
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
void aml_eisaid(struct aml *a, const char id[7])
{
	static const char hex[] = "0123456789ABCDEF";
	uint32_t v = (uint32_t)((id[0] - 0x40) & 0x1f) << 26 | (uint32_t)((id[1] - 0x40) & 0x1f) << 21 |
		     (uint32_t)((id[2] - 0x40) & 0x1f) << 16;

	for (int i = 3; i < 7; i++)
		v |= (uint32_t)(strchr(hex, id[i]) - hex) << (4 * (6 - i));
	aml_integer(a, __builtin_bswap32(v));
}


void aml_name_integer(struct aml *a, const char *name, uint64_t v)
{
	aml_name(a, name);
	aml_integer(a, v);
}

void aml_name_resources(struct aml *a, const char *name, const struct res_template *r)
{
	if (r->overflow) {
		a->overflow = true;
		return;
	}
	aml_name(a, name);
	aml_buffer(a, r->b, r->n);
}

/* ---- Resource descriptors (ACPI 6.3, 6.4) ------------------------------------------- */

#define RES_SMALL_IRQ        0x22   /* IRQ, length 2 */
#define RES_SMALL_IO         0x47   /* I/O port, length 7 */
#define RES_SMALL_END        0x79   /* End tag, length 1 */
#define RES_LARGE_MEM32FIXED 0x86   /* 32-bit fixed memory range */
#define RES_LARGE_DWORD_ADDR 0x87   /* DWord address space */
#define RES_LARGE_WORD_ADDR  0x88   /* Word address space */

#define RES_ADDR_TYPE_MEM    0
#define RES_ADDR_TYPE_IO     1
#define RES_ADDR_TYPE_BUS    2
/* General flags: bit 3 _MAF, bit 2 _MIF, bit 1 _DEC (0 positive), bit 0 (0 producer). */
#define RES_ADDR_PRODUCER_FIXED 0x0c
#define RES_IO_ENTIRE_RANGE  0x03   /* _RNG = 3 */
#define RES_MEM_NC_RW        0x01   /* _RW = 1, _MEM = 0 non-cacheable, _MTP = 0 memory */

static void res_put(struct res_template *r, const uint8_t *d, size_t n)
{
	if (r->overflow || n > sizeof(r->b) - r->n) {
		r->overflow = true;
		return;
	}
	memcpy(r->b + r->n, d, n);
	r->n += n;
}

/* Stores v little-endian in width bytes at p. */
static void put_le(uint8_t *p, uint64_t v, unsigned int width)
{
	for (unsigned int i = 0; i < width; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

void res_io16(struct res_template *r, uint16_t min, uint16_t max, uint8_t align, uint8_t len)
{
	const uint8_t d[8] = { RES_SMALL_IO, 0x01 /* Decode16 */, (uint8_t)min, (uint8_t)(min >> 8),
			       (uint8_t)max, (uint8_t)(max >> 8), align, len };

	res_put(r, d, sizeof(d));
}

/* IRQ descriptor with a 16-bit IRQ mask and no information byte. */
void res_irq_noflags(struct res_template *r, unsigned int irq)
{
	uint16_t mask = (uint16_t)(1u << (irq & 15));
	const uint8_t d[3] = { RES_SMALL_IRQ, (uint8_t)mask, (uint8_t)(mask >> 8) };

	res_put(r, d, sizeof(d));
}

/*
 * Word (width 2) or DWord (width 4) Address Space Descriptor (ACPI 6.3, 6.4.3.5.2-3):
 * tag, 16-bit length, resource type, general flags, type-specific flags, then
 * _GRA, _MIN, _MAX, _TRA and _LEN of width bytes each. A fixed window has _GRA 0 and
 * _LEN = _MAX - _MIN + 1 (6.4.3.5, "Valid Combination of Address Space Descriptor Fields":
 * fixed size, fixed location).
 */
static void res_addr(struct res_template *r, unsigned int width, uint8_t type, uint8_t tflags,
		     uint32_t min, uint32_t max)
{
	uint8_t d[3 + 3 + 5 * 4];
	size_t len = 3 + 5 * width;

	d[0] = width == 2 ? RES_LARGE_WORD_ADDR : RES_LARGE_DWORD_ADDR;
	put_le(d + 1, len, 2);
	d[3] = type;
	d[4] = RES_ADDR_PRODUCER_FIXED;
	d[5] = tflags;
	put_le(d + 6 + 0 * width, 0, width);                       /* _GRA */
	put_le(d + 6 + 1 * width, min, width);                     /* _MIN */
	put_le(d + 6 + 2 * width, max, width);                     /* _MAX */
	put_le(d + 6 + 3 * width, 0, width);                       /* _TRA */
	put_le(d + 6 + 4 * width, (uint64_t)max - min + 1, width); /* _LEN */
	res_put(r, d, 3 + len);
}

void res_word_bus(struct res_template *r, uint16_t min, uint16_t max)
{
	res_addr(r, 2, RES_ADDR_TYPE_BUS, 0, min, max);
}

void res_word_io(struct res_template *r, uint16_t min, uint16_t max)
{
	res_addr(r, 2, RES_ADDR_TYPE_IO, RES_IO_ENTIRE_RANGE, min, max);
}

void res_dword_mem(struct res_template *r, uint32_t min, uint32_t max)
{
	res_addr(r, 4, RES_ADDR_TYPE_MEM, RES_MEM_NC_RW, min, max);
}

void res_mem32_fixed(struct res_template *r, uint32_t base, uint32_t len)
{
	uint8_t d[12] = { RES_LARGE_MEM32FIXED, 9, 0, 0x01 /* ReadWrite */ };

	put_le(d + 4, base, 4);
	put_le(d + 8, len, 4);
	res_put(r, d, sizeof(d));
}

void res_end(struct res_template *r)
{
	const uint8_t d[2] = { RES_SMALL_END, 0x00 };

	res_put(r, d, sizeof(d));
}
