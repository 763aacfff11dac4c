/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * rtpblast — RTP sender/receiver pair for relay benchmarks (perf/rtp-bench).
 *
 *   rtpblast [--rate PPS] [--dur SEC] [--size BYTES] [--batch N]
 *            --ep LOCAL_IP:PORT,RELAY_IP:PORT ...
 *
 * Every --ep is one media endpoint: a UDP socket bound to LOCAL (the address
 * its SDP advertised, so the relay's latching sees the expected source) that
 * sends RTP to RELAY (the relay port offered to it) and counts what it
 * receives (the other endpoint's stream, relayed). One thread sends, one
 * receives (epoll + recvmmsg). The total rate is spread evenly over the
 * endpoints in bursts of --batch packets per endpoint (sendmmsg); --rate 0
 * sends as fast as it can. Packets are RTP v2, PT 0 (PCMU), 20 ms of G.711
 * (172 bytes by default), one SSRC per endpoint, sequence and timestamp
 * counting up. After the sending time it waits 300 ms for stragglers and
 * prints one line of key=value figures (sent, received, per second, loss).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_EP 4096
#define MAX_BATCH 64

struct ep {
	int fd;
	struct sockaddr_in relay;
	uint16_t seq;
	uint32_t ts, ssrc;
	uint64_t sent, rcvd;
};

static struct ep eps[MAX_EP];
static unsigned nep;
static atomic_bool stop_rx;
static size_t psize = 172;

static uint64_t now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static int parse_addr(const char *s, struct sockaddr_in *a)
{
	char ip[64];
	const char *c = strrchr(s, ':');
	if (!c || (size_t)(c - s) >= sizeof ip)
		return -1;
	memcpy(ip, s, (size_t)(c - s));
	ip[c - s] = 0;
	memset(a, 0, sizeof *a);
	a->sin_family = AF_INET;
	a->sin_port = htons((uint16_t)atoi(c + 1));
	return inet_pton(AF_INET, ip, &a->sin_addr) == 1 ? 0 : -1;
}

static int add_ep(const char *spec)
{
	char buf[160];
	struct sockaddr_in local;
	struct ep *e = &eps[nep];
	int one = 1, sz = 4 << 20;

	snprintf(buf, sizeof buf, "%s", spec);
	char *comma = strchr(buf, ',');
	if (!comma || nep >= MAX_EP)
		return -1;
	*comma = 0;
	if (parse_addr(buf, &local) < 0 || parse_addr(comma + 1, &e->relay) < 0)
		return -1;
	e->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	if (e->fd < 0)
		return -1;
	(void)setsockopt(e->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	(void)setsockopt(e->fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof sz);
	(void)setsockopt(e->fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof sz);
	if (bind(e->fd, (struct sockaddr *)&local, sizeof local) < 0) {
		fprintf(stderr, "rtpblast: bind %s: %s\n", buf, strerror(errno));
		return -1;
	}
	e->ssrc = 0x5bc00000u + nep;
	e->seq = (uint16_t)(nep * 1000);
	nep++;
	return 0;
}

static void *rx_main(void *arg)
{
	int ep = epoll_create1(0);
	static char bufs[MAX_BATCH][2048];
	struct mmsghdr msg[MAX_BATCH];
	struct iovec iov[MAX_BATCH];

	(void)arg;
	for (unsigned i = 0; i < nep; i++) {
		struct epoll_event ev = { .events = EPOLLIN, .data.u32 = i };
		epoll_ctl(ep, EPOLL_CTL_ADD, eps[i].fd, &ev);
	}
	for (unsigned i = 0; i < MAX_BATCH; i++) {
		iov[i] = (struct iovec){ bufs[i], sizeof bufs[i] };
		msg[i].msg_hdr = (struct msghdr){ .msg_iov = &iov[i], .msg_iovlen = 1 };
	}
	while (!atomic_load(&stop_rx)) {
		struct epoll_event ev[256];
		int n = epoll_wait(ep, ev, 256, 50);
		for (int k = 0; k < n; k++) {
			struct ep *e = &eps[ev[k].data.u32];
			int r;
			while ((r = recvmmsg(e->fd, msg, MAX_BATCH, MSG_DONTWAIT, NULL)) > 0)
				e->rcvd += (uint64_t)r;
		}
	}
	close(ep);
	return NULL;
}

/* One burst of `count` packets from endpoint e. */
static void burst(struct ep *e, unsigned count, char (*pk)[2048])
{
	struct mmsghdr msg[MAX_BATCH];
	struct iovec iov[MAX_BATCH];

	for (unsigned i = 0; i < count; i++) {
		unsigned char *p = (unsigned char *)pk[i];
		uint16_t seq = e->seq++;
		uint32_t ts = e->ts += 160;
		p[0] = 0x80;
		p[1] = 0;
		p[2] = (unsigned char)(seq >> 8);
		p[3] = (unsigned char)seq;
		for (int b = 0; b < 4; b++) {
			p[4 + b] = (unsigned char)(ts >> (24 - 8 * b));
			p[8 + b] = (unsigned char)(e->ssrc >> (24 - 8 * b));
		}
		iov[i] = (struct iovec){ pk[i], psize };
		msg[i].msg_hdr = (struct msghdr){ .msg_name = &e->relay, .msg_namelen = sizeof e->relay,
						  .msg_iov = &iov[i], .msg_iovlen = 1 };
	}
	int r = sendmmsg(e->fd, msg, count, 0);
	if (r > 0)
		e->sent += (uint64_t)r;
}

int main(int argc, char **argv)
{
	double rate = 0, dur = 5;
	unsigned batch = 8;
	static char pk[MAX_BATCH][2048];
	pthread_t rx;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--rate") && i + 1 < argc)
			rate = atof(argv[++i]);
		else if (!strcmp(argv[i], "--dur") && i + 1 < argc)
			dur = atof(argv[++i]);
		else if (!strcmp(argv[i], "--size") && i + 1 < argc)
			psize = (size_t)atoi(argv[++i]);
		else if (!strcmp(argv[i], "--batch") && i + 1 < argc)
			batch = (unsigned)atoi(argv[++i]);
		else if (!strcmp(argv[i], "--ep") && i + 1 < argc) {
			if (add_ep(argv[++i]) < 0) {
				fprintf(stderr, "rtpblast: bad endpoint %s\n", argv[i]);
				return 2;
			}
		} else {
			fprintf(stderr, "usage: rtpblast [--rate PPS] [--dur S] [--size B] [--batch N] "
					"--ep LOCAL:PORT,RELAY:PORT ...\n");
			return 2;
		}
	}
	if (!nep || psize < 12 || psize > 2000 || !batch || batch > MAX_BATCH)
		return 2;
	memset(pk, 0, sizeof pk);
	pthread_create(&rx, NULL, rx_main, NULL);
	uint64_t t0 = now_ns(), end = t0 + (uint64_t)(dur * 1e9), sent = 0;
	/* a burst of `batch` packets from each endpoint in turn; at a set
	 * rate, bursts are released on schedule (sleeping when ahead) */
	while (now_ns() < end) {
		for (unsigned i = 0; i < nep; i++) {
			burst(&eps[i], batch, pk);
			sent += batch;
		}
		if (rate > 0) {
			uint64_t due = t0 + (uint64_t)((double)sent / rate * 1e9), now = now_ns();
			if (due > now) {
				struct timespec ts = { (time_t)((due - now) / 1000000000u),
						       (long)((due - now) % 1000000000u) };
				nanosleep(&ts, NULL);
			}
		}
	}
	uint64_t t1 = now_ns();
	struct timespec grace = { 0, 300000000 };
	nanosleep(&grace, NULL);
	atomic_store(&stop_rx, true);
	pthread_join(rx, NULL);
	uint64_t tx = 0, rcv = 0;
	for (unsigned i = 0; i < nep; i++) {
		tx += eps[i].sent;
		rcv += eps[i].rcvd;
	}
	double secs = (double)(t1 - t0) / 1e9;
	printf("endpoints=%u size=%zu secs=%.3f sent=%llu received=%llu sent_pps=%.0f "
	       "received_pps=%.0f loss=%.4f\n",
	       nep, psize, secs, (unsigned long long)tx, (unsigned long long)rcv, (double)tx / secs,
	       (double)rcv / secs, tx ? 1.0 - (double)rcv / (double)tx : 0.0);
	return 0;
}
