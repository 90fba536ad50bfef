/* vmconfig.c: parses and prints VmConfig; every field cellvm cannot honour is rejected by name. */
#include "api/vmconfig.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* Parses one member of an object; value is never NULL. */
struct field {
	const char *name;
	int (*parse)(struct json_object *value, struct vm_config *cfg, const char *path,
		     char *err, size_t errlen);
};

static int fail(char *err, size_t errlen, const char *path, const char *why)
{
	snprintf(err, errlen, "%s: %s", path, why);
	return -1;
}

static int want_type(struct json_object *v, enum json_type t, const char *path, char *err,
		     size_t errlen)
{
	static const char *const names[] = { "null", "boolean", "number", "number", "object",
					     "array", "string" };
	char why[64];

	if (json_object_is_type(v, t))
		return 0;
	snprintf(why, sizeof(why), "must be a %s", names[t]);
	return fail(err, errlen, path, why);
}

/* Walks obj's members through table; unknown members are errors naming the member. */
static int parse_object(struct json_object *obj, const struct field *table, struct vm_config *cfg,
			const char *path, char *err, size_t errlen)
{
	char sub[128];

	if (want_type(obj, json_type_object, path, err, errlen))
		return -1;
	json_object_object_foreach(obj, key, val) {
		const struct field *f = table;

		while (f->name && strcmp(f->name, key))
			f++;
		snprintf(sub, sizeof(sub), "%s.%s", path, key);
		if (!f->name)
			return fail(err, errlen, sub, "unknown field");
		if (val && f->parse(val, cfg, sub, err, errlen))
			return -1;
	}
	return 0;
}

static int get_u64(struct json_object *v, uint64_t min, uint64_t max, uint64_t *out,
		   const char *path, char *err, size_t errlen)
{
	int64_t n;

	if (want_type(v, json_type_int, path, err, errlen))
		return -1;
	n = json_object_get_int64(v);
	if (n < 0 || (uint64_t)n < min || (uint64_t)n > max) {
		char why[96];
		snprintf(why, sizeof(why), "%lld is out of range (%llu to %llu)", (long long)n,
			 (unsigned long long)min, (unsigned long long)max);
		return fail(err, errlen, path, why);
	}
	*out = (uint64_t)n;
	return 0;
}

/* A member cellvm accepts only at its default (false, 0, empty array, "Off"). */
static int only_default(struct json_object *v, struct vm_config *cfg, const char *path,
			char *err, size_t errlen)
{
	bool is_default = json_object_is_type(v, json_type_null) ||
			  (json_object_is_type(v, json_type_boolean) && !json_object_get_boolean(v)) ||
			  (json_object_is_type(v, json_type_int) && json_object_get_int64(v) == 0) ||
			  (json_object_is_type(v, json_type_array) && json_object_array_length(v) == 0);

	return is_default ? 0 : fail(err, errlen, path, "not supported by cellvm yet");
}

/* A member that changes nothing cellvm does (documented in docs/api.md). */
static int ignored(struct json_object *v, struct vm_config *cfg, const char *path, char *err,
		   size_t errlen)
{
	return 0;
}

static int unsupported(struct json_object *v, struct vm_config *cfg, const char *path, char *err,
		       size_t errlen)
{
	return fail(err, errlen, path, "not supported by cellvm yet");
}

static int cpus_boot(struct json_object *v, struct vm_config *cfg, const char *path, char *err,
		     size_t errlen)
{
	uint64_t n;

	if (get_u64(v, 1, CONFIG_MAX_CPUS, &n, path, err, errlen))
		return -1;
	cfg->nr_cpus = (unsigned int)n;
	return 0;
}

static int cpus_max(struct json_object *v, struct vm_config *cfg, const char *path, char *err,
		    size_t errlen)
{
	uint64_t n;

	if (get_u64(v, 1, CONFIG_MAX_CPUS, &n, path, err, errlen))
		return -1;
	cfg->max_cpus = (unsigned int)n;
	return 0;
}

/* nested=true is what cellvm does (KVM's supported CPUID is passed on); false is not. */
static int cpus_nested(struct json_object *v, struct vm_config *cfg, const char *path,
		       char *err, size_t errlen)
{
	if (want_type(v, json_type_boolean, path, err, errlen))
		return -1;
	return json_object_get_boolean(v) ? 0 : fail(err, errlen, path, "false is not supported yet");
}

static const struct field cpus_fields[] = {
	{ "boot_vcpus", cpus_boot },
	{ "max_vcpus", cpus_max },
	{ "kvm_hyperv", only_default },
	{ "nested", cpus_nested },
	{ "topology", unsupported },
	{ "max_phys_bits", unsupported },
	{ "affinity", only_default },
	{ "features", unsupported },
	{ "core_scheduling", unsupported },
	{ NULL, NULL },
};

static int mem_size(struct json_object *v, struct vm_config *cfg, const char *path, char *err,
		    size_t errlen)
{
	return get_u64(v, 1, UINT64_C(1) << 40, &cfg->mem_size, path, err, errlen);
}

/* Guest RAM is always a shared memfd: shared=false only means nobody else maps it. */
static int mem_bool_any(struct json_object *v, struct vm_config *cfg, const char *path,
			char *err, size_t errlen)
{
	return want_type(v, json_type_boolean, path, err, errlen);
}

static int mem_hugepages(struct json_object *v, struct vm_config *cfg, const char *path,
			 char *err, size_t errlen)
{
	if (want_type(v, json_type_boolean, path, err, errlen))
		return -1;
	cfg->mem_hugepages = json_object_get_boolean(v);
	return 0;
}

static int mem_hugepage_size(struct json_object *v, struct vm_config *cfg, const char *path,
			     char *err, size_t errlen)
{
	uint64_t n;

	if (get_u64(v, 0, UINT64_MAX >> 1, &n, path, err, errlen))
		return -1;
	return n == (2u << 20) ? 0 : fail(err, errlen, path, "only 2 MiB (2097152) is supported");
}

static const struct field memory_fields[] = {
	{ "size", mem_size },
	{ "shared", mem_bool_any },
	{ "hugepages", mem_hugepages },
	{ "hugepage_size", mem_hugepage_size },
	{ "thp", ignored },
	{ "hotplug_method", ignored },
	{ "hotplug_size", only_default },
	{ "hotplugged_size", only_default },
	{ "mergeable", only_default },
	{ "prefault", only_default },
	{ "reserve", only_default },
	{ "zones", only_default },
	{ NULL, NULL },
};

static int set_string(struct json_object *v, const char **out, const char *path, char *err,
		      size_t errlen)
{
	if (want_type(v, json_type_string, path, err, errlen))
		return -1;
	*out = json_object_get_string(v);
	return 0;
}

/* A device's id: a non-empty string of printable characters that fits CONFIG_ID_MAX. */
static int set_id(struct json_object *v, char *out, const char *path, char *err, size_t errlen)
{
	const char *id;

	if (want_type(v, json_type_string, path, err, errlen))
		return -1;
	id = json_object_get_string(v);
	if (!*id || strlen(id) >= CONFIG_ID_MAX)
		return fail(err, errlen, path, "must be 1 to 63 characters");
	for (const char *c = id; *c; c++)
		if (*c < 0x21 || *c > 0x7e)
			return fail(err, errlen, path, "printable ASCII only, no spaces");
	snprintf(out, CONFIG_ID_MAX, "%s", id);
	return 0;
}

static int payload_kernel(struct json_object *v, struct vm_config *cfg, const char *path,
			  char *err, size_t errlen)
{
	return set_string(v, &cfg->kernel, path, err, errlen);
}

static int payload_initramfs(struct json_object *v, struct vm_config *cfg, const char *path,
			     char *err, size_t errlen)
{
	return set_string(v, &cfg->initramfs, path, err, errlen);
}

static int payload_cmdline(struct json_object *v, struct vm_config *cfg, const char *path,
			   char *err, size_t errlen)
{
	return set_string(v, &cfg->cmdline, path, err, errlen);
}

static const struct field payload_fields[] = {
	{ "kernel", payload_kernel },
	{ "initramfs", payload_initramfs },
	{ "cmdline", payload_cmdline },
	{ "firmware", unsupported },
	{ "igvm", unsupported },
	{ "host_data", unsupported },
	{ NULL, NULL },
};

/* ---- DiskConfig: the disk being parsed is cfg->disks[cfg->nr_disks] ---- */

static struct disk_config *cur_disk(struct vm_config *cfg)
{
	return &cfg->disks[cfg->nr_disks];
}

static int disk_path(struct json_object *v, struct vm_config *cfg, const char *path, char *err,
		     size_t errlen)
{
	return set_string(v, &cur_disk(cfg)->path, path, err, errlen);
}

static int disk_socket(struct json_object *v, struct vm_config *cfg, const char *path, char *err,
		       size_t errlen)
{
	return set_string(v, &cur_disk(cfg)->socket, path, err, errlen);
}

static int disk_serial(struct json_object *v, struct vm_config *cfg, const char *path, char *err,
		       size_t errlen)
{
	return set_string(v, &cur_disk(cfg)->serial, path, err, errlen);
}

static int get_bool(struct json_object *v, bool *out, const char *path, char *err, size_t errlen)
{
	if (want_type(v, json_type_boolean, path, err, errlen))
		return -1;
	*out = json_object_get_boolean(v);
	return 0;
}

static int disk_readonly(struct json_object *v, struct vm_config *cfg, const char *path,
			 char *err, size_t errlen)
{
	return get_bool(v, &cur_disk(cfg)->readonly, path, err, errlen);
}

static int disk_direct(struct json_object *v, struct vm_config *cfg, const char *path, char *err,
		       size_t errlen)
{
	return get_bool(v, &cur_disk(cfg)->direct, path, err, errlen);
}

static int disk_vhost_user(struct json_object *v, struct vm_config *cfg, const char *path,
			   char *err, size_t errlen)
{
	return get_bool(v, &cur_disk(cfg)->vhost_user, path, err, errlen);
}

static int disk_queues(struct json_object *v, struct vm_config *cfg, const char *path, char *err,
		       size_t errlen)
{
	uint64_t n;

	if (get_u64(v, 1, 16, &n, path, err, errlen))
		return -1;
	cur_disk(cfg)->num_queues = (unsigned int)n;
	return 0;
}

/* queue_size is the largest ring the device offers; cellvm offers 256 for every queue. */
static int disk_queue_size(struct json_object *v, struct vm_config *cfg, const char *path,
			   char *err, size_t errlen)
{
	uint64_t n;

	return get_u64(v, 1, 256, &n, path, err, errlen);
}

static int disk_image_type(struct json_object *v, struct vm_config *cfg, const char *path,
			   char *err, size_t errlen)
{
	if (want_type(v, json_type_string, path, err, errlen))
		return -1;
	return strcmp(json_object_get_string(v), "Raw") ? fail(err, errlen, path, "only Raw") : 0;
}

static int disk_id(struct json_object *v, struct vm_config *cfg, const char *path, char *err,
		   size_t errlen)
{
	return set_id(v, cur_disk(cfg)->id, path, err, errlen);
}

static int disk_sparse(struct json_object *v, struct vm_config *cfg, const char *path, char *err,
		       size_t errlen)
{
	bool b;

	return get_bool(v, &b, path, err, errlen);
}

static const struct field disk_fields[] = {
	{ "path", disk_path },
	{ "readonly", disk_readonly },
	{ "direct", disk_direct },
	{ "num_queues", disk_queues },
	{ "queue_size", disk_queue_size },
	{ "vhost_user", disk_vhost_user },
	{ "vhost_socket", disk_socket },
	{ "serial", disk_serial },
	{ "id", disk_id },
	{ "sparse", disk_sparse },
	{ "image_type", disk_image_type },
	{ "iommu", only_default },
	{ "pci_segment", only_default },
	{ "backing_files", only_default },
	{ "pci_device_id", unsupported },
	{ "rate_limiter_config", unsupported },
	{ "rate_limit_group", unsupported },
	{ "queue_affinity", unsupported },
	{ "lock_granularity", unsupported },
	{ NULL, NULL },
};

static int parse_disks(struct json_object *v, struct vm_config *cfg, const char *path, char *err,
		       size_t errlen)
{
	char sub[96];

	if (want_type(v, json_type_array, path, err, errlen))
		return -1;
	if (json_object_array_length(v) > CONFIG_MAX_DISKS)
		return fail(err, errlen, path, "too many disks (at most 8)");
	for (size_t i = 0; i < json_object_array_length(v); i++) {
		snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
		if (vmconfig_parse_disk(json_object_array_get_idx(v, i), cfg, sub, err, errlen))
			return -1;
	}
	return 0;
}

int vmconfig_parse_disk(struct json_object *obj, struct vm_config *cfg, const char *path,
			char *err, size_t errlen)
{
	struct disk_config *d = cur_disk(cfg);

	if (cfg->nr_disks == CONFIG_MAX_DISKS)
		return fail(err, errlen, path, "too many disks (at most 8)");
	*d = (struct disk_config){ .num_queues = 1 };
	if (parse_object(obj, disk_fields, cfg, path, err, errlen))
		return -1;
	if (d->vhost_user ? !d->socket : !d->path)
		return fail(err, errlen, path, d->vhost_user ? "vhost_user needs vhost_socket"
							    : "path is required");
	cfg->nr_disks++;
	return 0;
}

/* ---- VsockConfig: cid and socket (hybrid vsock through cellvm-vsock) ---- */

static int vsock_cid(struct json_object *v, struct vm_config *cfg, const char *path, char *err,
		     size_t errlen)
{
	return get_u64(v, VSOCK_CID_MIN, VSOCK_CID_MAX, &cfg->vsock.cid, path, err, errlen);
}

static int vsock_socket(struct json_object *v, struct vm_config *cfg, const char *path,
			char *err, size_t errlen)
{
	return set_string(v, &cfg->vsock.socket, path, err, errlen);
}

static int vsock_id(struct json_object *v, struct vm_config *cfg, const char *path, char *err,
		    size_t errlen)
{
	return set_id(v, cfg->vsock.id, path, err, errlen);
}

static const struct field vsock_fields[] = {
	{ "cid", vsock_cid },
	{ "socket", vsock_socket },
	{ "id", vsock_id },
	{ "iommu", only_default },
	{ "pci_segment", only_default },
	{ "pci_device_id", unsupported },
	{ NULL, NULL },
};

static int parse_vsock(struct json_object *v, struct vm_config *cfg, const char *path,
		       char *err, size_t errlen)
{
	return vmconfig_parse_vsock(v, cfg, path, err, errlen);
}

int vmconfig_parse_vsock(struct json_object *v, struct vm_config *cfg, const char *path,
			 char *err, size_t errlen)
{
	cfg->vsock = (struct vsock_config){ .enabled = true };
	if (parse_object(v, vsock_fields, cfg, path, err, errlen))
		return -1;
	if (!cfg->vsock.cid || !cfg->vsock.socket || !*cfg->vsock.socket)
		return fail(err, errlen, path, "cid and socket are required");
	return 0;
}

/* ---- NetConfig: the device being parsed is cfg->nets[cfg->nr_nets] ---- */

static struct net_config *cur_net(struct vm_config *cfg)
{
	return &cfg->nets[cfg->nr_nets];
}

static int net_tap(struct json_object *v, struct vm_config *cfg, const char *path, char *err,
		   size_t errlen)
{
	return set_string(v, &cur_net(cfg)->tap, path, err, errlen);
}

static int net_socket(struct json_object *v, struct vm_config *cfg, const char *path, char *err,
		      size_t errlen)
{
	return set_string(v, &cur_net(cfg)->socket, path, err, errlen);
}

static int net_mac(struct json_object *v, struct vm_config *cfg, const char *path, char *err,
		   size_t errlen)
{
	if (set_string(v, &cur_net(cfg)->mac, path, err, errlen))
		return -1;
	return config_parse_mac(cur_net(cfg)->mac, NULL) ? 0 : fail(err, errlen, path, "must be xx:xx:xx:xx:xx:xx");
}

static int net_id(struct json_object *v, struct vm_config *cfg, const char *path, char *err,
		  size_t errlen)
{
	return set_id(v, cur_net(cfg)->id, path, err, errlen);
}

static int net_vhost_user(struct json_object *v, struct vm_config *cfg, const char *path,
			  char *err, size_t errlen)
{
	return get_bool(v, &cur_net(cfg)->vhost_user, path, err, errlen);
}

static int net_queues(struct json_object *v, struct vm_config *cfg, const char *path, char *err,
		      size_t errlen)
{
	uint64_t n;

	if (get_u64(v, 2, 2 * CONFIG_NET_MAX_PAIRS, &n, path, err, errlen))
		return -1;
	cur_net(cfg)->num_queues = (unsigned int)n;
	return 0;
}

/* fds lists one placeholder per tap queue fd sent with the request (SCM_RIGHTS); as in Cloud
 * Hypervisor the numbers are never used: routes.c puts the received fds in, in order. */
static int net_fds(struct json_object *v, struct vm_config *cfg, const char *path, char *err,
		   size_t errlen)
{
	struct net_config *n = cur_net(cfg);
	size_t len;

	if (want_type(v, json_type_array, path, err, errlen))
		return -1;
	len = json_object_array_length(v);
	if (len > CONFIG_NET_MAX_PAIRS)
		return fail(err, errlen, path, "at most 7 fds (one tap queue per queue pair)");
	for (size_t i = 0; i < len; i++) {
		if (!json_object_is_type(json_object_array_get_idx(v, i), json_type_int))
			return fail(err, errlen, path, "must be an array of integers");
		n->fds[i] = -1;
	}
	n->nr_fds = (unsigned int)len;
	return 0;
}

/* The offloads cellvm-net negotiates with the guest cannot be turned off yet. */
static int net_offload(struct json_object *v, struct vm_config *cfg, const char *path, char *err,
		       size_t errlen)
{
	bool b;

	if (get_bool(v, &b, path, err, errlen))
		return -1;
	return b ? 0 : fail(err, errlen, path, "only true (offloads cannot be turned off yet)");
}

static int net_vhost_mode(struct json_object *v, struct vm_config *cfg, const char *path,
			  char *err, size_t errlen)
{
	if (want_type(v, json_type_string, path, err, errlen))
		return -1;
	return strcmp(json_object_get_string(v), "Client") ? fail(err, errlen, path, "only Client") : 0;
}

/* cellvm leaves the host side of the tap (address, MTU) to whoever made it: the type is
 * checked here, whether it is accepted by net_host_side_used once the fds are known. */
static int net_host_string(struct json_object *v, struct vm_config *cfg, const char *path,
			   char *err, size_t errlen)
{
	return want_type(v, json_type_string, path, err, errlen);
}

static int net_host_int(struct json_object *v, struct vm_config *cfg, const char *path,
			char *err, size_t errlen)
{
	return want_type(v, json_type_int, path, err, errlen);
}

static const struct field net_fields[] = {
	{ "tap", net_tap },
	{ "fds", net_fds },
	{ "mac", net_mac },
	{ "num_queues", net_queues },
	{ "queue_size", disk_queue_size },
	{ "vhost_user", net_vhost_user },
	{ "vhost_socket", net_socket },
	{ "vhost_mode", net_vhost_mode },
	{ "id", net_id },
	{ "offload_tso", net_offload },
	{ "offload_ufo", net_offload },
	{ "offload_csum", net_offload },
	{ "iommu", only_default },
	{ "pci_segment", only_default },
	{ "ip", net_host_string },
	{ "mask", net_host_string },
	{ "host_mac", net_host_string },
	{ "mtu", net_host_int },
	{ "pci_device_id", unsupported },
	{ "rate_limiter_config", unsupported },
	{ NULL, NULL },
};

/* With tap fds Cloud Hypervisor does not touch the host's tap either: ip and mask (which its
 * clients send at the spec's defaults) are ignored there; elsewhere they are refused. */
static int net_host_side_used(struct json_object *obj, const struct net_config *n,
			      const char *path, char *err, size_t errlen)
{
	static const char *const keys[] = { "ip", "mask", "host_mac", "mtu" };
	struct json_object *v;
	char sub[128];

	for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
		if (!json_object_object_get_ex(obj, keys[k], &v) || !v || (n->nr_fds && k < 2))
			continue;
		snprintf(sub, sizeof(sub), "%s.%s", path, keys[k]);
		return fail(err, errlen, sub, "not supported: cellvm does not configure the host's tap");
	}
	return 0;
}

int vmconfig_parse_net(struct json_object *obj, struct vm_config *cfg, const char *path,
		       int socket_fds, char *err, size_t errlen)
{
	struct net_config *n = cur_net(cfg);
	char why[256];

	if (cfg->nr_nets == CONFIG_MAX_NETS)
		return fail(err, errlen, path, "too many network devices (at most 4)");
	*n = (struct net_config){ 0 };
	if (parse_object(obj, net_fields, cfg, path, err, errlen))
		return -1;
	if (socket_fds > CONFIG_NET_MAX_PAIRS)
		return fail(err, errlen, path, "at most 7 tap fds (one per queue pair)");
	if (socket_fds >= 0) {
		n->nr_fds = (unsigned int)socket_fds;
		for (int i = 0; i < socket_fds; i++)
			n->fds[i] = -1;
	}
	if (net_host_side_used(obj, n, path, err, errlen))
		return -1;
	if (config_check_net(n, why, sizeof(why)))
		return fail(err, errlen, path, why + strlen("--net: "));
	cfg->nr_nets++;
	return 0;
}

static int parse_nets(struct json_object *v, struct vm_config *cfg, const char *path, char *err,
		      size_t errlen)
{
	char sub[96];

	if (want_type(v, json_type_array, path, err, errlen))
		return -1;
	if (json_object_array_length(v) > CONFIG_MAX_NETS)
		return fail(err, errlen, path, "too many network devices (at most 4)");
	for (size_t i = 0; i < json_object_array_length(v); i++) {
		snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
		if (vmconfig_parse_net(json_object_array_get_idx(v, i), cfg, sub, -1, err, errlen))
			return -1;
	}
	return 0;
}

/* SerialConfig: Tty (cellvm's stdio), File, Off or Null. */
static int parse_serial(struct json_object *v, struct vm_config *cfg, const char *path,
			char *err, size_t errlen)
{
	struct json_object *mode, *file;
	const char *m;

	if (want_type(v, json_type_object, path, err, errlen))
		return -1;
	json_object_object_foreach(v, key, val) {
		(void)val;
		if (strcmp(key, "mode") && strcmp(key, "file"))
			return fail(err, errlen, path, "only mode and file are supported");
	}
	if (!json_object_object_get_ex(v, "mode", &mode) || !json_object_is_type(mode, json_type_string))
		return fail(err, errlen, path, "mode (a string) is required");
	m = json_object_get_string(mode);
	if (!strcmp(m, "Tty")) {
		cfg->serial = SERIAL_STDIO;
	} else if (!strcmp(m, "Off") || !strcmp(m, "Null")) {
		cfg->serial = SERIAL_OFF;
	} else if (!strcmp(m, "File")) {
		if (!json_object_object_get_ex(v, "file", &file) ||
		    !json_object_is_type(file, json_type_string))
			return fail(err, errlen, path, "mode File needs file (a string)");
		cfg->serial = SERIAL_FILE;
		cfg->serial_path = json_object_get_string(file);
	} else {
		return fail(err, errlen, path, "mode must be Tty, File, Off or Null");
	}
	return 0;
}

/* ConsoleConfig is virtio-console, which cellvm does not have yet: only Off or Null. */
static int parse_console(struct json_object *v, struct vm_config *cfg, const char *path,
			 char *err, size_t errlen)
{
	struct json_object *mode;
	const char *m;

	if (want_type(v, json_type_object, path, err, errlen))
		return -1;
	if (!json_object_object_get_ex(v, "mode", &mode) || !json_object_is_type(mode, json_type_string))
		return fail(err, errlen, path, "mode (a string) is required");
	m = json_object_get_string(mode);
	if (strcmp(m, "Off") && strcmp(m, "Null"))
		return fail(err, errlen, path, "only Off or Null (virtio-console is not supported yet; "
			    "use serial)");
	return 0;
}

static int parse_cpus(struct json_object *v, struct vm_config *cfg, const char *path, char *err,
		      size_t errlen)
{
	return parse_object(v, cpus_fields, cfg, path, err, errlen);
}

static int parse_memory(struct json_object *v, struct vm_config *cfg, const char *path,
			char *err, size_t errlen)
{
	return parse_object(v, memory_fields, cfg, path, err, errlen);
}

static int parse_payload(struct json_object *v, struct vm_config *cfg, const char *path,
			 char *err, size_t errlen)
{
	return parse_object(v, payload_fields, cfg, path, err, errlen);
}

static const struct field vmconfig_fields[] = {
	{ "cpus", parse_cpus },
	{ "memory", parse_memory },
	{ "payload", parse_payload },
	{ "serial", parse_serial },
	{ "console", parse_console },
	{ "debug_console", parse_console },
	{ "disks", parse_disks },
	{ "net", parse_nets },
	{ "fs", only_default },
	{ "pmem", only_default },
	{ "devices", only_default },
	{ "user_devices", only_default },
	{ "vdpa", only_default },
	{ "generic_vhost_user", only_default },
	{ "numa", only_default },
	{ "pci_segments", only_default },
	{ "rate_limit_groups", only_default },
	{ "landlock_rules", only_default },
	{ "iommu", only_default },
	{ "watchdog", only_default },
	{ "pvpanic", only_default },
	{ "landlock_enable", only_default },
	{ "rng", unsupported },
	{ "balloon", unsupported },
	{ "vsock", parse_vsock },
	{ "tpm", unsupported },
	{ "rtc", unsupported },
	{ "platform", unsupported },
	{ NULL, NULL },
};

int vmconfig_from_json(struct json_object *obj, struct vm_config *cfg, char *err, size_t errlen)
{
	*cfg = (struct vm_config){ .nr_cpus = 1, .mem_size = 512ULL << 20, .serial = SERIAL_OFF };
	if (parse_object(obj, vmconfig_fields, cfg, "VmConfig", err, errlen))
		return -1;
	if (!cfg->kernel)
		return fail(err, errlen, "VmConfig.payload.kernel", "required (firmware boot is not "
			    "supported)");
	if (cfg->max_cpus && cfg->max_cpus < cfg->nr_cpus)
		return fail(err, errlen, "VmConfig.cpus.max_vcpus", "is less than boot_vcpus");
	return 0;
}

static struct json_object *disks_to_json(const struct vm_config *cfg)
{
	struct json_object *a = json_object_new_array();

	for (unsigned int i = 0; i < cfg->nr_disks; i++) {
		const struct disk_config *d = &cfg->disks[i];
		struct json_object *o = json_object_new_object();

		if (d->path)
			json_object_object_add(o, "path", json_object_new_string(d->path));
		if (d->socket)
			json_object_object_add(o, "vhost_socket", json_object_new_string(d->socket));
		if (d->serial)
			json_object_object_add(o, "serial", json_object_new_string(d->serial));
		json_object_object_add(o, "readonly", json_object_new_boolean(d->readonly));
		json_object_object_add(o, "direct", json_object_new_boolean(d->direct));
		json_object_object_add(o, "vhost_user", json_object_new_boolean(d->vhost_user));
		json_object_object_add(o, "num_queues", json_object_new_int((int)d->num_queues));
		if (d->id[0])
			json_object_object_add(o, "id", json_object_new_string(d->id));
		json_object_array_add(a, o);
	}
	return a;
}

static struct json_object *nets_to_json(const struct vm_config *cfg)
{
	struct json_object *a = json_object_new_array();

	for (unsigned int i = 0; i < cfg->nr_nets; i++) {
		const struct net_config *n = &cfg->nets[i];
		struct json_object *o = json_object_new_object();

		if (n->tap)
			json_object_object_add(o, "tap", json_object_new_string(n->tap));
		if (n->mac)
			json_object_object_add(o, "mac", json_object_new_string(n->mac));
		if (n->socket)
			json_object_object_add(o, "vhost_socket", json_object_new_string(n->socket));
		if (n->nr_fds) {
			struct json_object *fds = json_object_new_array();

			for (unsigned int q = 0; q < n->nr_fds; q++)
				json_object_array_add(fds, json_object_new_int(n->fds[q]));
			json_object_object_add(o, "fds", fds);
		}
		json_object_object_add(o, "vhost_user", json_object_new_boolean(n->vhost_user));
		json_object_object_add(o, "num_queues", json_object_new_int((int)n->num_queues));
		if (n->id[0])
			json_object_object_add(o, "id", json_object_new_string(n->id));
		json_object_array_add(a, o);
	}
	return a;
}

struct json_object *vmconfig_to_json(const struct vm_config *cfg)
{
	static const char *const serial_modes[] = { "Tty", "File", "Off" };
	struct json_object *o = json_object_new_object(), *cpus = json_object_new_object();
	struct json_object *mem = json_object_new_object(), *pl = json_object_new_object();
	struct json_object *ser = json_object_new_object(), *con = json_object_new_object();

	json_object_object_add(cpus, "boot_vcpus", json_object_new_int(cfg->nr_cpus));
	json_object_object_add(cpus, "max_vcpus", json_object_new_int((int)CONFIG_CPUS_MAX(cfg)));
	json_object_object_add(mem, "size", json_object_new_int64((int64_t)cfg->mem_size));
	json_object_object_add(mem, "shared", json_object_new_boolean(1));
	json_object_object_add(mem, "hugepages", json_object_new_boolean(cfg->mem_hugepages));
	json_object_object_add(pl, "kernel", json_object_new_string(cfg->kernel ? cfg->kernel : ""));
	if (cfg->initramfs)
		json_object_object_add(pl, "initramfs", json_object_new_string(cfg->initramfs));
	if (cfg->cmdline)
		json_object_object_add(pl, "cmdline", json_object_new_string(cfg->cmdline));
	json_object_object_add(ser, "mode", json_object_new_string(serial_modes[cfg->serial]));
	if (cfg->serial == SERIAL_FILE)
		json_object_object_add(ser, "file", json_object_new_string(cfg->serial_path));
	json_object_object_add(con, "mode", json_object_new_string("Off"));
	if (cfg->nr_disks)
		json_object_object_add(o, "disks", disks_to_json(cfg));
	if (cfg->vsock.enabled) {
		struct json_object *vs = json_object_new_object();

		json_object_object_add(vs, "cid", json_object_new_int64((int64_t)cfg->vsock.cid));
		json_object_object_add(vs, "socket", json_object_new_string(cfg->vsock.socket));
		if (cfg->vsock.id[0])
			json_object_object_add(vs, "id", json_object_new_string(cfg->vsock.id));
		json_object_object_add(o, "vsock", vs);
	}
	if (cfg->nr_nets)
		json_object_object_add(o, "net", nets_to_json(cfg));
	json_object_object_add(o, "cpus", cpus);
	json_object_object_add(o, "memory", mem);
	json_object_object_add(o, "payload", pl);
	json_object_object_add(o, "serial", ser);
	json_object_object_add(o, "console", con);
	return o;
}
