/* config.c: command-line parsing into struct vm_config, with Cloud Hypervisor's flag syntax. */
#include "config.h"
#include "cgroup.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One "key=value" sub-option of a flag such as --memory size=512M,shared=on. */
struct subopt {
	const char *key;
	int (*set)(struct vm_config *cfg, const char *value, char *err, size_t errlen);
};

int config_parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;
	unsigned int shift = 0;

	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -ERANGE;
	switch (*end) {
	case 'K': case 'k': shift = 10; end++; break;
	case 'M': case 'm': shift = 20; end++; break;
	case 'G': case 'g': shift = 30; end++; break;
	case 'T': case 't': shift = 40; end++; break;
	default: break;
	}
	if (*end != '\0')
		return -EINVAL;
	if (shift && v > (UINT64_MAX >> shift))
		return -ERANGE;
	*out = (uint64_t)v << shift;
	return 0;
}

static int parse_onoff(const char *value, bool *out)
{
	if (!strcmp(value, "on") || !strcmp(value, "true")) {
		*out = true;
		return 0;
	}
	if (!strcmp(value, "off") || !strcmp(value, "false")) {
		*out = false;
		return 0;
	}
	return -EINVAL;
}

static int set_mem_size(struct vm_config *cfg, const char *v, char *err, size_t errlen)
{
	if (config_parse_size(v, &cfg->mem_size) == 0)
		return 0;
	snprintf(err, errlen, "--memory: invalid size '%s' (use e.g. 512M or 2G)", v);
	return -1;
}

static int set_mem_shared(struct vm_config *cfg, const char *v, char *err, size_t errlen)
{
	bool shared;

	/* Guest RAM is always a shareable memfd; shared=off cannot be honoured. */
	if (parse_onoff(v, &shared) == 0 && shared)
		return 0;
	snprintf(err, errlen, "--memory: shared=%s not supported (guest RAM is always shared)", v);
	return -1;
}

static int set_mem_hugepages(struct vm_config *cfg, const char *v, char *err, size_t errlen)
{
	if (parse_onoff(v, &cfg->mem_hugepages) == 0)
		return 0;
	snprintf(err, errlen, "--memory: hugepages must be on or off, not '%s'", v);
	return -1;
}

static int parse_cpu_count(const char *flag, const char *v, unsigned int *out, char *err,
			   size_t errlen)
{
	char *end;
	unsigned long n;

	errno = 0;
	n = strtoul(v, &end, 10);
	if (errno || *v == '\0' || *end != '\0' || *v == '-' || n > 100000) {
		snprintf(err, errlen, "--cpus: invalid %s '%s'", flag, v);
		return -1;
	}
	*out = (unsigned int)n;
	return 0;
}

static int set_cpus_boot(struct vm_config *cfg, const char *v, char *err, size_t errlen)
{
	return parse_cpu_count("boot", v, &cfg->nr_cpus, err, errlen);
}

static int set_cpus_max(struct vm_config *cfg, const char *v, char *err, size_t errlen)
{
	return parse_cpu_count("max", v, &cfg->max_cpus, err, errlen);
}

static const struct subopt memory_opts[] = {
	{ "size", set_mem_size },
	{ "shared", set_mem_shared },
	{ "hugepages", set_mem_hugepages },
	{ NULL, NULL },
};

static const struct subopt cpus_opts[] = {
	{ "boot", set_cpus_boot },
	{ "max", set_cpus_max },
	{ NULL, NULL },
};

/* Applies "k=v,k=v" from arg using table; the flag name is used in error messages. */
static int parse_subopts(struct vm_config *cfg, const char *flag, const char *arg,
			 const struct subopt *table, char *err, size_t errlen)
{
	char buf[512];
	char *save = NULL;

	if (strlen(arg) >= sizeof(buf)) {
		snprintf(err, errlen, "%s: argument too long", flag);
		return -1;
	}
	strcpy(buf, arg);
	for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '=');
		const struct subopt *o;

		if (!eq) {
			snprintf(err, errlen, "%s: expected key=value, got '%s'", flag, tok);
			return -1;
		}
		*eq = '\0';
		for (o = table; o->key && strcmp(o->key, tok); o++)
			;
		if (!o->key) {
			snprintf(err, errlen, "%s: unknown or unsupported option '%s'", flag, tok);
			return -1;
		}
		if (o->set(cfg, eq + 1, err, errlen))
			return -1;
	}
	return 0;
}

static int parse_queues(const char *v, unsigned int *out)
{
	char *end;
	unsigned long n = strtoul(v, &end, 10);

	if (*v == '\0' || *end != '\0' || n < 1 || n > 16)
		return -1;
	*out = (unsigned int)n;
	return 0;
}

/* One key=value of --disk; d's strings point into the caller's copy of the argument. */
static int disk_key(struct disk_config *d, const char *k, const char *v, char *err, size_t errlen)
{
	bool b = false;

	if (!strcmp(k, "path")) d->path = v;
	else if (!strcmp(k, "socket")) d->socket = v;
	else if (!strcmp(k, "serial")) d->serial = v;
	else if (!strcmp(k, "id")) return 0;
	else if (!strcmp(k, "num_queues")) {
		if (parse_queues(v, &d->num_queues) == 0)
			return 0;
		snprintf(err, errlen, "--disk: num_queues must be 1 to 16, not '%s'", v);
		return -1;
	} else if (parse_onoff(v, &b) == 0 && !strcmp(k, "readonly")) d->readonly = b;
	else if (parse_onoff(v, &b) == 0 && !strcmp(k, "direct")) d->direct = b;
	else if (parse_onoff(v, &b) == 0 && !strcmp(k, "vhost_user")) d->vhost_user = b;
	else {
		snprintf(err, errlen, "--disk: unknown or unsupported option '%s=%s'", k, v);
		return -1;
	}
	return 0;
}

static int parse_disk(struct vm_config *cfg, const char *arg, char *err, size_t errlen)
{
	struct disk_config *d = &cfg->disks[cfg->nr_disks];
	char *copy, *save = NULL;

	if (cfg->nr_disks == CONFIG_MAX_DISKS) {
		snprintf(err, errlen, "--disk: at most %d disks", CONFIG_MAX_DISKS);
		return -1;
	}
	copy = strdup(arg);
	if (!copy) {
		snprintf(err, errlen, "--disk: out of memory");
		return -1;
	}
	cfg->disk_args[cfg->nr_disks++] = copy;
	*d = (struct disk_config){ .num_queues = 1 };
	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '=');
		if (!eq) {
			snprintf(err, errlen, "--disk: expected key=value, got '%s'", tok);
			return -1;
		}
		*eq = '\0';
		if (disk_key(d, tok, eq + 1, err, errlen))
			return -1;
	}
	if (d->vhost_user ? !d->socket : !d->path) {
		snprintf(err, errlen, "--disk: %s", d->vhost_user ? "vhost_user=true needs socket=PATH"
								  : "path=FILE is required");
		return -1;
	}
	return 0;
}

static int vsock_key(struct vsock_config *v, const char *k, const char *val, char *err,
		     size_t errlen)
{
	char *end;
	unsigned long long n;

	if (!strcmp(k, "socket") && *val) {
		v->socket = val;
		return 0;
	}
	if (!strcmp(k, "vhost") && parse_onoff(val, &v->vhost) == 0)
		return 0;
	if (!strcmp(k, "id") || ((!strcmp(k, "iommu") || !strcmp(k, "pci_segment")) &&
				 (!strcmp(val, "off") || !strcmp(val, "0"))))
		return 0;
	if (strcmp(k, "cid")) {
		snprintf(err, errlen, "--vsock: unknown or unsupported option '%s=%s'", k, val);
		return -1;
	}
	errno = 0;
	n = strtoull(val, &end, 10);
	if (errno || end == val || *end || *val == '-' || n < VSOCK_CID_MIN || n > VSOCK_CID_MAX) {
		snprintf(err, errlen, "--vsock: cid must be 3 to 4294967294, not '%s'", val);
		return -1;
	}
	v->cid = n;
	return 0;
}

/* --vsock cid=N,socket=PATH (Cloud Hypervisor's syntax; id, iommu=off, pci_segment=0 too). */
static int parse_vsock(struct vm_config *cfg, const char *arg, char *err, size_t errlen)
{
	char *save = NULL;

	if (cfg->vsock.enabled) {
		snprintf(err, errlen, "--vsock: at most one vsock device");
		return -1;
	}
	cfg->vsock_arg = strdup(arg);
	if (!cfg->vsock_arg) {
		snprintf(err, errlen, "--vsock: out of memory");
		return -1;
	}
	cfg->vsock = (struct vsock_config){ .enabled = true };
	for (char *tok = strtok_r(cfg->vsock_arg, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '=');

		if (!eq) {
			snprintf(err, errlen, "--vsock: expected key=value, got '%s'", tok);
			return -1;
		}
		*eq = '\0';
		if (vsock_key(&cfg->vsock, tok, eq + 1, err, errlen))
			return -1;
	}
	if (cfg->vsock.vhost && cfg->vsock.socket) {
		snprintf(err, errlen, "--vsock: vhost=on (the kernel's vhost-vsock) takes no socket=PATH");
		return -1;
	}
	if (!cfg->vsock.cid || (!cfg->vsock.socket && !cfg->vsock.vhost)) {
		snprintf(err, errlen, "--vsock: cid=N and socket=PATH (or vhost=on) are required");
		return -1;
	}
	return 0;
}

bool config_parse_mac(const char *s, uint8_t *mac)
{
	uint8_t m[6];

	for (int i = 0; i < 6; i++, s += 3) {
		char hex[3] = { s[0], s[0] ? s[1] : 0, 0 }, *end;
		if (!isxdigit((unsigned char)hex[0]) || !isxdigit((unsigned char)hex[1]) ||
		    s[2] != (i < 5 ? ':' : '\0'))
			return false;
		m[i] = (uint8_t)strtoul(hex, &end, 16);
	}
	if (mac)
		memcpy(mac, m, 6);
	return true;
}

static int net_fd(struct net_config *n, const char *v, char *err, size_t errlen);

/* fd=N, or Cloud Hypervisor's list fd=[N,M,...]. */
static int net_fds(struct net_config *n, char *v, char *err, size_t errlen)
{
	size_t len = strlen(v);
	char *save = NULL;

	if (v[0] != '[')
		return net_fd(n, v, err, errlen);
	if (len < 3 || v[len - 1] != ']') {
		snprintf(err, errlen, "--net: fd=[N,M,...] expected, not '%s'", v);
		return -1;
	}
	v[len - 1] = '\0';
	for (char *t = strtok_r(v + 1, ",", &save); t; t = strtok_r(NULL, ",", &save))
		if (net_fd(n, t, err, errlen))
			return -1;
	return 0;
}

/* Splits at the next comma outside brackets; returns the token or NULL at the end. */
static char *next_token(char **p)
{
	char *start = *p;
	int depth = 0;

	if (!start || !*start)
		return NULL;
	for (char *c = start; *c; c++) {
		depth += *c == '[' ? 1 : *c == ']' ? -1 : 0;
		if (*c == ',' && depth <= 0) {
			*c = '\0';
			*p = c + 1;
			return start;
		}
	}
	*p = NULL;
	return start;
}

static int net_fd(struct net_config *n, const char *v, char *err, size_t errlen)
{
	char *end;
	long fd = strtol(v, &end, 10);

	if (*v == '\0' || *end != '\0' || fd < 0 || fd > 65535) {
		snprintf(err, errlen, "--net: fd must be a file descriptor number, not '%s'", v);
		return -1;
	}
	if (n->nr_fds == CONFIG_NET_MAX_PAIRS) {
		snprintf(err, errlen, "--net: at most %d fd= (one per queue pair)", CONFIG_NET_MAX_PAIRS);
		return -1;
	}
	n->fds[n->nr_fds++] = (int)fd;
	return 0;
}

/* One key=value of --net; n's strings point into the caller's copy of the argument. */
static int net_key(struct net_config *n, const char *k, char *v, char *err, size_t errlen)
{
	char *end;
	bool b = false;

	if (!strcmp(k, "tap")) n->tap = v;
	else if (!strcmp(k, "socket") || !strcmp(k, "vhost_socket")) n->socket = v;
	else if (!strcmp(k, "id")) return 0;
	else if (!strcmp(k, "fd")) return net_fds(n, v, err, errlen);
	else if (!strcmp(k, "mac")) {
		n->mac = v;
		if (config_parse_mac(v, NULL))
			return 0;
		snprintf(err, errlen, "--net: mac must be xx:xx:xx:xx:xx:xx, not '%s'", v);
		return -1;
	} else if (!strcmp(k, "num_queues")) {
		unsigned long q = strtoul(v, &end, 10);
		n->num_queues = *v && !*end && q <= 64 ? (unsigned int)q : 1; /* odd: refused below */
	} else if (parse_onoff(v, &b) == 0 && !strcmp(k, "vhost_user")) n->vhost_user = b;
	else if (parse_onoff(v, &b) == 0 && !strcmp(k, "vhost")) n->vhost = b;
	else {
		snprintf(err, errlen, "--net: unknown or unsupported option '%s=%s'", k, v);
		return -1;
	}
	return 0;
}

int config_check_net(struct net_config *n, char *err, size_t errlen)
{
	int kinds = !!n->tap + !!n->nr_fds + !!n->vhost_user;

	if (kinds != 1 || (n->vhost_user && !n->socket) || (!n->vhost_user && n->socket)) {
		snprintf(err, errlen, "--net: give exactly one of tap=NAME, fd=N[,fd=M...] and "
				      "vhost_user=true,socket=PATH");
		return -1;
	}
	if (n->vhost && n->vhost_user) {
		snprintf(err, errlen, "--net: vhost=on (the kernel's vhost-net) needs tap=NAME or fd=N, "
				      "not vhost_user=true");
		return -1;
	}
	if (!n->num_queues)
		n->num_queues = n->nr_fds ? 2 * n->nr_fds : 2;
	if (n->num_queues % 2 || n->num_queues < 2 || n->num_queues > 2 * CONFIG_NET_MAX_PAIRS) {
		snprintf(err, errlen, "--net: num_queues counts rx + tx queues: an even number from 2 "
				      "to %d", 2 * CONFIG_NET_MAX_PAIRS);
		return -1;
	}
	if (n->nr_fds && n->num_queues != 2 * n->nr_fds) {
		snprintf(err, errlen, "--net: %u fd= given for num_queues=%u: one tap fd per queue pair",
			 n->nr_fds, n->num_queues);
		return -1;
	}
	return 0;
}

static int parse_net(struct vm_config *cfg, const char *arg, char *err, size_t errlen)
{
	struct net_config *n = &cfg->nets[cfg->nr_nets];
	char *copy, *rest, *tok;

	if (cfg->nr_nets == CONFIG_MAX_NETS) {
		snprintf(err, errlen, "--net: at most %d network devices", CONFIG_MAX_NETS);
		return -1;
	}
	copy = strdup(arg);
	if (!copy) {
		snprintf(err, errlen, "--net: out of memory");
		return -1;
	}
	cfg->net_args[cfg->nr_nets++] = copy;
	*n = (struct net_config){ 0 };
	rest = copy;
	while ((tok = next_token(&rest))) {
		char *eq = strchr(tok, '=');
		if (!eq) {
			snprintf(err, errlen, "--net: expected key=value, got '%s'", tok);
			return -1;
		}
		*eq = '\0';
		if (net_key(n, tok, eq + 1, err, errlen))
			return -1;
	}
	return config_check_net(n, err, errlen);
}

void config_free(struct vm_config *cfg)
{
	free(cfg->vsock_arg);
	cfg->vsock_arg = NULL;
	for (unsigned int i = 0; i < CONFIG_MAX_DISKS; i++) {
		free(cfg->disk_args[i]);
		cfg->disk_args[i] = NULL;
	}
	for (unsigned int i = 0; i < CONFIG_MAX_NETS; i++) {
		free(cfg->net_args[i]);
		cfg->net_args[i] = NULL;
	}
}

static int parse_serial(struct vm_config *cfg, const char *arg, char *err, size_t errlen)
{
	if (!strcmp(arg, "stdio") || !strcmp(arg, "tty")) {
		cfg->serial = SERIAL_STDIO;
	} else if (!strcmp(arg, "off") || !strcmp(arg, "null")) {
		cfg->serial = SERIAL_OFF;
	} else if (!strncmp(arg, "file=", 5) && arg[5] != '\0') {
		cfg->serial = SERIAL_FILE;
		cfg->serial_path = arg + 5;
	} else {
		snprintf(err, errlen, "--serial: expected stdio, tty, off, null or file=PATH, got '%s'",
			 arg);
		return -1;
	}
	return 0;
}

/* Cloud Hypervisor accepts "PATH", "path=PATH" and "fd=N". */
static int parse_api_socket(struct vm_config *cfg, const char *arg, char *err, size_t errlen)
{
	if (!strncmp(arg, "path=", 5))
		arg += 5;
	if (*arg == '\0') {
		snprintf(err, errlen, "--api-socket: expected PATH or fd=N");
		return -1;
	}
	cfg->api_socket = arg;
	return 0;
}

enum { OPT_KERNEL = 256, OPT_INITRAMFS, OPT_CMDLINE, OPT_CPUS, OPT_MEMORY, OPT_SERIAL,
       OPT_LOG_FILE, OPT_DEBUG_EXIT, OPT_HELP, OPT_VERSION, OPT_API_SOCKET, OPT_DISK,
       OPT_JAIL, OPT_SECCOMP, OPT_PRINT_JAIL, OPT_JAIL_SELFTEST, OPT_VSOCK, OPT_NET,
       OPT_HOTPLUG_SURPRISE };

static const struct option long_opts[] = {
	{ "kernel", required_argument, NULL, OPT_KERNEL },
	{ "initramfs", required_argument, NULL, OPT_INITRAMFS },
	{ "cmdline", required_argument, NULL, OPT_CMDLINE },
	{ "cpus", required_argument, NULL, OPT_CPUS },
	{ "memory", required_argument, NULL, OPT_MEMORY },
	{ "serial", required_argument, NULL, OPT_SERIAL },
	{ "log-file", required_argument, NULL, OPT_LOG_FILE },
	{ "debug-exit", no_argument, NULL, OPT_DEBUG_EXIT },
	{ "api-socket", required_argument, NULL, OPT_API_SOCKET },
	{ "disk", required_argument, NULL, OPT_DISK },
	{ "vsock", required_argument, NULL, OPT_VSOCK },
	{ "jail", required_argument, NULL, OPT_JAIL },
	{ "seccomp", required_argument, NULL, OPT_SECCOMP },
	{ "print-jail", no_argument, NULL, OPT_PRINT_JAIL },
	{ "jail-selftest", required_argument, NULL, OPT_JAIL_SELFTEST },
	{ "net", required_argument, NULL, OPT_NET },
	{ "hotplug-surprise", no_argument, NULL, OPT_HOTPLUG_SURPRISE },
	{ "help", no_argument, NULL, OPT_HELP },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ NULL, 0, NULL, 0 },
};

static int parse_id(const char *what, const char *v, uint32_t *out, char *err, size_t errlen)
{
	char *end;
	unsigned long n;

	errno = 0;
	n = strtoul(v, &end, 10);
	if (*v < '0' || *v > '9' || *end || errno || n == 0 || n >= 0xffffffffUL) {
		snprintf(err, errlen, "--jail: %s=%s: expected a number from 1 to 4294967294 (not 0: root)",
			 what, v);
		return -1;
	}
	*out = (uint32_t)n;
	return 0;
}

static int parse_cgroup_name(struct jail_config *j, const char *v, char *err, size_t errlen)
{
	if (!cgroup_name_ok(v)) {
		snprintf(err, errlen, "--jail: cgroup=%s: 1 to 64 characters of A-Z a-z 0-9 . _ -", v);
		return -1;
	}
	snprintf(j->cgroup, sizeof(j->cgroup), "%s", v);
	return 0;
}

static int parse_limit(const char *what, const char *v, bool size, uint64_t *out, char *err,
		       size_t errlen)
{
	char *end;
	unsigned long long n;

	errno = 0;
	n = size ? 0 : strtoull(v, &end, 10);
	if ((size && config_parse_size(v, out) < 0) ||
	    (!size && (*v < '0' || *v > '9' || *end || errno || n == 0))) {
		snprintf(err, errlen, "--jail: %s=%s: expected a %s", what, v,
			 size ? "size such as 512M or 2G" : "positive number");
		return -1;
	}
	if (!size)
		*out = n;
	return 0;
}

/* uid_range=FIRST-LAST: ids for uid and gid alike, as libvirt's per-VM qemu users. */
static int parse_id_range(struct jail_config *j, const char *v, char *err, size_t errlen)
{
	char buf[48], *dash;

	snprintf(buf, sizeof(buf), "%s", v);
	dash = strchr(buf, '-');
	if (!dash)
		goto bad;
	*dash = '\0';
	if (parse_id("uid_range", buf, &j->id_first, err, errlen) ||
	    parse_id("uid_range", dash + 1, &j->id_last, err, errlen))
		return -1;
	if (j->id_first <= j->id_last && j->id_last - j->id_first < 1000000)
		return 0;
bad:
	snprintf(err, errlen, "--jail: uid_range=%s: expected FIRST-LAST, at most a million ids", v);
	return -1;
}

/* hotplug-dir=DIR: an absolute path (the broker resolves it when it starts). */
static int parse_hotplug_dir(struct jail_config *j, const char *v, char *err, size_t errlen)
{
	if (v[0] != '/' || strlen(v) >= sizeof(j->hotplug_dir)) {
		snprintf(err, errlen, "--jail: hotplug-dir=%s: expected an absolute path (at most %zu "
			 "characters)", v, sizeof(j->hotplug_dir) - 1);
		return -1;
	}
	snprintf(j->hotplug_dir, sizeof(j->hotplug_dir), "%s", v);
	return 0;
}

/* --jail on|off|strict[,uid=N][,gid=N][,cgroup=NAME][,memory_max=..][,pids_max=..][,cpu_max=..] */
static int parse_jail_token(struct jail_config *j, char *tok, char *err, size_t errlen)
{
	if (strcmp(tok, "on") == 0)
		j->mode = JAIL_ON;
	else if (strcmp(tok, "off") == 0)
		j->mode = JAIL_OFF;
	else if (strcmp(tok, "strict") == 0)
		j->mode = JAIL_STRICT;
	else if (strncmp(tok, "cgroup=", 7) == 0)
		return parse_cgroup_name(j, tok + 7, err, errlen);
	else if (strncmp(tok, "memory_max=", 11) == 0)
		return parse_limit("memory_max", tok + 11, true, &j->memory_max, err, errlen);
	else if (strncmp(tok, "pids_max=", 9) == 0)
		return parse_limit("pids_max", tok + 9, false, &j->pids_max, err, errlen);
	else if (strncmp(tok, "cpu_max=", 8) == 0)
		return parse_limit("cpu_max", tok + 8, false, &j->cpu_pct, err, errlen);
	else if (strncmp(tok, "uid_range=", 10) == 0)
		return parse_id_range(j, tok + 10, err, errlen);
	else if (strcmp(tok, "hotplug=off") == 0)
		j->hotplug_off = true;
	else if (strcmp(tok, "hotplug=on") == 0)
		j->hotplug_off = false;
	else if (strncmp(tok, "hotplug-dir=", 12) == 0)
		return parse_hotplug_dir(j, tok + 12, err, errlen);
	else if (strncmp(tok, "uid=", 4) == 0)
		return (j->uid_set = true, parse_id("uid", tok + 4, &j->uid, err, errlen));
	else if (strncmp(tok, "gid=", 4) == 0)
		return (j->gid_set = true, parse_id("gid", tok + 4, &j->gid, err, errlen));
	else {
		snprintf(err, errlen, "--jail: unknown option '%s' (on, off, strict, uid=N, gid=N, "
			 "cgroup=NAME, memory_max=SIZE, pids_max=N, cpu_max=PERCENT, hotplug=off, "
			 "hotplug-dir=DIR)", tok);
		return -1;
	}
	return 0;
}

static int parse_jail(struct jail_config *j, const char *arg, char *err, size_t errlen)
{
	char buf[512], *save = NULL;

	if (snprintf(buf, sizeof(buf), "%s", arg) >= (int)sizeof(buf)) {
		snprintf(err, errlen, "--jail: argument too long");
		return -1;
	}
	for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
		if (parse_jail_token(j, tok, err, errlen) < 0)
			return -1;
	return 0;
}

/* --seccomp true|false|log: Cloud Hypervisor's flag. */
static int parse_seccomp(struct jail_config *j, const char *arg, char *err, size_t errlen)
{
	if (strcmp(arg, "true") == 0)
		j->seccomp = SECCOMP_CLI_TRUE;
	else if (strcmp(arg, "log") == 0)
		j->seccomp = SECCOMP_CLI_LOG;
	else if (strcmp(arg, "false") == 0)
		j->seccomp = SECCOMP_CLI_FALSE;
	else {
		snprintf(err, errlen, "--seccomp: '%s': expected true, false or log", arg);
		return -1;
	}
	return 0;
}

/* Applies one parsed option; returns 0, a config_action > 0, or -1 with err set. */
static int apply_opt(struct vm_config *cfg, int opt, const char *arg, char *err, size_t errlen)
{
	switch (opt) {
	case OPT_KERNEL: cfg->kernel = arg; return 0;
	case OPT_INITRAMFS: cfg->initramfs = arg; return 0;
	case OPT_CMDLINE: cfg->cmdline = arg; return 0;
	case OPT_CPUS: return parse_subopts(cfg, "--cpus", arg, cpus_opts, err, errlen);
	case OPT_MEMORY: return parse_subopts(cfg, "--memory", arg, memory_opts, err, errlen);
	case OPT_SERIAL: return parse_serial(cfg, arg, err, errlen);
	case OPT_LOG_FILE: cfg->log_file = arg; return 0;
	case OPT_DEBUG_EXIT: cfg->debug_exit = true; return 0;
	case OPT_API_SOCKET: return parse_api_socket(cfg, arg, err, errlen);
	case OPT_DISK: return parse_disk(cfg, arg, err, errlen);
	case OPT_VSOCK: return parse_vsock(cfg, arg, err, errlen);
	case OPT_JAIL: return parse_jail(&cfg->jail, arg, err, errlen);
	case OPT_SECCOMP: return parse_seccomp(&cfg->jail, arg, err, errlen);
	case OPT_PRINT_JAIL: cfg->jail.print = true; return 0;
	case OPT_JAIL_SELFTEST: cfg->jail.selftest = arg; return 0;
	case OPT_NET: return parse_net(cfg, arg, err, errlen);
	case OPT_HOTPLUG_SURPRISE: cfg->hotplug_surprise = true; return 0;
	case 'v': cfg->verbosity++; return 0;
	case OPT_HELP: case 'h': return CONFIG_HELP;
	case OPT_VERSION: return CONFIG_VERSION;
	default: return -1;
	}
}

/* Sanitizer builds (make check-asan) leave the VMM unjailed unless --jail on is given:
 * LeakSanitizer's exit-time check needs ptrace and /proc, which the jail takes away, and
 * the integration and API suites are there to find leaks. The sandbox suite asks for the
 * jail explicitly, so the jail itself is tested under the sanitizers too. */
#if defined(__SANITIZE_ADDRESS__)
#define DEFAULT_JAIL JAIL_OFF
#else
#define DEFAULT_JAIL JAIL_ON
#endif

static void config_defaults(struct vm_config *cfg)
{
	*cfg = (struct vm_config){
		.nr_cpus = 1,
		.mem_size = 512ULL << 20, /* Cloud Hypervisor's default */
		.serial = SERIAL_STDIO,
		.jail.mode = DEFAULT_JAIL,
	};
}

int config_parse_args(struct vm_config *cfg, int argc, char **argv, char *err, size_t errlen)
{
	int opt, rc;

	config_defaults(cfg);
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":vh", long_opts, NULL)) != -1) {
		if (opt == '?' || opt == ':') {
			const char *bad = argv[optind - 1];
			snprintf(err, errlen, opt == '?' ? "unknown option '%s' (see --help)"
						       : "option '%s' needs a value", bad);
			return -1;
		}
		rc = apply_opt(cfg, opt, optarg, err, errlen);
		if (rc != 0)
			return rc;
	}
	if (optind < argc) {
		snprintf(err, errlen, "unexpected argument '%s' (see --help)", argv[optind]);
		return -1;
	}
	return CONFIG_RUN;
}

int config_validate(const struct vm_config *cfg, char *err, size_t errlen)
{
	if (!cfg->kernel && !cfg->api_socket && !cfg->jail.selftest && !cfg->jail.print) {
		snprintf(err, errlen, "no kernel given: use --kernel PATH or --api-socket (see --help)");
		return -1;
	}
	if (cfg->nr_cpus == 0 || cfg->nr_cpus > CONFIG_MAX_CPUS) {
		snprintf(err, errlen, "--cpus: boot=%u is out of range (1 to %d)", cfg->nr_cpus,
			 CONFIG_MAX_CPUS);
		return -1;
	}
	if (cfg->max_cpus && (cfg->max_cpus < cfg->nr_cpus || cfg->max_cpus > CONFIG_MAX_CPUS)) {
		snprintf(err, errlen, "--cpus: max=%u must be between boot=%u and %d", cfg->max_cpus,
			 cfg->nr_cpus, CONFIG_MAX_CPUS);
		return -1;
	}
	if (cfg->mem_size == 0) {
		snprintf(err, errlen, "--memory: size must not be 0");
		return -1;
	}
	return 0;
}

void config_print_help(const char *prog)
{
	printf("Usage: %s --kernel PATH [options]\n"
	       "cellvm %s: a small virtual machine monitor for /dev/kvm.\n\n"
	       "  --kernel PATH          PVH ELF, ELF vmlinux or bzImage (64-bit boot)\n"
	       "  --initramfs PATH       initial ramdisk\n"
	       "  --cmdline STR          kernel command line\n"
	       "  --cpus boot=N[,max=M]  number of vCPUs (default 1); up to M with vm.resize\n"
	       "  --memory size=SIZE[,shared=on][,hugepages=on]\n"
	       "                         guest RAM, e.g. 512M or 2G (default 512M); always a\n"
	       "                         shareable memfd, hugepages uses 2 MiB pages\n"
	       "  --serial stdio|tty|file=PATH|off|null\n"
	       "                         where COM1 goes (default stdio)\n"
	       "  --log-file PATH        write cellvm's log there instead of stderr\n"
	       "  -v                     more logging (repeat for debug)\n"
	       "  --debug-exit           I/O port 0xf4: guest writes v, cellvm exits with v\n"
	       "  --disk path=FILE[,readonly=on][,direct=on][,num_queues=N][,serial=S]\n"
	       "                         a virtio-blk disk served by a cellvm-blk process\n"
	       "  --disk vhost_user=true,socket=PATH[,num_queues=N]\n"
	       "                         a virtio-blk disk served by an external vhost-user backend\n"
	       "                         (reconnected for 10 s if it hangs up)\n"
	       "  --vsock cid=N,socket=PATH\n"
	       "                         virtio-vsock served by a cellvm-vsock process (hybrid\n"
	       "                         vsock): host clients connect to PATH and send\n"
	       "                         \"CONNECT <port>\\n\"; the guest reaches host port P at PATH_P\n"
	       "  --vsock cid=N,vhost=on the same served by the kernel's vhost-vsock (/dev/vhost-vsock;\n"
	       "                         host programs use AF_VSOCK sockets)\n"
	       "  --net tap=NAME[,mac=MAC][,num_queues=N]\n"
	       "                         a virtio-net device on tap NAME (opened by cellvm, made\n"
	       "                         if missing) served by a cellvm-net process; num_queues\n"
	       "                         counts rx + tx queues (default 2: one pair)\n"
	       "  --net fd=N[,fd=M...][,mac=MAC]   (or fd=[N,M,...])\n"
	       "                         the same on tap queue fds the caller opened (one per pair)\n"
	       "  --net tap=NAME|fd=N,...,vhost=on\n"
	       "                         the frames moved by the kernel's vhost-net (/dev/vhost-net)\n"
	       "                         instead of a cellvm-net process\n"
	       "  --net vhost_user=true,socket=PATH[,num_queues=N]\n"
	       "                         a virtio-net device served by an external vhost-user backend\n"
	       "  --jail on|off|strict[,uid=N][,gid=N][,cgroup=NAME][,memory_max=SIZE]\n"
	       "         [,pids_max=N][,cpu_max=PERCENT][,uid_range=FIRST-LAST]\n"
	       "                         the VMM's own jail (default on; strict: a missing layer is\n"
	       "                         an error; uid/gid: its identity when started as root;\n"
	       "                         cgroup: the VM's group cellvm/NAME, default vm-<pid>;\n"
	       "                         uid_range: a free uid=gid per VM from the range)\n"
	       "  --jail ...,hotplug=off|hotplug-dir=DIR\n"
	       "                         devices added to a running VM (API only): hotplug=off keeps\n"
	       "                         the broker sealed (also with strict); hot-added disks and\n"
	       "                         vhost-user sockets must lie under DIR (none without it)\n"
	       "  --hotplug-surprise     vm.remove-device takes the device away at once instead of\n"
	       "                         asking the guest to eject it (for guests without ACPI hotplug)\n"
	       "  --seccomp true|false|log\n"
	       "                         the VMM's seccomp filters (log: allow and log, for policies)\n"
	       "  --print-jail           print the effective jail of each process and exit\n"
	       "  --jail-selftest [vcpu:|api:]ACT\n"
	       "                         test hook: enter the jail, try one forbidden act in the\n"
	       "                         main thread (or a vCPU/API-role thread), report, exit\n"
	       "  --api-socket PATH|fd=N serve the Cloud Hypervisor REST API (then --kernel is\n"
	       "                         optional: the VM can be created with vm.create)\n"
	       "  -h, --help             this text\n"
	       "  --version              print the version\n\n"
	       "Exit status: 0 guest powered off, 1 cellvm error, 2 bad usage, 3 bad kernel or\n"
	       "initramfs, 4 /dev/kvm unusable, 5 guest reboot, 6 guest triple fault,\n"
	       "7 KVM could not run the guest, 8 stopped by a signal, 9 the jail could not be\n"
	       "entered; with --debug-exit the\n"
	       "value the guest wrote.\n",
	       prog, CELLVM_VERSION);
}
