/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Socket backend: kernel UDP, no privileges, no hugepages.
 *
 * Every worker opens its own socket per iface with SO_REUSEPORT, so the
 * kernel spreads datagrams over the workers by a hash of the 4-tuple: one
 * peer address always lands on the same worker, and a reply sent from that
 * worker's socket carries the right source address. Receive and send are
 * batched with recvmmsg/sendmmsg (one syscall per burst per socket).
 *
 * Idle: rx_burst only reads sockets marked ready; when none is, the worker
 * calls wait(), which blocks in epoll_wait (level-triggered) until a socket
 * has data or the timeout passes, so an idle daemon costs no CPU. A socket
 * stays marked ready while recvmmsg fills whole bursts, so a busy worker
 * makes no epoll call at all.
 *
 * Media relay ports (media_open): one plain UDP socket per port, bound by
 * the worker that owns the port (no SO_REUSEPORT: the port is its alone,
 * so RTP never needs a handoff) and added to that worker's epoll set.
 * A socket per port is what symmetric RTP needs (the source port of what
 * we send is the port the peer sends to) and what the kernel gives us; it
 * costs one recvmmsg per ready port and one sendmmsg per source port of a
 * burst. Ready media sockets are kept in a list, read in turn (one that
 * filled a burst goes to the back), and refreshed with a zero-timeout
 * epoll_wait when a burst finds nothing marked ready. SIP and media
 * take turns in reading first, so neither can starve the other.
 */
#include "io.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "log.h"

/* Kernel receive buffer per socket: absorbs bursts while a worker is busy.
 * Capped by net.core.rmem_max unless we hold CAP_NET_ADMIN. */
#define SOCK_RCVBUF (4 * 1024 * 1024)

struct sock {
	int fd;
	bool ready;
	uint16_t realm;
	union sbc_sockaddr local;
};

/* A media relay port's socket; indexed by port - first of its realm. */
struct msock {
	int32_t fd;                 /* -1: not open */
	bool ready;                 /* in the ready list */
};

struct mrealm {
	struct msock *s;            /* NULL: realm without media */
	uint16_t first, last;
	union sbc_sockaddr local;   /* media address, port 0 */
};

/* epoll data of a media socket: this bit | realm << 16 | port - first.
 * SIP sockets use their index, the watched fd UINT32_MAX. */
#define EP_MEDIA (1ull << 63)

struct io_queue {
	unsigned id;
	int epfd;
	unsigned nsock;
	unsigned next;              /* rx round-robin start */
	struct io_stats stats;
	struct mmsghdr msg[IO_BURST_MAX];
	struct iovec iov[IO_BURST_MAX];
	/* media relay ports */
	struct mrealm *mr;          /* per realm */
	unsigned nmr;
	uint32_t *mready;           /* ready media sockets: realm << 16 | index */
	unsigned nmready, mready_cap;
	unsigned mopen;             /* media sockets open */
	bool media_first;           /* which class rx reads first this time */
	struct sock sock[];
};

static socklen_t addr_len(const union sbc_sockaddr *a)
{
	return a->sa.sa_family == AF_INET6 ? sizeof a->v6 : sizeof a->v4;
}

static void listen_addr(const struct sbc_listen *l, union sbc_sockaddr *a)
{
	memset(a, 0, sizeof *a);
	if (l->ip.family == AF_INET6) {
		a->v6.sin6_family = AF_INET6;
		a->v6.sin6_addr = l->ip.u.v6;
		a->v6.sin6_port = htons(l->port);
	} else {
		a->v4.sin_family = AF_INET;
		a->v4.sin_addr = l->ip.u.v4;
		a->v4.sin_port = htons(l->port);
	}
}

static const char *bind_hint(int err)
{
	switch (err) {
	case EADDRINUSE: return " (another process uses it)";
	case EADDRNOTAVAIL: return " (no such address on this host)";
	case EACCES: return " (ports below 1024 need CAP_NET_BIND_SERVICE)";
	default: return "";
	}
}

/* A UDP socket bound to a; -errno on failure (logged). */
static int sock_bind(const union sbc_sockaddr *a, bool reuseport)
{
	char as[64];
	int one = 1, fd, err;

	fd = socket(a->sa.sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		err = errno;
		log_error("socket for %s: %s", io_addr_str(a, as, sizeof as), strerror(err));
		return -err;
	}
	/* An IPv6 wildcard must not also take the IPv4 port of another realm. */
	if (a->sa.sa_family == AF_INET6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
	if (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0)
		goto fail;
	if (bind(fd, &a->sa, addr_len(a)) < 0)
		goto fail;
	return fd;
fail:
	err = errno;
	log_error("bind %s/udp: %s%s", io_addr_str(a, as, sizeof as), strerror(err),
		  bind_hint(err));
	close(fd);
	return -err;
}

static void sock_rcvbuf(int fd)
{
	int size = SOCK_RCVBUF;

	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) == 0)
		return;
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
}

/* SO_REUSEPORT lets any process of our user join the port's group and
 * silently take a share of its traffic, e.g. a second sbc started by
 * mistake. Binding once without it fails if anybody holds the port. */
static int socket_setup(const struct sbc_config *cfg)
{
	for (size_t i = 0; i < cfg->nrealms; i++) {
		for (size_t j = 0; j < cfg->realms[i].nlisten; j++) {
			union sbc_sockaddr a;
			int fd;

			listen_addr(&cfg->realms[i].listen[j], &a);
			fd = sock_bind(&a, false);
			if (fd < 0)
				return fd;
			close(fd);
		}
	}
	return 0;
}

static void socket_teardown(void)
{
}

static void socket_close(struct io_queue *q)
{
	if (!q)
		return;
	for (unsigned i = 0; i < q->nsock; i++)
		close(q->sock[i].fd);
	for (unsigned r = 0; r < q->nmr; r++) {
		struct mrealm *m = &q->mr[r];
		for (unsigned k = 0; m->s && k <= (unsigned)(m->last - m->first); k++)
			if (m->s[k].fd >= 0)
				close(m->s[k].fd);
		free(m->s);
	}
	free(q->mr);
	free(q->mready);
	if (q->epfd >= 0)
		close(q->epfd);
	free(q);
}

/* The media socket tables: one slot per port of every realm's range (at
 * most 64 Ki * 8 bytes a realm), so a port finds its socket by one
 * subtraction on the send path. */
static int queue_media_init(struct io_queue *q, const struct sbc_config *cfg)
{
	size_t total = 0;

	q->mr = calloc(cfg->nrealms, sizeof *q->mr);
	if (!q->mr)
		return -ENOMEM;
	q->nmr = (unsigned)cfg->nrealms;
	for (size_t r = 0; r < cfg->nrealms; r++) {
		const struct sbc_media *md = &cfg->realms[r].media;
		struct mrealm *m = &q->mr[r];
		size_t n;

		if (md->ip.family == AF_UNSPEC || md->port_last < md->port_first)
			continue;
		n = (size_t)(md->port_last - md->port_first) + 1;
		m->s = malloc(n * sizeof *m->s);
		if (!m->s)
			return -ENOMEM;
		for (size_t k = 0; k < n; k++)
			m->s[k] = (struct msock){ .fd = -1 };
		m->first = md->port_first;
		m->last = md->port_last;
		listen_addr(&(struct sbc_listen){ .ip = md->ip, .port = 0 }, &m->local);
		total += n;
	}
	q->mready = malloc((total ? total : 1) * sizeof *q->mready);
	q->mready_cap = (unsigned)total;
	return q->mready ? 0 : -ENOMEM;
}

static struct msock *msock_of(struct io_queue *q, uint16_t realm, uint16_t port)
{
	struct mrealm *m;

	if (realm >= q->nmr)
		return NULL;
	m = &q->mr[realm];
	if (!m->s || port < m->first || port > m->last)
		return NULL;
	return &m->s[port - m->first];
}

static void mready_remove(struct io_queue *q, uint32_t key)
{
	for (unsigned i = 0; i < q->nmready; i++) {
		if (q->mready[i] != key)
			continue;
		memmove(&q->mready[i], &q->mready[i + 1], (q->nmready - i - 1) * sizeof *q->mready);
		q->nmready--;
		return;
	}
}

/* Errors are the caller's to count and log (it knows the call). */
static int socket_media_open(struct io_queue *q, uint16_t realm, uint16_t port)
{
	struct msock *ms = msock_of(q, realm, port);
	struct mrealm *m;
	union sbc_sockaddr a;
	struct epoll_event ev = { .events = EPOLLIN };
	int one = 1, fd, err;

	if (!ms)
		return -EINVAL;
	if (ms->fd >= 0)
		return 0;
	m = &q->mr[realm];
	a = m->local;
	if (a.sa.sa_family == AF_INET6)
		a.v6.sin6_port = htons(port);
	else
		a.v4.sin_port = htons(port);
	fd = socket(a.sa.sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (a.sa.sa_family == AF_INET6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
	ev.data.u64 = EP_MEDIA | (uint64_t)realm << 16 | (uint64_t)(port - m->first);
	if (bind(fd, &a.sa, addr_len(&a)) < 0 || epoll_ctl(q->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		err = errno;
		close(fd);
		return -err;
	}
	ms->fd = fd;
	ms->ready = false;
	q->mopen++;
	return 0;
}

static void socket_media_close(struct io_queue *q, uint16_t realm, uint16_t port)
{
	struct msock *ms = msock_of(q, realm, port);

	if (!ms || ms->fd < 0)
		return;
	close(ms->fd); /* leaves the epoll set with its last descriptor */
	ms->fd = -1;
	if (ms->ready) {
		ms->ready = false;
		mready_remove(q, (uint32_t)realm << 16 | (uint32_t)(port - q->mr[realm].first));
	}
	q->mopen--;
}

static int queue_add_sock(struct io_queue *q, const struct sbc_listen *l, uint16_t realm)
{
	struct sock *s = &q->sock[q->nsock];
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = q->nsock }; /* all 64 bits: EP_MEDIA */
	int fd, err;

	listen_addr(l, &s->local);
	fd = sock_bind(&s->local, true);
	if (fd < 0)
		return fd;
	sock_rcvbuf(fd);
	if (epoll_ctl(q->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		err = errno;
		log_error("epoll_ctl: %s", strerror(err));
		close(fd);
		return -err;
	}
	s->fd = fd;
	s->realm = realm;
	s->ready = true; /* read once before the first wait */
	q->nsock++;
	return 0;
}

static int socket_open(const struct sbc_config *cfg, unsigned id, struct io_queue **out)
{
	unsigned n = io_iface_count(cfg);
	struct io_queue *q = calloc(1, sizeof *q + n * sizeof q->sock[0]);
	int r;

	*out = NULL;
	if (!q)
		return -ENOMEM;
	q->id = id;
	q->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (q->epfd >= 0 && queue_media_init(q, cfg) < 0) {
		socket_close(q);
		return -ENOMEM;
	}
	if (q->epfd < 0) {
		r = -errno;
		log_error("worker %u: cannot set up its queue: %s", id, strerror(-r));
		socket_close(q);
		return r;
	}
	for (size_t i = 0; i < cfg->nrealms; i++) {
		for (size_t j = 0; j < cfg->realms[i].nlisten; j++) {
			r = queue_add_sock(q, &cfg->realms[i].listen[j], (uint16_t)i);
			if (r) {
				socket_close(q);
				return r;
			}
		}
	}
	*out = q;
	return 0;
}

/* Read up to n datagrams of one socket into the caller's buffers of pkts. */
static unsigned sock_rx(struct io_queue *q, unsigned si, struct io_pkt *pkts, unsigned n)
{
	struct sock *s = &q->sock[si];
	int r;

	for (unsigned i = 0; i < n; i++) {
		q->iov[i].iov_base = pkts[i].buf;
		q->iov[i].iov_len = IO_RX_SLOT;
		q->msg[i].msg_hdr = (struct msghdr){
			.msg_name = &pkts[i].src, .msg_namelen = sizeof pkts[i].src,
			.msg_iov = &q->iov[i], .msg_iovlen = 1,
		};
	}
	r = recvmmsg(s->fd, q->msg, n, MSG_DONTWAIT, NULL);
	if (r < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			q->stats.rx_errors++;
		s->ready = false;
		return 0;
	}
	if ((unsigned)r < n)
		s->ready = false; /* drained; epoll tells us when more arrives */
	for (int i = 0; i < r; i++) {
		pkts[i].buf = q->iov[i].iov_base;
		pkts[i].len = q->msg[i].msg_len;
		pkts[i].iface = (uint16_t)si;
		pkts[i].realm = s->realm;
		pkts[i].dst = s->local;
	}
	return (unsigned)r;
}

/* Read the ready media sockets in list order into pkts; a drained socket
 * leaves the list, one that filled the burst goes to its back. */
static unsigned media_rx(struct io_queue *q, struct io_pkt *pkts, unsigned n)
{
	unsigned got = 0, i = 0;

	while (i < q->nmready && got < n) {
		uint32_t key = q->mready[i];
		struct mrealm *m = &q->mr[key >> 16];
		struct msock *ms = &m->s[key & 0xffff];
		unsigned want = n - got;
		int r;

		for (unsigned k = 0; k < want; k++) {
			q->iov[k].iov_base = pkts[got + k].buf;
			q->iov[k].iov_len = IO_RX_SLOT;
			q->msg[k].msg_hdr = (struct msghdr){
				.msg_name = &pkts[got + k].src, .msg_namelen = sizeof pkts[got + k].src,
				.msg_iov = &q->iov[k], .msg_iovlen = 1,
			};
		}
		r = recvmmsg(ms->fd, q->msg, want, MSG_DONTWAIT, NULL);
		if (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			q->stats.rx_errors++;
		for (int k = 0; k < r; k++) {
			struct io_pkt *p = &pkts[got + (unsigned)k];
			p->len = q->msg[k].msg_len;
			p->iface = IO_IFACE_MEDIA;
			p->realm = (uint16_t)(key >> 16);
			p->port = (uint16_t)(m->first + (key & 0xffff));
			p->dst = m->local;
			if (p->dst.sa.sa_family == AF_INET6)
				p->dst.v6.sin6_port = htons(p->port);
			else
				p->dst.v4.sin_port = htons(p->port);
		}
		if (r > 0)
			got += (unsigned)r;
		if (r < 0 || (unsigned)r < want) {
			ms->ready = false; /* drained */
			q->mready[i] = q->mready[--q->nmready];
			continue;
		}
		/* filled the burst: to the back, so the others go first next time */
		memmove(&q->mready[i], &q->mready[i + 1], (q->nmready - i - 1) * sizeof *q->mready);
		q->mready[q->nmready - 1] = key;
		break;
	}
	return got;
}

static unsigned sip_rx(struct io_queue *q, struct io_pkt *pkts, unsigned n)
{
	unsigned got = 0, start = q->next;

	for (unsigned k = 0; k < q->nsock && got < n; k++) {
		unsigned si = (start + k) % q->nsock;
		if (q->sock[si].ready)
			got += sock_rx(q, si, pkts + got, n - got);
	}
	q->next = (start + 1) % q->nsock; /* no socket starves the others */
	return got;
}

static void mark_ready(struct io_queue *q, const struct epoll_event *ev, int n);

static unsigned socket_rx_burst(struct io_queue *q, struct io_pkt *pkts, unsigned n)
{
	unsigned got;

	if (n > IO_BURST_MAX)
		n = IO_BURST_MAX;
	q->media_first = !q->media_first;
	if (q->media_first) {
		got = media_rx(q, pkts, n);
		got += sip_rx(q, pkts + got, n - got);
	} else {
		got = sip_rx(q, pkts, n);
		got += media_rx(q, pkts + got, n - got);
	}
	if (!got && q->mopen) {
		/* Media sockets become ready one by one while we are busy: ask
		 * once without blocking rather than going round the worker's
		 * loop to its wait() for them. */
		struct epoll_event ev[64];
		int r = epoll_wait(q->epfd, ev, 64, 0);
		if (r > 0) {
			mark_ready(q, ev, r);
			got = media_rx(q, pkts, n);
			got += sip_rx(q, pkts + got, n - got);
		}
	}
	return got;
}

/* sendmmsg stops at the first datagram the kernel refuses (EPERM from a
 * firewall, ENETUNREACH ...): count it and go on with the next. */
static unsigned sock_send(struct io_queue *q, int fd, unsigned n)
{
	unsigned off = 0, sent = 0;

	while (off < n) {
		int r = sendmmsg(fd, q->msg + off, n - off, MSG_DONTWAIT);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			q->stats.tx_errors++;
			off++;
			continue;
		}
		off += (unsigned)r;
		sent += (unsigned)r;
	}
	return sent;
}

/* Media packets: one sendmmsg per run of packets leaving from the same
 * relay port (a burst read from one socket is forwarded as one run). */
static unsigned media_tx(struct io_queue *q, const struct io_pkt *pkts, unsigned n)
{
	unsigned sent = 0, k = 0;

	while (k < n) {
		if (pkts[k].iface != IO_IFACE_MEDIA) {
			k++;
			continue;
		}
		unsigned m = 0, end = k;
		uint16_t realm = pkts[k].realm, port = pkts[k].port;
		while (end < n && pkts[end].iface == IO_IFACE_MEDIA && pkts[end].realm == realm &&
		       pkts[end].port == port) {
			q->iov[m] = (struct iovec){ pkts[end].buf, pkts[end].len };
			q->msg[m].msg_hdr = (struct msghdr){
				.msg_name = (void *)&pkts[end].dst,
				.msg_namelen = addr_len(&pkts[end].dst),
				.msg_iov = &q->iov[m], .msg_iovlen = 1,
			};
			m++;
			end++;
		}
		struct msock *ms = msock_of(q, realm, port);
		if (ms && ms->fd >= 0)
			sent += sock_send(q, ms->fd, m);
		else
			q->stats.tx_errors += m; /* closed since the relay decided */
		k = end;
	}
	return sent;
}

/* One sendmmsg per socket that has something to send. */
static unsigned socket_tx_burst(struct io_queue *q, const struct io_pkt *pkts, unsigned n)
{
	unsigned sent = 0;

	if (n > IO_BURST_MAX)
		n = IO_BURST_MAX;
	if (q->mopen)
		sent += media_tx(q, pkts, n);
	for (unsigned si = 0; si < q->nsock; si++) {
		unsigned m = 0;
		for (unsigned k = 0; k < n; k++) {
			if (pkts[k].iface != si)
				continue;
			q->iov[m] = (struct iovec){ pkts[k].buf, pkts[k].len };
			q->msg[m].msg_hdr = (struct msghdr){
				.msg_name = (void *)&pkts[k].dst, .msg_namelen = addr_len(&pkts[k].dst),
				.msg_iov = &q->iov[m], .msg_iovlen = 1,
			};
			m++;
		}
		if (m)
			sent += sock_send(q, q->sock[si].fd, m);
	}
	return sent;
}

static void mark_ready(struct io_queue *q, const struct epoll_event *ev, int n)
{
	for (int i = 0; i < n; i++) {
		uint64_t d = ev[i].data.u64;
		if (d & EP_MEDIA) {
			uint32_t key = (uint32_t)d;
			struct msock *ms = &q->mr[key >> 16].s[key & 0xffff];
			/* (a socket closed since is not reported: close removed it) */
			if (!ms->ready && ms->fd >= 0 && q->nmready < q->mready_cap) {
				ms->ready = true;
				q->mready[q->nmready++] = key;
			}
		} else if (d < q->nsock) {
			q->sock[d].ready = true;
		}
	}
}

static int socket_wait(struct io_queue *q, int timeout_ms)
{
	struct epoll_event ev[64];
	int n = epoll_wait(q->epfd, ev, 64, timeout_ms);

	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	mark_ready(q, ev, n);
	return n;
}

static int socket_watch(struct io_queue *q, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = UINT32_MAX }; /* not EP_MEDIA */

	return epoll_ctl(q->epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

static void socket_stats(const struct io_queue *q, struct io_stats *out)
{
	*out = q->stats;
}

const struct io_backend io_socket_backend = {
	.name = "socket",
	.setup = socket_setup,
	.teardown = socket_teardown,
	.open = socket_open,
	.close = socket_close,
	.rx_burst = socket_rx_burst,
	.tx_burst = socket_tx_burst,
	.wait = socket_wait,
	.stats = socket_stats,
	.watch = socket_watch,
	.media_open = socket_media_open,
	.media_close = socket_media_close,
};
