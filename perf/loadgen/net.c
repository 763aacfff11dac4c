/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * perf/loadgen/net — one non-blocking UDP socket per worker, batched with
 * recvmmsg/sendmmsg, epoll when there is nothing to do.
 *
 * Why batches: on loopback the per-datagram kernel cost is about 1-2 us and
 * a syscall adds about as much again; one sendmmsg of 64 datagrams pays the
 * syscall once. Outgoing messages are built in place in the send batch's
 * own buffers, so nothing is copied before the kernel copies it.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "lg.h"

uint64_t lg_clock_ns(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Large buffers absorb the bursts of a batch at 10k+ calls/s; the FORCE
 * variants pass the sysctl caps when we run as root. */
void lg_net_bufs(int fd)
{
	int sz = 16 << 20;

	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)) < 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz)) < 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
}

static int bind_socket(struct lg_worker *w)
{
	union sbc_sockaddr a = w->o->local;
	socklen_t alen = a.sa.sa_family == AF_INET6 ? sizeof(a.v6) : sizeof(a.v4);
	int one = 1;
	uint16_t port = sbc_addr_port(&a);

	w->fd = socket(a.sa.sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (w->fd < 0)
		return -errno;
	lg_net_bufs(w->fd);
	/* A UAS's threads share one port: the kernel spreads peers over them
	 * by 4-tuple, so a dialog's messages all reach the same thread. A
	 * UAC's threads take consecutive ports: responses follow the Via.
	 * One thread never sets SO_REUSEPORT, so a forgotten instance on the
	 * same port is an error instead of silently taking half the calls. */
	if (w->o->role == LG_UAS && port != 0 && w->o->threads > 1)
		(void)setsockopt(w->fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	else if (port != 0)
		sbc_addr_set_port(&a, (uint16_t)(port + w->id));
	if (bind(w->fd, &a.sa, alen) < 0)
		return -errno;
	alen = sizeof(w->local);
	if (getsockname(w->fd, &w->local.sa, &alen) < 0)
		return -errno;
	return 0;
}

int lg_net_open(struct lg_worker *w)
{
	struct epoll_event ev = { .events = EPOLLIN };
	int r = bind_socket(w);
	int n;

	if (r < 0)
		return r;
	n = sbc_addr_hostport(&w->local, w->local_hp, sizeof(w->local_hp));
	w->local_hp_len = n < 0 ? 0 : (uint32_t)n;
	n = sbc_addr_ip_str(&w->local, w->local_ip, sizeof(w->local_ip));
	w->local_ip_len = n < 0 ? 0 : (uint32_t)n;
	w->ep = epoll_create1(EPOLL_CLOEXEC);
	if (w->ep < 0 || epoll_ctl(w->ep, EPOLL_CTL_ADD, w->fd, &ev) < 0)
		return -errno;
	w->rx_buf = malloc((size_t)LG_BATCH * LG_RX_SLOT);
	w->tx_buf = malloc((size_t)LG_BATCH * LG_MSG_MAX);
	if (!w->rx_buf || !w->tx_buf)
		return -ENOMEM;
	for (unsigned i = 0; i < LG_BATCH; i++) {
		w->rx_iov[i].iov_base = w->rx_buf + (size_t)i * LG_RX_SLOT;
		w->rx_iov[i].iov_len = LG_RX_SLOT;
		w->rx_mh[i].msg_hdr.msg_iov = &w->rx_iov[i];
		w->rx_mh[i].msg_hdr.msg_iovlen = 1;
		w->rx_mh[i].msg_hdr.msg_name = &w->rx_addr[i];
		w->tx_iov[i].iov_base = w->tx_buf + (size_t)i * LG_MSG_MAX;
		w->tx_mh[i].msg_hdr.msg_iov = &w->tx_iov[i];
		w->tx_mh[i].msg_hdr.msg_iovlen = 1;
		w->tx_mh[i].msg_hdr.msg_name = &w->tx_addr[i];
	}
	return 0;
}

void lg_net_close(struct lg_worker *w)
{
	if (w->fd >= 0)
		close(w->fd);
	if (w->ep >= 0)
		close(w->ep);
	free(w->rx_buf);
	free(w->tx_buf);
	w->fd = w->ep = -1;
	w->rx_buf = w->tx_buf = NULL;
}

char *lg_tx_slot(struct lg_worker *w)
{
	if (w->ntx == LG_BATCH)
		lg_tx_flush(w);
	return w->tx_buf + (size_t)w->ntx * LG_MSG_MAX;
}

void lg_tx_commit(struct lg_worker *w, uint32_t len, const union sbc_sockaddr *dst)
{
	unsigned i = w->ntx++;

	w->tx_iov[i].iov_len = len;
	w->tx_addr[i] = *dst;
	w->tx_mh[i].msg_hdr.msg_namelen = dst->sa.sa_family == AF_INET6 ? sizeof(dst->v6)
									 : sizeof(dst->v4);
	w->st.msgs_sent++;
	w->st.bytes_sent += len;
}

void lg_tx_copy(struct lg_worker *w, const char *buf, uint32_t len, const union sbc_sockaddr *dst)
{
	char *p = lg_tx_slot(w);

	if (len > LG_MSG_MAX)
		return;
	memcpy(p, buf, len);
	lg_tx_commit(w, len, dst);
}

/* The socket buffer is full: give the kernel up to 2 ms to drain it once. */
static bool wait_writable(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLOUT };

	return poll(&p, 1, 2) == 1;
}

void lg_tx_flush(struct lg_worker *w)
{
	unsigned i = 0;
	bool waited = false;

	while (i < w->ntx) {
		int r = sendmmsg(w->fd, w->tx_mh + i, w->ntx - i, 0);

		if (r > 0) {
			i += (unsigned)r;
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == ENOBUFS) && !waited) {
			waited = true;
			if (wait_writable(w->fd))
				continue;
		}
		if (r < 0 && (errno == EAGAIN || errno == ENOBUFS)) {
			/* Lost like on a congested network: retransmissions recover. */
			w->st.tx_dropped += w->ntx - i;
			break;
		}
		/* One datagram the kernel refuses (e.g. EMSGSIZE): skip it. */
		w->st.tx_dropped++;
		i++;
	}
	w->ntx = 0;
}

unsigned lg_rx_burst(struct lg_worker *w,
		     void (*handle)(struct lg_worker *, const char *, uint32_t,
				    const union sbc_sockaddr *))
{
	int n;

	for (unsigned i = 0; i < LG_BATCH; i++) {
		w->rx_mh[i].msg_hdr.msg_namelen = sizeof(w->rx_addr[i]);
		w->rx_mh[i].msg_hdr.msg_flags = 0;
	}
	n = recvmmsg(w->fd, w->rx_mh, LG_BATCH, MSG_DONTWAIT, NULL);
	if (n <= 0)
		return 0;
	/* One clock read per batch: latency is measured to the batch. */
	w->now_ns = lg_clock_ns();
	w->t_last_rx_ns = w->now_ns;
	atomic_store_explicit(&lg_last_rx_ns, w->now_ns, memory_order_relaxed);
	for (int i = 0; i < n; i++) {
		uint32_t len = w->rx_mh[i].msg_len;

		w->st.msgs_rcvd++;
		w->st.bytes_rcvd += len;
		if (w->rx_mh[i].msg_hdr.msg_flags & MSG_TRUNC) {
			w->st.rx_truncated++;
			continue;
		}
		handle(w, w->rx_iov[i].iov_base, len, &w->rx_addr[i]);
	}
	return (unsigned)n;
}

void lg_wait(struct lg_worker *w, int timeout_ms)
{
	struct epoll_event ev;

	(void)epoll_wait(w->ep, &ev, 1, timeout_ms);
}
