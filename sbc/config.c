/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * YAML configuration loader. libyaml builds the document tree (node marks
 * give us line numbers); a table of fields per mapping drives the walk, so
 * every mapping rejects unknown and duplicate keys the same way. Checks that
 * span objects (unique names, realm references, overlapping addresses) run
 * after the walk while the document is still alive, so they can still point
 * at the offending line.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yaml.h>

#include "sbc-config.h" /* HAVE_DPDK */
#include "sip.h"

/* Aliases share nodes in the document tree, so a small file can describe an
 * exponential walk ("billion laughs"). Cap the nodes we visit. */
#define CFG_MAX_VISITS 200000u

struct cfg_ctx {
	const char *file;
	yaml_document_t *doc;
	char *err;
	size_t errlen;
	char path[512];
	size_t plen;
	unsigned visits;
};

/* ---- messages and field paths ------------------------------------------- */

static unsigned node_line(const yaml_node_t *n)
{
	return n ? (unsigned)n->start_mark.line + 1 : 1;
}

__attribute__((format(printf, 3, 0)))
static int cfg_vfail(struct cfg_ctx *c, const yaml_node_t *n, const char *fmt, va_list ap)
{
	char msg[512];

	vsnprintf(msg, sizeof msg, fmt, ap);
	if (c->plen)
		snprintf(c->err, c->errlen, "%s:%u: %s: %s", c->file, node_line(n), c->path, msg);
	else
		snprintf(c->err, c->errlen, "%s:%u: %s", c->file, node_line(n), msg);
	return -EINVAL;
}

__attribute__((format(printf, 3, 4)))
static int cfg_fail(struct cfg_ctx *c, const yaml_node_t *n, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = cfg_vfail(c, n, fmt, ap);
	va_end(ap);
	return r;
}

/* Copy user text into a message: printable, bounded, never multi-line. */
static const char *printable(const char *s, size_t len, char *buf, size_t cap)
{
	size_t i, o = 0, max = cap - 4;

	for (i = 0; i < len && o < max; i++) {
		unsigned char ch = (unsigned char)s[i];
		buf[o++] = (ch >= 0x20 && ch < 0x7f) ? (char)ch : '?';
	}
	if (i < len) {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o] = '\0';
	return buf;
}

static void path_set(struct cfg_ctx *c, size_t len)
{
	c->plen = len < sizeof c->path ? len : sizeof c->path - 1;
	c->path[c->plen] = '\0';
}

static size_t path_push_key(struct cfg_ctx *c, const char *key, size_t klen)
{
	size_t saved = c->plen;
	char pk[80];
	int n;

	printable(key, klen, pk, sizeof pk);
	n = snprintf(c->path + c->plen, sizeof c->path - c->plen, "%s%s", c->plen ? "." : "", pk);
	path_set(c, c->plen + (size_t)(n > 0 ? n : 0));
	return saved;
}

static size_t path_push(struct cfg_ctx *c, const char *key)
{
	return path_push_key(c, key, strlen(key));
}

static size_t path_push_index(struct cfg_ctx *c, size_t i)
{
	size_t saved = c->plen;
	int n = snprintf(c->path + c->plen, sizeof c->path - c->plen, "[%zu]", i);

	path_set(c, c->plen + (size_t)(n > 0 ? n : 0));
	return saved;
}

static void path_pop(struct cfg_ctx *c, size_t saved)
{
	path_set(c, saved);
}

/* ---- node access -------------------------------------------------------- */

static const char *sval(const yaml_node_t *n)
{
	return (const char *)n->data.scalar.value;
}

static bool is_null(const yaml_node_t *n)
{
	const char *v;

	if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	v = sval(n);
	return !*v || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") ||
	       !strcmp(v, "NULL");
}

static yaml_node_t *map_value(struct cfg_ctx *c, yaml_node_t *map, const char *key)
{
	yaml_node_pair_t *p;

	if (!map || map->type != YAML_MAPPING_NODE)
		return NULL;
	for (p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
		if (k && k->type == YAML_SCALAR_NODE && !strcmp(sval(k), key))
			return yaml_document_get_node(c->doc, p->value);
	}
	return NULL;
}

static yaml_node_t *seq_item(struct cfg_ctx *c, yaml_node_t *seq, size_t i)
{
	if (!seq || seq->type != YAML_SEQUENCE_NODE)
		return NULL;
	return yaml_document_get_node(c->doc, seq->data.sequence.items.start[i]);
}

/* The node at map[key][index] (index SIZE_MAX: map[key] itself), or map. */
static yaml_node_t *node_at(struct cfg_ctx *c, yaml_node_t *map, const char *key, size_t index)
{
	yaml_node_t *v = map_value(c, map, key);

	if (v && index != SIZE_MAX)
		v = seq_item(c, v, index);
	return v ? v : map;
}

/* Checks across fields run after a mapping is read and name the field
 * they blame: fail at map[key][index] (index SIZE_MAX: at map[key]) with
 * the field path extended to it. A key the file leaves out (a default is
 * to blame) points at the mapping itself. */
__attribute__((format(printf, 5, 6)))
static int fail_at(struct cfg_ctx *c, yaml_node_t *map, const char *key, size_t index,
		   const char *fmt, ...)
{
	va_list ap;
	int r;

	path_push(c, key);
	if (index != SIZE_MAX)
		path_push_index(c, index);
	va_start(ap, fmt);
	r = cfg_vfail(c, node_at(c, map, key, index), fmt, ap);
	va_end(ap);
	return r;
}

/* fail_at() map[key] itself. */
#define fail_key(c, map, key, ...) fail_at(c, map, key, SIZE_MAX, __VA_ARGS__)

static int visit(struct cfg_ctx *c, const yaml_node_t *n)
{
	if (++c->visits > CFG_MAX_VISITS)
		return cfg_fail(c, n, "configuration too large or too deeply aliased");
	return 0;
}

/* A scalar's text; fails on mappings, sequences, NUL and control bytes. */
static int scalar_text(struct cfg_ctx *c, const yaml_node_t *n, const char **out)
{
	size_t i, len;

	*out = ""; /* set on every path (see seq_count) */
	if (n->type != YAML_SCALAR_NODE)
		return cfg_fail(c, n, "expected a single value, not a %s",
				n->type == YAML_MAPPING_NODE ? "mapping" : "list");
	len = n->data.scalar.length;
	for (i = 0; i < len; i++) {
		unsigned char ch = n->data.scalar.value[i];
		if (ch < 0x20 || ch == 0x7f)
			return cfg_fail(c, n, "contains a control character");
	}
	*out = is_null(n) ? "" : sval(n);
	return 0;
}

/* ---- bounded lists ------------------------------------------------------ */

/* Every list field is read in two steps: seq_count() checks the shape and
 * the bounds (the caller may need the count to size an array first), then
 * seq_each() reads the items with "[i]" on the field path. */

/* A list's length, refused outside min..max; a null value is the empty
 * list. noun completes the bounds message: "needs 1 to 16 addresses", or
 * with min 0 "at most 8 ports". *count is set on every path: callers use
 * it after checking the result, and gcc -O3 cannot always see that order. */
static int seq_count(struct cfg_ctx *c, yaml_node_t *n, unsigned min, unsigned max,
		     const char *noun, size_t *count)
{
	*count = 0;
	if (!is_null(n)) {
		if (n->type != YAML_SEQUENCE_NODE)
			return cfg_fail(c, n, "expected a list");
		*count = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
	}
	if (*count >= min && *count <= max)
		return 0;
	if (min)
		return cfg_fail(c, n, "needs %u to %u %s", min, max, noun);
	return cfg_fail(c, n, "at most %u %s", max, noun);
}

/* Reads item i of a list into obj. */
typedef int (*item_fn)(struct cfg_ctx *c, yaml_node_t *item, size_t i, void *obj);

/* Each item of a list seq_count() accepted, in order; stops at the first
 * error, whose message already carries the item's index. */
static int seq_each(struct cfg_ctx *c, yaml_node_t *n, item_fn read_item, void *obj)
{
	yaml_node_item_t *first, *it;

	if (n->type != YAML_SEQUENCE_NODE)
		return 0; /* null: the empty list */
	first = n->data.sequence.items.start;
	for (it = first; it < n->data.sequence.items.top; it++) {
		size_t i = (size_t)(it - first);
		size_t saved = path_push_index(c, i);
		int r = read_item(c, yaml_document_get_node(c->doc, *it), i, obj);

		path_pop(c, saved);
		if (r)
			return r;
	}
	return 0;
}

/* A zeroed array for a list's count items, NULL for an empty list (the
 * loaded configuration has always had no array there, not an empty one).
 * *len, the owner's item count, is set only with the array: the owner's
 * free walks that many items. */
static void *seq_alloc(struct cfg_ctx *c, yaml_node_t *n, size_t count, size_t size, size_t *len,
		       int *r)
{
	void *a = count ? calloc(count, size) : NULL;

	*r = 0;
	if (count && !a) {
		*r = cfg_fail(c, n, "out of memory");
		return NULL;
	}
	*len = count;
	return a;
}

/* ---- typed values ------------------------------------------------------- */

/* Decimal digits only: no sign, no hex, no YAML 1.1 sexagesimal. */
static bool parse_u64(const char *s, uint64_t *out)
{
	uint64_t v = 0;

	if (!*s)
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > (UINT64_MAX - 9) / 10)
			return false;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*out = v;
	return true;
}

static int get_u32(struct cfg_ctx *c, const yaml_node_t *n, uint32_t min, uint32_t max,
		   uint32_t *out)
{
	const char *s;
	uint64_t v;
	char pb[80];
	int r = scalar_text(c, n, &s);

	if (r)
		return r;
	if (!parse_u64(s, &v))
		return cfg_fail(c, n, "\"%s\" is not a number",
				printable(s, strlen(s), pb, sizeof pb));
	if (v < min || v > max)
		return cfg_fail(c, n, "%s is out of range (%u-%u)", s, min, max);
	*out = (uint32_t)v;
	return 0;
}

static bool parse_port(const char *s, uint16_t *out)
{
	uint64_t v;

	if (!parse_u64(s, &v) || v < 1 || v > 65535)
		return false;
	*out = (uint16_t)v;
	return true;
}

static int get_port(struct cfg_ctx *c, const yaml_node_t *n, uint16_t *out)
{
	const char *s;
	char pb[80];
	int r = scalar_text(c, n, &s);

	if (r)
		return r;
	if (!parse_port(s, out))
		return cfg_fail(c, n, "%s is not a port (1-65535)",
				printable(s, strlen(s), pb, sizeof pb));
	return 0;
}

static int get_bool(struct cfg_ctx *c, const yaml_node_t *n, bool *out)
{
	static const char *const yes[] = { "true", "True", "TRUE" };
	static const char *const no[] = { "false", "False", "FALSE" };
	const char *s;
	char pb[80];
	int r = scalar_text(c, n, &s);

	if (r)
		return r;
	for (size_t i = 0; i < 3; i++) {
		if (!strcmp(s, yes[i]) || !strcmp(s, no[i])) {
			*out = !strcmp(s, yes[i]);
			return 0;
		}
	}
	return cfg_fail(c, n, "\"%s\" is not a boolean (true|false)",
			printable(s, strlen(s), pb, sizeof pb));
}

static int get_str(struct cfg_ctx *c, const yaml_node_t *n, char *dst, size_t cap)
{
	const char *s;
	int r = scalar_text(c, n, &s);

	if (r)
		return r;
	if (strlen(s) >= cap)
		return cfg_fail(c, n, "too long (at most %zu characters)", cap - 1);
	memcpy(dst, s, strlen(s) + 1);
	return 0;
}

/* Identifiers end up in metric labels, log lines and Redis keys. Optional
 * ones may be "" (unset). */
static int get_id(struct cfg_ctx *c, const yaml_node_t *n, char *dst, size_t cap, bool required)
{
	char buf[256], pb[80];
	int r = get_str(c, n, buf, cap < sizeof buf ? cap : sizeof buf);

	if (r)
		return r;
	if (!buf[0] && required)
		return cfg_fail(c, n, "must not be empty");
	for (const char *p = buf; *p; p++) {
		if (!(*p >= 'a' && *p <= 'z') && !(*p >= 'A' && *p <= 'Z') &&
		    !(*p >= '0' && *p <= '9') && *p != '-' && *p != '_' && *p != '.')
			return cfg_fail(c, n, "\"%s\" may only contain letters, digits, '-', '_' and '.'",
					printable(buf, strlen(buf), pb, sizeof pb));
	}
	memcpy(dst, buf, strlen(buf) + 1);
	return 0;
}

static bool parse_ip(const char *s, struct sbc_ip *ip)
{
	struct sbc_ip t = { 0 };

	if (inet_pton(AF_INET, s, &t.u.v4) == 1)
		t.family = AF_INET;
	else if (inet_pton(AF_INET6, s, &t.u.v6) == 1)
		t.family = AF_INET6;
	else
		return false;
	if (!inet_ntop(t.family, &t.u, t.text, sizeof t.text))
		return false;
	*ip = t;
	return true;
}

static int get_ip(struct cfg_ctx *c, const yaml_node_t *n, struct sbc_ip *ip)
{
	const char *s;
	char pb[80];
	int r = scalar_text(c, n, &s);

	if (r)
		return r;
	if (!parse_ip(s, ip))
		return cfg_fail(c, n, "\"%s\" is not an IPv4 or IPv6 address",
				printable(s, strlen(s), pb, sizeof pb));
	return 0;
}

/* RFC 1123 host name: dot-separated labels of letters, digits and '-'. A
 * name whose last label is numeric is a mistyped IPv4 address instead. */
static bool is_hostname(const char *s)
{
	size_t len = strlen(s), label = 0;
	bool numeric = true;

	if (!len || len > SBC_HOST_MAX)
		return false;
	for (size_t i = 0; i <= len; i++) {
		char ch = s[i];
		if (ch == '.' || ch == '\0') {
			if (!label || s[i - 1] == '-')
				return false;
			if (ch == '\0')
				break;
			label = 0;
			numeric = true;
			continue;
		}
		if (!label && ch == '-')
			return false;
		if (++label > 63)
			return false;
		if (ch >= '0' && ch <= '9')
			continue;
		numeric = false;
		if (!(ch >= 'a' && ch <= 'z') && !(ch >= 'A' && ch <= 'Z') && ch != '-')
			return false;
	}
	return !numeric;
}

static bool parse_host(const char *s, struct sbc_host *h)
{
	struct sbc_host t = { 0 };

	if (parse_ip(s, &t.ip)) {
		memcpy(t.name, t.ip.text, sizeof t.ip.text);
	} else {
		if (!is_hostname(s))
			return false;
		memcpy(t.name, s, strlen(s) + 1);
	}
	*h = t;
	return true;
}

static int get_host(struct cfg_ctx *c, const yaml_node_t *n, struct sbc_host *h)
{
	const char *s;
	char pb[80];
	int r = scalar_text(c, n, &s);

	if (r)
		return r;
	if (!parse_host(s, h))
		return cfg_fail(c, n, "\"%s\" is not an IP address or host name",
				printable(s, strlen(s), pb, sizeof pb));
	return 0;
}

/* "host:port" or "[v6]:port". The host part is returned in hbuf. */
static bool split_hostport(const char *s, char *hbuf, size_t hcap, uint16_t *port)
{
	const char *colon, *hs = s, *he;

	if (*s == '[') {
		he = strchr(s, ']');
		if (!he || he[1] != ':')
			return false;
		hs = s + 1;
		colon = he + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon || memchr(s, ':', (size_t)(colon - s)))
			return false; /* bare IPv6 needs brackets */
		he = colon;
	}
	if ((size_t)(he - hs) >= hcap || he == hs)
		return false;
	memcpy(hbuf, hs, (size_t)(he - hs));
	hbuf[he - hs] = '\0';
	return parse_port(colon + 1, port);
}

static int get_endpoint(struct cfg_ctx *c, const yaml_node_t *n, struct sbc_endpoint *ep)
{
	const char *s;
	char host[SBC_HOST_MAX + 1], pb[80];
	int r = scalar_text(c, n, &s);

	if (r)
		return r;
	printable(s, strlen(s), pb, sizeof pb);
	if (!split_hostport(s, host, sizeof host, &ep->port))
		return cfg_fail(c, n, "\"%s\" is not HOST:PORT (port 1-65535, IPv6 in [])", pb);
	if (!parse_host(host, &ep->host))
		return cfg_fail(c, n, "\"%s\" is not an IP address or host name", pb);
	return 0;
}

static int get_choice(struct cfg_ctx *c, const yaml_node_t *n, const char *what,
		      const char *const *names, size_t count, int *out)
{
	const char *s;
	char list[128] = "", pb[80];
	size_t used = 0;
	int r;

	*out = 0; /* set on every path (see seq_count) */
	r = scalar_text(c, n, &s);
	if (r)
		return r;
	for (size_t i = 0; i < count; i++) {
		if (!strcmp(s, names[i])) {
			*out = (int)i;
			return 0;
		}
		used += (size_t)snprintf(list + used, sizeof list - used, "%s%s", i ? "|" : "",
					 names[i]);
		if (used >= sizeof list)
			used = sizeof list - 1;
	}
	return cfg_fail(c, n, "\"%s\" is not a %s (%s)", printable(s, strlen(s), pb, sizeof pb),
			what, list);
}

static bool ip_is_any(const struct sbc_ip *ip)
{
	if (ip->family == AF_INET)
		return ip->u.v4.s_addr == htonl(INADDR_ANY);
	return ip->family == AF_INET6 && IN6_IS_ADDR_UNSPECIFIED(&ip->u.v6);
}

bool sbc_ip_eq(const struct sbc_ip *a, const struct sbc_ip *b)
{
	if (a->family != b->family)
		return false;
	if (a->family == AF_INET)
		return a->u.v4.s_addr == b->u.v4.s_addr;
	return a->family == AF_INET6 && !memcmp(&a->u.v6, &b->u.v6, sizeof a->u.v6);
}

/* Do two bound addresses collide? Equal, or one is the family's wildcard. */
static bool ip_overlap(const struct sbc_ip *a, const struct sbc_ip *b)
{
	return sbc_ip_eq(a, b) || (a->family == b->family && (ip_is_any(a) || ip_is_any(b)));
}

/* ---- table-driven mappings ---------------------------------------------- */

enum fkind { F_BOOL, F_U32, F_U16, F_PORT, F_STR, F_ID, F_IP, F_HOST, F_FN };

typedef int (*field_fn)(struct cfg_ctx *c, yaml_node_t *n, void *obj);

struct field {
	const char *name;
	enum fkind kind;
	bool required;
	size_t off;
	size_t size;
	uint32_t min, max;
	field_fn fn;
};

#define FLD(T, m, k, req) { #m, k, req, offsetof(T, m), sizeof(((T *)0)->m), 0, 0, NULL }
#define FNUM(T, m, k, lo, hi) { #m, k, false, offsetof(T, m), sizeof(((T *)0)->m), lo, hi, NULL }
#define FFN(name, fn, req) { name, F_FN, req, 0, 0, 0, 0, fn }

static int set_field(struct cfg_ctx *c, yaml_node_t *n, const struct field *f, void *obj)
{
	char *p = (char *)obj + f->off;
	uint32_t v;
	int r;

	switch (f->kind) {
	case F_BOOL: return get_bool(c, n, (bool *)p);
	case F_U32: return get_u32(c, n, f->min, f->max, (uint32_t *)p);
	case F_U16:
		r = get_u32(c, n, f->min, f->max, &v);
		if (!r)
			*(uint16_t *)p = (uint16_t)v;
		return r;
	case F_PORT: return get_port(c, n, (uint16_t *)p);
	case F_STR: return get_str(c, n, p, f->size);
	case F_ID: return get_id(c, n, p, f->size, f->required);
	case F_IP: return get_ip(c, n, (struct sbc_ip *)p);
	case F_HOST: return get_host(c, n, (struct sbc_host *)p);
	case F_FN: return f->fn(c, n, obj);
	}
	return cfg_fail(c, n, "internal error: field kind %d", (int)f->kind);
}

/* Edit distance, for "did you mean" on unknown keys. */
static size_t distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), row[64], prev, i, j;

	if (la >= 64 || lb >= 64)
		return SIZE_MAX;
	for (j = 0; j <= lb; j++)
		row[j] = j;
	for (i = 1; i <= la; i++) {
		prev = row[0];
		row[0] = i;
		for (j = 1; j <= lb; j++) {
			size_t cur = row[j];
			size_t best = prev + (a[i - 1] != b[j - 1]);
			if (row[j] + 1 < best)
				best = row[j] + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			prev = cur;
		}
	}
	return row[lb];
}

static int unknown_field(struct cfg_ctx *c, yaml_node_t *k, const struct field *f, size_t nf)
{
	const char *best = NULL;
	size_t bestd = 3; /* suggest only close matches */

	for (size_t i = 0; i < nf; i++) {
		size_t d = distance(sval(k), f[i].name);
		if (d < bestd) {
			bestd = d;
			best = f[i].name;
		}
	}
	if (best)
		return cfg_fail(c, k, "unknown field (did you mean \"%s\"?)", best);
	return cfg_fail(c, k, "unknown field");
}

static int walk_pair(struct cfg_ctx *c, yaml_node_t *k, yaml_node_t *v, const struct field *f,
		     size_t nf, void *obj, uint64_t *seen)
{
	size_t i, saved;
	int r;

	if (!k || !v || k->type != YAML_SCALAR_NODE || is_null(k))
		return cfg_fail(c, k, "field names must be plain words");
	saved = path_push_key(c, sval(k), k->data.scalar.length);
	for (i = 0; i < nf && strcmp(f[i].name, sval(k)); i++)
		;
	if (i == nf)
		r = unknown_field(c, k, f, nf);
	else if (*seen & (UINT64_C(1) << i))
		r = cfg_fail(c, k, "duplicate field");
	else {
		*seen |= UINT64_C(1) << i;
		r = set_field(c, v, &f[i], obj);
	}
	path_pop(c, saved);
	return r;
}

/* Apply a mapping to obj through its field table. A null value is an
 * empty mapping (all defaults). */
static int walk_map(struct cfg_ctx *c, yaml_node_t *n, const struct field *f, size_t nf, void *obj)
{
	uint64_t seen = 0;
	int r = visit(c, n);

	if (r)
		return r;
	if (n->type == YAML_MAPPING_NODE) {
		yaml_node_pair_t *p;
		for (p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
			r = walk_pair(c, yaml_document_get_node(c->doc, p->key),
				      yaml_document_get_node(c->doc, p->value), f, nf, obj, &seen);
			if (r)
				return r;
		}
	} else if (!is_null(n)) {
		return cfg_fail(c, n, "expected a mapping of fields");
	}
	for (size_t i = 0; i < nf; i++) {
		if (f[i].required && !(seen & (UINT64_C(1) << i))) {
			path_push(c, f[i].name);
			return cfg_fail(c, n, "required field is missing");
		}
	}
	return 0;
}

#define WALK(c, n, table, obj) walk_map(c, n, table, sizeof(table) / sizeof(table[0]), obj)

/* ---- sip, control, log level -------------------------------------------- */

static const char *const log_level_names[] = { "error", "warn", "info", "debug" };
static const char *const transport_names[] = { "udp", "tcp", "tls" };
static const char *const redis_mode_names[] = { "single", "sentinel", "cluster" };

static const struct field sip_fields[] = {
	FNUM(struct sbc_sip, t1_ms, F_U32, 1, 3600000),
	FNUM(struct sbc_sip, t2_ms, F_U32, 1, 3600000),
	FNUM(struct sbc_sip, t4_ms, F_U32, 1, 3600000),
	FNUM(struct sbc_sip, timer_c_ms, F_U32, 1, 3600000),
	FNUM(struct sbc_sip, max_dialog_duration_s, F_U32, 1, 2592000),
	FNUM(struct sbc_sip, max_transactions, F_U32, 256, 1048576),
	FNUM(struct sbc_sip, max_dialogs, F_U32, 256, 4194304),
	FLD(struct sbc_sip, user_agent, F_STR, false),
};

static int set_sip(struct cfg_ctx *c, yaml_node_t *n, void *obj)
{
	struct sbc_sip *sip = &((struct sbc_config *)obj)->sip;
	int r = WALK(c, n, sip_fields, sip);

	if (r || sip->t1_ms <= sip->t2_ms)
		return r;
	/* blame the value the file gave: t2_ms when given, else t1_ms */
	if (map_value(c, n, "t2_ms"))
		return fail_key(c, n, "t2_ms", "%u is less than t1_ms (%u)", sip->t2_ms,
				sip->t1_ms);
	return fail_key(c, n, "t1_ms", "%u exceeds t2_ms (%u)", sip->t1_ms, sip->t2_ms);
}

static int set_metrics(struct cfg_ctx *c, yaml_node_t *n, void *obj)
{
	struct sbc_control *ctl = obj;
	struct sbc_endpoint ep;
	const char *s;
	int r = scalar_text(c, n, &s);

	if (r)
		return r;
	ctl->metrics_enabled = *s != '\0';
	if (!ctl->metrics_enabled)
		return 0;
	r = get_endpoint(c, n, &ep);
	if (r)
		return r;
	if (ep.host.ip.family == AF_UNSPEC)
		return cfg_fail(c, n, "the metrics address must be a literal IP address");
	ctl->metrics_ip = ep.host.ip;
	ctl->metrics_port = ep.port;
	return 0;
}

static const struct field control_fields[] = {
	FFN("metrics", set_metrics, false),
};

static int set_control(struct cfg_ctx *c, yaml_node_t *n, void *obj)
{
	return WALK(c, n, control_fields, &((struct sbc_config *)obj)->control);
}

static int set_log_level(struct cfg_ctx *c, yaml_node_t *n, void *obj)
{
	int v, r = get_choice(c, n, "log level", log_level_names, 4, &v);

	if (!r)
		((struct sbc_config *)obj)->log_level = (enum sbc_log_level)v;
	return r;
}

/* ---- realms ------------------------------------------------------------- */

static int set_transport(struct cfg_ctx *c, yaml_node_t *n, void *obj)
{
	int v, r = get_choice(c, n, "transport", transport_names, 3, &v);

	if (r)
		return r;
	if (v != SBC_TRANSPORT_UDP)
		return cfg_fail(c, n, "%s is not supported yet (udp only)", transport_names[v]);
	((struct sbc_listen *)obj)->transport = (enum sbc_transport)v;
	return 0;
}

static const struct field listen_fields[] = {
	{ "address", F_IP, true, offsetof(struct sbc_listen, ip), 0, 0, 0, NULL },
	FLD(struct sbc_listen, port, F_PORT, false),
	FFN("transport", set_transport, false),
};

static int read_listen(struct cfg_ctx *c, yaml_node_t *item, size_t i, void *obj)
{
	struct sbc_listen *l = &((struct sbc_realm *)obj)->listen[i];

	l->port = 5060;
	l->transport = SBC_TRANSPORT_UDP;
	return WALK(c, item, listen_fields, l);
}

static int set_listen(struct cfg_ctx *c, yaml_node_t *n, void *obj)
{
	struct sbc_realm *realm = obj;
	size_t count;
	int r = seq_count(c, n, 1, SBC_MAX_LISTEN, "addresses", &count);

	if (!r)
		realm->listen = seq_alloc(c, n, count, sizeof *realm->listen, &realm->nlisten, &r);
	return r ? r : seq_each(c, n, read_listen, realm);
}

static int set_media_ports(struct cfg_ctx *c, yaml_node_t *n, void *obj)
{
	struct sbc_media *m = obj;
	char lo[8], pb[80];
	const char *s, *dash;
	int r = scalar_text(c, n, &s);

	if (r)
		return r;
	printable(s, strlen(s), pb, sizeof pb);
	dash = strchr(s, '-');
	if (!dash || (size_t)(dash - s) >= sizeof lo)
		return cfg_fail(c, n, "\"%s\" is not a port range FIRST-LAST", pb);
	memcpy(lo, s, (size_t)(dash - s));
	lo[dash - s] = '\0';
	if (!parse_port(lo, &m->port_first) || !parse_port(dash + 1, &m->port_last))
		return cfg_fail(c, n, "\"%s\" is not a port range FIRST-LAST (ports 1-65535)", pb);
	if (m->port_first % 2)
		return cfg_fail(c, n, "%s: the range must start on an even port (RTP even, RTCP odd)",
				pb);
	if (m->port_first >= m->port_last)
		return cfg_fail(c, n, "%s: the first port must be below the last", pb);
	return 0;
}

/* Media inactivity timeout: at most a day (a call silent that long is
 * better judged by the SIP session timer). */
#define MEDIA_TIMEOUT_MAX 86400u
/* A realm's media.timeout_s not given: the top-level media.timeout_s
 * (resolved in media_resolve(), the top level may come later). */
#define MEDIA_TIMEOUT_UNSET UINT32_MAX

static const struct field media_fields[] = {
	{ "address", F_IP, true, offsetof(struct sbc_media, ip), 0, 0, 0, NULL },
	FFN("ports", set_media_ports, true),
	FNUM(struct sbc_media, timeout_s, F_U32, 0, MEDIA_TIMEOUT_MAX),
};

static int set_media(struct cfg_ctx *c, yaml_node_t *n, void *obj)
{
	struct sbc_media *m = &((struct sbc_realm *)obj)->media;
	m->timeout_s = MEDIA_TIMEOUT_UNSET;
	int r = WALK(c, n, media_fields, m);

	if (r || !ip_is_any(&m->ip))
		return r;
	return fail_key(c, n, "address", "must be a specific address: it is written into SDP");
}

static const struct field limits_fields[] = {
	FNUM(struct sbc_limits, cps, F_U32, 0, UINT32_MAX),
	FNUM(struct sbc_limits, concurrent_calls, F_U32, 0, UINT32_MAX),
	FNUM(struct sbc_limits, per_source_cps, F_U32, 0, UINT32_MAX),
	FNUM(struct sbc_limits, register_per_source_rps, F_U32, 0, UINT32_MAX),
	FNUM(struct sbc_limits, other_per_source_rps, F_U32, 0, UINT32_MAX),
	FNUM(struct sbc_limits, retry_after, F_U32, 1, 3600),
	FNUM(struct sbc_limits, flood_multiple, F_U32, 1, 1000),
	FNUM(struct sbc_limits, block_after, F_U32, 0, 86400),
	FNUM(struct sbc_limits, block_seconds, F_U32, 1, 86400),
};

static int set_limits(struct cfg_ctx *c, yaml_node_t *n, void *obj)
{
	return WALK(c, n, limits_fields, &((struct sbc_realm *)obj)->limits);
}

/* ---- ACLs --------------------------------------------------------------- */

static const char *const acl_policy_names[] = { "reject", "drop" };

static int read_cidr(struct cfg_ctx *c, yaml_node_t *item, size_t i, void *obj)
{
	struct lim_cidr *cidrs = obj;
	char why[128], pb[80];
	const char *txt;
	int r = scalar_text(c, item, &txt);

	if (r)
		return r;
	if (lim_cidr_parse(txt, &cidrs[i], why, sizeof why) == 0)
		return 0;
	return cfg_fail(c, item, "\"%s\" %s", printable(txt, strlen(txt), pb, sizeof pb), why);
}

/* A list of CIDRs into a new array. */
static int get_cidrs(struct cfg_ctx *c, yaml_node_t *n, struct lim_cidr **out, size_t *count)
{
	size_t len;
	int r = seq_count(c, n, 0, SBC_MAX_ACL, "entries", &len);

	if (!r)
		*out = seq_alloc(c, n, len, sizeof **out, count, &r);
	return r ? r : seq_each(c, n, read_cidr, *out);
}

static int set_acl_allow(struct cfg_ctx *c, yaml_node_t *n, void *obj)
{
	struct sbc_acl *a = obj;

	return get_cidrs(c, n, &a->allow, &a->nallow);
}

static int set_acl_deny(struct cfg_ctx *c, yaml_node_t *n, void *obj)
{
	struct sbc_acl *a = obj;

	return get_cidrs(c, n, &a->deny, &a->ndeny);
}

static int set_acl_policy(struct cfg_ctx *c, yaml_node_t *n, void *obj)
{
	int v, r = get_choice(c, n, "policy", acl_policy_names, 2, &v);

	if (!r)
		((struct sbc_acl *)obj)->policy = (enum sbc_acl_policy)v;
	return r;
}

static const struct field acl_fields[] = {
	FFN("allow", set_acl_allow, false),
	FFN("deny", set_acl_deny, false),
	FFN("policy", set_acl_policy, false),
};

/* The same prefix allowed and denied has no meaning: refuse it. */
static int set_acl(struct cfg_ctx *c, yaml_node_t *n, void *obj)
{
	struct sbc_acl *a = &((struct sbc_realm *)obj)->acl;
	int r = WALK(c, n, acl_fields, a);

	for (size_t i = 0; !r && i < a->ndeny; i++) {
		for (size_t j = 0; j < a->nallow; j++) {
			char txt[64];
			if (!lim_cidr_eq(&a->deny[i], &a->allow[j]))
				continue;
			lim_cidr_format(&a->deny[i], txt, sizeof txt);
			return fail_at(c, n, "deny", i, "%s is also allow[%zu]", txt, j);
		}
	}
	return r;
}

/* Headers a realm must not see. Only well-known names (a typo must not
 * silently remove nothing) and never the ones SIP cannot work without. */
static int read_hide_header(struct cfg_ctx *c, yaml_node_t *item, size_t i, void *obj)
{
	static const uint8_t needed[] = {
		SIP_H_VIA, SIP_H_FROM, SIP_H_TO, SIP_H_CALL_ID, SIP_H_CSEQ, SIP_H_CONTACT,
		SIP_H_MAX_FORWARDS, SIP_H_CONTENT_LENGTH, SIP_H_CONTENT_TYPE, SIP_H_ROUTE,
		SIP_H_RECORD_ROUTE, SIP_H_REQUIRE, SIP_H_PROXY_REQUIRE, SIP_H_RSEQ, SIP_H_RACK,
		SIP_H_EVENT, SIP_H_SUBSCRIPTION_STATE, SIP_H_EXPIRES,
	};
	struct sbc_topology *t = obj;
	/* a list or mapping item reads as "", which no header is called */
	const char *s = item->type == YAML_SCALAR_NODE ? sval(item) : "";
	enum sip_hdr_id id = sip_hdr_lookup((sip_str_t){ s, (uint32_t)strlen(s) });

	if (id == SIP_H_OTHER)
		return cfg_fail(c, item, "\"%s\" is not a header name sbc knows", s);
	if (memchr(needed, id, sizeof needed))
		return cfg_fail(c, item, "%s cannot be removed: SIP needs it", s);
	if (memchr(t->hide, id, t->nhide))
		return cfg_fail(c, item, "%s is listed twice", s);
	t->hide[t->nhide++] = (uint8_t)id;
	return 0;
}

static int set_hide_headers(struct cfg_ctx *c, yaml_node_t *n, void *obj)
{
	struct sbc_topology *t = obj;
	size_t count;
	int r = seq_count(c, n, 0, SBC_MAX_HIDE_HEADERS, "headers", &count);

	if (r)
		return r;
	t->hide_headers_set = true;
	return seq_each(c, n, read_hide_header, t);
}

static const struct field topology_fields[] = {
	FLD(struct sbc_topology, mask_call_id, F_BOOL, false),
	FFN("hide_headers", set_hide_headers, false),
	FLD(struct sbc_topology, register_throttle, F_BOOL, false),
	FNUM(struct sbc_topology, register_expires, F_U32, 60, 86400),
};

static int set_topology(struct cfg_ctx *c, yaml_node_t *n, void *obj)
{
	return WALK(c, n, topology_fields, &((struct sbc_realm *)obj)->topo);
}

static const struct field realm_fields[] = {
	FLD(struct sbc_realm, name, F_ID, true),
	FLD(struct sbc_realm, trusted, F_BOOL, false),
	FLD(struct sbc_realm, hide_topology, F_BOOL, false),
	FFN("listen", set_listen, true),
	FLD(struct sbc_realm, advertise, F_HOST, false),
	FFN("media", set_media, true),
	FFN("limits", set_limits, false),
	FFN("acl", set_acl, false),
	FFN("topology", set_topology, false),
};

/* Via and Contact need a routable address: default to the first listen
 * address unless that is a wildcard. */
static int realm_advertise(struct cfg_ctx *c, yaml_node_t *item, struct sbc_realm *realm)
{
	const struct sbc_ip *first = &realm->listen[0].ip;

	if (realm->advertise.name[0]) {
		if (!ip_is_any(&realm->advertise.ip))
			return 0;
		return fail_key(c, item, "advertise", "cannot advertise a wildcard address");
	}
	if (ip_is_any(first)) /* advertise is absent: points at the realm */
		return fail_key(c, item, "advertise",
				"required when listening on a wildcard address");
	realm->advertise.ip = *first;
	memcpy(realm->advertise.name, first->text, sizeof first->text);
	return 0;
}

static int realm_dup_name(struct cfg_ctx *c, yaml_node_t *seq, struct sbc_config *cfg, size_t i)
{
	for (size_t j = 0; j < i; j++) {
		if (strcmp(cfg->realms[i].name, cfg->realms[j].name))
			continue;
		path_push_index(c, i);
		return fail_key(c, seq_item(c, seq, i), "name",
				"\"%s\" is already the name of realms[%zu]", cfg->realms[i].name, j);
	}
	return 0;
}

static int realm_dup_listen(struct cfg_ctx *c, yaml_node_t *seq, struct sbc_config *cfg,
			    size_t i, size_t k)
{
	const struct sbc_listen *l = &cfg->realms[i].listen[k];

	for (size_t j = 0; j <= i; j++) {
		for (size_t m = 0; m < cfg->realms[j].nlisten && (j < i || m < k); m++) {
			const struct sbc_listen *o = &cfg->realms[j].listen[m];
			if (o->port != l->port || o->transport != l->transport ||
			    !ip_overlap(&o->ip, &l->ip))
				continue;
			path_push_index(c, i);
			return fail_at(c, seq_item(c, seq, i), "listen", k,
				       "%s port %u/%s is already used by realms[%zu].listen[%zu] (%s)",
				       l->ip.text, l->port, transport_names[l->transport], j, m,
				       o->ip.text);
		}
	}
	return 0;
}

static bool ranges_overlap(unsigned a1, unsigned a2, unsigned b1, unsigned b2)
{
	return a1 <= b2 && b1 <= a2;
}

/* Relay ports of different realms on one address must not collide, nor
 * may they swallow a SIP port on that address. */
static int realm_media_clash(struct cfg_ctx *c, yaml_node_t *seq, struct sbc_config *cfg, size_t i)
{
	const struct sbc_media *m = &cfg->realms[i].media;
	yaml_node_t *at = map_value(c, seq_item(c, seq, i), "media");
	char what[128] = "";

	for (size_t j = 0; j < cfg->nrealms && !what[0]; j++) {
		const struct sbc_media *o = &cfg->realms[j].media;
		for (size_t k = 0; k < cfg->realms[j].nlisten && !what[0]; k++) {
			const struct sbc_listen *l = &cfg->realms[j].listen[k];
			if (ip_overlap(&l->ip, &m->ip) &&
			    ranges_overlap(m->port_first, m->port_last, l->port, l->port))
				snprintf(what, sizeof what, "includes SIP port %u of realms[%zu].listen[%zu]",
					 l->port, j, k);
		}
		if (j < i && !what[0] && ip_overlap(&o->ip, &m->ip) &&
		    ranges_overlap(m->port_first, m->port_last, o->port_first, o->port_last))
			snprintf(what, sizeof what, "overlaps realms[%zu].media.ports (%u-%u) on %s",
				 j, o->port_first, o->port_last, m->ip.text);
	}
	if (!what[0])
		return 0;
	path_push_index(c, i);
	path_push(c, "media");
	return fail_key(c, at, "ports", "%u-%u %s", m->port_first, m->port_last, what);
}

static int realms_cross_check(struct cfg_ctx *c, yaml_node_t *seq, struct sbc_config *cfg)
{
	for (size_t i = 0; i < cfg->nrealms; i++) {
		int r = realm_dup_name(c, seq, cfg, i);
		for (size_t k = 0; !r && k < cfg->realms[i].nlisten; k++)
			r = realm_dup_listen(c, seq, cfg, i, k);
		if (!r)
			r = realm_media_clash(c, seq, cfg, i);
		if (r)
			return r;
	}
	return 0;
}

static int read_realm(struct cfg_ctx *c, yaml_node_t *item, size_t i, void *obj)
{
	struct sbc_realm *realm = &((struct sbc_config *)obj)->realms[i];
	int r;

	realm->hide_topology = true;
	realm->topo.register_expires = 3600;
	realm->limits.retry_after = 5;
	realm->limits.flood_multiple = 4;
	realm->limits.block_seconds = 60;
	r = WALK(c, item, realm_fields, realm);
	return r ? r : realm_advertise(c, item, realm);
}

static int set_realms(struct cfg_ctx *c, yaml_node_t *n, void *obj)
{
	struct sbc_config *cfg = obj;
	size_t count;
	int r = seq_count(c, n, 1, SBC_MAX_REALMS, "realms", &count);

	if (!r)
		cfg->realms = seq_alloc(c, n, count, sizeof *cfg->realms, &cfg->nrealms, &r);
	if (r)
		return r;
	r = seq_each(c, n, read_realm, cfg);
	return r ? r : realms_cross_check(c, n, cfg);
}

/* ---- routes ------------------------------------------------------------- */

/* Only the form is checked here: realms may be defined after the routes,
 * so references are resolved in routes_resolve(). */
static int check_realm_ref(struct cfg_ctx *c, yaml_node_t *n, void *obj)
{
	char name[SBC_NAME_MAX + 1];

	return get_id(c, n, name, sizeof name, true);
}

static int read_method(struct cfg_ctx *c, yaml_node_t *item, size_t i, void *obj)
{
	static const char *const names[] = {
#define M_NAME(m) #m,
		SIP_METHODS(M_NAME)
#undef M_NAME
	};
	struct sbc_route *route = obj;
	int m, r = get_choice(c, item, "SIP method", names, sizeof names / sizeof names[0], &m);

	if (r)
		return r;
	/* names[] follows enum sip_method from SIP_M_INVITE (= 1) on */
	if (route->methods & (1u << (m + 1)))
		return cfg_fail(c, item, "%s is listed twice", names[m]);
	route->methods |= 1u << (m + 1);
	return 0;
}

/* Unbounded: a method listed twice is refused, which bounds the list. */
static int set_methods(struct cfg_ctx *c, yaml_node_t *n, void *obj)
{
	size_t count;
	int r = seq_count(c, n, 0, UINT_MAX, "methods", &count);

	return r ? r : seq_each(c, n, read_method, obj);
}

static int set_ruri_domain(struct cfg_ctx *c, yaml_node_t *n, void *obj)
{
	struct sbc_route *route = obj;
	struct sbc_host h;
	const char *s;
	int r = scalar_text(c, n, &s);

	if (r || !*s)
		return r;
	r = get_host(c, n, &h);
	if (!r)
		memcpy(route->ruri_domain, h.name, sizeof route->ruri_domain);
	return r;
}

static const struct field hop_fields[] = {
	FLD(struct sbc_next_hop, host, F_HOST, true),
	FLD(struct sbc_next_hop, port, F_PORT, false),
	FNUM(struct sbc_next_hop, priority, F_U16, 0, 65535),
	FNUM(struct sbc_next_hop, weight, F_U16, 0, 65535),
};

static int read_hop(struct cfg_ctx *c, yaml_node_t *item, size_t i, void *obj)
{
	struct sbc_next_hop *h = &((struct sbc_route *)obj)->hops[i];

	h->port = 5060;
	h->priority = 1;
	h->weight = 1;
	return WALK(c, item, hop_fields, h);
}

static int set_next_hops(struct cfg_ctx *c, yaml_node_t *n, void *obj)
{
	struct sbc_route *route = obj;
	size_t count;
	int r;

	if (n->type == YAML_SCALAR_NODE && !is_null(n)) {
		if (strcmp(sval(n), "ruri"))
			return cfg_fail(c, n, "expected a list of next hops or \"ruri\"");
		route->by_ruri = true;
		return 0;
	}
	/* the noun carries the alternative to a list into the message */
	r = seq_count(c, n, 1, SBC_MAX_HOPS, "next hops, or \"ruri\"", &count);
	if (!r)
		route->hops = seq_alloc(c, n, count, sizeof *route->hops, &route->nhops, &r);
	return r ? r : seq_each(c, n, read_hop, route);
}

static const struct field route_fields[] = {
	FLD(struct sbc_route, name, F_ID, true),
	FFN("from_realm", check_realm_ref, true),
	FFN("to_realm", check_realm_ref, true),
	FFN("methods", set_methods, false),
	FLD(struct sbc_route, ruri_user_prefix, F_STR, false),
	FFN("ruri_domain", set_ruri_domain, false),
	FFN("next_hops", set_next_hops, true),
};

static int read_route(struct cfg_ctx *c, yaml_node_t *item, size_t i, void *obj)
{
	return WALK(c, item, route_fields, &((struct sbc_config *)obj)->routes[i]);
}

static int set_routes(struct cfg_ctx *c, yaml_node_t *n, void *obj)
{
	struct sbc_config *cfg = obj;
	size_t count;
	int r = seq_count(c, n, 0, SBC_MAX_ROUTES, "routes", &count);

	if (!r)
		cfg->routes = seq_alloc(c, n, count, sizeof *cfg->routes, &cfg->nroutes, &r);
	return r ? r : seq_each(c, n, read_route, cfg);
}

static int resolve_ref(struct cfg_ctx *c, yaml_node_t *item, const struct sbc_config *cfg,
		       const char *key, size_t *out)
{
	yaml_node_t *v = map_value(c, item, key);
	size_t saved = path_push(c, key);
	int i = sbc_config_realm_find(cfg, sval(v));

	if (i < 0)
		return cfg_fail(c, v, "realm \"%s\" is not defined", sval(v));
	*out = (size_t)i;
	path_pop(c, saved);
	return 0;
}

static int routes_resolve(struct cfg_ctx *c, yaml_node_t *root, struct sbc_config *cfg)
{
	yaml_node_t *seq = map_value(c, root, "routes");

	for (size_t i = 0; i < cfg->nroutes; i++) {
		struct sbc_route *route = &cfg->routes[i];
		yaml_node_t *item = seq_item(c, seq, i);
		size_t saved = path_push(c, "routes");
		int r;

		path_push_index(c, i);
		r = resolve_ref(c, item, cfg, "from_realm", &route->from_realm);
		if (!r)
			r = resolve_ref(c, item, cfg, "to_realm", &route->to_realm);
		for (size_t j = 0; !r && j < i; j++) {
			if (strcmp(route->name, cfg->routes[j].name))
				continue;
			r = fail_key(c, item, "name", "\"%s\" is already the name of routes[%zu]",
				     route->name, j);
		}
		if (r)
			return r;
		path_pop(c, saved);
	}
	return 0;
}

/* ---- ha ----------------------------------------------------------------- */

static int set_redis_mode(struct cfg_ctx *c, yaml_node_t *n, void *obj)
{
	int v, r = get_choice(c, n, "Redis mode", redis_mode_names, 3, &v);

	if (!r)
		((struct sbc_ha *)obj)->redis_mode = (enum sbc_redis_mode)v;
	return r;
}

static int read_redis(struct cfg_ctx *c, yaml_node_t *item, size_t i, void *obj)
{
	return get_endpoint(c, item, &((struct sbc_ha *)obj)->redis[i]);
}

static int set_redis(struct cfg_ctx *c, yaml_node_t *n, void *obj)
{
	struct sbc_ha *ha = obj;
	int r = seq_count(c, n, 0, SBC_MAX_REDIS_SERVERS, "Redis servers", &ha->nredis);

	return r ? r : seq_each(c, n, read_redis, ha);
}

static int set_service_address(struct cfg_ctx *c, yaml_node_t *n, void *obj)
{
	const char *s;
	int r = scalar_text(c, n, &s);

	if (r || !*s)
		return r;
	return get_ip(c, n, &((struct sbc_ha *)obj)->service_ip);
}

static const struct field ha_fields[] = {
	FLD(struct sbc_ha, enabled, F_BOOL, false),
	FLD(struct sbc_ha, node_id, F_ID, false),
	FLD(struct sbc_ha, pair, F_ID, false),
	FFN("redis_mode", set_redis_mode, false),
	FFN("redis", set_redis, false),
	FLD(struct sbc_ha, sentinel_master, F_ID, false),
	FNUM(struct sbc_ha, lease_ms, F_U32, 100, 600000),
	FNUM(struct sbc_ha, renew_ms, F_U32, 10, 600000),
	FFN("service_address", set_service_address, false),
};

static int set_ha(struct cfg_ctx *c, yaml_node_t *n, void *obj)
{
	struct sbc_ha *ha = &((struct sbc_config *)obj)->ha;
	int r = WALK(c, n, ha_fields, ha);

	if (r)
		return r;
	if (ha->renew_ms >= ha->lease_ms)
		return fail_key(c, n, "renew_ms", "must be shorter than lease_ms");
	if (!ha->enabled)
		return 0;
	if (!ha->node_id[0])
		return fail_key(c, n, "node_id", "required when ha is enabled");
	if (!ha->pair[0])
		return fail_key(c, n, "pair", "required when ha is enabled");
	if (!ha->nredis)
		return fail_key(c, n, "redis", "at least one server is required when ha is enabled");
	if (ha->redis_mode == SBC_REDIS_SENTINEL && !ha->sentinel_master[0])
		return fail_key(c, n, "sentinel_master", "required with redis_mode sentinel");
	return 0;
}

/* ---- io (packet I/O backend) -------------------------------------------- */

static const char *const io_backend_names[] = { "socket", "dpdk" };

static int set_io_backend(struct cfg_ctx *c, yaml_node_t *n, void *obj)
{
	int v, r = get_choice(c, n, "packet I/O backend", io_backend_names, 2, &v);

	if (r)
		return r;
	if (v == SBC_IO_DPDK && !HAVE_DPDK)
		return cfg_fail(c, n, "this sbc was built without DPDK (install the DPDK "
				"development files and rebuild with -Ddpdk=enabled), so only "
				"\"socket\" is available");
	((struct sbc_io *)obj)->backend = (enum sbc_io_backend)v;
	return 0;
}

static int read_eal_arg(struct cfg_ctx *c, yaml_node_t *item, size_t i, void *obj)
{
	struct sbc_io *io = obj;
	int r = get_str(c, item, io->eal_args[i], sizeof io->eal_args[i]);

	if (!r && !io->eal_args[i][0])
		return cfg_fail(c, item, "an EAL argument must not be empty");
	return r;
}

static int set_io_eal_args(struct cfg_ctx *c, yaml_node_t *n, void *obj)
{
	struct sbc_io *io = obj;
	int r = seq_count(c, n, 0, SBC_IO_MAX_EAL_ARGS, "EAL arguments", &io->neal_args);

	return r ? r : seq_each(c, n, read_eal_arg, io);
}

/* PCI address as DPDK names it: [DOMAIN:]BUS:DEV.FN, hex. */
static bool is_pci_addr(const char *s)
{
	unsigned dom, bus, dev, fn;
	int end = 0;

	if (sscanf(s, "%4x:%2x:%2x.%1x%n", &dom, &bus, &dev, &fn, &end) == 4 && !s[end])
		return true;
	end = 0;
	return sscanf(s, "%2x:%2x.%1x%n", &bus, &dev, &fn, &end) == 3 && !s[end];
}

/* A PCI address, or a virtual device "net_name0[,key=value...]": its name
 * is what EAL registers (letters, digits, '_'), the rest goes to the
 * driver unchanged. */
static int set_io_device(struct cfg_ctx *c, yaml_node_t *n, void *obj)
{
	struct sbc_io_port *p = obj;
	char pb[80];
	int r = get_str(c, n, p->device, sizeof p->device);
	size_t i;

	if (r)
		return r;
	if (is_pci_addr(p->device))
		return 0;
	for (i = 0; p->device[i] && p->device[i] != ','; i++) {
		char ch = p->device[i];
		if (!(ch >= 'a' && ch <= 'z') && !(ch >= 'A' && ch <= 'Z') &&
		    !(ch >= '0' && ch <= '9') && ch != '_')
			break;
	}
	if (!i || (p->device[i] && p->device[i] != ',') || strncmp(p->device, "net_", 4))
		return cfg_fail(c, n, "\"%s\" is neither a PCI address (0000:03:00.0) nor a "
				"virtual device (net_af_packet0,iface=eth1)",
				printable(p->device, strlen(p->device), pb, sizeof pb));
	if (strchr(p->device, ' '))
		return cfg_fail(c, n, "device arguments must not contain spaces");
	return 0;
}

static int set_io_mac(struct cfg_ctx *c, yaml_node_t *n, void *obj)
{
	struct sbc_io_port *p = obj;
	unsigned b[6];
	const char *s;
	char pb[80];
	int end = 0, r = scalar_text(c, n, &s);

	if (r || !*s)
		return r;
	printable(s, strlen(s), pb, sizeof pb);
	if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%n", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5],
		   &end) != 6 || s[end] || end != 17)
		return cfg_fail(c, n, "\"%s\" is not an Ethernet address (02:00:00:00:00:01)", pb);
	if (b[0] & 1)
		return cfg_fail(c, n, "%s is a multicast address", pb);
	if (!(b[0] | b[1] | b[2] | b[3] | b[4] | b[5]))
		return cfg_fail(c, n, "the all-zero address is not usable");
	for (int i = 0; i < 6; i++)
		p->mac[i] = (uint8_t)b[i];
	p->has_mac = true;
	return 0;
}

/* "10.0.0.1/24": a specific unicast IPv4 address and its on-link prefix. */
static int get_io_prefix(struct cfg_ctx *c, yaml_node_t *n, struct sbc_io_prefix *out)
{
	char ip[SBC_IP_TEXT_MAX + 1], pb[80];
	const char *s, *slash;
	uint64_t len;
	int r = scalar_text(c, n, &s);

	if (r)
		return r;
	printable(s, strlen(s), pb, sizeof pb);
	slash = strchr(s, '/');
	if (!slash || (size_t)(slash - s) >= sizeof ip)
		return cfg_fail(c, n, "\"%s\" is not ADDRESS/PREFIX (e.g. 192.0.2.10/24)", pb);
	memcpy(ip, s, (size_t)(slash - s));
	ip[slash - s] = '\0';
	if (!parse_ip(ip, &out->ip) || !parse_u64(slash + 1, &len))
		return cfg_fail(c, n, "\"%s\" is not ADDRESS/PREFIX (e.g. 192.0.2.10/24)", pb);
	if (out->ip.family == AF_INET6) {
		const struct in6_addr *a6 = &out->ip.u.v6;
		if (len < 1 || len > 128)
			return cfg_fail(c, n, "%s: the prefix length must be 1-128", pb);
		if (IN6_IS_ADDR_UNSPECIFIED(a6) || IN6_IS_ADDR_LOOPBACK(a6) ||
		    IN6_IS_ADDR_MULTICAST(a6) || IN6_IS_ADDR_V4MAPPED(a6))
			return cfg_fail(c, n, "%s is not a unicast host address", pb);
		if (IN6_IS_ADDR_LINKLOCAL(a6))
			return cfg_fail(c, n, "%s: the port's link-local address comes from its MAC; "
					"list global or unique-local addresses here", pb);
		out->len = (uint8_t)len;
		return 0;
	}
	if (len < 1 || len > 32)
		return cfg_fail(c, n, "%s: the prefix length must be 1-32", pb);
	uint32_t a = ntohl(out->ip.u.v4.s_addr);
	if (ip_is_any(&out->ip) || (a >> 28) == 14 || (a >> 28) == 15 || (a >> 24) == 127)
		return cfg_fail(c, n, "%s is not a unicast host address", pb);
	if (len <= 30 && ((a & ~(UINT32_MAX << (32 - len))) == 0 ||
			  (a | (UINT32_MAX << (32 - len))) == UINT32_MAX))
		return cfg_fail(c, n, "%s is the network or broadcast address of its prefix", pb);
	out->len = (uint8_t)len;
	return 0;
}

/* One of a port's addresses, each listed once. */
static int read_io_address(struct cfg_ctx *c, yaml_node_t *item, size_t i, void *obj)
{
	struct sbc_io_port *p = obj;
	int r = get_io_prefix(c, item, &p->addr[i]);

	for (size_t j = 0; !r && j < i; j++) {
		if (sbc_ip_eq(&p->addr[j].ip, &p->addr[i].ip))
			return cfg_fail(c, item, "%s is listed twice", p->addr[i].ip.text);
	}
	return r;
}

static int set_io_addresses(struct cfg_ctx *c, yaml_node_t *n, void *obj)
{
	struct sbc_io_port *p = obj;
	int r = seq_count(c, n, 1, SBC_IO_MAX_ADDRS, "addresses", &p->naddr);

	return r ? r : seq_each(c, n, read_io_address, p);
}

static int set_io_gateway(struct cfg_ctx *c, yaml_node_t *n, void *obj)
{
	struct sbc_io_port *p = obj;
	const char *s;
	int r = scalar_text(c, n, &s);

	if (r || !*s)
		return r;
	r = get_ip(c, n, &p->gateway);
	if (!r && p->gateway.family != AF_INET)
		r = cfg_fail(c, n, "the gateway must be an IPv4 address (gateway6 for IPv6)");
	return r;
}

static int set_io_gateway6(struct cfg_ctx *c, yaml_node_t *n, void *obj)
{
	struct sbc_io_port *p = obj;
	const char *s;
	int r = scalar_text(c, n, &s);

	if (r || !*s)
		return r;
	r = get_ip(c, n, &p->gateway6);
	if (!r && (p->gateway6.family != AF_INET6 || IN6_IS_ADDR_MULTICAST(&p->gateway6.u.v6) ||
		   IN6_IS_ADDR_UNSPECIFIED(&p->gateway6.u.v6)))
		r = cfg_fail(c, n, "gateway6 must be a unicast IPv6 address (usually the router's "
				"link-local fe80::...)");
	return r;
}

static int set_io_tap(struct cfg_ctx *c, yaml_node_t *n, void *obj)
{
	struct sbc_io_port *p = obj;
	char pb[80];
	int r = get_str(c, n, p->kernel_tap, sizeof p->kernel_tap);

	if (r)
		return r;
	for (const char *s = p->kernel_tap; *s; s++) {
		if (!(*s >= 'a' && *s <= 'z') && !(*s >= 'A' && *s <= 'Z') &&
		    !(*s >= '0' && *s <= '9') && *s != '-' && *s != '_' && *s != '.')
			return cfg_fail(c, n, "\"%s\" is not an interface name (letters, digits, "
					"'-', '_', '.')",
					printable(p->kernel_tap, strlen(p->kernel_tap), pb, sizeof pb));
	}
	return 0;
}

static const struct field io_port_fields[] = {
	FFN("device", set_io_device, true),
	FFN("mac", set_io_mac, false),
	FFN("addresses", set_io_addresses, true),
	FFN("gateway", set_io_gateway, false),
	FFN("gateway6", set_io_gateway6, false),
	FNUM(struct sbc_io_port, mtu, F_U16, 576, 9702),
	FFN("kernel_tap", set_io_tap, false),
};

/* Length of the device's name: up to the first ','. */
static size_t io_devname_len(const char *dev)
{
	const char *comma = strchr(dev, ',');

	return comma ? (size_t)(comma - dev) : strlen(dev);
}

static bool io_prefix_covers(const struct sbc_io_prefix *p, const struct sbc_ip *ip)
{
	if (ip->family != p->ip.family)
		return false;
	if (ip->family == AF_INET) {
		uint32_t mask = UINT32_MAX << (32 - p->len);
		return ((ntohl(ip->u.v4.s_addr) ^ ntohl(p->ip.u.v4.s_addr)) & mask) == 0;
	}
	for (unsigned bit = 0; bit < p->len; bit++) {
		unsigned byte = bit / 8, m = 0x80u >> (bit % 8);
		if ((ip->u.v6.s6_addr[byte] ^ p->ip.u.v6.s6_addr[byte]) & m)
			return false;
	}
	return true;
}

/* Checks between the ports, once all are read. */
static int io_port_check(struct cfg_ctx *c, yaml_node_t *item, struct sbc_io *io, size_t i)
{
	const struct sbc_io_port *p = &io->ports[i];
	size_t nlen = io_devname_len(p->device);
	bool on_link = p->gateway.family == AF_UNSPEC;

	for (size_t k = 0; k < p->naddr && !on_link; k++)
		on_link = io_prefix_covers(&p->addr[k], &p->gateway);
	if (!on_link)
		return fail_key(c, item, "gateway", "%s is not inside any of the port's address "
				"prefixes", p->gateway.text);
	on_link = p->gateway6.family == AF_UNSPEC || IN6_IS_ADDR_LINKLOCAL(&p->gateway6.u.v6);
	for (size_t k = 0; k < p->naddr && !on_link; k++)
		on_link = io_prefix_covers(&p->addr[k], &p->gateway6);
	if (!on_link)
		return fail_key(c, item, "gateway6", "%s is neither link-local nor inside any of "
				"the port's address prefixes", p->gateway6.text);
	for (size_t j = 0; j < i; j++) {
		const struct sbc_io_port *o = &io->ports[j];
		if (nlen == io_devname_len(o->device) && !strncmp(p->device, o->device, nlen))
			return fail_key(c, item, "device",
					"\"%.*s\" is already io.ports[%zu].device", (int)nlen,
					p->device, j);
		if (p->kernel_tap[0] && !strcmp(p->kernel_tap, o->kernel_tap))
			return fail_key(c, item, "kernel_tap",
					"\"%s\" is already io.ports[%zu].kernel_tap", p->kernel_tap, j);
		for (size_t k = 0; k < p->naddr; k++) {
			for (size_t m = 0; m < o->naddr; m++) {
				if (!sbc_ip_eq(&p->addr[k].ip, &o->addr[m].ip))
					continue;
				return fail_at(c, item, "addresses", k,
					       "%s is already an address of io.ports[%zu]",
					       p->addr[k].ip.text, j);
			}
		}
	}
	return 0;
}

static int read_io_port(struct cfg_ctx *c, yaml_node_t *item, size_t i, void *obj)
{
	int r = WALK(c, item, io_port_fields, &((struct sbc_io *)obj)->ports[i]);

	return r ? r : io_port_check(c, item, obj, i);
}

static int set_io_ports(struct cfg_ctx *c, yaml_node_t *n, void *obj)
{
	struct sbc_io *io = obj;
	int r = seq_count(c, n, 0, SBC_IO_MAX_PORTS, "ports", &io->nports);

	return r ? r : seq_each(c, n, read_io_port, io);
}

static const struct field io_fields[] = {
	FFN("backend", set_io_backend, false),
	FFN("eal_args", set_io_eal_args, false),
	FFN("ports", set_io_ports, false),
	FNUM(struct sbc_io, mbufs, F_U32, 1023, 16777215),
	FNUM(struct sbc_io, mbuf_size, F_U32, 1024, 65535),
	FNUM(struct sbc_io, rx_queue_size, F_U32, 32, 32768),
	FNUM(struct sbc_io, tx_queue_size, F_U32, 32, 32768),
	FLD(struct sbc_io, power_saving, F_BOOL, false),
	FNUM(struct sbc_io, idle_sleep_us, F_U32, 1, 100000),
};

/* The backend adds every port's device to the EAL arguments itself; the
 * same virtual device given twice would fail in EAL with a vaguer message. */
static int io_eal_dup_vdev(struct cfg_ctx *c, yaml_node_t *n, const struct sbc_io *io)
{
	for (size_t i = 0; i < io->neal_args; i++) {
		const char *a = io->eal_args[i];
		size_t at = i;

		if (!strncmp(a, "--vdev=", 7))
			a += 7;
		else if (!strcmp(a, "--vdev") && i + 1 < io->neal_args)
			a = io->eal_args[++at];
		else
			continue;
		for (size_t p = 0; p < io->nports; p++) {
			size_t len = io_devname_len(io->ports[p].device);
			if (len != io_devname_len(a) || strncmp(a, io->ports[p].device, len))
				continue;
			return fail_at(c, n, "eal_args", at,
				       "\"%.*s\" is io.ports[%zu].device, which the backend adds to "
				       "the EAL arguments itself: remove it here", (int)len, a, p);
		}
	}
	return 0;
}

static int set_io(struct cfg_ctx *c, yaml_node_t *n, void *obj)
{
	struct sbc_io *io = &((struct sbc_config *)obj)->io;
	int r = WALK(c, n, io_fields, io);

	return r ? r : io_eal_dup_vdev(c, n, io);
}

static void io_defaults(struct sbc_io *io)
{
	io->backend = SBC_IO_SOCKET;
	io->mbufs = 16383;
	io->mbuf_size = 2048 + 128;
	io->rx_queue_size = 512;
	io->tx_queue_size = 512;
	io->power_saving = true;
	io->idle_sleep_us = 500;
}

/* The port that owns ip, or -1. */
static int io_port_of(const struct sbc_io *io, const struct sbc_ip *ip)
{
	for (size_t i = 0; i < io->nports; i++) {
		for (size_t k = 0; k < io->ports[i].naddr; k++) {
			if (sbc_ip_eq(&io->ports[i].addr[k].ip, ip))
				return (int)i;
		}
	}
	return -1;
}

/* A realm address the dpdk backend must own: specific, on a port. */
static int io_realm_addr(struct cfg_ctx *c, yaml_node_t *at, const struct sbc_io *io,
			 const struct sbc_ip *ip, const char *what)
{
	if (ip_is_any(ip))
		return cfg_fail(c, at, "the dpdk backend needs a specific %s address, not a wildcard",
				what);
	if (io_port_of(io, ip) < 0)
		return cfg_fail(c, at, "%s is not an address of any io.ports[].addresses (with the "
				"dpdk backend the SBC owns only those)", ip->text);
	return 0;
}

/* With the dpdk backend every listen and media address must live on a
 * port: that is how a listen address maps to its port. Runs after the walk
 * (io may come before or after realms in the file). */
static int io_resolve(struct cfg_ctx *c, yaml_node_t *root, struct sbc_config *cfg)
{
	const struct sbc_io *io = &cfg->io;
	yaml_node_t *realms = map_value(c, root, "realms");
	size_t saved = c->plen;
	int r = 0;

	if (io->backend != SBC_IO_DPDK)
		return 0;
	if (!io->nports) {
		path_push(c, "io");
		return fail_key(c, map_value(c, root, "io"), "ports",
				"the dpdk backend needs at least one port");
	}
	for (size_t i = 0; !r && i < cfg->nrealms; i++) {
		const struct sbc_realm *realm = &cfg->realms[i];
		yaml_node_t *item = seq_item(c, realms, i);
		yaml_node_t *lst = map_value(c, item, "listen");

		path_set(c, saved);
		path_push(c, "realms");
		path_push_index(c, i);
		for (size_t k = 0; !r && k < realm->nlisten; k++) {
			size_t s2 = path_push(c, "listen");
			path_push_index(c, k);
			path_push(c, "address");
			r = io_realm_addr(c, node_at(c, seq_item(c, lst, k), "address", SIZE_MAX), io,
					  &realm->listen[k].ip, "listen");
			path_pop(c, s2);
		}
		if (!r) {
			path_push(c, "media");
			path_push(c, "address");
			r = io_realm_addr(c, node_at(c, map_value(c, item, "media"), "address", SIZE_MAX),
					  io, &realm->media.ip, "media");
		}
	}
	if (r)
		return r;
	path_set(c, saved);
	return 0;
}

/* ---- top level ---------------------------------------------------------- */

static const struct field global_limits_fields[] = {
	FNUM(struct sbc_global_limits, cps, F_U32, 0, UINT32_MAX),
	FNUM(struct sbc_global_limits, rps, F_U32, 0, UINT32_MAX),
	FNUM(struct sbc_global_limits, flood_multiple, F_U32, 1, 1000),
	FNUM(struct sbc_global_limits, sources, F_U32, 64, 1u << 24),
};

static int set_global_limits(struct cfg_ctx *c, yaml_node_t *n, void *obj)
{
	return WALK(c, n, global_limits_fields, &((struct sbc_config *)obj)->limits);
}

static const struct field global_media_fields[] = {
	FNUM(struct sbc_media_defaults, timeout_s, F_U32, 0, MEDIA_TIMEOUT_MAX),
};

static int set_global_media(struct cfg_ctx *c, yaml_node_t *n, void *obj)
{
	return WALK(c, n, global_media_fields, &((struct sbc_config *)obj)->media);
}

/* Realms without their own media.timeout_s take the top-level one. */
static void media_resolve(struct sbc_config *cfg)
{
	for (size_t i = 0; i < cfg->nrealms; i++)
		if (cfg->realms[i].media.timeout_s == MEDIA_TIMEOUT_UNSET)
			cfg->realms[i].media.timeout_s = cfg->media.timeout_s;
}

static const struct field top_fields[] = {
	FNUM(struct sbc_config, workers, F_U32, 0, SBC_MAX_WORKERS),
	FFN("log_level", set_log_level, false),
	FFN("sip", set_sip, false),
	FFN("control", set_control, false),
	FFN("limits", set_global_limits, false),
	FFN("realms", set_realms, true),
	FFN("routes", set_routes, false),
	FFN("ha", set_ha, false),
	FFN("io", set_io, false),
	FFN("media", set_global_media, false),
};

static void config_defaults(struct sbc_config *cfg, const char *name)
{
	snprintf(cfg->source, sizeof cfg->source, "%s", name);
	cfg->log_level = SBC_LOG_INFO;
	cfg->sip = (struct sbc_sip){ .t1_ms = 500, .t2_ms = 4000, .t4_ms = 5000,
				     .timer_c_ms = 180000, .max_dialog_duration_s = 14400,
				     .max_transactions = 57344, .max_dialogs = 16384,
				     .user_agent = "sbc" };
	cfg->control.metrics_enabled = true;
	parse_ip("127.0.0.1", &cfg->control.metrics_ip);
	cfg->control.metrics_port = 9099;
	cfg->limits = (struct sbc_global_limits){ .flood_multiple = 4, .sources = 16384 };
	snprintf(cfg->ha.pair, sizeof cfg->ha.pair, "sbc");
	cfg->ha.lease_ms = 3000;
	cfg->ha.renew_ms = 1000;
	io_defaults(&cfg->io);
}

static int config_from_doc(struct cfg_ctx *c, struct sbc_config *cfg)
{
	yaml_node_t *root = yaml_document_get_root_node(c->doc);
	int r;

	if (!root)
		return cfg_fail(c, NULL, "the configuration is empty");
	r = WALK(c, root, top_fields, cfg);
	if (!r)
		media_resolve(cfg);
	if (!r)
		r = routes_resolve(c, root, cfg);
	if (!r)
		r = io_resolve(c, root, cfg);
	return r;
}

static int syntax_error(struct cfg_ctx *c, const yaml_parser_t *p)
{
	snprintf(c->err, c->errlen, "%s:%zu: YAML syntax error: %s%s%s", c->file,
		 p->problem_mark.line + 1, p->problem ? p->problem : "unknown",
		 p->context ? " " : "", p->context ? p->context : "");
	return -EINVAL;
}

/* Parse exactly one document from an initialised parser. */
static int config_from_parser(struct cfg_ctx *c, yaml_parser_t *p, struct sbc_config **out)
{
	yaml_document_t doc, extra;
	struct sbc_config *cfg;
	int r;

	*out = NULL;
	if (!yaml_parser_load(p, &doc))
		return syntax_error(c, p);
	c->doc = &doc;
	cfg = calloc(1, sizeof *cfg);
	if (!cfg) {
		yaml_document_delete(&doc);
		return -ENOMEM;
	}
	config_defaults(cfg, c->file);
	r = config_from_doc(c, cfg);
	if (!r) {
		if (!yaml_parser_load(p, &extra)) {
			r = syntax_error(c, p);
		} else {
			if (yaml_document_get_root_node(&extra))
				r = cfg_fail(c, yaml_document_get_root_node(&extra),
					     "only one YAML document is allowed");
			yaml_document_delete(&extra);
		}
	}
	yaml_document_delete(&doc);
	if (r) {
		sbc_config_free(cfg);
		return r;
	}
	*out = cfg;
	return 0;
}

int sbc_config_parse(const char *name, const char *text, size_t len, struct sbc_config **out,
		     char *err, size_t errlen)
{
	struct cfg_ctx c = { .file = name, .err = err, .errlen = errlen };
	yaml_parser_t p;
	int r;

	*out = NULL;
	if (!yaml_parser_initialize(&p)) {
		snprintf(err, errlen, "%s: out of memory", name);
		return -ENOMEM;
	}
	yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
	r = config_from_parser(&c, &p, out);
	yaml_parser_delete(&p);
	return r;
}

int sbc_config_load(const char *path, struct sbc_config **out, char *err, size_t errlen)
{
	struct cfg_ctx c = { .file = path, .err = err, .errlen = errlen };
	yaml_parser_t p;
	FILE *f;
	int r;

	*out = NULL;
	f = fopen(path, "rb");
	if (!f) {
		r = -errno;
		snprintf(err, errlen, "%s: cannot open: %s", path, strerror(-r));
		return r;
	}
	if (!yaml_parser_initialize(&p)) {
		fclose(f);
		snprintf(err, errlen, "%s: out of memory", path);
		return -ENOMEM;
	}
	yaml_parser_set_input_file(&p, f);
	r = config_from_parser(&c, &p, out);
	yaml_parser_delete(&p);
	fclose(f);
	return r;
}

void sbc_config_free(struct sbc_config *cfg)
{
	if (!cfg)
		return;
	for (size_t i = 0; i < cfg->nrealms; i++) {
		free(cfg->realms[i].listen);
		free(cfg->realms[i].acl.allow);
		free(cfg->realms[i].acl.deny);
	}
	for (size_t i = 0; i < cfg->nroutes; i++)
		free(cfg->routes[i].hops);
	free(cfg->realms);
	free(cfg->routes);
	free(cfg);
}

unsigned sbc_config_workers(const struct sbc_config *cfg)
{
	cpu_set_t set;
	long n;

	if (cfg->workers)
		return cfg->workers;
	/* The CPUs we may run on (cpuset, taskset), not all online ones. */
	if (!sched_getaffinity(0, sizeof set, &set))
		n = CPU_COUNT(&set);
	else
		n = sysconf(_SC_NPROCESSORS_ONLN);
	n -= 1; /* leave one for the main/control thread and the kernel */
	if (n < 1)
		return 1;
	return n > (long)SBC_MAX_WORKERS ? SBC_MAX_WORKERS : (unsigned)n;
}

const char *sbc_log_level_name(enum sbc_log_level l)
{
	return (unsigned)l < 4 ? log_level_names[l] : "?";
}

const char *sbc_transport_name(enum sbc_transport t)
{
	return (unsigned)t < 3 ? transport_names[t] : "?";
}

int sbc_config_realm_find(const struct sbc_config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->nrealms; i++) {
		if (!strcmp(cfg->realms[i].name, name))
			return (int)i;
	}
	return -1;
}
