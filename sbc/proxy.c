/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Proxy core of one shard. A "proxy context" (struct pctx) ties the server
 * transaction of a request to the client transaction of its current
 * branch: next-hop failover is serial (one branch at a time, the next only
 * after 408/503/timeout/transport error and before any provisional,
 * RFC 3261 16.7 step 5 with the SBC as the only forker). A context lets go
 * of its transactions once the final response is upstream (ctx_settle),
 * except after a 2xx to INVITE, whose further 2xx it still relays through
 * the server transaction's stored headers (Vias when hiding). Forking done
 * downstream reaches us as several early dialogs / several 2xx on that one
 * branch, and each is relayed (RFC 6026).
 *
 * Record-Route: the SBC sits between two realms and so records both of its
 * faces, RFC 5658 style: "<sip:OUT;lr;r2=on>, <sip:IN;lr;r2=on>". A request
 * arriving with Route entries naming the SBC has them removed; the realm of
 * the entry that is not the arrival realm is the way out.
 *
 * Topology hiding (realm pairs where either realm has hide_topology): the
 * request leaves with exactly one Via (ours; the received stack stays in
 * the server transaction and is put back on responses), without Route and
 * Record-Route (kept in the dialog as route sets), with every Contact
 * replaced by an authenticated token naming this shard (lib/topo), and
 * without the headers that name equipment or hosts (HIDE_HEADERS). The
 * other side then sends its in-dialog requests to that token, and the
 * dialog gives the real target. REGISTERs from untrusted realms get binding
 * tokens instead; requests to a binding token go to the address the
 * device's REGISTER really came from (NAT).
 *
 * Media anchoring (lib/media, one struct media per shard): every SDP body
 * of an offer/answer exchange is applied to the dialog's media session and
 * rewritten (o=, c=, m=, a=rtcp) to the SBC's relay ports of the realm it
 * goes to. Offers and answers are where SIP puts them: INVITE/18x/2xx/ACK
 * (an offer in a response when the INVITE had none), PRACK, UPDATE,
 * re-INVITE both ways; a response repeating the exchange's SDP is
 * rewritten without changing anything. The INVITE's session waits in its
 * proxy context until the first dialog adopts it; later early dialogs
 * (downstream forks) get media_session_fork()s of it. A dialog's session
 * lives in dlg->user (struct dmedia) and is freed with the dialog; the
 * INVITE's when it fails. Requests with SDP the SBC cannot anchor are
 * refused (400/488 per lib/sdp, 503 + Retry-After without ports, 491 in
 * glare); a response or ACK with such SDP has its body removed, counted,
 * and a call it would have confirmed is ended with BYEs. Bodies outside
 * offer/answer (OPTIONS, MESSAGE ...) only have their addresses hidden.
 *
 * Targets are literal addresses (next hops may be names in the config only
 * if they are IPs today; DNS resolution belongs to the control plane and is
 * not there yet): a Request-URI or Route with a host name gets 404 with a
 * reason that says so.
 */
#include "proxy.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "hash.h"
#include "pool.h"
#include "callid.h"
#include "log.h"
#include "media.h"
#include "reg.h"
#include "sdp.h"
#include "token.h"

#define OUT_MAX (SIP_MAX_MSG + 4096u)
#define MAX_EARLY 8u
#define TAG_MAX_LEN 64u
#define RS_MAX 1024u /* a route set as text */
#define MAX_BINDINGS 16384u
#define MAX_CONTACTS 8u /* per REGISTER */
#define DM_TIMER_TAG 0x50000u /* a dialog's media inactivity check */

/* Headers that name equipment or hosts of the other realm: removed when
 * hiding (Via, Route, Record-Route and Contact are rewritten instead). */
static const enum sip_hdr_id hide_headers[] = {
	SIP_H_SERVER, SIP_H_USER_AGENT, SIP_H_WARNING, SIP_H_PATH, SIP_H_ERROR_INFO,
	SIP_H_CALL_INFO, SIP_H_P_PREFERRED_IDENTITY,
};

/* What a message's SDP body gets (media anchoring). */
enum mop_mode {
	MOP_NONE = 0,   /* untouched: no SDP, or not ours to change */
	MOP_PASS,       /* SDP outside offer/answer: addresses hidden only */
	MOP_APPLY,      /* media_sdp(side, kind) on the session, then rewrite */
	MOP_REPEAT,     /* repeats the last exchange: rewrite, change nothing */
	MOP_CACHED,     /* p->rw already holds this message's rewrite */
	MOP_STRIP,      /* body removed (SDP we could not anchor) */
};

struct mop {
	uint8_t mode;                   /* enum mop_mode */
	uint8_t side;                   /* enum media_side the body comes from */
	uint8_t kind;                   /* enum media_sdp_kind */
	bool dlg;                       /* the session of the message's dialog
					   (found again), else the context's */
};

struct pctx;

/* A dialog's media (dlg->user, INVITE dialogs): its session and the
 * inactivity check. */
struct dmedia {
	struct media_session *ms;       /* NULL: none could be had */
	struct dlg *d;
	struct pctx *x;                 /* the INVITE context whose session this
					   is (adopted), while it lives */
	struct wheel_timer t_idle;
	uint32_t timeout_ms;            /* 0: no inactivity timeout */
	uint32_t offer_cseq;            /* INVITE whose response made an offer */
	bool resp_offer;                /* ... valid */
};

struct realm_info {
	uint16_t iface;                 /* flattened index of listen[0] */
	uint16_t hplen;
	char hostport[SBC_HOST_MAX + 10]; /* advertise:port as in Via/RR */
};

struct pctx {
	struct txn_server *s;
	struct txn_client *c;
	struct txn_peer in;             /* upstream peer */
	const struct sbc_route *route;  /* hops from the table, or NULL */
	struct txn_peer target;         /* fixed target (Route / R-URI) */
	uint16_t out_realm;
	uint8_t hop_order[SBC_MAX_HOPS];
	uint8_t nhops, hop;
	enum sip_method method;
	bool by_table;                  /* next hops of ctx->route */
	bool record_route;              /* initial dialog-creating request */
	bool in_dialog;
	bool cancelled;
	bool provisional;
	bool upstream_final;            /* a final went upstream */
	bool hidden;                    /* topology hidden between in and out */
	bool reg;                       /* REGISTER from a NAT realm: bindings */
	uint8_t nbind;
	uint32_t bind_idx[MAX_CONTACTS];/* bindings this REGISTER created */
	uint16_t bind_gen[MAX_CONTACTS];
	bool bind_remove[MAX_CONTACTS]; /* ... asked to be removed (expires 0) */
	uint32_t bind_dev_exp[MAX_CONTACTS]; /* ... the expiry the device asked */
	bool reg_star;                  /* Contact: * (remove all of the AOR) */
	bool call, call_ended;          /* an initial INVITE, for call metrics */
	uint64_t call_t0;               /* its arrival, ns */
	/* hidden in-dialog target, valid while the request is being built */
	sip_str_t new_ruri;
	sip_str_t route_set;
	uint8_t nearly;
	uint8_t early_len[MAX_EARLY];
	char early_tag[MAX_EARLY][TAG_MAX_LEN]; /* To-tags of our early dialogs */
	/* media anchoring */
	struct media_session *ms;       /* the INVITE's session (its offer) */
	struct dmedia *ms_owner;        /* the dialog that adopted ms, or NULL */
	bool ms_adopted;                /* ms belongs to a dialog now */
	bool offer;                     /* the request carried an SDP offer */
	struct mop mop;                 /* what the request's body gets */
};

struct proxy {
	struct proxy_env env;
	struct txn_shard *txn;
	struct dlg_table *dlg;
	struct reg_table *reg;
	struct cid_map *cid;
	struct topo_mac *mac;
	struct pool *ctx_pool;
	struct sbc_hash_key key;
	uint64_t rng;
	struct realm_info *realms;
	size_t nrealms;
	uint64_t ctr[PROXY_C__COUNT];
	struct sip_msg req;             /* scratch: a stored request re-parsed */
	struct sip_editor ed;
	char out[OUT_MAX];
	char rs[2][RS_MAX];             /* scratch for route sets */
	struct sdp sdp;                 /* scratch: a body being rewritten */
	char sdpbuf[SDP_MAX_BODY + 512];
	/* media anchoring */
	struct media *media;            /* NULL: the backend cannot relay */
	struct pool *dm_pool;           /* struct dmedia */
	bool port_failed;               /* a relay port did not open (hook) */
	struct sdp_rewrite rw;          /* scratch: the body's media rewrite */
};

static const char *const ctr_names[] = {
#define PROXY_CTR_NAME(n, d) #n,
	PROXY_COUNTERS(PROXY_CTR_NAME)
#undef PROXY_CTR_NAME
};

static int orig_call_id(struct proxy *p, const struct sip_msg *m, sip_str_t *cid);
/* media anchoring (section below the dialogs) */
static void dlg_end(struct proxy *p, struct dlg *d);
static void media_ctx_free(struct proxy *p, struct pctx *x);
static void media_dialog_new(struct proxy *p, struct pctx *x, struct dlg *d);
static void media_dialog_confirmed(struct proxy *p, struct dlg *d);
static void media_final(struct proxy *p, struct pctx *x, const struct sip_msg *m, uint16_t status);
static int edit_body(struct proxy *p, struct pctx *x, const struct sip_msg *m, const struct mop *op,
		     uint16_t to, bool hidden);
static void send_bye(struct proxy *p, struct dlg *d, int side, uint16_t cause, const char *why);

const char *proxy_counter_name(enum proxy_counter c)
{
	return (unsigned)c < PROXY_C__COUNT ? ctr_names[c] : "?";
}

const uint64_t *proxy_counters(const struct proxy *p)
{
	return p->ctr;
}

struct media *proxy_media(struct proxy *p)
{
	return p->media;
}

uint32_t proxy_bindings(const struct proxy *p)
{
	return reg_count(p->reg);
}

void proxy_stats(const struct proxy *p, struct txn_stats *txn, struct dlg_stats *dlg)
{
	txn_shard_stats(p->txn, txn);
	dlg_table_stats(p->dlg, dlg);
}

static uint64_t now_ms(const struct proxy *p)
{
	return wheel_now(p->env.wheel);
}

static uint32_t rnd32(struct proxy *p)
{
	/* xorshift64*: weighted hop order only, not security */
	p->rng ^= p->rng >> 12;
	p->rng ^= p->rng << 25;
	p->rng ^= p->rng >> 27;
	return (uint32_t)((p->rng * 0x2545F4914F6CDD1DULL) >> 32);
}

/* ---- realms and addresses ----------------------------------------------- */

static int own_realm_of(const struct proxy *p, const struct sip_uri *u)
{
	union sbc_sockaddr a;
	uint16_t port = u->has_port ? u->port : 5060;
	bool lit = u->host_type != SIP_HOST_NAME &&
		   sbc_addr_from(&a, u->host.p, u->host.len, port) == 0;
	const struct sbc_config *cfg = p->env.cfg;
	for (size_t r = 0; r < cfg->nrealms; r++) {
		const struct sbc_realm *rl = &cfg->realms[r];
		for (size_t i = 0; i < rl->nlisten; i++) {
			if (rl->listen[i].port != port)
				continue;
			if (lit && rl->listen[i].ip.family == a.sa.sa_family &&
			    (a.sa.sa_family == AF_INET
				     ? a.v4.sin_addr.s_addr == rl->listen[i].ip.u.v4.s_addr
				     : !memcmp(&a.v6.sin6_addr, &rl->listen[i].ip.u.v6, 16)))
				return (int)r;
			if (sip_str_caseeq_lit(u->host, rl->advertise.name))
				return (int)r;
		}
	}
	return -1;
}

/* A URI's host:port as a literal destination; -1 for host names. */
static int uri_target(const struct sip_uri *u, union sbc_sockaddr *a)
{
	if (u->host_type == SIP_HOST_NAME)
		return -1;
	return sbc_addr_from(a, u->host.p, u->host.len, u->has_port ? u->port : 5060);
}

static int nameaddr_target(sip_str_t v, union sbc_sockaddr *a)
{
	struct sip_nameaddr na;
	struct sip_uri u;
	if (sip_nameaddr_parse(v, &na) < 0 || sip_uri_parse(na.uri, &u) < 0)
		return -1;
	return uri_target(&u, a);
}

static void set_peer(struct proxy *p, struct txn_peer *t, uint16_t realm, const union sbc_sockaddr *a)
{
	t->addr = *a;
	t->realm = realm;
	t->iface = p->realms[realm].iface;
}

/* ---- output helpers -------------------------------------------------------- */

static int send_to(struct proxy *p, const struct txn_peer *to, const char *buf, int len)
{
	if (len < 0) {
		p->ctr[PROXY_C_BUILD_FAILED]++;
		return -ENOSPC;
	}
	return p->env.send(p->env.ctx, to, buf, (uint32_t)len);
}

/* Stateless reply to a request we could not take into a transaction. */
static void reply_stateless(struct proxy *p, const struct sip_msg *m, const struct txn_peer *from,
			    uint16_t status, const char *reason, const char *extra)
{
	p->ctr[PROXY_C_LOCAL_REPLIES]++;
	int n = sip_reply(m, status, reason, p->env.sl_tag,
			  (sip_str_t){ extra, (uint32_t)strlen(extra) }, p->out, sizeof(p->out));
	send_to(p, from, p->out, n);
}

static void reply_local(struct proxy *p, struct txn_server *s, uint16_t status, const char *reason)
{
	p->ctr[PROXY_C_LOCAL_REPLIES]++;
	(void)txn_server_reply(s, status, reason, SIP_STR_NULL);
}

/* ---- call metrics ---------------------------------------------------------------
 * A call is an initial INVITE; it ends answered at its first 2xx upstream
 * (setup time from the INVITE's arrival) or failed at its final non-2xx. */
static void call_final(struct proxy *p, struct pctx *x, uint16_t status)
{
	if (!x->call || x->call_ended || status < 200 || !p->env.calls)
		return;
	x->call_ended = true;
	if (status < 300)
		metrics_call_answered(p->env.calls, metrics_now_ns() - x->call_t0);
	else
		metrics_call_failed(p->env.calls);
}

/* ---- contexts ------------------------------------------------------------------ */

static void early_forget(struct proxy *p, struct pctx *x, bool destroy_early)
{
	sip_str_t cid, ftag;
	struct sip_nameaddr from;
	sip_str_t req = x->s ? txn_server_request(x->s) : SIP_STR_NULL;
	if (!x->nearly)
		return;
	/* The keys of our early dialogs are the stored request's Call-ID and
	 * From tag plus the To-tags we kept; callers run this before the
	 * server transaction (and its stored request) goes away. */
	if (!req.len || sip_parse(&p->req, req.p, req.len) != SIP_E_OK ||
	    orig_call_id(p, &p->req, &cid) < 0 || sip_msg_from(&p->req, &from) <= 0) {
		x->nearly = 0;
		return;
	}
	ftag = from.tag;
	for (unsigned i = 0; i < x->nearly; i++) {
		struct dlg *d = dlg_find(p->dlg, cid, ftag,
					 (sip_str_t){ x->early_tag[i], x->early_len[i] });
		if (d && d->state == DLG_EARLY && destroy_early)
			dlg_end(p, d);
	}
	x->nearly = 0;
}

static void ctx_maybe_free(struct proxy *p, struct pctx *x)
{
	if (x->s || x->c)
		return;
	media_ctx_free(p, x);
	pool_put(p->ctx_pool, x);
}

/* A context is needed until the final response has gone upstream, and
 * after a 2xx to INVITE for as long as its transactions live: further 2xx
 * (downstream forks, retransmissions) are still relayed through it
 * (RFC 6026). Past a final otherwise, the transactions finish on their own
 * (absorbing retransmissions, resending the final, ACKing retransmitted
 * non-2xx finals) and nothing calls back for them, so the context lets go
 * of both and returns to its pool at once instead of lingering 64*T1: the
 * pool is sized for the contexts that are really held (proxy_create).
 * Call at the end of every entry point that may have sent a final. */
static void ctx_settle(struct proxy *p, struct pctx *x)
{
	uint16_t fin = x->s ? txn_server_final(x->s) : 0;
	if (!x->s) {
		ctx_maybe_free(p, x);
		return;
	}
	if (!fin || (x->method == SIP_M_INVITE && fin < 300) ||
	    (x->c && !txn_client_final(x->c)))
		return; /* still forwarding: a branch without its final */
	/* early dialogs were ended with the final (on_response, on_timeout);
	 * the stored request their keys come from may be gone by now */
	x->nearly = 0;
	if (x->c) {
		txn_client_set_user(x->c, NULL);
		txn_client_abandon(x->c); /* Completed: ACKs/absorbs alone */
		x->c = NULL;
	}
	txn_server_set_user(x->s, NULL);
	x->s = NULL;
	ctx_maybe_free(p, x);
}

static void on_server_gone(void *ctx, struct txn_server *s)
{
	struct proxy *p = ctx;
	struct pctx *x = txn_server_user(s);
	if (!x)
		return;
	/* Early dialogs that never got a 2xx die with the INVITE (RFC 3261
	 * 13.3.1.4: the UAC would have ended them by now). */
	early_forget(p, x, true);
	x->s = NULL;
	ctx_maybe_free(p, x);
}

static void on_client_gone(void *ctx, struct txn_client *c)
{
	struct proxy *p = ctx;
	struct pctx *x = txn_client_user(c);
	if (!x)
		return;
	if (x->c == c)
		x->c = NULL;
	ctx_maybe_free(p, x);
}

/* ---- building forwarded requests ---------------------------------------------- */

/* Remove the leading Route values that name the SBC. Reports how many, the
 * realm of the last one that is not `in_realm` (-1 if none) and the first
 * remaining value (the next hop in loose routing). */
struct route_scan {
	unsigned own;
	int out_realm;
	sip_str_t next;           /* first Route value not ours, or empty */
	const struct sip_hdr *next_line;
};

static int scan_routes(struct proxy *p, const struct sip_msg *m, uint16_t in_realm,
		       struct route_scan *rs)
{
	struct sip_list_iter it;
	sip_str_t v;
	int r;
	memset(rs, 0, sizeof(*rs));
	rs->out_realm = -1;
	sip_list_init(&it, m, SIP_H_ROUTE);
	while ((r = sip_list_next(&it, &v)) > 0) {
		struct sip_nameaddr na;
		struct sip_uri u;
		if (sip_nameaddr_parse(v, &na) < 0 || sip_uri_parse(na.uri, &u) < 0)
			return -EINVAL;
		int realm = own_realm_of(p, &u);
		if (realm < 0) {
			rs->next = v;
			rs->next_line = it.h;
			return 0;
		}
		rs->own++;
		if (realm != in_realm || rs->out_realm < 0)
			rs->out_realm = realm;
	}
	return r;
}

static int edit_strip_routes(struct sip_editor *e, const struct sip_msg *m, const struct route_scan *rs)
{
	if (!rs->own)
		return 0;
	for (const struct sip_hdr *h = sip_hdr_first(m, SIP_H_ROUTE); h; h = sip_hdr_next(m, h)) {
		if (h == rs->next_line) {
			/* keep from the first foreign value on */
			uint32_t off = (uint32_t)(h->value.p - m->buf);
			uint32_t len = (uint32_t)(rs->next.p - h->value.p);
			return len ? sip_edit_replace(e, off, len, SIP_STR_NULL) : 0;
		}
		int r = sip_edit_delete_hdr(e, (uint16_t)(h - m->hdr));
		if (r < 0)
			return r;
	}
	return 0;
}

static int edit_max_forwards(struct sip_editor *e, const struct sip_msg *m, uint16_t first_idx)
{
	const struct sip_hdr *h = sip_hdr_first(m, SIP_H_MAX_FORWARDS);
	uint32_t mf;
	char num[12];
	if (!h)
		return sip_edit_insert_hdr(e, first_idx, SIP_STR("Max-Forwards"), SIP_STR("70"));
	if (sip_parse_u32(h->value, &mf) < 0 || mf == 0)
		return -EINVAL; /* sanity runs first; never here */
	int n = snprintf(num, sizeof(num), "%u", mf > 256 ? 255 : mf - 1);
	return sip_edit_replace_value(e, (uint16_t)(h - m->hdr), (sip_str_t){ num, (uint32_t)n });
}

/* Insert our Via (and Record-Route) before the first Via line; the
 * Record-Route goes first so the Via lines stay contiguous (some stacks
 * expect that, though RFC 3261 7.3.1 does not require it). */
static int edit_via_rr(struct proxy *p, struct sip_editor *e, const struct sip_msg *m,
		       uint16_t out_realm, uint16_t in_realm, sip_str_t branch, bool rr)
{
	const struct realm_info *o = &p->realms[out_realm], *i = &p->realms[in_realm];
	const struct sip_hdr *fv = sip_hdr_first(m, SIP_H_VIA);
	uint16_t at = fv ? (uint16_t)(fv - m->hdr) : 0;
	char via[SBC_HOST_MAX + 128], rrv[2 * SBC_HOST_MAX + 64];
	int n;
	if (rr) {
		if (out_realm == in_realm)
			n = snprintf(rrv, sizeof(rrv), "<sip:%s;lr>", o->hostport);
		else
			n = snprintf(rrv, sizeof(rrv), "<sip:%s;lr;r2=on>, <sip:%s;lr;r2=on>",
				     o->hostport, i->hostport);
		if (n < 0 || (size_t)n >= sizeof(rrv))
			return -ENOSPC;
		const struct sip_hdr *frr = sip_hdr_first(m, SIP_H_RECORD_ROUTE);
		uint16_t rat = frr ? (uint16_t)(frr - m->hdr) : at;
		if (sip_edit_insert_hdr(e, rat, SIP_STR("Record-Route"), (sip_str_t){ rrv, (uint32_t)n }) < 0)
			return -ENOSPC;
	}
	n = snprintf(via, sizeof(via), "SIP/2.0/UDP %s;branch=%.*s;rport", o->hostport,
		     (int)branch.len, branch.p);
	if (n < 0 || (size_t)n >= sizeof(via))
		return -ENOSPC;
	return sip_edit_insert_hdr(e, at, SIP_STR("Via"), (sip_str_t){ via, (uint32_t)n });
}

/* ---- topology hiding --------------------------------------------------------- */

static bool hidden_pair(const struct proxy *p, uint16_t a, uint16_t b)
{
	return p->env.cfg->realms[a].hide_topology || p->env.cfg->realms[b].hide_topology;
}

/* Dialog tokens carry 32 bits of the keyed Call-ID hash: a token replayed
 * into another call is refused before any lookup. */
static uint32_t callid_id(const struct proxy *p, sip_str_t cid)
{
	return (uint32_t)(sbc_siphash24(&p->key, cid.p, cid.len) >> 32);
}

/* The Call-ID the shard keys a message by: a masked Call-ID of ours is
 * replaced by the original it stands for. Returns 1 when it was masked, 0
 * when not (or not ours, or stale: then lookups simply find nothing), -1
 * without a Call-ID. */
static int orig_call_id(struct proxy *p, const struct sip_msg *m, sip_str_t *cid)
{
	struct topo_token t;
	if (sip_msg_call_id(m, cid) <= 0)
		return -1;
	if (cid->len != TOPO_TOKEN_LEN || memcmp(cid->p, "sbc", 3) != 0 ||
	    topo_token_check(p->mac, *cid, &t) < 0 || t.kind != TOPO_CALLID)
		return 0;
	struct cid_entry *e = cid_map_at(p->cid, t.id, t.gen);
	if (!e)
		return 0;
	*cid = (sip_str_t){ e->cid, e->len };
	return 1;
}

/* The Call-ID value realm `to` sees for the original cid: its mask token
 * when that realm masks Call-IDs (written to buf), else cid itself. */
static sip_str_t call_id_for(struct proxy *p, sip_str_t cid, uint16_t to, char *buf)
{
	if (!p->env.cfg->realms[to].topo.mask_call_id)
		return cid;
	struct cid_entry *e = cid_map_get(p->cid, cid, (uint8_t)to);
	struct topo_token t = { TOPO_CALLID, (uint8_t)to, (uint8_t)p->env.shard, 0, 0 };
	if (e) {
		t.id = cid_map_index(p->cid, e);
		t.gen = e->gen;
	}
	if (!e || topo_token_mint(p->mac, &t, buf) < 0) {
		p->ctr[PROXY_C_CALLID_UNMASKED]++;
		return cid; /* best effort: the call goes on unmasked, counted */
	}
	return (sip_str_t){ buf, TOPO_TOKEN_LEN };
}

/* Rewrite m's Call-ID for realm `to` when it differs from what m carries. */
static int edit_call_id(struct proxy *p, const struct sip_msg *m, uint16_t to)
{
	sip_str_t cid, raw;
	char buf[TOPO_TOKEN_LEN];
	if (orig_call_id(p, m, &cid) < 0 || sip_msg_call_id(m, &raw) <= 0)
		return -EINVAL;
	sip_str_t want = call_id_for(p, cid, to, buf);
	if (sip_str_eq(want, raw))
		return 0;
	const struct sip_hdr *h = sip_hdr_first(m, SIP_H_CALL_ID);
	return sip_edit_replace_value(&p->ed, (uint16_t)(h - m->hdr), want);
}

/* "<sip:TOKEN@hostport>" into out; returns its length or -1. */
static int token_uri(struct proxy *p, const struct topo_token *t, char *out, size_t cap)
{
	const struct realm_info *ri = &p->realms[t->realm];
	char tok[TOPO_TOKEN_LEN];
	if (topo_token_mint(p->mac, t, tok) < 0)
		return -1;
	int n = snprintf(out, cap, "<sip:%.*s@%s>", (int)TOPO_TOKEN_LEN, tok, ri->hostport);
	return n < 0 || (size_t)n >= cap ? -1 : n;
}

/* Header params of a Contact value (";expires=...;+sip.instance=..."),
 * without the ones that would only make sense with the original URI. */
static sip_str_t contact_params(const struct sip_nameaddr *na)
{
	return na->params;
}

static uint32_t contact_expires(const struct sip_msg *m, const struct sip_contact *c)
{
	uint32_t e = 3600;
	if (c->has_expires)
		return c->expires;
	(void)sip_msg_expires(m, &e);
	return e;
}

/* ---- registration throttling (realm topology.register_throttle) ----------------
 * A device behind NAT refreshes often (its pinhole); the registrar need
 * not hear each refresh. The SBC asks the registrar for the realm's longer
 * register_expires and answers the device's refreshes itself while that
 * grant has more time left than the device asked for. */
static bool throttled(const struct proxy *p, const struct pctx *x)
{
	return x->reg && p->env.cfg->realms[x->in.realm].topo.register_throttle;
}

/* The expiry to ask the registrar for when throttling (not for removals). */
static bool reg_ask_expires(struct proxy *p, const struct pctx *x, const struct sip_msg *m,
			    const struct sip_contact *c, uint32_t *ask)
{
	uint32_t dev = contact_expires(m, c), want = p->env.cfg->realms[x->in.realm].topo.register_expires;
	if (!throttled(p, x) || dev == 0)
		return false;
	*ask = dev > want ? dev : want;
	return true;
}

/* Header params without any expires=, then ";expires=ask". */
static int append_params_without_expires(char *out, size_t cap, sip_str_t prm, uint32_t ask)
{
	size_t n = 0;
	uint32_t pos = 0;
	sip_str_t name, v;
	while (sip_param_next(prm, &pos, &name, &v) > 0) {
		if (sip_str_caseeq_lit(name, "expires"))
			continue;
		int k = v.len ? snprintf(out + n, cap - n, ";%.*s=%.*s", (int)name.len, name.p, (int)v.len, v.p)
			      : snprintf(out + n, cap - n, ";%.*s", (int)name.len, name.p);
		if (k < 0 || (size_t)k >= cap - n)
			return -ENOSPC;
		n += (size_t)k;
	}
	int k = snprintf(out + n, cap - n, ";expires=%u", ask);
	return k < 0 || (size_t)k >= cap - n ? -ENOSPC : (int)(n + (size_t)k);
}

/* Answer a device's refresh here when every contact is bound, confirmed by
 * the registrar, and its grant outlives what the device asks by a margin
 * (so the next forwarded refresh still lands before the grant ends). */
static bool reg_answer_locally(struct proxy *p, struct pctx *x, const struct sip_msg *m)
{
	char hdr[2048];
	size_t n = 0;
	struct sip_list_iter it;
	struct sip_nameaddr to;
	sip_str_t v;
	unsigned count = 0;
	if (!throttled(p, x) || sip_msg_to(m, &to) <= 0)
		return false;
	sip_list_init(&it, m, SIP_H_CONTACT);
	while (sip_list_next(&it, &v) > 0) {
		struct sip_contact c;
		if (sip_contact_parse(v, &c) < 0 || c.na.star)
			return false;
		uint32_t dev = contact_expires(m, &c);
		struct reg_binding *b = reg_find(p->reg, to.uri, c.na.uri);
		if (!dev || !b || !b->confirmed ||
		    b->granted_until_ms < now_ms(p) + ((uint64_t)dev + 32u) * 1000u)
			return false;
		int k = snprintf(hdr + n, sizeof(hdr) - n, "%s<%.*s>;expires=%u", n ? ", " : "Contact: ",
				 (int)c.na.uri.len, c.na.uri.p, dev);
		if (k < 0 || (size_t)k >= sizeof(hdr) - n)
			return false;
		n += (size_t)k;
		count++;
	}
	if (!count || n + 3 > sizeof(hdr))
		return false;
	/* the device may have moved behind its NAT: follow it */
	sip_list_init(&it, m, SIP_H_CONTACT);
	while (sip_list_next(&it, &v) > 0) {
		struct sip_contact c;
		if (sip_contact_parse(v, &c) == 0) {
			struct reg_binding *b = reg_find(p->reg, to.uri, c.na.uri);
			if (b) {
				b->addr = x->in.addr;
				b->iface = x->in.iface;
			}
		}
	}
	memcpy(hdr + n, "\r\n", 3);
	p->ctr[PROXY_C_REG_THROTTLED]++;
	x->upstream_final = true;
	p->ctr[PROXY_C_LOCAL_REPLIES]++;
	(void)txn_server_reply(x->s, 200, "OK", (sip_str_t){ hdr, (uint32_t)n + 2 });
	return true;
}

/* Rewrite every Contact value of m into the editor: a dialog token towards
 * `realm`, or for a REGISTER of x a binding token per contact. */
static int edit_contacts(struct proxy *p, struct pctx *x, const struct sip_msg *m, uint16_t realm,
			 sip_str_t cid)
{
	char val[2048];
	for (const struct sip_hdr *h = sip_hdr_first(m, SIP_H_CONTACT); h; h = sip_hdr_next(m, h)) {
		size_t n = 0;
		/* this line's values only: the iterator, started on this line,
		 * moves to the next line once this one is used up */
		struct sip_list_iter it = { m, h, 0 };
		sip_str_t v;
		while (sip_list_next(&it, &v) > 0 && it.h == h) {
			struct sip_contact c;
			struct topo_token t = { TOPO_DIALOG, (uint8_t)realm, (uint8_t)p->env.shard,
						callid_id(p, cid), 0 };
			if (sip_contact_parse(v, &c) < 0)
				return -EINVAL;
			if (n)
				n += (size_t)snprintf(val + n, sizeof(val) - n, ", ");
			if (c.na.star) {
				n += (size_t)snprintf(val + n, sizeof(val) - n, "*");
				if (x)
					x->reg_star = true;
				continue;
			}
			if (x && x->reg) {
				struct sip_nameaddr to;
				if (x->nbind >= MAX_CONTACTS || sip_msg_to(m, &to) <= 0)
					return -EINVAL;
				struct reg_binding *b = reg_bind(p->reg, to.uri, c.na.uri, &x->in.addr,
								 x->in.iface, x->in.realm,
								 contact_expires(m, &c));
				if (!b)
					return -ENOSPC;
				p->ctr[PROXY_C_BINDINGS_CREATED]++;
				x->bind_idx[x->nbind] = reg_index(p->reg, b);
				x->bind_remove[x->nbind] = contact_expires(m, &c) == 0;
				x->bind_dev_exp[x->nbind] = contact_expires(m, &c);
				x->bind_gen[x->nbind++] = b->gen;
				t = (struct topo_token){ TOPO_REG, (uint8_t)realm, (uint8_t)p->env.shard,
							 reg_index(p->reg, b), b->gen };
			}
			int k = token_uri(p, &t, val + n, sizeof(val) - n);
			if (k < 0)
				return -ENOSPC;
			n += (size_t)k;
			sip_str_t prm = contact_params(&c.na);
			uint32_t ask;
			if (x && x->reg && reg_ask_expires(p, x, m, &c, &ask)) {
				/* throttling: the registrar is asked for the longer
				 * expiry, explicitly per contact */
				int k2 = append_params_without_expires(val + n, sizeof(val) - n, prm, ask);
				if (k2 < 0)
					return -ENOSPC;
				n += (size_t)k2;
				continue;
			}
			if (n + prm.len >= sizeof(val))
				return -ENOSPC;
			memcpy(val + n, prm.p, prm.len);
			n += prm.len;
		}
		if (n >= sizeof(val))
			return -ENOSPC;
		int r = sip_edit_replace_value(&p->ed, (uint16_t)(h - m->hdr), (sip_str_t){ val, (uint32_t)n });
		if (r < 0)
			return r;
	}
	return 0;
}

/* Headers the realm `to` must not see: its configured list, else the
 * default; an identity asserted by an untrusted realm `from` is not an
 * assertion. */
static int edit_hide_headers(struct proxy *p, uint16_t from, uint16_t to)
{
	const struct sbc_topology *t = &p->env.cfg->realms[to].topo;
	if (t->hide_headers_set) {
		for (unsigned i = 0; i < t->nhide; i++)
			if (sip_edit_delete_all(&p->ed, (enum sip_hdr_id)t->hide[i]) < 0)
				return -ENOSPC;
	} else {
		for (size_t i = 0; i < sizeof(hide_headers) / sizeof(hide_headers[0]); i++)
			if (sip_edit_delete_all(&p->ed, hide_headers[i]) < 0)
				return -ENOSPC;
	}
	if (!p->env.cfg->realms[from].trusted &&
	    sip_edit_delete_all(&p->ed, SIP_H_P_ASSERTED_IDENTITY) < 0)
		return -ENOSPC;
	return 0;
}

/* A request into a hidden realm: our Via only, no Route/Record-Route of the
 * other side (the dialog's own route set instead, in dialog), tokens for
 * Contacts, equipment headers gone. */
static int build_hidden(struct proxy *p, struct pctx *x, const struct sip_msg *m, sip_str_t branch)
{
	struct sip_editor *e = &p->ed;
	const struct realm_info *o = &p->realms[x->out_realm];
	const struct sip_hdr *fv = sip_hdr_first(m, SIP_H_VIA);
	uint16_t at = fv ? (uint16_t)(fv - m->hdr) : 0;
	char via[SBC_HOST_MAX + 128];
	sip_str_t cid;
	if (orig_call_id(p, m, &cid) < 0)
		return -EINVAL;
	sip_edit_init(e, m);
	if (edit_call_id(p, m, x->out_realm) < 0)
		return -ENOSPC;
	if (x->new_ruri.len &&
	    sip_edit_replace(e, (uint32_t)(m->ruri.p - m->buf), m->ruri.len, x->new_ruri) < 0)
		return -ENOSPC;
	int n = snprintf(via, sizeof(via), "SIP/2.0/UDP %s;branch=%.*s;rport", o->hostport,
			 (int)branch.len, branch.p);
	if (n < 0 || (size_t)n >= sizeof(via))
		return -ENOSPC;
	if (sip_edit_insert_hdr(e, at, SIP_STR("Via"), (sip_str_t){ via, (uint32_t)n }) < 0 ||
	    (x->route_set.len && sip_edit_insert_hdr(e, at, SIP_STR("Route"), x->route_set) < 0) ||
	    sip_edit_delete_all(e, SIP_H_VIA) < 0 || sip_edit_delete_all(e, SIP_H_ROUTE) < 0 ||
	    sip_edit_delete_all(e, SIP_H_RECORD_ROUTE) < 0 || edit_max_forwards(e, m, at) < 0 ||
	    edit_hide_headers(p, x->in.realm, x->out_realm) < 0)
		return -ENOSPC;
	int r = edit_contacts(p, x, m, x->out_realm, cid);
	if (r < 0 || (r = edit_body(p, x, m, &x->mop, x->out_realm, true)) < 0)
		return r;
	return sip_edit_serialize(e, p->out, sizeof(p->out));
}

/* Serialize request m of x for the current branch into p->out. */
static int build_forward(struct proxy *p, struct pctx *x, const struct sip_msg *m, sip_str_t branch)
{
	struct route_scan rs;
	if (x->hidden)
		return build_hidden(p, x, m, branch);
	if (scan_routes(p, m, x->in.realm, &rs) < 0)
		return -EINVAL;
	sip_edit_init(&p->ed, m);
	const struct sip_hdr *fv = sip_hdr_first(m, SIP_H_VIA);
	uint16_t first = fv ? (uint16_t)(fv - m->hdr) : 0;
	if (edit_strip_routes(&p->ed, m, &rs) < 0 || edit_max_forwards(&p->ed, m, first) < 0 ||
	    edit_via_rr(p, &p->ed, m, x->out_realm, x->in.realm, branch,
			x->record_route && x->method != SIP_M_ACK) < 0)
		return -EINVAL;
	int r = edit_body(p, x, m, &x->mop, x->out_realm, false); /* media anchoring */
	if (r < 0)
		return r;
	return sip_edit_serialize(&p->ed, p->out, sizeof(p->out));
}

/* The stored request of x, parsed into p->req. */
static const struct sip_msg *stored_request(struct proxy *p, const struct pctx *x)
{
	sip_str_t req = txn_server_request(x->s);
	/* empty once a final other than 2xx-to-INVITE went upstream (lib/txn) */
	return req.len && sip_parse(&p->req, req.p, req.len) == SIP_E_OK ? &p->req : NULL;
}

/* ---- next hops --------------------------------------------------------------- */

/* Order the route's hops: ascending priority, weighted random within one
 * priority (RFC 3263-like selection, so equal hops share load). */
static void order_hops(struct proxy *p, struct pctx *x)
{
	const struct sbc_route *rt = x->route;
	bool used[SBC_MAX_HOPS] = { false };
	x->nhops = 0;
	while (x->nhops < rt->nhops) {
		uint32_t best = UINT32_MAX, total = 0;
		for (size_t i = 0; i < rt->nhops; i++)
			if (!used[i] && rt->hops[i].priority < best)
				best = rt->hops[i].priority;
		for (size_t i = 0; i < rt->nhops; i++)
			if (!used[i] && rt->hops[i].priority == best)
				total += rt->hops[i].weight ? rt->hops[i].weight : 1;
		uint32_t pick = rnd32(p) % total;
		for (size_t i = 0; i < rt->nhops; i++) {
			if (used[i] || rt->hops[i].priority != best)
				continue;
			uint32_t w = rt->hops[i].weight ? rt->hops[i].weight : 1;
			if (pick < w) {
				used[i] = true;
				x->hop_order[x->nhops++] = (uint8_t)i;
				break;
			}
			pick -= w;
		}
	}
	x->hop = 0;
}

/* Next destination to try; false when none is left. */
static bool next_target(struct proxy *p, struct pctx *x, struct txn_peer *to)
{
	if (!x->by_table) {
		if (x->hop++)
			return false;
		*to = x->target;
		return true;
	}
	while (x->hop < x->nhops) {
		const struct sbc_next_hop *h = &x->route->hops[x->hop_order[x->hop++]];
		union sbc_sockaddr a;
		if (h->host.ip.family == AF_UNSPEC) {
			p->ctr[PROXY_C_UNRESOLVABLE]++;
			continue;
		}
		if (sbc_addr_from(&a, h->host.ip.text, strlen(h->host.ip.text), h->port) < 0)
			continue;
		set_peer(p, to, x->out_realm, &a);
		return true;
	}
	return false;
}


/* Start a branch to the next target. Returns 0, -ENOBUFS when no client
 * transaction is free (overload), or -1 when no target is left (the caller
 * answers upstream). */
static int try_next(struct proxy *p, struct pctx *x)
{
	struct txn_peer to;
	while (next_target(p, x, &to)) {
		sip_str_t branch;
		struct txn_client *c = txn_client_create(p->txn, x->method, &to, &branch);
		if (!c) {
			p->ctr[PROXY_C_OVERLOAD]++;
			return -ENOBUFS;
		}
		txn_client_set_user(c, x);
		x->c = c;
		const struct sip_msg *req = stored_request(p, x);
		int n = req ? build_forward(p, x, req, branch) : -EINVAL;
		if (n == -ENOSPC && x->reg)
			p->ctr[PROXY_C_REG_TABLE_FULL]++;
		if (n < 0) {
			p->ctr[PROXY_C_BUILD_FAILED]++;
			txn_client_abandon(c);
			x->c = NULL;
			return -1;
		}
		p->ctr[PROXY_C_FORWARDED_REQUESTS]++;
		if (txn_client_send(c, p->out, (uint32_t)n) == -E2BIG) {
			txn_client_abandon(c);
			x->c = NULL;
			return -1;
		}
		return 0; /* a transport error comes back as ops->timeout(503) */
	}
	return -1;
}

static bool may_failover(const struct pctx *x, uint16_t status)
{
	return !x->provisional && !x->cancelled && (status == 408 || status == 503);
}

/* No (more) targets: tell upstream why. */
static void answer_exhausted(struct proxy *p, struct pctx *x, uint16_t status)
{
	media_final(p, x, NULL, status); /* no answer will come */
	if (!x->s || x->upstream_final)
		return;
	x->upstream_final = true;
	call_final(p, x, x->cancelled ? 487 : status == 503 ? 503 : 408);
	if (x->cancelled)
		reply_local(p, x->s, 487, "Request Terminated");
	else if (status == 503)
		reply_local(p, x->s, 503, "Service Unavailable - next hop unreachable");
	else
		reply_local(p, x->s, 408, "Request Timeout - no response from next hop");
}

/* ---- dialogs ------------------------------------------------------------------ */

/* Record-Route values of m, up to 32. */
static int rr_values(const struct sip_msg *m, sip_str_t *vals)
{
	struct sip_list_iter it;
	sip_str_t v;
	int n = 0;
	sip_list_init(&it, m, SIP_H_RECORD_ROUTE);
	while (n < 32 && sip_list_next(&it, &v) > 0)
		vals[n++] = v;
	return n;
}

/* vals[from..to) joined with ", " (reversed when step < 0) into buf. */
static sip_str_t join(char *buf, const sip_str_t *vals, int from, int to, int step)
{
	size_t l = 0;
	for (int i = from; i != to; i += step) {
		int k = snprintf(buf + l, RS_MAX - l, "%s%.*s", l ? ", " : "", (int)vals[i].len, vals[i].p);
		if (k < 0 || (size_t)k >= RS_MAX - l)
			return SIP_STR_NULL; /* too long to keep: the dialog cannot end itself */
		l += (size_t)k;
	}
	return (sip_str_t){ buf, (uint32_t)l };
}

static bool is_own(const struct proxy *p, sip_str_t v)
{
	struct sip_nameaddr na;
	struct sip_uri u;
	return sip_nameaddr_parse(v, &na) == 0 && sip_uri_parse(na.uri, &u) == 0 && own_realm_of(p, &u) >= 0;
}

/* Route sets towards each side (RFC 3261 12.1.1 / 12.1.2 from where the
 * SBC stands). Plain: the response's Record-Route around our own entries:
 * above ours lead to the callee (nearest first: reversed), below to the
 * caller. Hidden: we stripped the caller side's Record-Route from the
 * request (it is the caller's route set, in order) and added none, so the
 * response's whole list leads to the callee (reversed). */
static void route_sets(struct proxy *p, bool hidden, const struct sip_msg *req,
		       const struct sip_msg *resp, sip_str_t *to_callee, sip_str_t *to_caller)
{
	sip_str_t vals[32], rvals[32];
	int n = rr_values(resp, vals);
	if (hidden) {
		int rn = rr_values(req, rvals);
		*to_callee = join(p->rs[0], vals, n - 1, -1, -1);
		*to_caller = join(p->rs[1], rvals, 0, rn, 1);
		return;
	}
	int own_first = -1, own_last = -1;
	for (int i = 0; i < n; i++)
		if (is_own(p, vals[i])) {
			if (own_first < 0)
				own_first = i;
			own_last = i;
		}
	if (own_first < 0) {
		*to_callee = *to_caller = SIP_STR_NULL;
		return;
	}
	*to_callee = join(p->rs[0], vals, own_first - 1, -1, -1);
	*to_caller = join(p->rs[1], vals, own_last + 1, n, 1);
}

static sip_str_t first_contact_uri(const struct sip_msg *m)
{
	const struct sip_hdr *h = sip_hdr_first(m, SIP_H_CONTACT);
	struct sip_list_iter it;
	struct sip_nameaddr na;
	sip_str_t v;
	if (!h)
		return SIP_STR_NULL;
	sip_list_init(&it, m, SIP_H_CONTACT);
	if (sip_list_next(&it, &v) <= 0 || sip_nameaddr_parse(v, &na) < 0)
		return SIP_STR_NULL;
	return na.uri;
}

static void dlg_fill(struct proxy *p, struct dlg *d, struct pctx *x, const struct sip_msg *req,
		     const struct sip_msg *resp, const struct txn_client *c)
{
	sip_str_t to_callee, to_caller;
	struct sip_cseq cs;
	d->from = dlg_store(d, sip_hdr_first(req, SIP_H_FROM)->value);
	d->to = dlg_store(d, sip_hdr_first(resp, SIP_H_TO)->value);
	route_sets(p, x->hidden, req, resp, &to_callee, &to_caller);
	d->side[0].addr = x->in.addr;
	d->side[0].iface = x->in.iface;
	d->side[0].realm = x->in.realm;
	d->side[0].contact = dlg_store(d, first_contact_uri(req));
	d->side[0].route = dlg_store(d, to_caller);
	if (sip_msg_cseq(req, &cs) > 0)
		d->side[0].cseq = cs.seq;
	const struct txn_peer *cp = txn_client_peer(c);
	d->side[1].addr = cp->addr;
	d->side[1].iface = cp->iface;
	d->side[1].realm = cp->realm;
	d->side[1].contact = dlg_store(d, first_contact_uri(resp));
	d->side[1].route = dlg_store(d, to_callee);
	if (!d->side[0].contact.len || !d->side[1].contact.len)
		d->can_end = false;
}

static bool creates_dialog(enum sip_method m)
{
	return m == SIP_M_INVITE || m == SIP_M_SUBSCRIBE || m == SIP_M_REFER;
}

/* Early/confirmed dialog bookkeeping on a response of the initial request. */
static void track_dialog(struct proxy *p, struct pctx *x, struct txn_client *c, const struct sip_msg *resp)
{
	struct sip_nameaddr to, from;
	sip_str_t cid;
	if (!x->record_route || resp->status < 101 || resp->status > 299 || !x->s)
		return;
	if (sip_msg_to(resp, &to) <= 0 || !to.tag.len || to.tag.len > TAG_MAX_LEN)
		return;
	if (!stored_request(p, x) || orig_call_id(p, &p->req, &cid) < 0 ||
	    sip_msg_from(&p->req, &from) <= 0)
		return;
	struct dlg *d = dlg_find(p->dlg, cid, from.tag, to.tag);
	if (!d) {
		d = dlg_create(p->dlg, x->method == SIP_M_INVITE ? SIP_M_INVITE : SIP_M_SUBSCRIBE, cid,
			       from.tag, to.tag, now_ms(p));
		if (!d) {
			p->ctr[PROXY_C_DIALOGS_UNTRACKED]++;
			return;
		}
		dlg_fill(p, d, x, &p->req, resp, c);
		media_dialog_new(p, x, d);
		if (x->nearly < MAX_EARLY) {
			memcpy(x->early_tag[x->nearly], to.tag.p, to.tag.len);
			x->early_len[x->nearly++] = (uint8_t)to.tag.len;
		}
	}
	if (resp->status < 200)
		return;
	dlg_confirm(p->dlg, d, now_ms(p));
	media_dialog_confirmed(p, d);
	if (d->usage == SIP_M_SUBSCRIBE) {
		uint32_t exp = 3600;
		if (sip_msg_expires(resp, &exp) <= 0)
			(void)sip_msg_expires(&p->req, &exp);
		dlg_set_expiry(p->dlg, d, exp);
	}
}

/* RFC 6665 4.1.3: a NOTIFY's Subscription-State says how long the
 * subscription lives ("active;expires=600") or that it is over
 * ("terminated"): the dialog's expiry follows it. */
static void note_subscription_state(struct proxy *p, struct dlg *d, const struct sip_msg *m)
{
	const struct sip_hdr *ss = sip_hdr_first(m, SIP_H_SUBSCRIPTION_STATE);
	sip_str_t state, e;
	uint32_t exp;
	if (!ss)
		return;
	const char *semi = memchr(ss->value.p, ';', ss->value.len);
	state = (sip_str_t){ ss->value.p, semi ? (uint32_t)(semi - ss->value.p) : ss->value.len };
	while (state.len && (state.p[state.len - 1] == ' ' || state.p[state.len - 1] == '\t'))
		state.len--;
	if (sip_str_caseeq_lit(state, "terminated")) {
		dlg_end(p, d);
		return;
	}
	sip_str_t params = { state.p + state.len, ss->value.len - state.len };
	if (sip_param_get(params, "expires", &e) > 0 && sip_parse_u32(e, &exp) == 0)
		dlg_set_expiry(p->dlg, d, exp);
}

/* In-dialog request bookkeeping: CSeq per side, subscription state; BYE
 * ends the dialog once relayed (see on_final_in_dialog). */
static struct dlg *find_dialog(struct proxy *p, const struct sip_msg *m, int *side)
{
	struct sip_nameaddr from, to;
	sip_str_t cid;
	if (orig_call_id(p, m, &cid) < 0 || sip_msg_from(m, &from) <= 0 || sip_msg_to(m, &to) <= 0 ||
	    !to.tag.len)
		return NULL;
	struct dlg *d = dlg_find(p->dlg, cid, from.tag, to.tag);
	if (d && side)
		*side = sip_str_eq(from.tag, d->tag_caller) ? 0 : 1;
	return d;
}

static void note_in_dialog(struct proxy *p, const struct sip_msg *m)
{
	int side;
	struct dlg *d = find_dialog(p, m, &side);
	struct sip_cseq cs;
	if (d && sip_msg_cseq(m, &cs) > 0 && cs.seq > d->side[side].cseq)
		d->side[side].cseq = cs.seq;
	if (d && m->method == SIP_M_NOTIFY && d->usage == SIP_M_SUBSCRIBE)
		note_subscription_state(p, d, m);
}

/* A final response to an in-dialog BYE ends the dialog, whatever its code
 * (RFC 3261 15.1.1: the UAC considers it ended once the BYE is sent). */
static void on_final_in_dialog(struct proxy *p, struct pctx *x)
{
	if (x->method != SIP_M_BYE || !x->s)
		return;
	if (!stored_request(p, x))
		return;
	struct dlg *d = find_dialog(p, &p->req, NULL);
	if (d)
		dlg_end(p, d);
}

/* ---- media anchoring -------------------------------------------------------------- */

/* lib/media's hook: a relay port of this shard was taken or given back. */
static void on_media_port(void *ctx, uint32_t realm, uint16_t port, bool in_use)
{
	struct proxy *p = ctx;
	if (p->env.media_port(p->env.ctx, (uint16_t)realm, port, in_use) < 0 && in_use) {
		p->port_failed = true;
		p->ctr[PROXY_C_MEDIA_PORT_FAILED]++;
	}
}

/* m's body when it is SDP: 1 parsed into p->sdp (not yet sdp_check'ed),
 * 0 no body or another type, -1 SDP that does not parse (*err). */
static int sdp_body(struct proxy *p, const struct sip_msg *m, enum sdp_err *err)
{
	const struct sip_hdr *ct = sip_hdr_first(m, SIP_H_CONTENT_TYPE);
	struct sip_ctype c;
	sip_str_t body = sip_msg_body(m);
	if (!ct || !body.len || sip_ctype_parse(ct->value, &c) < 0 ||
	    !sip_str_caseeq_lit(c.type, "application") || !sip_str_caseeq_lit(c.subtype, "sdp"))
		return 0;
	*err = sdp_parse(&p->sdp, body.p, body.len);
	return *err == SDP_E_OK ? 1 : -1;
}

static struct sdp_addr media_addr(const struct proxy *p, uint16_t realm)
{
	const struct sbc_ip *ip = &p->env.cfg->realms[realm].media.ip;
	return (struct sdp_addr){ { ip->text, (uint32_t)strlen(ip->text) },
				  ip->family == AF_INET6 ? SDP_AT_IP6 : SDP_AT_IP4 };
}

/* media_sdp() with the hook's verdict: an offer whose ports did not all
 * open is rolled back (closing those that did) and refused like an
 * exhausted pool. */
static int media_apply(struct proxy *p, struct media_session *ms, unsigned side, unsigned kind)
{
	p->port_failed = false;
	int r = media_sdp(p->media, ms, (enum media_side)side, (enum media_sdp_kind)kind, &p->sdp,
			  now_ms(p), &p->rw);
	if (r == 0 && p->port_failed) {
		media_sdp_reject(p->media, ms);
		r = -ENOSPC;
	}
	return r;
}

/* A body that repeats what side already said (a 2xx repeating the offer of
 * a reliable 18x that PRACK answered): its rewrite, the session unchanged
 * (applied as an offer, then rolled back). */
static int media_repeat(struct proxy *p, struct media_session *ms, unsigned side)
{
	if (media_sdp_offer_side(ms) >= 0)
		return -EBUSY;
	int r = media_apply(p, ms, side, MEDIA_OFFER);
	if (r == 0)
		media_sdp_reject(p->media, ms);
	return r;
}

/* Inactivity timeout of a call between realms a and b: the shorter of
 * their non-zero timeouts. */
static uint32_t media_timeout_ms(const struct proxy *p, uint16_t a, uint16_t b)
{
	uint32_t ta = p->env.cfg->realms[a].media.timeout_s, tb = p->env.cfg->realms[b].media.timeout_s;
	uint32_t t = ta && tb ? (ta < tb ? ta : tb) : (ta ? ta : tb);
	return t * 1000u;
}

static struct dmedia *dm_new(struct proxy *p, struct dlg *d)
{
	struct dmedia *dm = pool_get(p->dm_pool);
	if (!dm)
		return NULL;
	memset(dm, 0, sizeof(*dm));
	dm->d = d;
	wheel_timer_init(&dm->t_idle, DM_TIMER_TAG);
	dm->timeout_ms = media_timeout_ms(p, d->side[0].realm, d->side[1].realm);
	d->user = dm;
	return dm;
}

/* The media of an INVITE dialog, made on first use (a dialog tracked
 * before its session could be had); NULL without anchoring. */
static struct dmedia *dm_of(struct proxy *p, struct dlg *d)
{
	struct dmedia *dm = d->user;
	if (!p->media || d->usage != SIP_M_INVITE)
		return NULL;
	if (!dm && !(dm = dm_new(p, d)))
		return NULL;
	if (!dm->ms)
		dm->ms = media_session_new(p->media, d->side[0].realm, d->side[1].realm, now_ms(p));
	return dm;
}

/* A new early dialog of x's INVITE: it adopts the INVITE's session, or a
 * fork of it (the same offer reached another UAS), or, after an INVITE
 * without SDP, a session of its own that its response will offer on. */
static void media_dialog_new(struct proxy *p, struct pctx *x, struct dlg *d)
{
	struct dmedia *dm;
	if (!p->media || d->usage != SIP_M_INVITE || !(dm = dm_new(p, d)))
		return;
	if (x->ms && !x->ms_adopted) {
		dm->ms = x->ms;
		dm->x = x;
		x->ms_owner = dm;
		x->ms_adopted = true;
		return;
	}
	if (x->ms && x->offer) {
		p->port_failed = false;
		dm->ms = media_session_fork(p->media, x->ms, now_ms(p));
		if (dm->ms && p->port_failed) {
			media_session_free(p->media, dm->ms);
			dm->ms = NULL;
		}
		return;
	}
	dm->ms = media_session_new(p->media, x->in.realm, x->out_realm, now_ms(p));
}

/* The 2xx confirmed d: its session owns what forks shared; RTP must flow
 * from now on or the inactivity check ends the call. */
static void media_dialog_confirmed(struct proxy *p, struct dlg *d)
{
	struct dmedia *dm = d->user;
	if (!dm || !dm->ms || d->usage != SIP_M_INVITE)
		return;
	media_session_confirm(p->media, dm->ms);
	if (dm->timeout_ms && !wheel_timer_armed(&dm->t_idle))
		wheel_add_in(p->env.wheel, &dm->t_idle, dm->timeout_ms);
}

/* The call record of a confirmed call: one structured log line when it
 * ends, with what its media did (RFC 3550 loss and jitter per leg). The
 * daemon's log is where an operator's CDR collector reads it. */
static void call_record(struct proxy *p, const struct dlg *d, const struct media_session *ms)
{
	struct media_stats st;
	char buf[1024];
	size_t n = 0;
	if (d->state != DLG_CONFIRMED || d->usage != SIP_M_INVITE || !ms)
		return;
	media_session_stats(p->media, ms, &st);
	for (uint32_t i = 0; i < st.nstreams && n < sizeof(buf) - 200; i++) {
		const struct media_stream_stats *t = &st.stream[i];
		const struct media_leg_stats *a = &t->leg[MEDIA_SIDE_A], *b = &t->leg[MEDIA_SIDE_B];
		int k = snprintf(buf + n, sizeof(buf) - n,
				 " m%u=[a: pkts %llu bytes %llu lost %llu jitter_us %u | b: pkts %llu bytes %llu lost %llu jitter_us %u]",
				 t->index, (unsigned long long)a->packets, (unsigned long long)a->bytes,
				 (unsigned long long)a->lost, a->jitter_us, (unsigned long long)b->packets,
				 (unsigned long long)b->bytes, (unsigned long long)b->lost, b->jitter_us);
		if (k < 0 || (size_t)k >= sizeof(buf) - n)
			break;
		n += (size_t)k;
	}
	log_info("call-record call-id=%.*s duration_ms=%llu realms=%s>%s%s", (int)d->call_id.len,
		 d->call_id.p, (unsigned long long)(now_ms(p) - d->confirmed_ms),
		 p->env.cfg->realms[d->side[0].realm].name, p->env.cfg->realms[d->side[1].realm].name,
		 n ? buf : " no-media");
}

/* Every dialog ends here: its media goes with it. */
static void dlg_end(struct proxy *p, struct dlg *d)
{
	struct dmedia *dm = d->user;
	if (dm) {
		call_record(p, d, dm->ms);
		wheel_cancel(p->env.wheel, &dm->t_idle);
		media_session_free(p->media, dm->ms);
		if (dm->x) {
			/* the INVITE's session is gone: later forks start anew */
			dm->x->ms = NULL;
			dm->x->ms_owner = NULL;
		}
		pool_put(p->dm_pool, dm);
		d->user = NULL;
	}
	dlg_destroy(p->dlg, d);
}

/* The INVITE's own session when no dialog took it (the call failed, or
 * its context ends). */
static void media_ctx_free(struct proxy *p, struct pctx *x)
{
	if (x->ms_owner) {
		x->ms_owner->x = NULL;
		x->ms_owner = NULL;
	}
	if (x->ms && !x->ms_adopted)
		media_session_free(p->media, x->ms);
	x->ms = NULL;
}

static struct media_session *dlg_session(struct proxy *p, const struct sip_msg *m, int *side)
{
	struct dlg *d = find_dialog(p, m, side);
	struct dmedia *dm = d ? dm_of(p, d) : NULL;
	return dm ? dm->ms : NULL;
}

/* The media decision for request m of x (before it is forwarded), in
 * x->mop; an offer or answer is applied now so that its failure can be
 * answered. Returns 0, or the status to answer with *reason (*retry:
 * with Retry-After). */
static uint16_t media_request(struct proxy *p, struct pctx *x, const struct sip_msg *m,
			      const char **reason, bool *retry)
{
	enum sdp_err e = SDP_E_OK;
	struct media_session *ms;
	int side = 0, b = sdp_body(p, m, &e);
	unsigned kind = MEDIA_OFFER;
	memset(&x->mop, 0, sizeof(x->mop));
	if (b == 0)
		return 0;
	if (!p->media) {
		/* no relay: o= hidden as before anchoring; unparseable: as is */
		x->mop.mode = b > 0 ? MOP_PASS : MOP_NONE;
		if (b < 0)
			p->ctr[PROXY_C_SDP_UNPARSED]++;
		return 0;
	}
	bool initial = x->record_route && m->method == SIP_M_INVITE;
	bool oa = initial || (x->in_dialog && (m->method == SIP_M_INVITE || m->method == SIP_M_UPDATE ||
					       m->method == SIP_M_PRACK));
	if (b > 0 && !oa) {
		x->mop.mode = MOP_PASS; /* OPTIONS, MESSAGE, INFO ...: not offer/answer */
		return 0;
	}
	if (b < 0 || (e = sdp_check(&p->sdp)) != SDP_E_OK) {
		p->ctr[PROXY_C_SDP_REJECTED]++;
		*reason = sdp_err_reason(e);
		return sdp_err_status(e);
	}
	if (initial) {
		ms = x->ms = media_session_new(p->media, x->in.realm, x->out_realm, now_ms(p));
	} else {
		ms = dlg_session(p, m, &side);
		x->mop.dlg = true;
		if (ms && m->method == SIP_M_PRACK && media_sdp_offer_side(ms) == !side)
			kind = MEDIA_ANSWER;
	}
	if (!ms) {
		p->ctr[PROXY_C_MEDIA_NO_PORTS]++;
		*reason = "Service Unavailable - no media session";
		*retry = true;
		return 503;
	}
	int r = media_apply(p, ms, (unsigned)side, kind);
	if (r < 0) {
		if (initial)
			media_ctx_free(p, x);
		switch (r) {
		case -ENOSPC:
			p->ctr[PROXY_C_MEDIA_NO_PORTS]++;
			*reason = "Service Unavailable - no media ports";
			*retry = true;
			return 503;
		case -EBUSY:
			p->ctr[PROXY_C_MEDIA_GLARE]++;
			*reason = "Request Pending";
			return 491;
		case -EPROTO:
			p->ctr[PROXY_C_SDP_REJECTED]++;
			*reason = "Not Acceptable Here - SDP does not answer the offer";
			return 488;
		default:
			*reason = "Server Internal Error - media";
			return 500;
		}
	}
	x->offer = kind == MEDIA_OFFER;
	x->mop.mode = MOP_CACHED; /* p->rw; MOP_APPLY for later builds */
	x->mop.side = (uint8_t)side;
	x->mop.kind = (uint8_t)kind;
	return 0;
}

/* The media decision for a response m to x's request: applied now, the
 * rewrite left in p->rw (op->mode MOP_CACHED). Returns a confirmed dialog
 * whose SDP could not be anchored: the caller ends it once the response
 * is relayed (without its body). */
static struct dlg *media_response(struct proxy *p, struct pctx *x, const struct sip_msg *m,
				  struct mop *op)
{
	enum sdp_err e = SDP_E_OK;
	int b = sdp_body(p, m, &e), q = 0;
	bool invite = x->method == SIP_M_INVITE, initial = invite && x->record_route;
	memset(op, 0, sizeof(*op));
	if (b == 0)
		return NULL;
	if (!p->media || m->status >= 300 || (!initial && !x->in_dialog)) {
		/* no relay, an error response, no dialog: not offer/answer */
		op->mode = b > 0 ? MOP_PASS : MOP_NONE;
		if (b < 0)
			p->ctr[PROXY_C_SDP_UNPARSED]++;
		return NULL;
	}
	struct dlg *d = find_dialog(p, m, &q);
	struct dmedia *dm = d ? dm_of(p, d) : NULL;
	struct media_session *ms = dm ? dm->ms : NULL;
	if (!d && initial) {
		/* an untracked dialog (table full): the INVITE's own session */
		q = 0;
		if (!x->ms && !x->ms_adopted)
			x->ms = media_session_new(p->media, x->in.realm, x->out_realm, now_ms(p));
		ms = x->ms_adopted ? NULL : x->ms;
	}
	struct dlg *doomed = m->status >= 200 && m->status < 300 && d && invite ? d : NULL;
	op->mode = MOP_STRIP;
	if (b < 0 || !ms || sdp_check(&p->sdp) != SDP_E_OK) {
		p->ctr[PROXY_C_MEDIA_BAD_RESPONSE]++;
		return doomed;
	}
	unsigned r_side = (unsigned)!q, kind = MEDIA_ANSWER;
	int pend = media_sdp_offer_side(ms), r;
	struct sip_cseq cs = { 0 };
	(void)sip_msg_cseq(m, &cs);
	bool repeat = false;
	if (pend == q) {
		kind = MEDIA_ANSWER;            /* the request's offer */
	} else if (pend == (int)r_side) {
		kind = MEDIA_OFFER;             /* its own pending offer again */
	} else if (!invite) {
		p->ctr[PROXY_C_MEDIA_BAD_RESPONSE]++; /* SDP in a 2xx to PRACK/UPDATE */
		return NULL;                    /* without an offer: not ours */
	} else if (!media_sdp_answered(ms) || (!x->offer && !(dm && dm->resp_offer &&
							      dm->offer_cseq == cs.seq))) {
		kind = MEDIA_OFFER;             /* an INVITE without SDP: offer here */
	} else {
		repeat = !x->offer;             /* the exchange done, its SDP again */
	}
	if (repeat) {
		r = media_repeat(p, ms, r_side);
	} else {
		r = media_apply(p, ms, r_side, kind);
		if (r == -EPROTO && kind == MEDIA_ANSWER && pend < 0)
			r = media_repeat(p, ms, r_side); /* e.g. the offer of an 18x again */
	}
	if (r < 0) {
		p->ctr[PROXY_C_MEDIA_BAD_RESPONSE]++;
		return doomed;
	}
	if (kind == MEDIA_OFFER && !repeat && dm && invite) {
		dm->resp_offer = true;
		dm->offer_cseq = cs.seq;
	}
	op->mode = MOP_CACHED;
	return NULL;
}

/* After the final response to x's request was relayed: a failed INVITE
 * gives its session back; a refused re-offer is rolled back. */
static void media_final(struct proxy *p, struct pctx *x, const struct sip_msg *m, uint16_t status)
{
	if (!p->media || status < 200)
		return;
	if (x->record_route && x->method == SIP_M_INVITE) {
		if (status >= 300)
			media_ctx_free(p, x);
		return;
	}
	if (!x->offer || (m && status < 300 && sip_msg_body(m).len))
		return;
	/* non-2xx (or a 2xx without the answer) to an offer: roll it back */
	int q;
	struct media_session *ms = m ? dlg_session(p, m, &q) : NULL;
	if (!ms && x->s) {
		const struct sip_msg *req = stored_request(p, x);
		ms = req ? dlg_session(p, req, &q) : NULL;
	}
	if (ms && media_sdp_offer_side(ms) == q)
		media_sdp_reject(p->media, ms);
	x->offer = false;
}

/* A 2xx ACK's body: the answer to an offer made in the 2xx. */
static struct dlg *media_ack(struct proxy *p, const struct sip_msg *m, struct mop *op)
{
	enum sdp_err e = SDP_E_OK;
	int b = sdp_body(p, m, &e), q = 0;
	memset(op, 0, sizeof(*op));
	if (b == 0)
		return NULL;
	if (!p->media) {
		op->mode = b > 0 ? MOP_PASS : MOP_NONE;
		return NULL;
	}
	struct dlg *d = find_dialog(p, m, &q);
	struct dmedia *dm = d ? dm_of(p, d) : NULL;
	/* an answer was due (the 2xx offered): an unusable one ends the call */
	bool due = dm && dm->ms && media_sdp_offer_side(dm->ms) == !q;
	op->mode = MOP_STRIP;
	/* not due: a retransmission repeating the answer (the lib re-applies
	 * the last answer of the same side), else SDP where none belongs,
	 * which is only dropped */
	if (b < 0 || !dm || !dm->ms || sdp_check(&p->sdp) != SDP_E_OK ||
	    media_apply(p, dm->ms, (unsigned)q, MEDIA_ANSWER) < 0) {
		p->ctr[PROXY_C_MEDIA_BAD_RESPONSE]++;
		return due ? d : NULL;
	}
	op->mode = MOP_CACHED;
	return NULL;
}

/* A call whose media cannot be anchored, or that went silent: BYE both
 * ways (RFC 3326 Reason) and forget it. */
static void media_end_call(struct proxy *p, struct dlg *d, uint16_t cause, const char *why)
{
	if (d->state == DLG_CONFIRMED && d->can_end) {
		send_bye(p, d, 1, cause, why);
		send_bye(p, d, 0, cause, why);
	}
	dlg_end(p, d);
}

static void media_idle_fire(struct proxy *p, struct wheel_timer *t)
{
	struct dmedia *dm = sbc_container_of(t, struct dmedia, t_idle);
	struct dlg *d = dm->d;
	if (!dm->ms || !dm->timeout_ms || d->state != DLG_CONFIRMED)
		return;
	/* On hold RTP may stop (RFC 3264 8.4): the SIP session timer is the
	 * judge then; look again one timeout later. */
	if (media_session_on_hold(p->media, dm->ms)) {
		wheel_add_in(p->env.wheel, t, dm->timeout_ms);
		return;
	}
	uint64_t idle = media_session_idle_ms(p->media, dm->ms, now_ms(p));
	if (idle < dm->timeout_ms) {
		wheel_add_in(p->env.wheel, t, dm->timeout_ms - idle);
		return;
	}
	p->ctr[PROXY_C_MEDIA_TIMEOUTS]++;
	media_end_call(p, d, 408, "Media timeout");
}

/* An SDP body outside offer/answer, towards a hidden realm: o= (and, when
 * media is anchored, c=) name the SBC's media address there; ICE
 * candidates go. Ports are not relay ports: left alone. */
static int sdp_pass_rewrite(struct proxy *p, uint16_t to)
{
	struct sdp_addr a = media_addr(p, to);
	memset(&p->rw, 0, sizeof(p->rw));
	p->rw.origin = a;
	if (p->media) {
		p->rw.flags = SDP_RW_STRIP_CANDIDATES | SDP_RW_RTCP_DROP_ADDR;
		if (p->sdp.conn.present && !p->sdp.conn.unspec)
			p->rw.conn = a;
		for (unsigned i = 0; i < p->sdp.nmedia; i++)
			if (p->sdp.media[i].conn.present && !p->sdp.media[i].conn.unspec)
				p->rw.media[i].conn = a;
	}
	return 0;
}

/* m's body as it leaves towards realm `to` (p->ed is set up on m). */
static int edit_body(struct proxy *p, struct pctx *x, const struct sip_msg *m, const struct mop *op,
		     uint16_t to, bool hidden)
{
	enum sdp_err e;
	int side, r = 0;
	if (op->mode == MOP_NONE || (op->mode == MOP_PASS && !hidden))
		return 0;
	if (op->mode == MOP_STRIP)
		return sip_edit_delete_all(&p->ed, SIP_H_CONTENT_TYPE) < 0 ||
			       sip_edit_set_body(&p->ed, SIP_STR_NULL) < 0 ? -ENOSPC : 0;
	if (sdp_body(p, m, &e) <= 0) {
		p->ctr[PROXY_C_SDP_UNPARSED]++;
		return op->mode == MOP_PASS ? 0 : -EINVAL;
	}
	if (op->mode == MOP_PASS) {
		r = sdp_pass_rewrite(p, to);
	} else if (op->mode == MOP_APPLY || op->mode == MOP_REPEAT) {
		/* a rebuild (next-hop failover): the same offer again, which
		 * keeps its ports (lib/media: a repeated pending offer) */
		struct media_session *ms = op->dlg ? dlg_session(p, m, &side) : (x ? x->ms : NULL);
		if (!ms)
			return -EINVAL;
		r = op->mode == MOP_APPLY ? media_apply(p, ms, op->side, op->kind)
					  : media_repeat(p, ms, op->side);
	}
	if (r < 0)
		return r;
	int n = sdp_rewrite(&p->sdp, &p->rw, p->sdpbuf, sizeof(p->sdpbuf));
	if (n < 0)
		return n;
	return sip_edit_set_body(&p->ed, (sip_str_t){ p->sdpbuf, (uint32_t)n });
}

/* ---- responses ------------------------------------------------------------------ */

/* Remove the top Via value (ours) from a response. */
static int edit_pop_via(struct sip_editor *e, const struct sip_msg *m)
{
	struct sip_list_iter it;
	sip_str_t v;
	sip_list_init(&it, m, SIP_H_VIA);
	if (sip_list_next(&it, &v) <= 0)
		return -EINVAL;
	const struct sip_hdr *h = it.h;
	if (sip_list_next(&it, &v) > 0 && it.h == h)
		return sip_edit_replace(e, (uint32_t)(h->value.p - m->buf), (uint32_t)(v.p - h->value.p),
					SIP_STR_NULL);
	return sip_edit_delete_hdr(e, (uint16_t)(h - m->hdr));
}

/* The registrar accepted a REGISTER that removed bindings (expires 0, or
 * "*" with Expires: 0): free ours now rather than at expiry. */
static void reg_apply_removals(struct proxy *p, struct pctx *x)
{
	for (unsigned i = 0; i < x->nbind; i++) {
		struct reg_binding *b = x->bind_remove[i] ? reg_get(p->reg, x->bind_idx[i], x->bind_gen[i]) : NULL;
		if (b) {
			reg_unbind(p->reg, b);
			p->ctr[PROXY_C_BINDINGS_REMOVED]++;
		}
	}
	struct sip_nameaddr to;
	const struct sip_msg *req = x->reg_star && x->s ? stored_request(p, x) : NULL;
	if (req && sip_msg_to(req, &to) > 0)
		p->ctr[PROXY_C_BINDINGS_REMOVED] += reg_unbind_aor(p->reg, to.uri);
}

/* A 2xx to a REGISTER of a NAT'd device: its Contact list back to what the
 * device registered (the registrar sees tokens; the device its own URIs),
 * with the expiry granted per binding; other contacts of the AOR (other
 * devices, other realms' tokens) are not the device's business. */
static int edit_reg_contacts(struct proxy *p, struct pctx *x, const struct sip_msg *m)
{
	char val[4096];
	size_t n = 0;
	struct sip_list_iter it;
	sip_str_t v;
	uint32_t hdr_exp = 3600;
	(void)sip_msg_expires(m, &hdr_exp);
	sip_list_init(&it, m, SIP_H_CONTACT);
	while (sip_list_next(&it, &v) > 0) {
		struct sip_contact c;
		struct sip_uri u;
		struct topo_token t;
		if (sip_contact_parse(v, &c) < 0 || c.na.star || sip_uri_parse(c.na.uri, &u) < 0 ||
		    topo_token_check(p->mac, u.user, &t) < 0 || t.kind != TOPO_REG)
			continue;
		for (unsigned i = 0; i < x->nbind; i++) {
			if (t.id != x->bind_idx[i] || t.gen != x->bind_gen[i])
				continue;
			struct reg_binding *b = reg_get(p->reg, t.id, t.gen);
			if (!b)
				break;
			uint32_t exp = c.has_expires ? c.expires : hdr_exp;
			uint32_t dev_exp = throttled(p, x) && x->bind_dev_exp[i] && x->bind_dev_exp[i] < exp
						   ? x->bind_dev_exp[i] : exp;
			int k = snprintf(val + n, sizeof(val) - n, "%s<%.*s>;expires=%u", n ? ", " : "",
					 (int)b->contact_len, b->contact, dev_exp);
			if (k < 0 || (size_t)k >= sizeof(val) - n)
				return -ENOSPC;
			n += (size_t)k;
			reg_confirm(p->reg, b, exp);
		}
	}
	reg_apply_removals(p, x);
	if (sip_edit_delete_all(&p->ed, SIP_H_CONTACT) < 0)
		return -ENOSPC;
	if (!n)
		return 0;
	return sip_edit_insert_hdr(&p->ed, m->nhdr, SIP_STR("Contact"), (sip_str_t){ val, (uint32_t)n });
}

/* Our Via off; hidden: the stored request's Via stack back on, Record-Route
 * off, Contacts tokenised (or restored for REGISTER), equipment headers. */
static int build_response(struct proxy *p, struct pctx *x, const struct sip_msg *m,
			  const struct mop *op)
{
	struct sip_editor *e = &p->ed;
	if (!x->hidden) {
		sip_edit_init(e, m);
		if (edit_pop_via(e, m) < 0)
			return -EINVAL;
		int r = edit_body(p, x, m, op, x->in.realm, false); /* media anchoring */
		return r < 0 ? r : sip_edit_serialize(e, p->out, sizeof(p->out));
	}
	const struct sip_msg *req = x->s ? stored_request(p, x) : NULL;
	const struct sip_hdr *fv = sip_hdr_first(m, SIP_H_VIA);
	sip_str_t cid;
	if (!req || !fv || orig_call_id(p, m, &cid) < 0)
		return -EINVAL;
	sip_edit_init(e, m);
	if (edit_call_id(p, m, x->in.realm) < 0)
		return -ENOSPC;
	for (const struct sip_hdr *h = sip_hdr_first(req, SIP_H_VIA); h; h = sip_hdr_next(req, h))
		if (sip_edit_replace(e, fv->off, 0, (sip_str_t){ req->buf + h->off, h->end - h->off }) < 0)
			return -ENOSPC;
	if (sip_edit_delete_all(e, SIP_H_VIA) < 0 || sip_edit_delete_all(e, SIP_H_RECORD_ROUTE) < 0 ||
	    edit_hide_headers(p, x->out_realm, x->in.realm) < 0)
		return -ENOSPC;
	/* A REGISTER's failure carries the registrar's view (core tokens,
	 * other devices' contacts): none of it is the device's business. */
	int r = x->reg ? (m->status >= 200 && m->status < 300 ? edit_reg_contacts(p, x, m)
							       : sip_edit_delete_all(e, SIP_H_CONTACT))
		       : edit_contacts(p, NULL, m, x->in.realm, cid);
	if (r < 0 || (r = edit_body(p, x, m, op, x->in.realm, true)) < 0)
		return r;
	return sip_edit_serialize(e, p->out, sizeof(p->out));
}

static void relay_response(struct proxy *p, struct pctx *x, const struct sip_msg *m,
			   const struct mop *op)
{
	int n = build_response(p, x, m, op);
	if (n < 0) {
		p->ctr[PROXY_C_BUILD_FAILED]++;
		return;
	}
	if (x->s) {
		p->ctr[PROXY_C_FORWARDED_RESPONSES]++;
		call_final(p, x, m->status);
		(void)txn_server_send(x->s, m->status, p->out, (uint32_t)n);
		return;
	}
	/* The server transaction is gone (a late 2xx retransmission): relay
	 * statelessly to the same upstream peer (RFC 6026 7.2). Hidden
	 * responses need the stored Via stack, gone with it: dropped. */
	p->ctr[PROXY_C_STATELESS_RESPONSES]++;
	send_to(p, &x->in, p->out, n);
}

static void response_of(struct proxy *p, struct pctx *x, struct txn_client *c,
			const struct sip_msg *m)
{
	struct mop op;
	if (m->status < 200) {
		x->provisional = true;
		track_dialog(p, x, c, m);
		(void)media_response(p, x, m, &op); /* early: an unusable body only goes */
		relay_response(p, x, m, &op);
		return;
	}
	if (m->status >= 300 && may_failover(x, m->status) && !x->upstream_final) {
		/* the layer already ACKed the failure hop by hop */
		p->ctr[PROXY_C_FAILOVERS]++;
		txn_client_set_user(c, NULL);
		txn_client_abandon(c);
		x->c = NULL;
		if (try_next(p, x) == 0)
			return;
		/* nothing left: relay this failure, 503 from a next hop is about
		 * that hop, not us: RFC 3261 16.7 step 6 turns it into 500 */
	}
	track_dialog(p, x, c, m);
	if (m->status >= 300) {
		early_forget(p, x, true);
		if (m->status == 503 && x->s && !x->upstream_final) {
			x->upstream_final = true;
			call_final(p, x, 500);
			reply_local(p, x->s, 500, "Server Internal Error - next hop unavailable");
			media_final(p, x, m, m->status);
			return;
		}
	}
	if (m->status >= 300)
		x->upstream_final = true;
	if (x->method != SIP_M_INVITE)
		early_forget(p, x, true); /* the final ends the others (as Timer J did) */
	on_final_in_dialog(p, x);
	struct dlg *doomed = media_response(p, x, m, &op);
	relay_response(p, x, m, &op);
	media_final(p, x, m, m->status);
	if (doomed) {
		p->ctr[PROXY_C_MEDIA_TEARDOWNS]++;
		media_end_call(p, doomed, 488, "SDP not anchored");
	}
}

static void on_response(void *ctx, struct txn_client *c, const struct sip_msg *m)
{
	struct proxy *p = ctx;
	struct pctx *x = txn_client_user(c);
	if (!x) {
		p->ctr[PROXY_C_ABSORBED]++; /* our own BYE / CANCEL: nothing above */
		return;
	}
	response_of(p, x, c, m);
	ctx_settle(p, x);
}

static void on_timeout(void *ctx, struct txn_client *c, uint16_t status)
{
	struct proxy *p = ctx;
	struct pctx *x = txn_client_user(c);
	if (!x)
		return;
	if (may_failover(x, status) && !x->upstream_final) {
		p->ctr[PROXY_C_FAILOVERS]++;
		txn_client_set_user(c, NULL);
		x->c = NULL;
		if (try_next(p, x) == 0)
			return;
	}
	on_final_in_dialog(p, x);
	early_forget(p, x, true);
	answer_exhausted(p, x, status);
	/* c ends when this returns: let go of it now, not in client_gone */
	if (x->c == c) {
		txn_client_set_user(c, NULL);
		x->c = NULL;
	}
	ctx_settle(p, x);
}

/* ---- requests ------------------------------------------------------------------ */

/* RFC 3261 16.3 step 4, simplified for an edge element: a request that
 * already carries a Via of ours with our branch prefix has looped back. */
static bool is_loop(struct proxy *p, const struct sip_msg *m)
{
	struct sip_via_iter it;
	struct sip_via v;
	sip_via_init(&it, m);
	while (sip_via_next(&it, &v) > 0) {
		if (txn_branch_shard(v.branch) < 0)
			continue;
		for (size_t r = 0; r < p->nrealms; r++) {
			const struct realm_info *ri = &p->realms[r];
			char hp[SBC_HOST_MAX + 10];
			int n = v.port ? snprintf(hp, sizeof(hp), "%.*s:%u", (int)v.host.len, v.host.p, v.port)
				       : snprintf(hp, sizeof(hp), "%.*s", (int)v.host.len, v.host.p);
			if (n == ri->hplen && memcmp(hp, ri->hostport, (size_t)n) == 0)
				return true;
		}
	}
	return false;
}

static bool uri_matches_route(const struct sbc_route *rt, const struct sip_uri *u)
{
	size_t pl = strlen(rt->ruri_user_prefix), dl = strlen(rt->ruri_domain);
	if (pl && (u->user.len < pl || memcmp(u->user.p, rt->ruri_user_prefix, pl) != 0))
		return false;
	if (dl && !sip_str_caseeq_lit(u->host, rt->ruri_domain))
		return false;
	return true;
}

static const struct sbc_route *route_lookup(const struct proxy *p, const struct sip_msg *m,
					    uint16_t in_realm, const struct sip_uri *u)
{
	const struct sbc_config *cfg = p->env.cfg;
	for (size_t i = 0; i < cfg->nroutes; i++) {
		const struct sbc_route *rt = &cfg->routes[i];
		if (rt->from_realm != in_realm)
			continue;
		if (rt->methods && !(rt->methods & (1u << m->method)))
			continue;
		if (uri_matches_route(rt, u))
			return rt;
	}
	return NULL;
}

/* The Route values from rs->next to the end, joined: the route set a
 * hidden request keeps after the SBC's own entries are gone. Written into
 * p->rs[0] (valid until the request is built). */
static sip_str_t remaining_routes(struct proxy *p, const struct sip_msg *m, const struct route_scan *rs)
{
	struct sip_list_iter it;
	sip_str_t v;
	size_t l = 0;
	bool on = false;
	sip_list_init(&it, m, SIP_H_ROUTE);
	while (sip_list_next(&it, &v) > 0) {
		on = on || v.p == rs->next.p;
		if (!on)
			continue;
		int k = snprintf(p->rs[0] + l, RS_MAX - l, "%s%.*s", l ? ", " : "", (int)v.len, v.p);
		if (k < 0 || (size_t)k >= RS_MAX - l)
			return SIP_STR_NULL;
		l += (size_t)k;
	}
	return (sip_str_t){ p->rs[0], (uint32_t)l };
}

/* An in-dialog request at one of our dialog tokens: the dialog gives the
 * other side's target, route set and (for NAT realms) latched address. */
static uint16_t resolve_dialog(struct proxy *p, struct pctx *x, const struct sip_msg *m,
			       const struct topo_token *t, const char **reason)
{
	sip_str_t cid;
	int side;
	if (orig_call_id(p, m, &cid) < 0 || t->id != callid_id(p, cid)) {
		p->ctr[PROXY_C_TOKENS_FORGED]++;
		*reason = "Forbidden - token does not belong to this call";
		return 403;
	}
	struct dlg *d = find_dialog(p, m, &side);
	if (!d) {
		p->ctr[PROXY_C_UNKNOWN_DIALOG]++;
		*reason = "Call/Transaction Does Not Exist";
		return 481;
	}
	const struct dlg_side *to = &d->side[1 - side];
	union sbc_sockaddr a = to->addr;
	/* Trusted realms route by the book (route set, else Contact); towards
	 * an untrusted realm the latched source address is what works behind
	 * NAT. */
	if (p->env.cfg->realms[to->realm].trusted) {
		const char *comma = to->route.len ? memchr(to->route.p, ',', to->route.len) : NULL;
		sip_str_t first = { to->route.p, comma ? (uint32_t)(comma - to->route.p) : to->route.len };
		if (!(first.len && nameaddr_target(first, &a) == 0) && to->contact.len) {
			struct sip_uri u;
			union sbc_sockaddr c;
			if (sip_uri_parse(to->contact, &u) == 0 && uri_target(&u, &c) == 0)
				a = c;
		}
	}
	x->hidden = true;
	x->by_table = false;
	x->out_realm = to->realm;
	x->new_ruri = to->contact;
	x->route_set = to->route;
	x->target.addr = a;
	x->target.realm = to->realm;
	x->target.iface = to->iface;
	return 0;
}

/* A request to a device's binding token: to the address its REGISTER came
 * from, with the device's own Contact as Request-URI. The dialog it may
 * create lives in this shard (the token's), so its Contacts must be our
 * tokens too: hidden whatever the realms say. */
static uint16_t resolve_binding(struct proxy *p, struct pctx *x, const struct topo_token *t,
				const char **reason)
{
	struct reg_binding *b = reg_get(p->reg, t->id, t->gen);
	if (!b) {
		p->ctr[PROXY_C_NO_BINDING]++;
		*reason = "Not Found - no such registration";
		return 404;
	}
	x->hidden = true;
	x->by_table = false;
	x->out_realm = b->realm;
	x->new_ruri = (sip_str_t){ b->contact, b->contact_len };
	x->target.addr = b->addr;
	x->target.realm = b->realm;
	x->target.iface = b->iface;
	return 0;
}

/* A Request-URI naming one of our tokens (a Contact we advertised). */
static int ruri_token(struct proxy *p, const struct sip_uri *ruri, struct topo_token *t)
{
	if (ruri->user.len != TOPO_TOKEN_LEN || own_realm_of(p, ruri) < 0)
		return -EINVAL;
	return topo_token_check(p->mac, ruri->user, t);
}

/* Decide where x goes: one of our tokens, the Route set of the SBC
 * (in-dialog, preloaded), or the routing table. Returns 0, or a status to
 * answer. */
static uint16_t resolve(struct proxy *p, struct pctx *x, const struct sip_msg *m, const char **reason)
{
	struct route_scan rs;
	struct sip_uri ruri;
	struct topo_token tk;
	union sbc_sockaddr a;
	if (scan_routes(p, m, x->in.realm, &rs) < 0 || sip_uri_parse(m->ruri, &ruri) < 0) {
		*reason = "Bad Request - Malformed Route";
		return 400;
	}
	int tr = rs.own ? -EINVAL : ruri_token(p, &ruri, &tk);
	if (tr == -EBADMSG) {
		p->ctr[PROXY_C_TOKENS_FORGED]++;
		*reason = "Forbidden - invalid token";
		return 403;
	}
	if (tr == 0)
		return tk.kind == TOPO_REG ? resolve_binding(p, x, &tk, reason)
					   : resolve_dialog(p, x, m, &tk, reason);
	if (rs.own) {
		/* loose routing: next Route value, else the Request-URI */
		int ok = rs.next.len ? nameaddr_target(rs.next, &a) : uri_target(&ruri, &a);
		const struct sbc_route *rt = route_lookup(p, m, x->in.realm, &ruri);
		if (ok < 0) {
			p->ctr[PROXY_C_UNRESOLVABLE]++;
			*reason = "Not Found - target is not a literal address";
			return 404;
		}
		uint16_t out = rs.out_realm >= 0 && (uint16_t)rs.out_realm != x->in.realm
				       ? (uint16_t)rs.out_realm
				       : (rt ? (uint16_t)rt->to_realm : x->in.realm);
		x->out_realm = out;
		/* A preloaded Route to us (a core proxy's, or one naming the SBC
		 * for a dialog it never saw) crosses the realms like any other
		 * request: hidden if the pair is. */
		x->hidden = hidden_pair(p, x->in.realm, out);
		x->reg = x->hidden && m->method == SIP_M_REGISTER &&
			 !p->env.cfg->realms[x->in.realm].trusted;
		/* Hidden, the Route lines go; the entries after ours name hops of
		 * the realm we send into, and loose routing needs them there. */
		if (x->hidden && rs.next.len)
			x->route_set = remaining_routes(p, m, &rs);
		set_peer(p, &x->target, out, &a);
		x->by_table = false;
		return 0;
	}
	const struct sbc_route *rt = route_lookup(p, m, x->in.realm, &ruri);
	if (!rt) {
		p->ctr[PROXY_C_NO_ROUTE]++;
		*reason = "Not Found - no route for this request";
		return 404;
	}
	x->route = rt;
	x->out_realm = (uint16_t)rt->to_realm;
	x->hidden = hidden_pair(p, x->in.realm, x->out_realm);
	/* Binding tokens only where the registrar must not see the device:
	 * without hiding, its Contact goes through as it is. */
	x->reg = m->method == SIP_M_REGISTER && x->hidden && !p->env.cfg->realms[x->in.realm].trusted;
	if (rt->by_ruri) {
		if (uri_target(&ruri, &a) < 0) {
			p->ctr[PROXY_C_UNRESOLVABLE]++;
			*reason = "Not Found - Request-URI host is not a literal address";
			return 404;
		}
		set_peer(p, &x->target, x->out_realm, &a);
		x->by_table = false;
		return 0;
	}
	x->by_table = true;
	order_hops(p, x);
	return 0;
}

/* RFC 3261 12.2.2: a target refresh request (re-INVITE, UPDATE, and the
 * subscription ones) moves the sender's remote target to its new Contact. */
static void refresh_target(struct proxy *p, const struct sip_msg *m)
{
	int side;
	struct dlg *d;
	if (m->method != SIP_M_INVITE && m->method != SIP_M_UPDATE && m->method != SIP_M_SUBSCRIBE &&
	    m->method != SIP_M_NOTIFY && m->method != SIP_M_REFER)
		return;
	sip_str_t c = first_contact_uri(m);
	if (!c.len || !(d = find_dialog(p, m, &side)) || sip_str_eq(c, d->side[side].contact))
		return;
	sip_str_t stored = dlg_store(d, c);
	if (stored.len)
		d->side[side].contact = stored;
}

/* The context of a new request, or NULL if none was taken. */
static struct pctx *new_request(struct proxy *p, const struct sip_msg *m, const struct txn_peer *from)
{
	const char *reason = NULL;
	struct sip_nameaddr to;
	if (is_loop(p, m)) {
		p->ctr[PROXY_C_LOOPS]++;
		reply_stateless(p, m, from, 482, "Loop Detected", "");
		return NULL;
	}
	struct txn_server *s = txn_server_create(p->txn, m, from);
	struct pctx *x = s ? pool_get(p->ctx_pool) : NULL;
	if (!x) {
		p->ctr[PROXY_C_OVERLOAD]++;
		if (s) {
			p->ctr[PROXY_C_LOCAL_REPLIES]++;
			(void)txn_server_reply(s, 503, "Service Unavailable - SBC overloaded",
					       SIP_STR("Retry-After: 5\r\n"));
		} else
			reply_stateless(p, m, from, 503, "Service Unavailable - SBC overloaded",
					"Retry-After: 5\r\n");
		return NULL;
	}
	memset(x, 0, sizeof(*x));
	x->s = s;
	x->in = *from;
	x->method = m->method;
	txn_server_set_user(s, x);
	x->in_dialog = sip_msg_to(m, &to) > 0 && to.tag.len;
	x->record_route = !x->in_dialog && creates_dialog(m->method);
	if (m->method == SIP_M_INVITE && !x->in_dialog && p->env.calls) {
		x->call = true;
		x->call_t0 = metrics_now_ns();
		metrics_call_attempted(p->env.calls);
	}
	bool in_dialog = x->in_dialog;
	uint16_t st = resolve(p, x, m, &reason);
	if (!st && x->in_dialog && x->hidden)
		refresh_target(p, m);
	if (st) {
		x->upstream_final = true;
		call_final(p, x, st);
		p->ctr[PROXY_C_LOCAL_REPLIES]++;
		(void)txn_server_reply(s, st, reason, SIP_STR_NULL);
		return x;
	}
	bool retry = false;
	if ((st = media_request(p, x, m, &reason, &retry)) != 0) {
		char ra[32];
		snprintf(ra, sizeof(ra), "Retry-After: %u\r\n",
			 p->env.cfg->realms[x->in.realm].limits.retry_after);
		x->upstream_final = true;
		call_final(p, x, st);
		p->ctr[PROXY_C_LOCAL_REPLIES]++;
		(void)txn_server_reply(s, st, reason, retry ? (sip_str_t){ ra, (uint32_t)strlen(ra) }
							  : SIP_STR_NULL);
		return x;
	}
	if (reg_answer_locally(p, x, m))
		return x;
	int rc = try_next(p, x);
	if (rc == -ENOBUFS && !x->upstream_final) {
		/* our pools, not the next hop: say so, as for a new request */
		media_final(p, x, NULL, 503);
		x->upstream_final = true;
		call_final(p, x, 503);
		p->ctr[PROXY_C_LOCAL_REPLIES]++;
		(void)txn_server_reply(x->s, 503, "Service Unavailable - SBC overloaded",
				       SIP_STR("Retry-After: 5\r\n"));
	} else if (rc < 0) {
		answer_exhausted(p, x, 503);
	}
	if (x->mop.mode == MOP_CACHED)
		x->mop.mode = MOP_APPLY; /* p->rw is gone: a failover re-applies */
	/* Only now: a NOTIFY "terminated" ends its subscription dialog, and
	 * the hidden path above needed that dialog to find the subscriber
	 * (x->new_ruri / route_set point into it). */
	if (in_dialog)
		note_in_dialog(p, m);
	return x;
}

static void handle_new(struct proxy *p, const struct sip_msg *m, const struct txn_peer *from)
{
	struct pctx *x = new_request(p, m, from);
	if (x)
		ctx_settle(p, x);
}

static void handle_cancel(struct proxy *p, const struct sip_msg *m, const struct txn_peer *from,
			  struct txn_server *inv, uint16_t status, const char *reason)
{
	struct txn_server *s = txn_server_create(p->txn, m, from);
	if (!s) {
		reply_stateless(p, m, from, status, reason, "");
		return;
	}
	reply_local(p, s, status, reason);
	struct pctx *x = inv ? txn_server_user(inv) : NULL;
	if (!x || x->cancelled)
		return;
	x->cancelled = true;
	p->ctr[PROXY_C_CANCELS]++;
	const struct sip_hdr *rh = sip_hdr_first(m, SIP_H_REASON);
	char extra[512];
	int n = 0;
	if (rh && rh->value.len < sizeof(extra) - 16)
		n = snprintf(extra, sizeof(extra), "Reason: %.*s\r\n", (int)rh->value.len, rh->value.p);
	if (x->c) {
		(void)txn_client_cancel(x->c, (sip_str_t){ extra, (uint32_t)n });
		return;
	}
	answer_exhausted(p, x, 487);
	ctx_settle(p, x);
}

/* ACK of a 2xx: end to end, no transaction (RFC 3261 16.11 style branch:
 * a hash of the incoming branch, so retransmissions keep it). */
static void forward_ack(struct proxy *p, const struct sip_msg *m, const struct txn_peer *from)
{
	struct pctx tmp;
	const char *reason;
	struct sip_via top;
	struct txn_peer to;
	memset(&tmp, 0, sizeof(tmp));
	tmp.in = *from;
	tmp.method = SIP_M_ACK;
	note_in_dialog(p, m);
	if (resolve(p, &tmp, m, &reason) != 0 || sip_msg_top_via(m, &top) <= 0 ||
	    !next_target(p, &tmp, &to))
		return;
	uint64_t h = sbc_siphash24(&p->key, top.branch.p, top.branch.len);
	char br[40];
	int bl = snprintf(br, sizeof(br), "z9hG4bK-sbcsl-%016llx", (unsigned long long)h);
	struct dlg *doomed = media_ack(p, m, &tmp.mop);
	p->ctr[PROXY_C_FORWARDED_ACKS]++;
	send_to(p, &to, p->out, build_forward(p, &tmp, m, (sip_str_t){ br, (uint32_t)bl }));
	if (doomed) {
		p->ctr[PROXY_C_MEDIA_TEARDOWNS]++;
		media_end_call(p, doomed, 488, "SDP not anchored");
	}
}

void proxy_input(struct proxy *p, const struct sip_msg *m, const struct txn_peer *from)
{
	struct txn_server *match = NULL;
	enum txn_verdict v = txn_input(p->txn, m, from, &match);
	switch (v) {
	case TXN_NEW:
		handle_new(p, m, from);
		break;
	case TXN_ACK:
		forward_ack(p, m, from);
		break;
	case TXN_CANCEL:
		handle_cancel(p, m, from, match, 200, "OK");
		break;
	case TXN_CANCEL_LATE:
		handle_cancel(p, m, from, NULL, 200, "OK");
		break;
	case TXN_CANCEL_NOMATCH:
		handle_cancel(p, m, from, NULL, 481, "Call/Transaction Does Not Exist");
		break;
	case TXN_ABSORBED:
		p->ctr[PROXY_C_ABSORBED]++;
		break;
	case TXN_RESPONSE:
		break;
	case TXN_STRAY:
		p->ctr[PROXY_C_STRAY_RESPONSES]++;
		break;
	}
}

/* ---- dialog expiry: the SBC ends the call itself ---------------------------------- */

static void send_bye(struct proxy *p, struct dlg *d, int side, uint16_t cause, const char *why)
{
	const struct dlg_side *s = &d->side[side];
	const struct realm_info *ri = &p->realms[s->realm];
	struct txn_peer to = { .addr = s->addr, .iface = s->iface, .realm = s->realm };
	sip_str_t branch, from = side == 1 ? d->from : d->to, tov = side == 1 ? d->to : d->from;
	union sbc_sockaddr a;
	/* first hop: the route set's first entry, else the Contact */
	if (s->route.len) {
		const char *comma = memchr(s->route.p, ',', s->route.len);
		sip_str_t first = { s->route.p, comma ? (uint32_t)(comma - s->route.p) : s->route.len };
		if (nameaddr_target(first, &a) == 0)
			to.addr = a;
	} else if (nameaddr_target(s->contact, &a) == 0) {
		to.addr = a;
	}
	char cbuf[TOPO_TOKEN_LEN];
	sip_str_t cid = call_id_for(p, d->call_id, s->realm, cbuf);
	struct txn_client *c = txn_client_create(p->txn, SIP_M_BYE, &to, &branch);
	if (!c)
		return;
	int n = snprintf(p->out, sizeof(p->out),
			 "BYE %.*s SIP/2.0\r\n"
			 "Via: SIP/2.0/UDP %s;branch=%.*s;rport\r\n"
			 "%s%.*s%s"
			 "Max-Forwards: 70\r\n"
			 "From: %.*s\r\nTo: %.*s\r\nCall-ID: %.*s\r\nCSeq: %u BYE\r\n"
			 "Reason: SIP;cause=%u;text=\"%s\"\r\n"
			 "Content-Length: 0\r\n\r\n",
			 (int)s->contact.len, s->contact.p, ri->hostport, (int)branch.len, branch.p,
			 s->route.len ? "Route: " : "", (int)s->route.len, s->route.p,
			 s->route.len ? "\r\n" : "", (int)from.len, from.p, (int)tov.len, tov.p,
			 (int)cid.len, cid.p, d->side[1 - side].cseq + 1, cause, why);
	if (n < 0 || (size_t)n >= sizeof(p->out) || txn_client_send(c, p->out, (uint32_t)n) < 0)
		txn_client_abandon(c);
}

static void on_dialog_expired(void *ctx, struct dlg *d, enum dlg_end_reason why)
{
	struct proxy *p = ctx;
	if (why == DLG_END_MAX_DURATION && d->can_end) {
		p->ctr[PROXY_C_DIALOGS_EXPIRED]++;
		send_bye(p, d, 1, 200, "Maximum call duration reached");
		send_bye(p, d, 0, 200, "Maximum call duration reached");
	}
	dlg_end(p, d);
}

static const struct dlg_ops dlg_ops_tab = { .expired = on_dialog_expired };

/* The layer's output goes through the worker's batch. */
static int txn_send_cb(void *ctx, const struct txn_peer *to, const char *buf, uint32_t len)
{
	struct proxy *p = ctx;
	return p->env.send(p->env.ctx, to, buf, len);
}

static const struct txn_ops txn_ops_tab = {
	.send = txn_send_cb,
	.response = on_response,
	.timeout = on_timeout,
	.server_gone = on_server_gone,
	.client_gone = on_client_gone,
};

void proxy_timer(struct wheel_timer *t, void *proxy)
{
	struct proxy *p = proxy;
	if ((t->tag & TXN_TIMER_TAG_MASK) == TXN_TIMER_TAG_BASE)
		txn_timer_fire(p->txn, t);
	else if ((t->tag & 0xffff0000u) == DLG_TIMER_TAG_BASE)
		dlg_timer_fire(p->dlg, t);
	else if (t->tag == REG_TIMER_TAG)
		reg_timer_fire(p->reg, t);
	else if (t->tag == CID_TIMER_TAG)
		cid_map_timer_fire(p->cid, t);
	else if (t->tag == DM_TIMER_TAG)
		media_idle_fire(p, t);
}

/* ---- set-up ------------------------------------------------------------------------ */

static int realms_init(struct proxy *p)
{
	const struct sbc_config *cfg = p->env.cfg;
	uint16_t iface = 0;
	p->nrealms = cfg->nrealms;
	p->realms = calloc(cfg->nrealms, sizeof(*p->realms));
	if (!p->realms)
		return -ENOMEM;
	for (size_t r = 0; r < cfg->nrealms; r++) {
		const struct sbc_realm *rl = &cfg->realms[r];
		struct realm_info *ri = &p->realms[r];
		bool v6 = strchr(rl->advertise.name, ':') != NULL;
		int n = snprintf(ri->hostport, sizeof(ri->hostport), v6 ? "[%s]:%u" : "%s:%u",
				 rl->advertise.name, rl->listen[0].port);
		if (n < 0 || (size_t)n >= sizeof(ri->hostport))
			return -ENAMETOOLONG;
		ri->hplen = (uint16_t)n;
		ri->iface = iface;
		iface = (uint16_t)(iface + rl->nlisten);
	}
	return 0;
}

/* The shard's media: every realm's media address and its slice of the
 * realm's port range. Towards untrusted realms the SBC terminates ICE
 * (all ICE attributes removed); towards trusted ones the candidates go
 * (they name the other realm's addresses and would bypass the relay). */
static int media_init(struct proxy *p)
{
	const struct sbc_config *cfg = p->env.cfg;
	struct media_realm_conf rc[MEDIA_MAX_REALMS];
	if (!p->env.media_port)
		return 0;
	if (cfg->nrealms > MEDIA_MAX_REALMS)
		return -EINVAL;
	for (size_t r = 0; r < cfg->nrealms; r++) {
		const struct sbc_media *md = &cfg->realms[r].media;
		rc[r] = (struct media_realm_conf){
			.ip = md->ip.family == AF_UNSPEC ? NULL : md->ip.text,
			.port_first = md->port_first,
			.port_last = md->port_last,
			.flags = cfg->realms[r].trusted ? MEDIA_RF_STRIP_CANDIDATES : MEDIA_RF_STRIP_ICE,
		};
	}
	uint32_t max = p->env.max_media_sessions ? p->env.max_media_sessions : p->env.max_dialogs;
	struct media_conf mc = {
		.worker = p->env.shard,
		.nworkers = p->env.nworkers ? p->env.nworkers : 1,
		.max_sessions = max,
		.nrealms = (uint32_t)cfg->nrealms,
		.realms = rc,
		.port_hook = on_media_port,
		.port_ctx = p,
	};
	p->media = media_create(&mc);
	p->dm_pool = pool_create(p->env.max_dialogs, sizeof(struct dmedia), 0);
	return p->media && p->dm_pool ? 0 : -ENOMEM;
}

/* Contexts held at once: one per INVITE answered 2xx for 64*T1 (until its
 * transactions end, see ctx_settle), other requests only until their
 * final. A call's INVITE and BYE server transactions both linger 64*T1,
 * so half the server transactions bound the lasting contexts; the 1/16
 * extra covers requests in progress. Beyond: 503, counted as overload. */
static uint32_t ctx_pool_size(uint32_t max_transactions)
{
	return max_transactions / 2u + max_transactions / 16u + 16u;
}

struct proxy *proxy_create(const struct proxy_env *env)
{
	struct proxy *p = aligned_alloc(64, (sizeof(struct proxy) + 63) & ~(size_t)63);
	if (!p)
		return NULL;
	memset(p, 0, sizeof(*p));
	p->env = *env;
	p->key = (struct sbc_hash_key){ env->seed[0], env->seed[1] };
	p->rng = env->seed[0] ^ (env->seed[1] << 1) ^ (0x9e3779b97f4a7c15ULL * (env->shard + 1));
	if (!p->rng)
		p->rng = 1;
	struct txn_config tc = {
		.t1_ms = env->cfg->sip.t1_ms,
		.t2_ms = env->cfg->sip.t2_ms,
		.t4_ms = env->cfg->sip.t4_ms,
		.timer_c_ms = env->cfg->sip.timer_c_ms,
		.max_server = env->max_transactions,
		.max_client = env->max_transactions,
		/* a call holds two stored copies over the 64*T1 its four
		 * transactions linger (lib/txn/txn.c): one per server one */
		.max_messages = env->max_transactions,
		.shard = (uint8_t)env->shard,
		.seed = { env->seed[0] ^ 0x7478, env->seed[1] },
	};
	struct dlg_config dc = {
		.max_dialogs = env->max_dialogs,
		.max_duration_s = env->cfg->sip.max_dialog_duration_s,
		.seed = { env->seed[1], env->seed[0] ^ 0x646c67 },
	};
	if (realms_init(p) < 0)
		goto fail;
	p->txn = txn_shard_create(&tc, env->wheel, &txn_ops_tab, p);
	p->dlg = dlg_table_create(&dc, env->wheel, &dlg_ops_tab, p);
	p->ctx_pool = pool_create(ctx_pool_size(env->max_transactions), sizeof(struct pctx), 0);
	uint64_t rseed[2] = { env->seed[0] ^ 0x726567, env->seed[1] };
	p->reg = reg_table_create(MAX_BINDINGS, env->wheel, rseed);
	p->mac = topo_mac_create(env->token_key, env->token_key_len);
	/* a masked Call-ID must outlive any dialog it names */
	uint64_t cseed[2] = { env->seed[1] ^ 0x636964, env->seed[0] };
	p->cid = cid_map_create(env->max_dialogs, env->wheel, cseed,
				env->cfg->sip.max_dialog_duration_s + 300u);
	if (!p->txn || !p->dlg || !p->ctx_pool || !p->reg || !p->mac || !p->cid ||
	    media_init(p) < 0)
		goto fail;
	return p;
fail:
	proxy_destroy(p);
	return NULL;
}

void proxy_destroy(struct proxy *p)
{
	if (!p)
		return;
	txn_shard_destroy(p->txn);
	dlg_table_destroy(p->dlg);
	reg_table_destroy(p->reg);
	cid_map_destroy(p->cid);
	topo_mac_destroy(p->mac);
	pool_destroy(p->ctx_pool);
	media_destroy(p->media); /* its ports' sockets close with the I/O queue */
	pool_destroy(p->dm_pool);
	free(p->realms);
	free(p);
}
