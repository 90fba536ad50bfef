/* acpi_internal.h: what acpi.c and acpi_hotplug.c (the DSDT's hotplug and GPE AML) share. */
#ifndef CELLVM_ACPI_INTERNAL_H
#define CELLVM_ACPI_INTERNAL_H

#include <stdbool.h>

#include "acpi.h"

struct aml;

#define MADT_LAPIC_ENABLED 1u    /* MADT Local APIC flags: Enabled (also in each CPU's _MAT) */

/* Full ACPI with hotpluggable CPUs (nr_boot_cpus < nr_cpus). */
bool cpu_hotplug(const struct machine_desc *m);
/* Inside \_SB.PCI0: the PCI hotplug registers, PCEJ, PCNT and the slot objects S01..S1F. */
void dsdt_pcihp(struct aml *a, const struct machine_desc *m);
/* Inside \_SB: the CPU hotplug registers, a processor object per possible CPU, CSCN. */
void dsdt_cpus(struct aml *a, const struct machine_desc *m);
/* Scope (\_GPE): the PCI hotplug GPE's method, and the CPU hotplug one when cpu_hotplug(m). */
void dsdt_gpe(struct aml *a, const struct machine_desc *m);

#endif
