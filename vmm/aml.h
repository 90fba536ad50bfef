/* aml.h: a small AML byte-code encoder and ACPI resource-descriptor builder for the DSDT. */
#ifndef CELLVM_AML_H
#define CELLVM_AML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Output of the encoder: appends at p[len], up to cap bytes; overflow latches on the first
 * write that does not fit (later writes are dropped), so callers check it once at the end. */
struct aml {
	uint8_t *p;
	size_t cap;
	size_t len;
	bool overflow;
};

/* Raw bytes and single bytes. */
void aml_bytes(struct aml *a, const void *src, size_t n);
void aml_byte(struct aml *a, uint8_t b);
/* A NameString given literally: "_S5_", "COM1", "\\_SB_" (4-character segments). */
void aml_namestring(struct aml *a, const char *name);
/* Integer as ZeroOp, OneOp or the smallest Byte/Word/DWord/QWord constant. */
void aml_integer(struct aml *a, uint64_t v);
/* Inserts the PkgLength of the body that began at start (a value from a *_begin call). */
void aml_pkg_end(struct aml *a, size_t start);
/* Name (name, ...): the caller appends the data object. */
void aml_name(struct aml *a, const char *name);
/* Package (nr_elems) { ... }, Scope (name) { ... }, Device (name) { ... }: each returns the
 * start for aml_pkg_end, which closes it after the caller has appended the contents. */
size_t aml_package_begin(struct aml *a, uint8_t nr_elems);
size_t aml_scope_begin(struct aml *a, const char *name);
size_t aml_device_begin(struct aml *a, const char *name);
/* Buffer () { bytes } */
void aml_buffer(struct aml *a, const uint8_t *bytes, size_t n);
/* EisaId ("PNP0501"): the compressed 32-bit EISA ID as an integer. */
void aml_eisaid(struct aml *a, const char id[7]);
/* Name (name, Zero/One/constant) in one call. */
void aml_name_integer(struct aml *a, const char *name, uint64_t v);

/* ---- Control methods (ACPI 6.3, 19.6 and 20.2.5) ---- */

/* Opcodes of the expressions the DSDT's methods use (ACPI 6.3, 20.3), appended by
 * aml_byte: a Type2 opcode is followed by its operands, then its Target (AML_NULL_NAME
 * for none). */
#define AML_NULL_NAME   0x00
#define AML_LOCAL0      0x60    /* Local0..Local7: 0x60..0x67 */
#define AML_ARG0        0x68    /* Arg0..Arg6: 0x68..0x6e */
#define AML_STORE_OP    0x70    /* Store (source, target) */
#define AML_SHL_OP      0x79    /* ShiftLeft (operand, count, target) */
#define AML_AND_OP      0x7b    /* And (operand, operand, target) */
#define AML_NOTIFY_OP   0x86    /* Notify (object, value) */
#define AML_RETURN_OP   0xa4    /* Return (value) */

/* Method (name, nr_args, NotSerialized/Serialized) { ... }: returns the start for aml_pkg_end. */
size_t aml_method_begin(struct aml *a, const char *name, uint8_t nr_args, bool serialized);
/* If (predicate) { ... }: the caller appends the predicate, then the body, then aml_pkg_end. */
size_t aml_if_begin(struct aml *a);
/* OperationRegion (name, SystemIO, port, len) */
void aml_opregion_io(struct aml *a, const char *name, uint16_t port, uint8_t len);
/* Field (region, DWordAcc, NoLock, WriteAsZeros) { names[0], 32, names[1], 32, ... } */
void aml_field_dwords(struct aml *a, const char *region, const char *const *names, unsigned int n);
/* Field (region, ByteAcc, NoLock, WriteAsZeros) { ... }: the caller appends entries with
 * aml_field_entry (a named field of bits bits; "" for a reserved gap), then aml_pkg_end. */
size_t aml_field_bytes_begin(struct aml *a, const char *region);
void aml_field_entry(struct aml *a, const char *name, unsigned int bits);
/* "string": a String object (ASCII, no NUL inside). */
void aml_string(struct aml *a, const char *str);

/* ---- Resource templates (ACPI 6.3, 6.4) ---- */

#define RES_TEMPLATE_MAX 128

/* The bytes of a ResourceTemplate () { ... }; overflow latches like struct aml's. */
struct res_template {
	uint8_t b[RES_TEMPLATE_MAX];
	size_t n;
	bool overflow;
};

/* IO (Decode16, min, max, align, len) */
void res_io16(struct res_template *r, uint16_t min, uint16_t max, uint8_t align, uint8_t len);
/* IRQNoFlags () { irq }, irq 0..15 */
void res_irq_noflags(struct res_template *r, unsigned int irq);
/* WordBusNumber (ResourceProducer, MinFixed, MaxFixed, PosDecode, 0, min, max, 0, max-min+1) */
void res_word_bus(struct res_template *r, uint16_t min, uint16_t max);
/* WordIO (ResourceProducer, MinFixed, MaxFixed, PosDecode, EntireRange, 0, min, max, 0, len) */
void res_word_io(struct res_template *r, uint16_t min, uint16_t max);
/* DWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed, NonCacheable, ReadWrite,
 * 0, min, max, 0, max-min+1) */
void res_dword_mem(struct res_template *r, uint32_t min, uint32_t max);
/* Memory32Fixed (ReadWrite, base, len) */
void res_mem32_fixed(struct res_template *r, uint32_t base, uint32_t len);
/* End tag, checksum 0 ("treat as valid"). */
void res_end(struct res_template *r);

/* Name (name, ResourceTemplate () { r }): r must end with res_end. */
void aml_name_resources(struct aml *a, const char *name, const struct res_template *r);

#endif
