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

struct io_queue {
	unsigned id;
	int epfd;
	unsigned nsock;
	unsigned next;              /* rx round-robin start */
	struct io_stats stats;
	struct mmsghdr msg[IO_BURST_MAX];
	struct iovec iov[IO_BURST_MAX];
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
	if (q->epfd >= 0)
		close(q->epfd);
	free(q);
}

static int queue_add_sock(struct io_queue *q, const struct sbc_listen *l, uint16_t realm)
{
	struct sock *s = &q->sock[q->nsock];
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = q->nsock };
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

static unsigned socket_rx_burst(struct io_queue *q, struct io_pkt *pkts, unsigned n)
{
	unsigned got = 0, start = q->next;

	if (n > IO_BURST_MAX)
		n = IO_BURST_MAX;
	for (unsigned k = 0; k < q->nsock && got < n; k++) {
		unsigned si = (start + k) % q->nsock;
		if (q->sock[si].ready)
			got += sock_rx(q, si, pkts + got, n - got);
	}
	q->next = (start + 1) % q->nsock; /* no socket starves the others */
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

/* One sendmmsg per socket that has something to send. */
static unsigned socket_tx_burst(struct io_queue *q, const struct io_pkt *pkts, unsigned n)
{
	unsigned sent = 0;

	if (n > IO_BURST_MAX)
		n = IO_BURST_MAX;
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

static int socket_wait(struct io_queue *q, int timeout_ms)
{
	struct epoll_event ev[16];
	int n = epoll_wait(q->epfd, ev, 16, timeout_ms);

	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	for (int i = 0; i < n; i++) {
		if (ev[i].data.u32 < q->nsock)
			q->sock[ev[i].data.u32].ready = true;
	}
	return n;
}

static int socket_watch(struct io_queue *q, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = UINT32_MAX };

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
};
