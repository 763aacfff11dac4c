/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * DPDK backend: the kernel's side of things.
 *
 * The exception TAP of a port is an ordinary kernel interface; giving it
 * the port's IPv4 and IPv6 addresses (with their prefixes) is what makes the
 * kernel's TCP/TLS listeners, SSH and ping-by-the-kernel work through the
 * DPDK port: the kernel owns the same address, the data plane hands it the
 * frames it does not handle itself and sends its replies out. One
 * RTM_NEWADDR per address (NLM_F_REPLACE: restarting is idempotent).
 *
 * DPDK logs through a stdio stream; a cookie stream turns each line into a
 * line of the daemon's log at the matching level (DPDK's INFO is our
 * debug: EAL is chatty).
 */
#include "dpdk.h"

#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include "log.h"

struct nl_addr_req {
	struct nlmsghdr nh;
	struct ifaddrmsg ifa;
	char attrs[64];
};

static void nl_attr(struct nl_addr_req *r, unsigned short type, const void *data, size_t len)
{
	struct rtattr *a = (struct rtattr *)((char *)r + NLMSG_ALIGN(r->nh.nlmsg_len));

	a->rta_type = type;
	a->rta_len = (unsigned short)RTA_LENGTH(len);
	memcpy(RTA_DATA(a), data, len);
	r->nh.nlmsg_len = NLMSG_ALIGN(r->nh.nlmsg_len) + RTA_ALIGN(a->rta_len);
}

/* Send one request and read its acknowledgement: 0 or -errno. */
static int nl_talk(int fd, struct nl_addr_req *r)
{
	char buf[512];
	struct sockaddr_nl to = { .nl_family = AF_NETLINK };
	ssize_t n;

	if (sendto(fd, r, r->nh.nlmsg_len, 0, (struct sockaddr *)&to, sizeof to) < 0)
		return -errno;
	n = recv(fd, buf, sizeof buf, 0);
	if (n < 0)
		return -errno;
	for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (unsigned)n);
	     h = NLMSG_NEXT(h, n)) {
		if (h->nlmsg_type == NLMSG_ERROR) {
			const struct nlmsgerr *e = NLMSG_DATA(h);
			return e->error;
		}
	}
	return -EPROTO;
}

static int link_up(const char *ifname)
{
	struct ifreq ifr;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), r = 0;

	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof ifr);
	snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", ifname);
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0) {
		r = -errno;
	} else if (!(ifr.ifr_flags & IFF_UP)) {
		ifr.ifr_flags |= IFF_UP;
		if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
			r = -errno;
	}
	close(fd);
	return r;
}

int dp_kernel_addresses(const char *ifname, const struct sbc_io_port *cp)
{
	unsigned idx = if_nametoindex(ifname);
	int fd, r = 0;

	if (!idx)
		return -errno;
	r = link_up(ifname);
	if (r)
		return r;
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return -errno;
	for (size_t i = 0; !r && i < cp->naddr; i++) {
		struct nl_addr_req req;

		memset(&req, 0, sizeof req);
		req.nh.nlmsg_len = NLMSG_LENGTH(sizeof req.ifa);
		req.nh.nlmsg_type = RTM_NEWADDR;
		req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE;
		req.nh.nlmsg_seq = (unsigned)i + 1;
		bool v6 = cp->addr[i].ip.family == AF_INET6;
		size_t alen = v6 ? 16 : 4;

		req.ifa.ifa_family = (unsigned char)(v6 ? AF_INET6 : AF_INET);
		req.ifa.ifa_prefixlen = cp->addr[i].len;
		req.ifa.ifa_scope = RT_SCOPE_UNIVERSE;
		req.ifa.ifa_index = idx;
		/* No duplicate address detection: the data plane answers for the
		 * address on the wire, the kernel's probes would go unanswered
		 * anyway, and DAD would hold the address tentative for a second. */
		req.ifa.ifa_flags = v6 ? IFA_F_NODAD : 0;
		nl_attr(&req, IFA_LOCAL, &cp->addr[i].ip.u, alen);
		nl_attr(&req, IFA_ADDRESS, &cp->addr[i].ip.u, alen);
		r = nl_talk(fd, &req);
		if (r == -EEXIST)
			r = 0;
	}
	close(fd);
	return r;
}

/* ---- DPDK's log ------------------------------------------------------------ */

/* Errors DPDK reports that are not ours: net_tap wants the multiq qdisc
 * (sch_multiq) for rte_flow on TAPs, which the backend never uses, and
 * logs its absence as four ERROR lines per TAP; net_tap's multi-process
 * notice fails when there are no secondary processes by design. Shown at
 * debug level instead, so an ERROR in the log always means something. */
static const char *const not_errors[] = {
	"qdisc kind is unknown", "multiq qdisc", "Disabling rte flow support",
	"to secondary",
};

static enum sbc_log_level line_level(enum sbc_log_level l, const char *s, size_t len)
{
	if (l > SBC_LOG_WARN)
		return l;
	for (size_t k = 0; k < sizeof not_errors / sizeof not_errors[0]; k++) {
		if (memmem(s, len, not_errors[k], strlen(not_errors[k])))
			return SBC_LOG_DEBUG;
	}
	return l;
}

static ssize_t log_write(void *cookie, const char *buf, size_t len)
{
	int lvl = rte_log_cur_msg_loglevel();
	enum sbc_log_level l = lvl <= (int)RTE_LOG_ERR ? SBC_LOG_ERROR
			     : lvl == (int)RTE_LOG_WARNING ? SBC_LOG_WARN
			     : lvl == (int)RTE_LOG_NOTICE ? SBC_LOG_INFO : SBC_LOG_DEBUG;
	size_t start = 0;

	(void)cookie;
	for (size_t i = 0; i <= len; i++) {
		if (i < len && buf[i] != '\n')
			continue;
		if (i > start) {
			enum sbc_log_level ll = line_level(l, buf + start, i - start);
			if (sbc_log_enabled(ll))
				sbc_log(ll, "dpdk: %.*s", (int)(i - start), buf + start);
		}
		start = i + 1;
	}
	return (ssize_t)len;
}

void dp_log_redirect(void)
{
	cookie_io_functions_t io = { .write = log_write };
	FILE *f = fopencookie(NULL, "w", io);

	if (!f)
		return;
	setvbuf(f, NULL, _IOLBF, 4096);
	rte_openlog_stream(f);
}
