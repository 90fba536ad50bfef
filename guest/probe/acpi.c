/* acpi.c: CPU discovery from the ACPI MADT, falling back to the Intel MP table. */
#include "probe.h"

static int checksum_ok(const u8 *p, u32 len)
{
	u8 s = 0;
	for (u32 i = 0; i < len; i++)
		s += p[i];
	return s == 0;
}

static u64 scan(u64 start, u64 end, const char *sig, u32 sumlen)
{
	for (u64 a = start; a + 16 <= end; a += 16)
		if (!memcmp((const void *)a, sig, 4) && (sumlen == 0 || checksum_ok((const u8 *)a, sumlen)))
			return a;
	return 0;
}

static u64 ebda_base(void)
{
	u64 seg = *(const u16 *)phys(0x40e);
	return seg ? seg << 4 : 0x9fc00;
}

static u64 find_rsdp(void)
{
	if (bi.rsdp)
		return bi.rsdp;
	for (u64 a = 0xe0000; a < 0x100000; a += 16)
		if (!memcmp((const void *)a, "RSD PTR ", 8) && checksum_ok((const u8 *)a, 20))
			return a;
	u64 e = ebda_base();
	for (u64 a = e; a < e + 1024; a += 16)
		if (!memcmp((const void *)a, "RSD PTR ", 8) && checksum_ok((const u8 *)a, 20))
			return a;
	return 0;
}

static u64 find_table(u64 rsdp, const char *sig)
{
	const u8 *r = (const u8 *)rsdp;
	u64 xsdt = r[15] >= 2 ? *(const u64 *)(r + 24) : 0;
	u64 sdt = xsdt ? xsdt : *(const u32 *)(r + 16);
	u32 esz = xsdt ? 8 : 4;
	if (!sdt)
		return 0;
	u32 len = *(const u32 *)(sdt + 4);
	for (u32 off = 36; off + esz <= len; off += esz) {
		u64 t = esz == 8 ? *(const u64 *)(sdt + off) : *(const u32 *)(sdt + off);
		if (t && !memcmp((const void *)t, sig, 4))
			return t;
	}
	return 0;
}

static int madt_cpus(u64 madt, u8 *ids, int max)
{
	u32 len = *(const u32 *)(madt + 4);
	int n = 0;
	for (u32 off = 44; off + 2 <= len;) {
		const u8 *e = (const u8 *)(madt + off);
		if (e[1] < 2)
			break;
		if (e[0] == 0 && (e[4] & 1) && n < max)
			ids[n++] = e[3];
		off += e[1];
	}
	return n;
}

static u64 find_mpf(void)
{
	u64 e = ebda_base();
	u64 a = scan(e, e + 1024, "_MP_", 16);
	if (!a && e != 0x9fc00)
		a = scan(0x9fc00, 0xa0000, "_MP_", 16);
	return a ? a : scan(0xf0000, 0x100000, "_MP_", 16);
}

/* Walks the MP configuration table by its base length (some firmware leaves the entry count 0). */
static int mp_cpus(u64 mpf, u8 *ids, int max)
{
	u64 cfg = *(const u32 *)(mpf + 4);
	if (!cfg || memcmp((const void *)cfg, "PCMP", 4))
		return -1;
	u64 end = cfg + *(const u16 *)(cfg + 4);
	int n = 0;
	for (u64 p = cfg + 44; p < end;) {
		const u8 *e = (const u8 *)p;
		if (e[0] == 0 && (e[3] & 1) && n < max)
			ids[n++] = e[1];
		p += e[0] == 0 ? 20 : 8;
	}
	return n;
}

/* Fills ids[] with the APIC IDs of enabled CPUs; returns the count or -1 if no table was found. */
int find_cpus(u8 *ids, int max, const char **source)
{
	u64 rsdp = find_rsdp();
	u64 madt = rsdp ? find_table(rsdp, "APIC") : 0;
	if (madt) {
		*source = "ACPI MADT";
		pr("probe: smp: RSDP at 0x%lx, MADT at 0x%lx\n", rsdp, madt);
		return madt_cpus(madt, ids, max);
	}
	u64 mpf = find_mpf();
	if (mpf) {
		*source = "MP table";
		pr("probe: smp: MP floating pointer at 0x%lx\n", mpf);
		return mp_cpus(mpf, ids, max);
	}
	*source = "none";
	return -1;
}

#define FADT_SCI_INT        46
#define FADT_PM1A_EVT_BLK   56
#define FADT_PM1A_CNT_BLK   64
#define FADT_GPE0_BLK       80
#define FADT_GPE0_BLK_LEN   92
#define FADT_FLAGS          112
#define FADT_F_HW_REDUCED   (1u << 20)
#define FADT_RESET_REG      116
#define FADT_RESET_VALUE    128
#define FADT_SLEEP_CTL_REG  244
#define FADT_MIN_LEN        268
#define GAS_SYSTEM_IO       1

/* I/O port of a Generic Address Structure in the FADT, 0 unless it is in System I/O space. */
static u16 gas_io_port(u64 fadt, u32 off)
{
	const u8 *g = (const u8 *)(fadt + off);
	return g[0] == GAS_SYSTEM_IO ? (u16)*(const u64 *)(g + 4) : 0;
}

int acpi_power_regs(struct acpi_power *p)
{
	u64 rsdp = find_rsdp();
	u64 fadt = rsdp ? find_table(rsdp, "FACP") : 0;
	if (!fadt || *(const u32 *)(fadt + 4) < FADT_MIN_LEN)
		return -1;
	p->sleep_port = gas_io_port(fadt, FADT_SLEEP_CTL_REG);
	p->reset_port = gas_io_port(fadt, FADT_RESET_REG);
	p->reset_value = *(const u8 *)(fadt + FADT_RESET_VALUE);
	p->hw_reduced = !!(*(const u32 *)(fadt + FADT_FLAGS) & FADT_F_HW_REDUCED);
	p->pm1_evt = (u16)*(const u32 *)(fadt + FADT_PM1A_EVT_BLK);
	p->pm1_cnt = (u16)*(const u32 *)(fadt + FADT_PM1A_CNT_BLK);
	p->gpe0 = (u16)*(const u32 *)(fadt + FADT_GPE0_BLK);
	p->gpe0_len = *(const u8 *)(fadt + FADT_GPE0_BLK_LEN);
	p->sci = *(const u16 *)(fadt + FADT_SCI_INT);
	return 0;
}
