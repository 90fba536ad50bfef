/* pci_hotplug.h: the guest-facing half of PCI hotplug: ACPI slot notifications (GPE) and ejects. */
#ifndef CELLVM_PCI_HOTPLUG_H
#define CELLVM_PCI_HOTPLUG_H

struct vm;

/*
 * The model is QEMU's ACPI PCI hotplug for the i440fx/PIIX4 machine (what Linux's acpiphp
 * drives, and what every distribution kernel has, unlike the HW-reduced GED): the DSDT
 * describes slots S01..S1F under \_SB.PCI0, each with _ADR, _SUN and _EJ0; a GPE handler
 * reads two bitmaps (devices up, devices down) from I/O ports and sends Notify(Sxx, 1)
 * (device check: the guest rescans the slot) or Notify(Sxx, 3) (eject request: the guest
 * lets the device go and calls _EJ0, which writes the slot's bit to the eject register).
 */

/* A device now sits in slot (1..31): the guest is told and will rescan it. Any thread. */
void pci_hotplug_inserted(struct vm *vm, unsigned int slot);
/* Asks the guest to release slot's device. Once the guest's driver let it go, _EJ0 calls
 * vm->pci_ejected(vm, slot) on a vCPU thread: it must only hand the removal to the main
 * loop (the caller is a vCPU that has to return to KVM_RUN for the VM to be paused). */
void pci_hotplug_request_eject(struct vm *vm, unsigned int slot);

#endif
