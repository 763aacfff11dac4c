/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * sbc/config: the shipped configurations load with the documented values,
 * defaults apply, and every file in tests/conf-bad/ is rejected with the
 * exact "file:line: field: problem" message its first line announces:
 *   # expect: LINE: FIELD.PATH: MESSAGE
 * Adding a bad configuration is adding a file; no code change.
 */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "config.h"
#include "sip.h"

static char tests_dir[4096];

static void path_of(char *out, size_t cap, const char *rel)
{
	snprintf(out, cap, "%s/%s", tests_dir, rel);
}

static struct sbc_config *load_ok(const char *path)
{
	struct sbc_config *cfg = NULL;
	char err[1024] = "";
	int r = sbc_config_load(path, &cfg, err, sizeof err);

	if (r)
		print_error("%s\n", err);
	assert_int_equal(r, 0);
	assert_non_null(cfg);
	return cfg;
}

static struct sbc_config *parse_ok(const char *text)
{
	struct sbc_config *cfg = NULL;
	char err[1024] = "";
	int r = sbc_config_parse("mem.yaml", text, strlen(text), &cfg, err, sizeof err);

	if (r)
		print_error("%s\n", err);
	assert_int_equal(r, 0);
	return cfg;
}

static void parse_fails(const char *text, const char *expect)
{
	struct sbc_config *cfg = (struct sbc_config *)1;
	char err[1024] = "";

	assert_int_equal(sbc_config_parse("mem.yaml", text, strlen(text), &cfg, err, sizeof err),
			 -EINVAL);
	assert_null(cfg);
	assert_string_equal(err, expect);
}

#define MIN_REALM                                                              \
	"realms:\n"                                                            \
	"  - name: a\n"                                                        \
	"    listen: [{ address: 127.0.0.1 }]\n"                               \
	"    media: { address: 127.0.0.1, ports: 10000-10999 }\n"

/* ---- shipped configurations ---------------------------------------------- */

static void test_default_config(void **state)
{
	char path[4200];
	struct sbc_config *cfg;
	const struct sbc_realm *a, *c;

	path_of(path, sizeof path, "../conf/sbc.yaml");
	cfg = load_ok(path);
	assert_int_equal(cfg->workers, 0);
	assert_int_equal(cfg->log_level, SBC_LOG_INFO);
	assert_int_equal(cfg->sip.t1_ms, 500);
	assert_int_equal(cfg->sip.t2_ms, 4000);
	assert_int_equal(cfg->sip.t4_ms, 5000);
	assert_int_equal(cfg->sip.timer_c_ms, 180000);
	assert_int_equal(cfg->sip.max_dialog_duration_s, 14400);
	assert_string_equal(cfg->sip.user_agent, "sbc");
	assert_true(cfg->control.metrics_enabled);
	assert_string_equal(cfg->control.metrics_ip.text, "127.0.0.1");
	assert_int_equal(cfg->control.metrics_port, 9099);

	assert_int_equal(cfg->nrealms, 2);
	a = &cfg->realms[0];
	c = &cfg->realms[1];
	assert_string_equal(a->name, "access");
	assert_false(a->trusted);
	assert_true(a->hide_topology);
	assert_int_equal(a->nlisten, 1);
	assert_string_equal(a->listen[0].ip.text, "127.0.0.1");
	assert_int_equal(a->listen[0].ip.family, AF_INET);
	assert_int_equal(a->listen[0].port, 5060);
	assert_int_equal(a->listen[0].transport, SBC_TRANSPORT_UDP);
	assert_string_equal(a->advertise.name, "127.0.0.1");
	assert_string_equal(a->media.ip.text, "127.0.0.1");
	assert_int_equal(a->media.port_first, 20000);
	assert_int_equal(a->media.port_last, 29999);
	assert_int_equal(a->limits.cps, 0);
	assert_string_equal(c->name, "core");
	assert_true(c->trusted);
	assert_false(c->hide_topology);
	assert_string_equal(c->listen[0].ip.text, "127.0.0.2");
	assert_string_equal(c->advertise.name, "127.0.0.2");
	assert_int_equal(c->media.port_first, 30000);

	assert_int_equal(cfg->nroutes, 2);
	assert_string_equal(cfg->routes[0].name, "access-to-core");
	assert_int_equal(cfg->routes[0].from_realm, 0);
	assert_int_equal(cfg->routes[0].to_realm, 1);
	assert_int_equal(cfg->routes[0].methods, 0);
	assert_false(cfg->routes[0].by_ruri);
	assert_int_equal(cfg->routes[0].nhops, 1);
	assert_string_equal(cfg->routes[0].hops[0].host.name, "127.0.0.3");
	assert_int_equal(cfg->routes[0].hops[0].port, 5060);
	assert_int_equal(cfg->routes[0].hops[0].priority, 1);
	assert_int_equal(cfg->routes[0].hops[0].weight, 1);
	assert_int_equal(cfg->routes[1].from_realm, 1);
	assert_int_equal(cfg->routes[1].to_realm, 0);
	assert_true(cfg->routes[1].by_ruri);
	assert_int_equal(cfg->routes[1].nhops, 0);
	assert_false(cfg->ha.enabled);
	assert_true(sbc_config_workers(cfg) >= 1);
	sbc_config_free(cfg);
}

static void test_carrier_edge(void **state)
{
	char path[4200];
	struct sbc_config *cfg;
	const struct sbc_route *r;

	path_of(path, sizeof path, "../conf/carrier-edge.yaml");
	cfg = load_ok(path);
	assert_int_equal(cfg->nrealms, 3);
	assert_int_equal(sbc_config_realm_find(cfg, "peering"), 1);
	assert_int_equal(cfg->realms[1].listen[0].port, 5070);
	assert_int_equal(cfg->realms[0].limits.per_source_cps, 10);
	assert_string_equal(cfg->sip.user_agent, "");
	assert_true(cfg->nroutes >= 4);
	r = &cfg->routes[0];
	assert_int_equal(r->methods, 1u << SIP_M_REGISTER);
	r = &cfg->routes[1];
	assert_true(r->nhops >= 3);
	assert_int_equal(r->hops[3].host.ip.family, AF_UNSPEC); /* a DNS name */
	assert_string_equal(r->hops[3].host.name, "ss-dr.core.example.net");
	assert_true(cfg->ha.enabled);
	assert_int_equal(cfg->ha.redis_mode, SBC_REDIS_SENTINEL);
	assert_int_equal(cfg->ha.nredis, 3);
	assert_int_equal(cfg->ha.redis[0].port, 26379);
	assert_string_equal(cfg->ha.service_ip.text, "203.0.113.10");
	sbc_config_free(cfg);
}

/* ---- every bad configuration -------------------------------------------- */

static void check_bad_file(const char *dir, const char *name)
{
	char path[4400], expect[1024], want[5500], err[1024] = "";
	struct sbc_config *cfg = NULL;
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	f = fopen(path, "r");
	assert_non_null(f);
	if (!fgets(expect, sizeof expect, f) || strncmp(expect, "# expect: ", 10)) {
		fclose(f);
		fail_msg("%s: first line must be \"# expect: LINE: FIELD: MESSAGE\"", name);
	}
	fclose(f);
	expect[strcspn(expect, "\n")] = '\0';
	snprintf(want, sizeof want, "%s:%s", path, expect + 10);
	if (sbc_config_load(path, &cfg, err, sizeof err) != -EINVAL) {
		sbc_config_free(cfg);
		fail_msg("%s: accepted, expected %s", name, want);
	}
	assert_null(cfg);
	if (strcmp(err, want))
		fail_msg("%s:\n  expected %s\n  got      %s", name, want, err);
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_bad_configs(void **state)
{
	char dir[4200], *names[256];
	size_t n = 0;
	struct dirent *de;
	DIR *d;

	path_of(dir, sizeof dir, "conf-bad");
	d = opendir(dir);
	assert_non_null(d);
	while ((de = readdir(d)) && n < 256) {
		size_t len = strlen(de->d_name);
		if (len > 5 && !strcmp(de->d_name + len - 5, ".yaml"))
			names[n++] = strdup(de->d_name);
	}
	closedir(d);
	assert_true(n >= 30); /* the directory is found and populated */
	qsort(names, n, sizeof names[0], name_cmp);
	for (size_t i = 0; i < n; i++) {
		check_bad_file(dir, names[i]);
		free(names[i]);
	}
}

/* ---- defaults and details ------------------------------------------------ */

static void test_minimal_defaults(void **state)
{
	struct sbc_config *cfg = parse_ok(MIN_REALM);
	const struct sbc_realm *r = &cfg->realms[0];

	assert_int_equal(cfg->workers, 0);
	assert_int_equal(cfg->sip.t1_ms, 500);
	/* ~900 calls/s per worker at T1 500 ms (sbc/config.h) */
	assert_int_equal(cfg->sip.max_transactions, 57344);
	assert_string_equal(cfg->sip.user_agent, "sbc");
	assert_true(cfg->control.metrics_enabled);
	assert_false(r->trusted);
	assert_true(r->hide_topology); /* safe default */
	assert_int_equal(r->listen[0].port, 5060);
	assert_string_equal(r->advertise.name, "127.0.0.1"); /* first listen address */
	assert_int_equal(r->limits.concurrent_calls, 0);
	assert_int_equal(cfg->nroutes, 0);
	assert_null(cfg->routes);
	assert_int_equal(cfg->ha.lease_ms, 3000);
	sbc_config_free(cfg);
}

static void test_workers(void **state)
{
	struct sbc_config *cfg = parse_ok("workers: 3\n" MIN_REALM);

	assert_int_equal(sbc_config_workers(cfg), 3);
	cfg->workers = 0;
	assert_true(sbc_config_workers(cfg) >= 1);
	assert_true(sbc_config_workers(cfg) <= SBC_MAX_WORKERS);
	sbc_config_free(cfg);
}

/* media.timeout_s: a realm without one takes the top-level value (given
 * before or after the realms); 0 given in a realm turns it off there. */
static void test_media_timeout(void **state)
{
	struct sbc_config *cfg = parse_ok(MIN_REALM);

	assert_int_equal(cfg->media.timeout_s, 0);
	assert_int_equal(cfg->realms[0].media.timeout_s, 0);
	sbc_config_free(cfg);
	cfg = parse_ok("realms:\n"
		       "  - name: a\n"
		       "    listen: [{ address: 127.0.0.1 }]\n"
		       "    media: { address: 127.0.0.1, ports: 10000-10999 }\n"
		       "  - name: b\n"
		       "    listen: [{ address: 127.0.0.2 }]\n"
		       "    media: { address: 127.0.0.2, ports: 12000-12999, timeout_s: 0 }\n"
		       "  - name: c\n"
		       "    listen: [{ address: 127.0.0.3 }]\n"
		       "    media: { address: 127.0.0.3, ports: 14000-14999, timeout_s: 5 }\n"
		       "media: { timeout_s: 30 }\n");
	assert_int_equal(cfg->realms[0].media.timeout_s, 30);
	assert_int_equal(cfg->realms[1].media.timeout_s, 0);
	assert_int_equal(cfg->realms[2].media.timeout_s, 5);
	sbc_config_free(cfg);
}

static void test_ipv6_and_hostnames(void **state)
{
	struct sbc_config *cfg = parse_ok(
		"control: { metrics: \"[::1]:9100\" }\n"
		"realms:\n"
		"  - name: v6\n"
		"    listen: [{ address: \"::1\", port: 5080 }]\n"
		"    advertise: sbc.example.com\n"
		"    media: { address: \"2001:db8::0:1\", ports: 40000-40099 }\n"
		"routes:\n"
		"  - { name: r, from_realm: v6, to_realm: v6, ruri_domain: Example.COM,\n"
		"      methods: [INVITE, UPDATE],\n"
		"      next_hops: [{ host: \"2001:db8::5\", port: 5070, priority: 0, weight: 0 }] }\n");
	const struct sbc_realm *r = &cfg->realms[0];

	assert_int_equal(cfg->control.metrics_ip.family, AF_INET6);
	assert_int_equal(cfg->control.metrics_port, 9100);
	assert_int_equal(r->listen[0].ip.family, AF_INET6);
	assert_string_equal(r->advertise.name, "sbc.example.com");
	assert_int_equal(r->advertise.ip.family, AF_UNSPEC);
	assert_string_equal(r->media.ip.text, "2001:db8::1"); /* canonical */
	assert_string_equal(cfg->routes[0].ruri_domain, "Example.COM");
	assert_int_equal(cfg->routes[0].methods, (1u << SIP_M_INVITE) | (1u << SIP_M_UPDATE));
	assert_int_equal(cfg->routes[0].hops[0].host.ip.family, AF_INET6);
	assert_int_equal(cfg->routes[0].hops[0].weight, 0);
	sbc_config_free(cfg);
}

static void test_metrics_disabled(void **state)
{
	struct sbc_config *cfg = parse_ok("control: { metrics: \"\" }\n" MIN_REALM);

	assert_false(cfg->control.metrics_enabled);
	sbc_config_free(cfg);
}

static void test_wildcard_with_advertise(void **state)
{
	struct sbc_config *cfg = parse_ok(
		"realms:\n"
		"  - name: a\n"
		"    listen: [{ address: 0.0.0.0 }]\n"
		"    advertise: 192.0.2.7\n"
		"    media: { address: 192.0.2.7, ports: 10000-10999 }\n");

	assert_string_equal(cfg->realms[0].advertise.name, "192.0.2.7");
	sbc_config_free(cfg);
}

static void test_null_blocks_are_defaults(void **state)
{
	struct sbc_config *cfg = parse_ok("sip:\ncontrol:\nha:\nroutes:\n" MIN_REALM);

	assert_int_equal(cfg->sip.t2_ms, 4000);
	assert_int_equal(cfg->nroutes, 0);
	sbc_config_free(cfg);
}

static void test_messages_in_memory(void **state)
{
	parse_fails("workers: 2\nworkers: 3\n" MIN_REALM, "mem.yaml:2: workers: duplicate field");
	parse_fails("- a\n- b\n", "mem.yaml:1: expected a mapping of fields");
	parse_fails("workers: 0x10\n" MIN_REALM, "mem.yaml:1: workers: \"0x10\" is not a number");
	parse_fails("workers: 99999999999999999999999\n" MIN_REALM,
		    "mem.yaml:1: workers: \"99999999999999999999999\" is not a number");
	/* A key carrying control characters is shown without them. */
	parse_fails("\"a\\nb\": 1\n" MIN_REALM, "mem.yaml:1: a?b: unknown field");
	parse_fails("workers: \"1\\u0000\"\n" MIN_REALM,
		    "mem.yaml:1: workers: contains a control character");
}

/* Anchors and aliases work: a shared limits block. (Aliases share nodes,
 * so the walk is also bounded: see CFG_MAX_VISITS.) */
static void test_aliases(void **state)
{
	struct sbc_config *cfg = parse_ok(
		"realms:\n"
		"  - name: a\n"
		"    listen: [{ address: 127.0.0.1 }]\n"
		"    media: { address: 127.0.0.1, ports: 10000-10999 }\n"
		"    limits: &lim { cps: 7, per_source_cps: 2 }\n"
		"  - name: b\n"
		"    listen: [{ address: 127.0.0.2 }]\n"
		"    media: { address: 127.0.0.2, ports: 10000-10999 }\n"
		"    limits: *lim\n");

	assert_int_equal(cfg->realms[1].limits.cps, 7);
	assert_int_equal(cfg->realms[1].limits.per_source_cps, 2);
	sbc_config_free(cfg);
}

/* ---- bounded lists -------------------------------------------------------- */

/* text with its one "%s" replaced by "[pre<first>post, pre<first+1>post,
 * ...]" of n items: lists too long to spell out. The caller frees it. */
static char *with_list(const char *text, size_t n, const char *pre, size_t first,
		       const char *post)
{
	const char *at = strstr(text, "%s");
	size_t cap = strlen(text) + n * (strlen(pre) + strlen(post) + 24) + 4, used;
	char *s = malloc(cap);

	assert_non_null(at);
	assert_non_null(s);
	used = (size_t)snprintf(s, cap, "%.*s[", (int)(at - text), text);
	for (size_t i = 0; i < n; i++)
		used += (size_t)snprintf(s + used, cap - used, "%s%s%zu%s", i ? ", " : "", pre,
					 first + i, post);
	snprintf(s + used, cap - used, "]%s", at + 2);
	return s;
}

struct list_case {
	const char *text;       /* a configuration with one "%s" for the list */
	const char *pre, *post; /* item i is pre<i>post */
	size_t max;             /* at most max items are accepted */
	const char *too_many;   /* the message for max + 1 */
};

#define ROUTE_WITH(fields)                                                     \
	MIN_REALM "routes:\n"                                                  \
	"  - { name: r, from_realm: a, to_realm: a, " fields " }\n"

/* Every bounded list takes its maximum and refuses one item more, at the
 * list's own line. */
static void test_list_bounds(void **state)
{
	static const struct list_case cases[] = {
		{ "realms:\n  - name: a\n    listen: %s\n"
		  "    media: { address: 127.0.0.1, ports: 10000-10999 }\n",
		  "{ address: 127.0.0.1, port: ", " }", SBC_MAX_LISTEN,
		  "mem.yaml:3: realms[0].listen: needs 1 to 16 addresses" },
		{ ROUTE_WITH("next_hops: %s"), "{ host: 10.0.0.", " }", SBC_MAX_HOPS,
		  "mem.yaml:6: routes[0].next_hops: needs 1 to 32 next hops, or \"ruri\"" },
		{ MIN_REALM "    acl: { deny: %s }\n", "2001:db8:", "::/48", SBC_MAX_ACL,
		  "mem.yaml:5: realms[0].acl.deny: at most 4096 entries" },
		{ MIN_REALM "ha: { redis: %s }\n", "10.0.0.1:", "", SBC_MAX_REDIS_SERVERS,
		  "mem.yaml:5: ha.redis: at most 8 Redis servers" },
		{ MIN_REALM "io: { eal_args: %s }\n", "--a", "", SBC_IO_MAX_EAL_ARGS,
		  "mem.yaml:5: io.eal_args: at most 32 EAL arguments" },
		{ MIN_REALM "io: { ports: [{ device: net_null0, addresses: %s }] }\n", "10.0.",
		  ".1/24", SBC_IO_MAX_ADDRS,
		  "mem.yaml:5: io.ports[0].addresses: needs 1 to 16 addresses" },
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const struct list_case *lc = &cases[i];
		char *text = with_list(lc->text, lc->max, lc->pre, 1, lc->post);
		struct sbc_config *cfg = parse_ok(text);

		sbc_config_free(cfg);
		free(text);
		text = with_list(lc->text, lc->max + 1, lc->pre, 1, lc->post);
		parse_fails(text, lc->too_many);
		free(text);
	}
}

/* A list that is too long is refused before any item is read: these
 * items would each fail on their own. */
static void test_list_count_first(void **state)
{
	static const struct list_case cases[] = {
		{ "realms: %s\n", "r", "", SBC_MAX_REALMS,
		  "mem.yaml:1: realms: needs 1 to 64 realms" },
		{ MIN_REALM "routes: %s\n", "r", "", SBC_MAX_ROUTES,
		  "mem.yaml:5: routes: at most 4096 routes" },
		{ MIN_REALM "    topology: { hide_headers: %s }\n", "X-H", "",
		  SBC_MAX_HIDE_HEADERS,
		  "mem.yaml:5: realms[0].topology.hide_headers: at most 24 headers" },
		{ MIN_REALM "io: { ports: %s }\n", "p", "", SBC_IO_MAX_PORTS,
		  "mem.yaml:5: io.ports: at most 8 ports" },
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *text = with_list(cases[i].text, cases[i].max + 1, cases[i].pre, 0,
				       cases[i].post);
		parse_fails(text, cases[i].too_many);
		free(text);
	}
}

/* An empty or null list means none where a list may be empty (no array,
 * count 0), and is refused with its bounds where it may not. */
static void test_empty_lists(void **state)
{
	struct sbc_config *cfg = parse_ok(
		"ha: { redis: [] }\n"
		"io: { eal_args: ~, ports: [] }\n"
		"realms:\n"
		"  - name: a\n"
		"    listen: [{ address: 127.0.0.1 }]\n"
		"    media: { address: 127.0.0.1, ports: 10000-10999 }\n"
		"    acl: { allow: [], deny: ~ }\n"
		"    topology: { hide_headers: [] }\n"
		"routes:\n"
		"  - { name: r, from_realm: a, to_realm: a, methods: [], next_hops: ruri }\n");

	assert_int_equal(cfg->ha.nredis, 0);
	assert_int_equal(cfg->io.neal_args, 0);
	assert_int_equal(cfg->io.nports, 0);
	assert_int_equal(cfg->realms[0].acl.nallow, 0);
	assert_null(cfg->realms[0].acl.allow);
	assert_int_equal(cfg->realms[0].acl.ndeny, 0);
	assert_null(cfg->realms[0].acl.deny);
	/* an empty list hides nothing, rather than the default set */
	assert_true(cfg->realms[0].topo.hide_headers_set);
	assert_int_equal(cfg->realms[0].topo.nhide, 0);
	assert_int_equal(cfg->routes[0].methods, 0); /* any method */
	sbc_config_free(cfg);

	cfg = parse_ok(MIN_REALM "routes: []\n");
	assert_int_equal(cfg->nroutes, 0);
	assert_null(cfg->routes);
	sbc_config_free(cfg);

	parse_fails("realms: []\n", "mem.yaml:1: realms: needs 1 to 64 realms");
	parse_fails("realms:\n  - name: a\n    listen: ~\n"
		    "    media: { address: 127.0.0.1, ports: 10000-10999 }\n",
		    "mem.yaml:3: realms[0].listen: needs 1 to 16 addresses");
	parse_fails(MIN_REALM "io: { ports: [{ device: net_null0, addresses: [] }] }\n",
		    "mem.yaml:5: io.ports[0].addresses: needs 1 to 16 addresses");
}

/* A single value or a mapping where a list belongs. */
static void test_not_a_list(void **state)
{
	static const struct {
		const char *text, *expect;
	} cases[] = {
		{ "realms: a\n", "mem.yaml:1: realms: expected a list" },
		{ "realms:\n  - name: a\n    listen: { address: 127.0.0.1 }\n"
		  "    media: { address: 127.0.0.1, ports: 10000-10999 }\n",
		  "mem.yaml:3: realms[0].listen: expected a list" },
		{ MIN_REALM "routes: { name: r }\n", "mem.yaml:5: routes: expected a list" },
		{ MIN_REALM "    acl: { deny: 10.0.0.0/8 }\n",
		  "mem.yaml:5: realms[0].acl.deny: expected a list" },
		{ MIN_REALM "    topology: { hide_headers: User-Agent }\n",
		  "mem.yaml:5: realms[0].topology.hide_headers: expected a list" },
		{ ROUTE_WITH("methods: INVITE, next_hops: ruri"),
		  "mem.yaml:6: routes[0].methods: expected a list" },
		{ ROUTE_WITH("next_hops: { host: 10.0.0.1 }"),
		  "mem.yaml:6: routes[0].next_hops: expected a list" },
		{ MIN_REALM "ha: { redis: \"10.0.0.1:6379\" }\n",
		  "mem.yaml:5: ha.redis: expected a list" },
		{ MIN_REALM "io: { eal_args: --a }\n", "mem.yaml:5: io.eal_args: expected a list" },
		{ MIN_REALM "io: { ports: { device: net_null0 } }\n",
		  "mem.yaml:5: io.ports: expected a list" },
		{ MIN_REALM "io: { ports: [{ device: net_null0, addresses: 10.0.0.1/24 }] }\n",
		  "mem.yaml:5: io.ports[0].addresses: expected a list" },
		/* and a list where an item's mapping belongs */
		{ MIN_REALM "io: { ports: [[net_null0]] }\n",
		  "mem.yaml:5: io.ports[0]: expected a mapping of fields" },
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		parse_fails(cases[i].text, cases[i].expect);
}

static void test_free_null(void **state)
{
	sbc_config_free(NULL);
}

static void test_missing_file(void **state)
{
	struct sbc_config *cfg = NULL;
	char err[256];

	assert_int_equal(sbc_config_load("/nonexistent/sbc.yaml", &cfg, err, sizeof err), -ENOENT);
	assert_null(cfg);
	assert_string_equal(err, "/nonexistent/sbc.yaml: cannot open: No such file or directory");
}

int main(void)
{
	const char *dir = getenv("SBC_TESTS_DIR");
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default_config),
		cmocka_unit_test(test_carrier_edge),
		cmocka_unit_test(test_bad_configs),
		cmocka_unit_test(test_minimal_defaults),
		cmocka_unit_test(test_workers),
		cmocka_unit_test(test_media_timeout),
		cmocka_unit_test(test_ipv6_and_hostnames),
		cmocka_unit_test(test_metrics_disabled),
		cmocka_unit_test(test_wildcard_with_advertise),
		cmocka_unit_test(test_null_blocks_are_defaults),
		cmocka_unit_test(test_messages_in_memory),
		cmocka_unit_test(test_aliases),
		cmocka_unit_test(test_list_bounds),
		cmocka_unit_test(test_list_count_first),
		cmocka_unit_test(test_empty_lists),
		cmocka_unit_test(test_not_a_list),
		cmocka_unit_test(test_free_null),
		cmocka_unit_test(test_missing_file),
	};

	snprintf(tests_dir, sizeof tests_dir, "%s", dir ? dir : "tests");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
