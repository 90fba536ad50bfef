/* config.h: the VM configuration struct, filled by the command line (and later the API). */
#ifndef CELLVM_CONFIG_H
#define CELLVM_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

#define CONFIG_MAX_CPUS 254 /* bound by xAPIC IDs and the MADT/MP table encoding */
/* vCPUs the VM can have: boot ones plus hotpluggable ones (vm.resize). */
#define CONFIG_CPUS_MAX(cfg) ((cfg)->max_cpus > (cfg)->nr_cpus ? (cfg)->max_cpus : (cfg)->nr_cpus)

enum serial_mode { SERIAL_STDIO, SERIAL_FILE, SERIAL_OFF };

#define CONFIG_MAX_DISKS 8
#define CONFIG_ID_MAX 64     /* a device's id (Cloud Hypervisor's "id", or "_disk0" made up) */

/* --disk: a file served by a spawned cellvm-blk, or an external vhost-user-blk socket. */
struct disk_config {
	const char *path;
	const char *socket;     /* vhost_user=true: the backend's socket */
	const char *serial;
	bool readonly, direct, vhost_user;
	unsigned int num_queues;
	char id[CONFIG_ID_MAX];  /* "": none given yet (vmm_hotplug.c makes one up) */
	char *owned;            /* hot-added: the copy the strings point into, freed with it */
};

/* --jail and --seccomp: the VMM's own jail (docs/sandbox.md). VMM-level, not per VM. */
enum jail_mode { JAIL_ON = 0, JAIL_OFF, JAIL_STRICT };
enum seccomp_cli { SECCOMP_CLI_TRUE = 0, SECCOMP_CLI_LOG, SECCOMP_CLI_FALSE };

struct jail_config {
	enum jail_mode mode;
	enum seccomp_cli seccomp;
	bool uid_set, gid_set;
	uint32_t uid, gid;      /* started as root: the VM's identity (default 65534) */
	uint32_t id_first, id_last; /* uid_range=FIRST-LAST: a free id per VM (0: none) */
	bool print;             /* --print-jail: print the effective jail and exit */
	const char *selftest;   /* --jail-selftest [vcpu:|api:]ACT: a test hook */
	bool hotplug_off;       /* hotplug=off: the broker stays sealed (no device added later) */
	char hotplug_dir[256];  /* hotplug-dir=DIR: where hot-added disks and sockets may be */
	char cgroup[65];        /* the VM's cgroup name (cellvm/<name>); "" = vm-<pid> */
	uint64_t memory_max;    /* cgroup limits: bytes, tasks, percent of a CPU (0: none) */
	uint64_t pids_max;
	uint64_t cpu_pct;
};

/* --vsock: a virtio-vsock device served by a spawned cellvm-vsock (hybrid vsock), or with
 * vhost=on by the kernel's vhost-vsock (/dev/vhost-vsock; host sockets are AF_VSOCK then). */
struct vsock_config {
	bool enabled;
	bool vhost;
	uint64_t cid;           /* the guest's context id, 3 to 2^32-2 */
	const char *socket;     /* host clients send "CONNECT <port>\n" here; the guest reaches
				 * host port P at "<socket>_P" */
	char id[CONFIG_ID_MAX];
	char *owned;            /* hot-added: the copy socket points into */
};

#define VSOCK_CID_MIN 3ull
#define VSOCK_CID_MAX 0xfffffffeull

#define CONFIG_MAX_NETS 4
#define CONFIG_NET_MAX_PAIRS 7 /* 2 * 7 queues + the control queue fit virtio-pci's 16 */

/* --net: a tap (by name or as inherited queue fds) served by a spawned cellvm-net, or an
 * external vhost-user-net socket. num_queues counts virtqueues (rx + tx), as in Cloud
 * Hypervisor: 2 per queue pair; the control queue the VMM serves is not counted. */
struct net_config {
	const char *tap;
	const char *socket;     /* vhost_user=true: the backend's socket */
	const char *mac;        /* xx:xx:xx:xx:xx:xx, checked by the parser; NULL: the backend's */
	int fds[CONFIG_NET_MAX_PAIRS];
	unsigned int nr_fds;
	unsigned int num_queues;
	bool vhost_user;
	bool vhost;             /* vhost=on: the kernel's vhost-net moves the frames, no cellvm-net */
	char id[CONFIG_ID_MAX];
	char *owned;            /* hot-added: the copy the strings point into; its fds are its own */
};

struct vm_config {
	const char *kernel;
	const char *initramfs;
	const char *cmdline;
	unsigned int nr_cpus;
	unsigned int max_cpus;  /* 0: same as nr_cpus; more: vCPUs nr_cpus..max_cpus-1 can be hotplugged */
	uint64_t mem_size;
	bool mem_hugepages;
	enum serial_mode serial;
	const char *serial_path;
	const char *log_file;
	int verbosity;          /* number of -v */
	bool debug_exit;
	const char *api_socket; /* VMM-level: serve the REST API here (path or fd=N) */
	bool hotplug_surprise;  /* --hotplug-surprise: remove-device does not wait for the guest */
	struct jail_config jail; /* VMM-level */
	unsigned int nr_disks;
	struct disk_config disks[CONFIG_MAX_DISKS];
	char *disk_args[CONFIG_MAX_DISKS]; /* copies the disk strings point into (config_free) */
	struct vsock_config vsock;
	char *vsock_arg;        /* the copy vsock.socket points into (config_free) */
	unsigned int nr_nets;
	struct net_config nets[CONFIG_MAX_NETS];
	char *net_args[CONFIG_MAX_NETS];   /* copies the net strings point into (config_free) */
};

enum config_action { CONFIG_RUN, CONFIG_HELP, CONFIG_VERSION };

/* Parses argv into cfg (strings point into argv). Returns a config_action, or -1 with a
 * one-line reason in err. */
int config_parse_args(struct vm_config *cfg, int argc, char **argv, char *err, size_t errlen);

/* "512M", "2G", "65536": binary suffixes K M G T; returns 0 or -EINVAL/-ERANGE. */
int config_parse_size(const char *s, uint64_t *out) __attribute__((warn_unused_result));

/* Checks values that do not depend on the host. Returns 0 or -1 with a reason in err. */
int config_validate(const struct vm_config *cfg, char *err, size_t errlen);

void config_print_help(const char *prog);
/* Frees what config_parse_args allocated (the --disk and --vsock argument copies). */
/* Checks one --net (also used by the API's NetConfig): exactly one of tap, fd and
 * vhost_user; num_queues even and matching the fds. Returns 0 or -1 with a reason in err. */
int config_check_net(struct net_config *n, char *err, size_t errlen);
/* True for a MAC written xx:xx:xx:xx:xx:xx (hex digits); fills mac[6] when not NULL. */
bool config_parse_mac(const char *s, uint8_t *mac);
/* Frees what config_parse_args allocated (the --disk and --net argument copies). */
void config_free(struct vm_config *cfg);

#endif
