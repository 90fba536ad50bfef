/* power.c: the ways a guest ends: ACPI sleep/reset registers, port 0xcf9, the i8042 reset, debug exit. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "exit_codes.h"
#include "layout.h"
#include "log.h"
#include "vm.h"

#define ACPI_SLP_EN        (1U << 5)
#define ACPI_SLP_TYP(v)    (((v) >> 2) & 7)
#define ACPI_SLP_TYP_S5    5 /* matches the DSDT's \_S5 package */
#define CF9_RESET_CPU      0x04
#define I8042_CMD_RESET    0xfe

static void acpi_sleep_write(void *opaque, uint64_t off, const uint8_t *d, uint32_t len)
{
	if ((d[0] & ACPI_SLP_EN) && ACPI_SLP_TYP(d[0]) == ACPI_SLP_TYP_S5)
		vm_request_stop(opaque, EXIT_POWEROFF, "guest powered off (ACPI S5)");
}

static void acpi_reset_write(void *opaque, uint64_t off, const uint8_t *d, uint32_t len)
{
	if (d[0] == ACPI_RESET_VALUE)
		vm_request_stop(opaque, EXIT_REBOOT, "guest requested a reboot (ACPI reset register)");
}

/* 0xCF9 sits inside the PCI CONFIG_ADDRESS dword: pci.c forwards byte writes here. */
void power_reset_control(void *opaque, uint8_t value)
{
	if (value & CF9_RESET_CPU)
		vm_request_stop(opaque, EXIT_REBOOT, "guest requested a reboot (port 0xcf9)");
}

static void i8042_write(void *opaque, uint64_t off, const uint8_t *d, uint32_t len)
{
	if (d[0] == I8042_CMD_RESET)
		vm_request_stop(opaque, EXIT_REBOOT, "guest requested a reboot (i8042 reset)");
}

static void zero_read(void *opaque, uint64_t off, uint8_t *d, uint32_t len)
{
	for (uint32_t i = 0; i < len; i++)
		d[i] = 0;
}

static const struct bus_ops acpi_sleep_ops = { .read = zero_read, .write = acpi_sleep_write };
static const struct bus_ops acpi_reset_ops = { .read = zero_read, .write = acpi_reset_write };
/* No keyboard controller: status reads float high (all ones), only the reset command acts. */
static const struct bus_ops i8042_ops = { .read = NULL, .write = i8042_write };

static int power_create(struct vm *vm, void **state)
{
	int rc;

	*state = NULL;
	rc = bus_register(&vm->pio, PORT_ACPI_SLEEP_CTL, 1, &acpi_sleep_ops, vm, "acpi-sleep");
	if (rc == 0)
		rc = bus_register(&vm->pio, PORT_ACPI_RESET, 1, &acpi_reset_ops, vm, "acpi-reset");
	if (rc == 0)
		rc = bus_register(&vm->pio, PORT_I8042_COMMAND, 1, &i8042_ops, vm, "i8042");
	return rc;
}

static const struct platform_device power_device = {
	.name = "power",
	.create = power_create,
};
PLATFORM_DEVICE_DECLARE(power_device);

/* Separate from the stop reason string: the status the guest chose. */
static void debug_exit_write(void *opaque, uint64_t off, const uint8_t *d, uint32_t len)
{
	struct vm *vm = opaque;

	log_info("guest wrote %u to the debug-exit port", d[0]);
	vm_request_stop(vm, d[0], "guest wrote to the debug-exit port");
}

static const struct bus_ops debug_exit_ops = { .read = zero_read, .write = debug_exit_write };

static int debug_exit_create(struct vm *vm, void **state)
{
	*state = NULL;
	if (!vm->cfg->debug_exit)
		return 0;
	/* QEMU's isa-debug-exit decodes 4 ports at iobase (iosize=4). */
	return bus_register(&vm->pio, PORT_DEBUG_EXIT, 4, &debug_exit_ops, vm, "debug-exit");
}

static const struct platform_device debug_exit_device = {
	.name = "debug-exit",
	.create = debug_exit_create,
};
PLATFORM_DEVICE_DECLARE(debug_exit_device);
