/* defs.h: constants shared by the probe's C and assembly sources. */
#ifndef PROBE_DEFS_H
#define PROBE_DEFS_H

#define KIND_PVH      1
#define KIND_LINUX64  2
#define KIND_LINUX32  3

#define SEL_CODE32    0x08
#define SEL_CODE64    0x10
#define SEL_DATA      0x18
#define SEL_UDATA     0x20
#define SEL_UCODE     0x28
#define SEL_TSS       0x30

#define TRAMP_BASE    0x3000   /* AP real-mode trampoline (SIPI vector 0x03) */
#define MAX_CPUS      64
#define AP_STACK_SIZE 4096
#define BOOT_STACK_SIZE 16384
#define USER_STACK_SIZE 16384
#define PD_POOL_PAGES 28       /* 2 MiB-page directories for RAM above 4 GiB */

#define TIMER_VECTOR  0x40
#define SPURIOUS_VECTOR 0xff
#define NMI_VECTOR      2
#define VIRTIO_VECTOR_BASE 0x50  /* MSI-X: 0x50 = config, 0x51 + N = queue N */
#define VIRTIO_VECTORS 17

#endif
