/* pci_hotplug.c: PCI slot insert/eject notifications to the guest (placeholder until acpi_pm.c lands). */
#include "pci_hotplug.h"

#include "log.h"
#include "vm.h"

/* TEMPORARY (being replaced in this session by the ACPI GPE implementation in acpi_pm.c). */
void pci_hotplug_inserted(struct vm *vm, unsigned int slot)
{
	(void)vm;
	log_warn("pci slot %u: inserted, but the guest is not notified yet (no ACPI GPE)", slot);
}

void pci_hotplug_request_eject(struct vm *vm, unsigned int slot)
{
	(void)vm;
	log_warn("pci slot %u: eject requested, but the guest is not notified yet (no ACPI GPE)", slot);
}
