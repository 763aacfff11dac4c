/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * sbc/config — the daemon's YAML configuration: schema, defaults, validation.
 *
 * Ownership and threads
 *   sbc_config_load() builds a struct sbc_config the caller owns and frees
 *   with sbc_config_free(). It is filled once on the main thread before any
 *   worker starts and is read-only afterwards, so workers read it without
 *   locks. Strings are fixed-size, NUL-terminated arrays (bounded by the
 *   validation) so the only heap blocks are the realm, listen, route,
 *   next-hop and ACL arrays.
 *
 * Errors
 *   Every rejected input produces exactly one message in the caller's buffer,
 *   "FILE:LINE: FIELD.PATH: problem", e.g.
 *     conf/x.yaml:12: realms[1].listen[0].port: 70000 is not a port (1-65535)
 *   and the functions return -EINVAL (bad configuration) or -errno (the file
 *   could not be read). Unknown keys are errors: a typo must not pass.
 *
 * Later issues give behaviour to fields that are only validated today
 * (routing, topology hiding, media, limits, metrics, HA); their defaults are
 * the values documented in conf/sbc.yaml.
 */
#ifndef SBC_CONFIG_H
#define SBC_CONFIG_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "limit.h"  /* struct lim_cidr */

#define SBC_MAX_WORKERS        256u
#define SBC_MAX_REALMS         64u
#define SBC_MAX_LISTEN         16u   /* per realm */
#define SBC_MAX_ROUTES         4096u
#define SBC_MAX_HOPS           32u   /* per route */
#define SBC_MAX_REDIS_SERVERS  8u
#define SBC_NAME_MAX           32u   /* realm/route names: metric labels */
#define SBC_HOST_MAX           253u  /* DNS name, RFC 1035 */
#define SBC_UA_MAX             128u
#define SBC_PREFIX_MAX         64u
#define SBC_HA_ID_MAX          64u
#define SBC_IP_TEXT_MAX        46u   /* INET6_ADDRSTRLEN */
#define SBC_MAX_ACL            4096u /* CIDR entries per ACL list per realm */

enum sbc_log_level { SBC_LOG_ERROR = 0, SBC_LOG_WARN, SBC_LOG_INFO, SBC_LOG_DEBUG };

enum sbc_transport { SBC_TRANSPORT_UDP = 0, SBC_TRANSPORT_TCP, SBC_TRANSPORT_TLS };

/* A literal IPv4 or IPv6 address; family AF_UNSPEC when not set. `text` is
 * the canonical inet_ntop() form (no brackets). */
struct sbc_ip {
	int family;
	union {
		struct in_addr v4;
		struct in6_addr v6;
	} u;
	char text[SBC_IP_TEXT_MAX];
};

/* A host that may be a DNS name or a literal IP: ip.family is AF_UNSPEC
 * for a name. `name` holds the text as configured (IPv6 canonicalised). */
struct sbc_host {
	char name[SBC_HOST_MAX + 1];
	struct sbc_ip ip;
};

struct sbc_endpoint {
	struct sbc_host host;
	uint16_t port;
};

struct sbc_listen {
	struct sbc_ip ip;
	uint16_t port;
	enum sbc_transport transport;
};

struct sbc_media {
	struct sbc_ip ip;
	uint16_t port_first;         /* even: RTP on even, RTCP on odd */
	uint16_t port_last;
	uint32_t timeout_s;          /* media inactivity timeout; 0 off; default
					the top-level media.timeout_s */
};

/* Top-level media: defaults of the realms' media sections. */
struct sbc_media_defaults {
	uint32_t timeout_s;          /* 0: no media inactivity timeout */
};

/* Per-realm protection (lib/limit, enforced by the worker that first
 * touches a packet). Rates are per second, 0 = unlimited; rates are split
 * over the workers (conf/sbc.yaml explains the approximations). */
struct sbc_limits {
	uint32_t cps;                     /* new calls (initial INVITEs) of the realm */
	uint32_t concurrent_calls;
	uint32_t per_source_cps;          /* initial INVITEs per source address */
	uint32_t register_per_source_rps; /* REGISTERs per source address */
	uint32_t other_per_source_rps;    /* any other request per source address */
	uint32_t retry_after;             /* s, base of Retry-After in 503s (jittered) */
	uint32_t flood_multiple;          /* beyond this x a limit: silent drop */
	uint32_t block_after;             /* s over its limit before a source is blocked; 0 never */
	uint32_t block_seconds;           /* how long a block lasts */
};

enum sbc_acl_policy { SBC_ACL_REJECT = 0, SBC_ACL_DROP };

/* Per-realm access list (lib/limit semantics: longest prefix wins; a
 * non-empty allow list denies everything it does not cover). */
struct sbc_acl {
	struct lim_cidr *allow;
	size_t nallow;
	struct lim_cidr *deny;
	size_t ndeny;
	enum sbc_acl_policy policy;       /* denied requests: 403, or silence */
};

/* SBC-wide limits over the requests of untrusted realms, and the size of
 * the per-source tables. */
struct sbc_global_limits {
	uint32_t cps;                     /* new calls per second */
	uint32_t rps;                     /* requests per second */
	uint32_t flood_multiple;
	uint32_t sources;                 /* per-source entries per worker */
};

#define SBC_MAX_HIDE_HEADERS 24u

/* What the SBC hides towards a realm (used when the realm pair hides
 * topology, see hide_topology). */
struct sbc_topology {
	bool mask_call_id;            /* Call-IDs sent into this realm are tokens */
	bool hide_headers_set;        /* hide_headers given: replaces the default */
	uint8_t nhide;
	uint8_t hide[SBC_MAX_HIDE_HEADERS]; /* enum sip_hdr_id removed towards it */
	bool register_throttle;       /* answer device refreshes locally */
	uint32_t register_expires;    /* expiry asked of the registrar, s */
};

struct sbc_realm {
	char name[SBC_NAME_MAX + 1];
	bool trusted;
	bool hide_topology;
	struct sbc_listen *listen;
	size_t nlisten;
	struct sbc_host advertise;   /* defaults to the first listen address */
	struct sbc_media media;
	struct sbc_limits limits;
	struct sbc_acl acl;
	struct sbc_topology topo;
};

struct sbc_next_hop {
	struct sbc_host host;
	uint16_t port;
	uint16_t priority;           /* lower is tried first */
	uint16_t weight;             /* share among equal priority */
};

struct sbc_route {
	char name[SBC_NAME_MAX + 1];
	size_t from_realm;           /* index into sbc_config.realms */
	size_t to_realm;
	uint32_t methods;            /* bit (1u << enum sip_method); 0 = any */
	char ruri_user_prefix[SBC_PREFIX_MAX + 1];
	char ruri_domain[SBC_HOST_MAX + 1];
	bool by_ruri;                /* next_hops: ruri */
	struct sbc_next_hop *hops;
	size_t nhops;
};

struct sbc_sip {
	uint32_t t1_ms;
	uint32_t t2_ms;
	uint32_t t4_ms;
	uint32_t timer_c_ms;
	uint32_t max_dialog_duration_s;
	/* Per worker, server and client transactions each. Every transaction
	 * stays 64*T1 after its final response (RFC 3261 17, RFC 6026), so a
	 * worker sustains about max_transactions / (64 * T1) transactions a
	 * second, ~2 per call. Stored message copies (lib/txn/txn.c) and
	 * proxy contexts (sbc/proxy.c ctx_pool_size) are held only while
	 * needed and sized from it by ratio: max_transactions copies, and
	 * 9/16 as many contexts (one per answered INVITE over 64*T1).
	 * ~2.5 KiB per transaction in all: 57344 (default) ~140 MiB. */
	uint32_t max_transactions;
	uint32_t max_dialogs;
	char user_agent[SBC_UA_MAX + 1];  /* Server header; empty = none */
};

struct sbc_control {
	bool metrics_enabled;        /* false when metrics is "" */
	struct sbc_ip metrics_ip;
	uint16_t metrics_port;
};

enum sbc_redis_mode { SBC_REDIS_SINGLE = 0, SBC_REDIS_SENTINEL, SBC_REDIS_CLUSTER };

struct sbc_ha {
	bool enabled;
	char node_id[SBC_HA_ID_MAX + 1];
	char pair[SBC_HA_ID_MAX + 1];          /* Redis key hash tag {pair} */
	enum sbc_redis_mode redis_mode;
	struct sbc_endpoint redis[SBC_MAX_REDIS_SERVERS];
	size_t nredis;
	char sentinel_master[SBC_HA_ID_MAX + 1];
	uint32_t lease_ms;
	uint32_t renew_ms;
	struct sbc_ip service_ip;             /* floating address; AF_UNSPEC = none */
};

/* Packet I/O (io: section). The socket backend needs none of it; the
 * dpdk backend takes its EAL arguments, ports and sizes from here. Fixed
 * arrays: no heap block to free. */
enum sbc_io_backend { SBC_IO_SOCKET = 0, SBC_IO_DPDK };

#define SBC_IO_MAX_PORTS       8u
#define SBC_IO_MAX_ADDRS       16u   /* per port */
#define SBC_IO_MAX_EAL_ARGS    32u
#define SBC_IO_ARG_MAX         256u  /* one EAL argument or device string */
#define SBC_IFNAME_MAX         15u   /* IFNAMSIZ - 1 */

/* An address of ours on a port and its on-link prefix ("10.0.0.1/24"). */
struct sbc_io_prefix {
	struct sbc_ip ip;
	uint8_t len;
};

struct sbc_io_port {
	char device[SBC_IO_ARG_MAX];     /* PCI address or vdev "net_x0,k=v,..." */
	bool has_mac;
	uint8_t mac[6];                  /* our Ethernet address; default the device's */
	struct sbc_io_prefix addr[SBC_IO_MAX_ADDRS];
	size_t naddr;
	struct sbc_ip gateway;           /* IPv4; AF_UNSPEC: on-link destinations only */
	struct sbc_ip gateway6;          /* IPv6 router, often link-local; AF_UNSPEC: none */
	uint16_t mtu;                    /* 0: the device's */
	char kernel_tap[SBC_IFNAME_MAX + 1]; /* exception-path interface; "" none */
};

struct sbc_io {
	enum sbc_io_backend backend;
	char eal_args[SBC_IO_MAX_EAL_ARGS][SBC_IO_ARG_MAX];
	size_t neal_args;
	struct sbc_io_port ports[SBC_IO_MAX_PORTS];
	size_t nports;
	uint32_t mbufs;                  /* packet buffers per NUMA node with ports */
	uint32_t mbuf_size;              /* bytes per buffer incl. 128 of headroom */
	uint32_t rx_queue_size;          /* descriptors per queue */
	uint32_t tx_queue_size;
	bool power_saving;               /* back off when idle */
	uint32_t idle_sleep_us;          /* longest idle sleep: the latency bound */
};

struct sbc_config {
	char source[256];            /* file name as given, for messages */
	uint32_t workers;            /* 0 = automatic, see sbc_config_workers() */
	enum sbc_log_level log_level;
	struct sbc_sip sip;
	struct sbc_control control;
	struct sbc_global_limits limits;
	struct sbc_realm *realms;
	size_t nrealms;
	struct sbc_route *routes;
	size_t nroutes;
	struct sbc_ha ha;
	struct sbc_io io;
	struct sbc_media_defaults media;
};

/* Load and validate a file. On success *out is a new config (0 returned).
 * On failure *out is NULL, err holds one "file:line: field: problem" line
 * and the result is -EINVAL, or -errno if the file cannot be read. */
__attribute__((warn_unused_result))
int sbc_config_load(const char *path, struct sbc_config **out, char *err, size_t errlen);

/* Same from memory; `name` stands for the file name in messages. */
__attribute__((warn_unused_result))
int sbc_config_parse(const char *name, const char *text, size_t len,
		     struct sbc_config **out, char *err, size_t errlen);

void sbc_config_free(struct sbc_config *cfg);  /* accepts NULL */

/* Worker threads to run: `workers`, or online cores minus one (>= 1). */
unsigned sbc_config_workers(const struct sbc_config *cfg);

const char *sbc_log_level_name(enum sbc_log_level l);
const char *sbc_transport_name(enum sbc_transport t);

/* Realm index by name, or -1. */
int sbc_config_realm_find(const struct sbc_config *cfg, const char *name);

/* Same address (family and bytes)? */
bool sbc_ip_eq(const struct sbc_ip *a, const struct sbc_ip *b);

#endif /* SBC_CONFIG_H */
