/* acpi_pm.h: the ACPI fixed hardware a guest's OSPM drives: PM1 events, PM timer, GPE0, SCI. */
#ifndef CELLVM_ACPI_PM_H
#define CELLVM_ACPI_PM_H

#include <stdbool.h>
#include <stdint.h>

struct vm;

/* Presses the power button (the fixed-feature PWRBTN_STS event, ACPI 6.3, 4.8.2.2.1.1): the
 * guest's OSPM gets an SCI once it enabled the event, and usually shuts down. Returns
 * whether the guest had enabled it (the press is latched either way). Any thread. */
bool acpi_pm_power_button(struct vm *vm);

/* CPU hotplug (vm.resize): cpu (1..255) is now present (the guest is told: device check), or
 * the guest is asked to give it back (eject request; its _EJ0 then clears present). Any thread. */
void acpi_pm_cpu_inserted(struct vm *vm, unsigned int cpu);
void acpi_pm_cpu_request_eject(struct vm *vm, unsigned int cpu);
bool acpi_pm_cpu_present(struct vm *vm, unsigned int cpu);
/* A CPU the guest was asked to give back is still present (vm.resize answers 429). */
bool acpi_pm_cpu_removal_pending(struct vm *vm);

/* 3.579545 MHz ticks of the PM timer at monotonic time ns (exported for the unit tests). */
uint32_t acpi_pm_timer_ticks(uint64_t ns);

#endif
