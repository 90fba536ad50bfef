#!/usr/bin/env bash
# acpi_iasl.sh: dumps cellvm's ACPI tables and checks them with ACPICA's iasl (disassembly, recompile) and acpiexec.
#
# Usage: tests/unit/acpi_iasl.sh [nr_cpus]   (run from the repository root; needs acpica-tools)
# Exit status 0 when every table disassembles without errors or checksum complaints, the DSDT
# shows \_S5 and PNP0501, recompiles cleanly, and acpiexec evaluates \_S5 to 5 and COM1._CRS.
set -euo pipefail

CC=${CC:-gcc}
NR_CPUS=${1:-4}
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
		.reset_port = PORT_ACPI_RESET, .reset_value = ACPI_RESET_VALUE };
	long n = acpi_build(buf, LAYOUT_BIOS_START, sizeof(buf), &m);
	uint64_t xsdt, e[2], dsdt;

	if (argc != 2 || n < 0)
		return 1;
	memcpy(&xsdt, buf + 24, 8);
	memcpy(e, at(xsdt) + 36, 16);
	memcpy(&dsdt, at(e[0]) + 140, 8);
	put("rsdp.dat", buf, 36);
	put("xsdt.dat", at(xsdt), len32(at(xsdt)));
	put("facp.dat", at(e[0]), len32(at(e[0])));
	put("apic.dat", at(e[1]), len32(at(e[1])));
	put("dsdt.dat", at(dsdt), len32(at(dsdt)));
	printf("acpi_build: %ld bytes\n", n);
	return 0;
}
EOF
"$CC" -std=gnu11 -Wall -Wextra -Werror -I"$ROOT/vmm" "$WORK/dump.c" "$ROOT/vmm/acpi.c" -o "$WORK/dump"
cd "$WORK"
./dump "$NR_CPUS" || fail "acpi_build failed for $NR_CPUS CPUs"

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

for t in xsdt facp apic dsdt; do
	iasl -d "$t.dat" >"$t.log" 2>&1 || { cat "$t.log"; fail "iasl -d $t.dat failed"; }
	[ -s "$t.dsl" ] || fail "iasl produced no $t.dsl"
	if grep -Eiq 'error|warning|incorrect|invalid' "$t.log" "$t.dsl"; then
		grep -Ei 'error|warning|incorrect|invalid' "$t.log" "$t.dsl" >&2
		fail "iasl complained about $t"
	fi
done

# Each data table must compile back from its disassembly to the same bytes, apart from
# the checksum and the creator ID/revision, which iasl replaces with its own.
for t in xsdt facp apic; do
	cp "$t.dsl" "re_$t.dsl"
	iasl "re_$t.dsl" >"re_$t.log" 2>&1 || { cat "re_$t.log"; fail "$t does not recompile"; }
	cmp -n 9 "$t.dat" "re_$t.aml" && cmp -i 10 -n 18 "$t.dat" "re_$t.aml" && cmp -i 36 "$t.dat" "re_$t.aml" \
		|| fail "$t changes when recompiled by iasl"
done

grep -q 'Name (_S5, Package (0x04)' dsdt.dsl || fail "DSDT has no _S5 package"
grep -q 'EisaId ("PNP0501")' dsdt.dsl || fail "DSDT has no PNP0501 device"
grep -q 'IRQNoFlags' dsdt.dsl || fail "DSDT COM1 has no IRQNoFlags"

# The disassembled DSDT must compile back without errors or warnings.
iasl -vw 3133 -we dsdt.dsl >dsdt-compile.log 2>&1 || { cat dsdt-compile.log; fail "DSDT does not recompile"; }
grep -Eq 'Compilation successful\. +0 Errors, +0 Warnings' dsdt-compile.log \
	|| { cat dsdt-compile.log; fail "DSDT recompiles with diagnostics"; }

# Load the namespace in the ACPICA interpreter and evaluate the objects Linux uses.
if command -v acpiexec >/dev/null; then
	acpiexec -b 'evaluate \_S5; evaluate \_SB.COM1._HID; evaluate \_SB.COM1._CRS' \
		dsdt.dat facp.dat apic.dat >exec.log 2>&1 || { cat exec.log; fail "acpiexec failed"; }
	grep -q '0000000000000005' exec.log || { cat exec.log; fail "\\_S5 does not evaluate to SLP_TYP 5"; }
	grep -q '0105D041' exec.log || { cat exec.log; fail "COM1._HID is not PNP0501"; }
	if grep -Eq 'AE_[A-Z_]+' exec.log && grep -Ev 'AE_OK|AE_CTRL' exec.log | grep -Eq 'AE_[A-Z_]+'; then
		grep -E 'AE_[A-Z_]+' exec.log >&2
		fail "acpiexec reported an exception"
	fi
fi

echo "acpi_iasl: OK ($NR_CPUS CPUs: RSDP matches iasl's; XSDT, FACP, APIC, DSDT disassemble cleanly; _S5 and PNP0501 present)"
