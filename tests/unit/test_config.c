/* test_config.c: command-line parsing into struct vm_config, and its error messages. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "config.h"

static int parse(struct vm_config *cfg, char *err, const char **argv_in, int argc)
{
	char *argv[16];

	for (int i = 0; i < argc; i++)
		argv[i] = (char *)argv_in[i];
	argv[argc] = NULL;
	return config_parse_args(cfg, argc, argv, err, 256);
}

#define PARSE(cfg, err, ...)                                                          \
	parse(cfg, err, (const char *[]){ "cellvm", __VA_ARGS__ },                     \
	      (int)(sizeof((const char *[]){ "cellvm", __VA_ARGS__ }) / sizeof(char *)))

Test(config, defaults_are_one_cpu_512M_serial_stdio)
{
	struct vm_config cfg;
	char err[256];

	int rc = PARSE(&cfg, err, "--kernel", "k");

	cr_assert_eq(rc, CONFIG_RUN);
	cr_assert_eq(cfg.nr_cpus, 1);
	cr_assert_eq(cfg.mem_size, 512ULL << 20);
	cr_assert_eq(cfg.serial, SERIAL_STDIO);
}

Test(config, memory_size_and_hugepages)
{
	struct vm_config cfg;
	char err[256];

	PARSE(&cfg, err, "--kernel", "k", "--memory", "size=2G,shared=on,hugepages=on");

	cr_assert_eq(cfg.mem_size, 2ULL << 30);
	cr_assert(cfg.mem_hugepages);
}

Test(config, cpus_boot)
{
	struct vm_config cfg;
	char err[256];

	PARSE(&cfg, err, "--kernel", "k", "--cpus", "boot=4");

	cr_assert_eq(cfg.nr_cpus, 4);
}

Test(config, cpus_max_above_boot_leaves_room_for_hotplug)
{
	struct vm_config cfg;
	char err[256];

	int rc = PARSE(&cfg, err, "--kernel", "k", "--cpus", "max=4,boot=2");

	cr_assert_geq(rc, 0, "%s", err);
	cr_assert_eq(cfg.nr_cpus, 2);
	cr_assert_eq(cfg.max_cpus, 4);
	cr_assert_eq(CONFIG_CPUS_MAX(&cfg), 4);
	cr_assert_eq(config_validate(&cfg, err, sizeof(err)), 0, "%s", err);
}

Test(config, cpus_max_below_boot_is_rejected)
{
	struct vm_config cfg;
	char err[256];

	cr_assert_geq(PARSE(&cfg, err, "--kernel", "k", "--cpus", "boot=2,max=1"), 0, "%s", err);
	cr_assert_eq(config_validate(&cfg, err, sizeof(err)), -1);
	cr_assert(strstr(err, "max=1 must be between boot=2 and 254"), "%s", err);
}

Test(config, serial_file)
{
	struct vm_config cfg;
	char err[256];

	PARSE(&cfg, err, "--kernel", "k", "--serial", "file=/tmp/x");

	cr_assert_eq(cfg.serial, SERIAL_FILE);
	cr_assert_str_eq(cfg.serial_path, "/tmp/x");
}

Test(config, unknown_flag_is_named)
{
	struct vm_config cfg;
	char err[256];

	int rc = PARSE(&cfg, err, "--kernel", "k", "--bogus");

	cr_assert_eq(rc, -1);
	cr_assert_str_eq(err, "unknown option '--bogus' (see --help)");
}

Test(config, missing_value_is_named)
{
	struct vm_config cfg;
	char err[256];

	int rc = PARSE(&cfg, err, "--kernel");

	cr_assert_eq(rc, -1);
	cr_assert_str_eq(err, "option '--kernel' needs a value");
}

Test(config, unknown_suboption_is_named)
{
	struct vm_config cfg;
	char err[256];

	int rc = PARSE(&cfg, err, "--kernel", "k", "--memory", "size=1G,mergeable=on");

	cr_assert_eq(rc, -1);
	cr_assert_str_eq(err, "--memory: unknown or unsupported option 'mergeable'");
}

Test(config, shared_off_is_rejected)
{
	struct vm_config cfg;
	char err[256];

	int rc = PARSE(&cfg, err, "--kernel", "k", "--memory", "size=1G,shared=off");

	cr_assert_eq(rc, -1);
}

Test(config, help_and_version_actions)
{
	struct vm_config cfg;
	char err[256];

	cr_assert_eq(PARSE(&cfg, err, "--help"), CONFIG_HELP);
	cr_assert_eq(PARSE(&cfg, err, "--version"), CONFIG_VERSION);
}

Test(config, verbosity_counts)
{
	struct vm_config cfg;
	char err[256];

	PARSE(&cfg, err, "-v", "-v", "--kernel", "k");

	cr_assert_eq(cfg.verbosity, 2);
}

Test(config_validate, zero_cpus_rejected)
{
	struct vm_config cfg = { .kernel = "k", .nr_cpus = 0, .mem_size = 1 << 20 };
	char err[256];

	cr_assert_eq(config_validate(&cfg, err, sizeof(err)), -1);
	cr_assert(strstr(err, "boot=0 is out of range"));
}

Test(config_validate, zero_memory_rejected)
{
	struct vm_config cfg = { .kernel = "k", .nr_cpus = 1, .mem_size = 0 };
	char err[256];

	cr_assert_eq(config_validate(&cfg, err, sizeof(err)), -1);
	cr_assert_str_eq(err, "--memory: size must not be 0");
}

Test(config_validate, missing_kernel_rejected)
{
	struct vm_config cfg = { .nr_cpus = 1, .mem_size = 1 << 20 };
	char err[256];

	cr_assert_eq(config_validate(&cfg, err, sizeof(err)), -1);
	cr_assert(strstr(err, "no kernel given"));
}

Test(config_size, suffixes)
{
	uint64_t v;

	cr_assert_eq(config_parse_size("64K", &v), 0);
	cr_assert_eq(v, 64ULL << 10);
	cr_assert_eq(config_parse_size("512M", &v), 0);
	cr_assert_eq(v, 512ULL << 20);
	cr_assert_eq(config_parse_size("3G", &v), 0);
	cr_assert_eq(v, 3ULL << 30);
	cr_assert_eq(config_parse_size("12345", &v), 0);
	cr_assert_eq(v, 12345);
}

Test(config_size, garbage_and_overflow_rejected)
{
	uint64_t v;

	cr_assert_eq(config_parse_size("", &v), -EINVAL);
	cr_assert_eq(config_parse_size("-1G", &v), -EINVAL);
	cr_assert_eq(config_parse_size("1Q", &v), -EINVAL);
	cr_assert_eq(config_parse_size("99999999999999T", &v), -ERANGE);
	cr_assert_eq(config_parse_size("99999999999999999999999", &v), -ERANGE);
}

Test(config, vsock_cid_and_socket)
{
	struct vm_config cfg;
	char err[256];

	int rc = PARSE(&cfg, err, "--kernel", "k", "--vsock", "cid=42,socket=/run/v.sock");

	cr_assert_eq(rc, CONFIG_RUN, "%s", err);
	cr_assert(cfg.vsock.enabled);
	cr_assert_eq(cfg.vsock.cid, 42);
	cr_assert_str_eq(cfg.vsock.socket, "/run/v.sock");
	config_free(&cfg);
}

Test(config, vsock_reserved_cid_rejected)
{
	struct vm_config cfg;
	char err[256];

	int rc = PARSE(&cfg, err, "--kernel", "k", "--vsock", "cid=2,socket=/run/v.sock");

	cr_assert_eq(rc, -1);
	cr_assert(strstr(err, "cid must be 3 to 4294967294"), "%s", err);
	config_free(&cfg);
}

Test(config, vsock_needs_socket)
{
	struct vm_config cfg;
	char err[256];

	int rc = PARSE(&cfg, err, "--kernel", "k", "--vsock", "cid=3");

	cr_assert_eq(rc, -1);
	cr_assert(strstr(err, "socket=PATH (or vhost=on) are required"), "%s", err);
	config_free(&cfg);
}

Test(config, vhost_on_for_vsock_and_net)
{
	struct vm_config cfg;
	char err[256];

	cr_assert_eq(PARSE(&cfg, err, "--kernel", "k", "--vsock", "cid=7,vhost=on", "--net",
			   "tap=t0,vhost=on,num_queues=4"), CONFIG_RUN, "%s", err);
	cr_assert(cfg.vsock.vhost);
	cr_assert_null(cfg.vsock.socket);
	cr_assert_eq(cfg.vsock.cid, 7);
	cr_assert(cfg.nets[0].vhost);
	cr_assert_eq(cfg.nets[0].num_queues, 4);
	config_free(&cfg);
	cr_assert_eq(PARSE(&cfg, err, "--net", "tap=t0"), CONFIG_RUN, "%s", err);
	cr_assert_not(cfg.nets[0].vhost); /* off unless asked for */
	config_free(&cfg);
	cr_assert_eq(PARSE(&cfg, err, "--vsock", "cid=7,vhost=on,socket=/run/v.sock"), -1);
	cr_assert(strstr(err, "takes no socket=PATH"), "%s", err);
	config_free(&cfg);
	cr_assert_eq(PARSE(&cfg, err, "--net", "vhost_user=true,socket=/s,vhost=on"), -1);
	cr_assert(strstr(err, "needs tap=NAME or fd=N"), "%s", err);
	config_free(&cfg);
	cr_assert_eq(PARSE(&cfg, err, "--net", "tap=t0,vhost=maybe"), -1);
	cr_assert(strstr(err, "unknown or unsupported option 'vhost=maybe'"), "%s", err);
	config_free(&cfg);
}

Test(config, net_tap_mac_queues)
{
	struct vm_config cfg;
	char err[256] = "";

	cr_assert_eq(PARSE(&cfg, err, "--kernel", "k", "--net", "tap=tap0,mac=52:54:00:12:34:56,num_queues=4"),
		     CONFIG_RUN, "%s", err);
	cr_assert_eq(cfg.nr_nets, 1);
	cr_assert_str_eq(cfg.nets[0].tap, "tap0");
	cr_assert_str_eq(cfg.nets[0].mac, "52:54:00:12:34:56");
	cr_assert_eq(cfg.nets[0].num_queues, 4);
	config_free(&cfg);
}

Test(config, net_fds_set_the_queue_count)
{
	struct vm_config cfg;
	char err[256] = "";

	cr_assert_eq(PARSE(&cfg, err, "--kernel", "k", "--net", "fd=3,fd=4"), CONFIG_RUN, "%s", err);
	cr_assert_eq(cfg.nets[0].nr_fds, 2);
	cr_assert_eq(cfg.nets[0].fds[1], 4);
	cr_assert_eq(cfg.nets[0].num_queues, 4);
	config_free(&cfg);
	cr_assert_eq(PARSE(&cfg, err, "--kernel", "k", "--net", "fd=[5,6,7],mac=52:54:00:12:34:56"), CONFIG_RUN,
		     "%s", err);
	cr_assert_eq(cfg.nets[0].nr_fds, 3);
	cr_assert_eq(cfg.nets[0].fds[2], 7);
	cr_assert_str_eq(cfg.nets[0].mac, "52:54:00:12:34:56");
	config_free(&cfg);
	cr_assert_eq(PARSE(&cfg, err, "--kernel", "k", "--net", "fd=[5,6"), -1);
	config_free(&cfg);
}

Test(config, net_bad_values_are_named)
{
	struct vm_config cfg;
	char err[256] = "";

	cr_assert_eq(PARSE(&cfg, err, "--net", "tap=a,fd=3"), -1);
	cr_assert(strstr(err, "exactly one of"), "%s", err);
	config_free(&cfg);
	cr_assert_eq(PARSE(&cfg, err, "--net", "tap=a,num_queues=16"), -1);
	cr_assert(strstr(err, "even number from 2 to 14"), "%s", err);
	config_free(&cfg);
	cr_assert_eq(PARSE(&cfg, err, "--net", "tap=a,mac=52:54:00:12:34:5g"), -1);
	cr_assert(strstr(err, "mac must be"), "%s", err);
	config_free(&cfg);
	cr_assert_eq(PARSE(&cfg, err, "--net", "vhost_user=true"), -1);
	config_free(&cfg);
	cr_assert_eq(PARSE(&cfg, err, "--net", "tap=a,fd=-1"), -1);
	cr_assert(strstr(err, "file descriptor number"), "%s", err);
	config_free(&cfg);
}

/* Hotplug: --jail hotplug=off, hotplug-dir=ABSOLUTE, --hotplug-surprise. */
Test(config, jail_hotplug_options)
{
	struct vm_config cfg;
	char err[256];

	cr_assert_eq(PARSE(&cfg, err, "--api-socket", "/s", "--jail", "on,hotplug-dir=/srv/vm,hotplug=off",
			   "--hotplug-surprise"), CONFIG_RUN, "%s", err);
	cr_assert_str_eq(cfg.jail.hotplug_dir, "/srv/vm");
	cr_assert(cfg.jail.hotplug_off);
	cr_assert(cfg.hotplug_surprise);
	cr_assert_eq(PARSE(&cfg, err, "--api-socket", "/s", "--jail", "hotplug-dir=srv"), -1);
	cr_assert(strstr(err, "hotplug-dir=srv: expected an absolute path"), "%s", err);
	cr_assert_eq(PARSE(&cfg, err, "--api-socket", "/s", "--jail", "hotplug=maybe"), -1);
	cr_assert(strstr(err, "hotplug=off"), "%s", err);
}
