#!/usr/bin/env bash
# acpi_iasl.sh: dumps cellvm's ACPI tables and checks them with ACPICA's iasl (disassembly, recompile) and acpiexec.
#
# Usage: tests/unit/acpi_iasl.sh [nr_cpus [full]]   (run from the repository root; needs acpica-tools)
# full: the machine cellvm builds (full ACPI: PM1/GPE blocks, SCI, FACS, PCI hotplug slots); without
# it, the HW-reduced tables acpi_build makes when no PM ports are given.
# Exit status 0 when every table disassembles without errors or checksum complaints, the DSDT
# shows \_S5, PNP0501, the PCI host bridge PCI0 (PNP0A08, its _CRS windows) and the ECAM
# reservation MB00 (PNP0C02), recompiles cleanly, the MCFG shows one allocation for the ECAM,
# and acpiexec evaluates \_S5 to 5, COM1._CRS, PCI0._HID/_CRS and MB00._CRS.
set -euo pipefail

CC=${CC:-gcc}
NR_CPUS=${1:-4}
FULL=${2:-}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
WORK=$(mktemp -d)
[ -n "${KEEP:-}" ] && echo "acpi_iasl: keeping $WORK" || trap 'rm -rf "$WORK"' EXIT

fail() { echo "acpi_iasl: FAIL: $*" >&2; exit 1; }

command -v iasl >/dev/null || fail "iasl not found (apt-get install acpica-tools)"

# A tiny dumper: builds the tables as cellvm does and writes each one to <signature>.dat.
cat >"$WORK/dump.c" <<'EOF'
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "acpi.h"
#include "layout.h"

static uint8_t buf[LAYOUT_BIOS_END - LAYOUT_BIOS_START];

static void put(const char *name, const uint8_t *p, size_t len)
{
	FILE *f = fopen(name, "wb");
	if (!f || fwrite(p, 1, len, f) != len || fclose(f))
		exit(2);
}

static const uint8_t *at(uint64_t gpa) { return buf + (gpa - LAYOUT_BIOS_START); }
static uint32_t len32(const uint8_t *t) { uint32_t l; memcpy(&l, t + 4, 4); return l; }

int main(int argc, char **argv)
{
	struct machine_desc m = { .nr_cpus = (unsigned)atoi(argv[1]), .ioapic_base = LAYOUT_IOAPIC_BASE,
		.lapic_base = LAYOUT_LAPIC_BASE, .sleep_ctl_port = PORT_ACPI_SLEEP_CTL,
		.reset_port = PORT_ACPI_RESET, .reset_value = ACPI_RESET_VALUE,
		.pci_ecam_base = LAYOUT_PCI_ECAM, .pci_last_bus = 0,
		.pci_mmio_start = LAYOUT_PCI_MMIO_START, .pci_mmio_end = LAYOUT_PCI_MMIO_END };
	long n;
	uint64_t xsdt, e[3], dsdt;
	uint32_t facs;

	if (argc == 3) {
		m.pm1_evt_port = PORT_ACPI_PM1_EVT;
		m.pm1_cnt_port = PORT_ACPI_PM1_CNT;
		m.pm_tmr_port = PORT_ACPI_PM_TMR;
		m.gpe0_port = PORT_ACPI_GPE0;
		m.pcihp_port = PORT_ACPI_PCIHP;
		m.sci_irq = ACPI_SCI_IRQ;
		m.pcihp_gpe = ACPI_GPE_PCIHP;
		m.cpuhp_port = PORT_ACPI_CPUHP;
		m.cpuhp_gpe = ACPI_GPE_CPUHP;
		m.nr_boot_cpus = m.nr_cpus / 2;  /* the rest hotpluggable */
	}
	n = acpi_build(buf, LAYOUT_BIOS_START, sizeof(buf), &m);
	if (argc < 2 || n < 0)
		return 1;
	memcpy(&xsdt, buf + 24, 8);
	memcpy(e, at(xsdt) + 36, sizeof(e));
	memcpy(&dsdt, at(e[0]) + 140, 8);
	put("rsdp.dat", buf, 36);
	put("xsdt.dat", at(xsdt), len32(at(xsdt)));
	put("facp.dat", at(e[0]), len32(at(e[0])));
	put("apic.dat", at(e[1]), len32(at(e[1])));
	put("mcfg.dat", at(e[2]), len32(at(e[2])));
	put("dsdt.dat", at(dsdt), len32(at(dsdt)));
	memcpy(&facs, at(e[0]) + 36, 4);
	if (facs)
		put("facs.dat", at(facs), len32(at(facs)));
	printf("acpi_build: %ld bytes\n", n);
	return 0;
}
EOF
"$CC" -std=gnu11 -Wall -Wextra -Werror -I"$ROOT/vmm" "$WORK/dump.c" "$ROOT/vmm/acpi.c" "$ROOT/vmm/acpi_hotplug.c" "$ROOT/vmm/aml.c" -o "$WORK/dump"
cd "$WORK"
./dump "$NR_CPUS" $FULL || fail "acpi_build failed for $NR_CPUS CPUs"

# This iasl cannot disassemble a bare RSDP, so compile the same fields with iasl's data
# table compiler (which computes both checksums itself) and require identical bytes.
xsdt_addr=$(od -An -tx8 -j24 -N8 rsdp.dat | tr -d ' ')
cat >rsdp-ref.asl <<RSDP
[0008]                          Signature : "RSD PTR "
[0001]                           Checksum : 00
[0006]                             Oem ID : "CELLVM"
[0001]                           Revision : 02
[0004]                       RSDT Address : 00000000
[0004]                             Length : 00000024
[0008]                       XSDT Address : $xsdt_addr
[0001]                  Extended Checksum : 00
[0003]                           Reserved : 000000
RSDP
iasl rsdp-ref.asl >rsdp-ref.log 2>&1 || { cat rsdp-ref.log; fail "iasl cannot compile the reference RSDP"; }
cmp rsdp.dat rsdp-ref.aml || fail "RSDP differs from iasl's (checksums or fields)"

TABLES="xsdt facp apic mcfg dsdt"
[ -z "$FULL" ] || TABLES="$TABLES facs"
for t in $TABLES; do
	iasl -d "$t.dat" >"$t.log" 2>&1 || { cat "$t.log"; fail "iasl -d $t.dat failed"; }
	[ -s "$t.dsl" ] || fail "iasl produced no $t.dsl"
	if grep -Eiq 'error|warning|incorrect|invalid' "$t.log" "$t.dsl"; then
		grep -Ei 'error|warning|incorrect|invalid' "$t.log" "$t.dsl" >&2
		fail "iasl complained about $t"
	fi
done

# Each data table must compile back from its disassembly to the same bytes, apart from
# the checksum and the creator ID/revision, which iasl replaces with its own.
for t in xsdt facp apic mcfg; do
	cp "$t.dsl" "re_$t.dsl"
	iasl "re_$t.dsl" >"re_$t.log" 2>&1 || { cat "re_$t.log"; fail "$t does not recompile"; }
	cmp -n 9 "$t.dat" "re_$t.aml" && cmp -i 10 -n 18 "$t.dat" "re_$t.aml" && cmp -i 36 "$t.dat" "re_$t.aml" \
		|| fail "$t changes when recompiled by iasl"
done

grep -q 'Name (_S5, Package (0x04)' dsdt.dsl || fail "DSDT has no _S5 package"
grep -q 'EisaId ("PNP0501")' dsdt.dsl || fail "DSDT has no PNP0501 device"
grep -q 'IRQNoFlags' dsdt.dsl || fail "DSDT COM1 has no IRQNoFlags"

# The MCFG: one allocation, the ECAM of segment 0, buses 0-0.
want() { grep -Eq "$1" "$2" || { grep -A40 "$3" "$2" >&2; fail "$4"; }; }
want 'Base Address : 00000000E0000000' mcfg.dsl 'Base Address' "MCFG base is not the ECAM (0xE0000000)"
want 'Segment Group Number : 0000' mcfg.dsl 'Segment' "MCFG segment is not 0"
want 'Start Bus Number : 00' mcfg.dsl 'Start Bus' "MCFG start bus is not 0"
want 'End Bus Number : 00' mcfg.dsl 'End Bus' "MCFG end bus is not 0"
[ "$(grep -c 'Base Address :' mcfg.dsl)" = 1 ] || fail "MCFG does not have exactly one allocation"

# \_SB.PCI0: the PCIe host bridge and its _CRS, as iasl prints them. A descriptor spans
# several commented lines: drop the comments and join each device's lines before matching.
flat() { awk "/Device \\($1\\)/{on=1} on{print} on&&/^        }/{exit}" dsdt.dsl |
	sed -e 's,//.*,,' -e 's,/\*[^*]*\*/,,g' | tr -s ' \n\t' '   ' | sed -e 's/ \([,)]\)/\1/g'; }
crs=$(flat PCI0)
grep -q 'Device (PCI0)' dsdt.dsl || fail "DSDT has no PCI0"
for w in 'Name (_HID, EisaId ("PNP0A08"))' 'Name (_CID, EisaId ("PNP0A03"))' 'Name (_SEG, Zero)' \
	 'Name (_BBN, Zero)' 'Name (_UID, Zero)' \
	 'WordBusNumber (ResourceProducer, MinFixed, MaxFixed, PosDecode, 0x0000, 0x0000, 0x0000, 0x0000, 0x0001,' \
	 'IO (Decode16, 0x0CF8, 0x0CF8, 0x01, 0x08,' \
	 'WordIO (ResourceProducer, MinFixed, MaxFixed, PosDecode, EntireRange, 0x0000, 0x0000, 0x0CF7, 0x0000, 0x0CF8,' \
	 'WordIO (ResourceProducer, MinFixed, MaxFixed, PosDecode, EntireRange, 0x0000, 0x0D00, 0xFFFF, 0x0000, 0xF300,' \
	 'DWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed, NonCacheable, ReadWrite, 0x00000000, 0xC0000000, 0xDFFFFFFF, 0x00000000, 0x20000000,'; do
	case "$crs" in *"$w"*) ;; *) echo "$crs" >&2; fail "PCI0 lacks: $w" ;; esac
done
mb=$(flat MB00)
for w in 'Name (_HID, EisaId ("PNP0C02"))' 'Memory32Fixed (ReadWrite, 0xE0000000, 0x00100000,'; do
	case "$mb" in *"$w"*) ;; *) echo "$mb" >&2; fail "MB00 lacks: $w" ;; esac
done

# The disassembled DSDT must compile back without errors or warnings.
iasl -vw 3133 -we dsdt.dsl >dsdt-compile.log 2>&1 || { cat dsdt-compile.log; fail "DSDT does not recompile"; }
grep -Eq 'Compilation successful\. +0 Errors, +0 Warnings' dsdt-compile.log \
	|| { cat dsdt-compile.log; fail "DSDT recompiles with diagnostics"; }

# Load the namespace in the ACPICA interpreter and evaluate the objects Linux uses.
if command -v acpiexec >/dev/null; then
	acpiexec -b 'evaluate \_S5; evaluate \_SB.COM1._HID; evaluate \_SB.COM1._CRS;
		evaluate \_SB.PCI0._HID; evaluate \_SB.PCI0._CID; evaluate \_SB.PCI0._CRS; evaluate \_SB.MB00._CRS' \
		dsdt.dat facp.dat apic.dat mcfg.dat >exec.log 2>&1 || { cat exec.log; fail "acpiexec failed"; }
	grep -q '0000000000000005' exec.log || { cat exec.log; fail "\\_S5 does not evaluate to SLP_TYP 5"; }
	grep -q '0105D041' exec.log || { cat exec.log; fail "COM1._HID is not PNP0501"; }
	grep -q '080AD041' exec.log || { cat exec.log; fail "PCI0._HID is not PNP0A08"; }
	grep -q '030AD041' exec.log || { cat exec.log; fail "PCI0._CID is not PNP0A03"; }
	# The bytes of a returned buffer, from acpiexec's hex dump ("0000: 88 0D ... // text").
	evalbuf() { OBJ="Evaluating $1" awk '$0 == ENVIRON["OBJ"] {on=1; next} on && /^Evaluating/ {exit}
		on && /[0-9A-F][0-9A-F][0-9A-F][0-9A-F]: / {
			sub(/.*[0-9A-F][0-9A-F][0-9A-F][0-9A-F]: /, ""); sub(/ *\/\/.*/, ""); print }' exec.log |
		tr -s ' \n' '  ' | sed 's/ *$//'; }
	pci_crs="88 0D 00 02 0C 00 00 00 00 00 00 00 00 00 01 00"            # WordBusNumber 0-0
	pci_crs+=" 47 01 F8 0C F8 0C 01 08"                                  # IO 0xCF8/8
	pci_crs+=" 88 0D 00 01 0C 03 00 00 00 00 F7 0C 00 00 F8 0C"          # WordIO 0-0xCF7
	pci_crs+=" 88 0D 00 01 0C 03 00 00 00 0D FF FF 00 00 00 F3"          # WordIO 0xD00-0xFFFF
	pci_crs+=" 87 17 00 00 0C 01 00 00 00 00 00 00 00 C0 FF FF FF DF 00 00 00 00 00 00 00 20"
	pci_crs+=" 79 00"                                                    # DWordMemory, EndTag
	[ "$(evalbuf '\_SB.PCI0._CRS')" = "$pci_crs" ] || { cat exec.log; fail "PCI0._CRS evaluates to other bytes"; }
	[ "$(evalbuf '\_SB.MB00._CRS')" = "86 09 00 01 00 00 00 E0 00 00 10 00 79 00" ] \
		|| { cat exec.log; fail "MB00._CRS does not reserve the ECAM"; }
	# Lines tagged (aetests-N) come from acpiexec's own interface self-tests, which assume
	# hardware our FADT does not have (a PM2 control block, GPE numbers past a 16-GPE block);
	# they do not evaluate our tables and are left out.
	if grep -v '(aetests-' exec.log | grep -Ev 'AE_OK|AE_CTRL' | grep -Eq 'AE_[A-Z_]+'; then
		grep -E 'AE_[A-Z_]+' exec.log >&2
		fail "acpiexec reported an exception"
	fi
fi

# Full ACPI: the fixed blocks, the SCI and its override, a fixed power button, the FACS, and
# the hotplug slots with their methods, run by ACPICA's interpreter.
if [ -n "$FULL" ]; then
	[ -f facs.dat ] || fail "full ACPI but the FADT points at no FACS"
	for w in 'PM1A Event Block Address : 00000600' 'PM1A Control Block Address : 00000604' \
		 'PM Timer Block Address : 00000608' 'GPE0 Block Address : 00000620' \
		 'SCI Interrupt : 0009' 'GPE0 Block Length : 04' 'Control Method Power Button \(V1\) : 0' \
		 'Hardware Reduced \(V5\) : 0' 'Reset Register Supported \(V2\) : 1' \
		 '32-bit PM Timer \(V1\) : 1'; do
		want "$w" facp.dsl "${w%% :*}" "FADT lacks: $w"
	done
	grep -A3 'Source : 09' apic.dsl | grep -q 'Interrupt : 00000009' || fail "MADT has no override for the SCI (IRQ 9)"
	grep -A6 'Source : 09' apic.dsl | grep -q 'Trigger Mode : 3' || fail "the SCI override is not level-triggered"
	for w in 'Device (S01)' 'Device (S1F)' 'Method (_EJ0, 1' 'Method (PCNT, 0' 'Method (_E01, 0' \
		 'OperationRegion (PCST, SystemIO, 0xAE00, 0x0C)' 'Notify (S1F, 0x03)' 'Notify (S01, One)' 'WriteAsZeros'; do
		grep -qF "$w" dsdt.dsl || fail "DSDT lacks: $w"
	done
	last=$(printf '%02X' $((NR_CPUS - 1)))
	for w in "Device (CP$last)" 'Name (_HID, "ACPI0007" /* Processor Device */)' 'Method (CSCN, 0, Serialized)' 'Method (_E02, 0' \
		 "Notify (CP$last, 0x03)" "OperationRegion (PRST, SystemIO, 0xAF00, 0x61)" 'CEJ,    8'; do
		grep -qF "$w" dsdt.dsl || fail "DSDT lacks (CPU hotplug): $w"
	done
	[ "$(grep -c 'Runtime Online Capable : 1' apic.dsl)" = $((NR_CPUS - NR_CPUS / 2)) ] ||
		fail "MADT: not $((NR_CPUS - NR_CPUS / 2)) online-capable (hotpluggable) CPUs"
	command -v acpiexec >/dev/null && {
		acpiexec -b "evaluate \\_GPE._E01; evaluate \\_SB.PCI0.S05_._EJ0 5; evaluate \\_SB.PCI0.S1F_._SUN;
			evaluate \\_GPE._E02; evaluate \\_SB.CP$last._STA; evaluate \\_SB.CP$last._EJ0 1" \
			dsdt.dat facp.dat facs.dat apic.dat mcfg.dat >full.log 2>&1 || { cat full.log; fail "acpiexec failed (full)"; }
		grep -v '(aetests-' full.log | grep -Ev 'AE_OK|AE_CTRL' | grep -Eq 'AE_[A-Z_]+' && { cat full.log; fail "acpiexec exception (full)"; }
		grep -q '000000000000001F' full.log || { cat full.log; fail "S1F_._SUN is not 31"; }
	}
fi

echo "acpi_iasl: OK ($NR_CPUS CPUs${FULL:+, full ACPI with hotplug slots}: RSDP matches iasl's; XSDT, FACP, APIC, MCFG, DSDT disassemble cleanly; _S5, PNP0501, PCI0 (PNP0A08, _CRS), MB00 (ECAM) and MCFG (0xE0000000, buses 0-0) present)"
