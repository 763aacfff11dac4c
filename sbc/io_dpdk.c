/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * DPDK poll-mode backend (io: { backend: dpdk }).
 *
 * Start-up (main thread, setup()): EAL is initialised with the configured
 * arguments plus what the ports need (--vdev for virtual devices, -a for PCI
 * ones unless the user allow-lists devices, a net_tap per kernel_tap,
 * --no-pci when no port is PCI, -l with one core unless given: our workers
 * are our own threads, not EAL lcores). The main thread's CPU affinity is
 * restored afterwards, or every worker would inherit EAL's pinning to the
 * main lcore. Every port gets one RX and one TX queue per worker, RSS on
 * L3 fields only (a source always lands on the same worker; fragments of
 * a datagram too), checksum offloads where the device has them, and one
 * mbuf pool per NUMA node with ports.
 *
 * The worker (rx_burst/tx_burst/wait, on its own thread):
 *   rx_burst   polls its queue of every port (round-robin start so no port
 *              starves the others) and its queue of every kernel TAP. Frames:
 *                ARP          answered / learnt here (dpdk_arp.c)
 *                IPv4, IPv6   checked, reassembled, ICMP echo answered,
 *                             neighbour discovery (IPv6), UDP to a listen
 *                             address copied into the caller's buffer
 *                             (dpdk_ip.c, dpdk_ip6.c)
 *                anything else, and IP the data plane does not serve
 *                             (TCP, other UDP ports, router adverts ...):
 *                             to the kernel through the port's TAP, if
 *                             configured
 *              Frames from a TAP (the kernel's replies, its ARP, its TCP)
 *              go out of the port unchanged. Every few ms: neighbour and
 *              reassembly timers. One flush of every TX buffer at the end.
 *   tx_burst   builds Ethernet/IP/UDP around a copy of each datagram
 *              (fragmenting above the MTU), or rewrites a lent frame in
 *              place (below), resolves the next hop, flushes.
 *   wait       busy polling, or with power_saving a back-off: DP_IDLE_SPINS
 *              polls with a pause, then sleeps doubling from 1 us up to
 *              io.idle_sleep_us (the latency bound), cut short by a write
 *              to the worker's wake-up eventfd (watch()).
 *
 * Media relay ports (io.h media_open/media_close): no socket is needed;
 * UDP to a realm's media address inside its relay range is delivered with
 * iface IO_IFACE_MEDIA, realm and port, to the worker owning the port
 * (lib/media's media_port_owner(): RSS spreads by source address, so the
 * worker that received it hands the mbuf to the owner through the owner's
 * ring, no copy, and wakes it if it sleeps). media_open/close are checks
 * and bookkeeping only. Replies leave from the realm's media address and
 * the relay port (symmetric RTP).
 *
 * RTP/RTCP relayed in place (io.h "packets lent by the backend"): a
 * relay-port datagram whose frame is one segment, ours alone (direct,
 * reference count 1) with a plain IPv4 (20-byte) or IPv6 header is lent
 * to the worker: buf points at the payload in the mbuf, ref is the mbuf
 * (MEDIA_LENT). When the worker's relay forwards it, tx_burst rewrites
 * that frame into what the copy path would have built (our MAC and
 * address, the relay port, the peer's address and port, fresh IPv4 ID,
 * TTL/hop limit 64), with the IPv4 header checksum and the UDP checksum
 * offloaded where the port can, else the header's computed and the UDP
 * checksum updated for the changed words only (RFC 1624, lib/util/csum.h),
 * and sends it: the payload is never touched (MEDIA_INPLACE). What stays
 * on the copy path (MEDIA_COPIED): reassembled or chained frames, frames
 * shared with another owner, IPv4 options or IPv6 extension headers,
 * datagrams that must be fragmented on the way out, and relays between an
 * IPv4 and an IPv6 realm (the header sizes differ; rare, so a copy rather
 * than moving the frame's start). Frames the relay drops go back through
 * release() (MEDIA_RELEASED). SIP always takes the copy path: the worker
 * owns those buffers and hands them between workers.
 *
 * IPv4 and IPv6 (with neighbour discovery) in the data plane; IPv6 on a
 * port without IPv6 addresses goes to the kernel like any other protocol.
 */
#include "dpdk.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sys/prctl.h>

#include "log.h"

#define DP_HOUSEKEEPING_MS 10u
#define DP_IDLE_SPINS      512u     /* empty polls before sleeping */
#define DP_FRAG_FLOWS      128u     /* datagrams in reassembly per worker */
#define DP_FRAG_TIMEOUT_MS 5000u
#define DP_NBR_RING        512u     /* neighbour updates waiting per worker */
#define DP_MEDIA_RING      2048u    /* relay-port frames waiting for their owner */
#define DP_POOL_CACHE      256u
#define DP_MAX_ARGS        (SBC_IO_MAX_EAL_ARGS + 3 * SBC_IO_MAX_PORTS + 8)

struct dp_global dp;
bool dp_eal_external;
bool dp_media_copy;

static struct {
	bool eal;                         /* rte_eal_init succeeded */
	bool port_started[SBC_IO_MAX_PORTS];
	bool tap_started[SBC_IO_MAX_PORTS];
	struct rte_mempool *pool[RTE_MAX_NUMA_NODES];
	char *argv[DP_MAX_ARGS];
	int argc;
} st;

static const char *const ctr_names[] = {
#define DP_C_NAME(name, text) #name,
	DP_COUNTERS(DP_C_NAME)
#undef DP_C_NAME
};

/* ---- EAL arguments -------------------------------------------------------- */

/* Does the user's EAL argument list hold one of opts ("-l" matches "-l",
 * "-l0"; "--lcores" matches "--lcores" and "--lcores=...")? */
static bool user_has(const struct sbc_io *io, const char *const *opts)
{
	for (size_t i = 0; i < io->neal_args; i++) {
		const char *a = io->eal_args[i];
		for (const char *const *o = opts; *o; o++) {
			size_t l = strlen(*o);
			if (!strncmp(a, *o, l) &&
			    (!a[l] || ((*o)[1] != '-' ? true : a[l] == '=')))
				return true;
		}
	}
	return false;
}

static bool is_pci(const char *dev)
{
	return strncmp(dev, "net_", 4) != 0;
}

static int arg_add(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int arg_add(const char *fmt, ...)
{
	va_list ap;
	char *s;
	int r;

	if (st.argc >= (int)DP_MAX_ARGS)
		return -E2BIG;
	va_start(ap, fmt);
	r = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (r < 0)
		return -ENOMEM;
	st.argv[st.argc++] = s;
	return 0;
}

static void args_free(void)
{
	for (int i = 0; i < st.argc; i++)
		free(st.argv[i]);
	st.argc = 0;
}

/* The first CPU this thread may run on: EAL's main lcore. */
static int first_cpu(const cpu_set_t *set)
{
	for (int c = 0; c < CPU_SETSIZE; c++) {
		if (CPU_ISSET(c, set))
			return c;
	}
	return 0;
}

static int build_args(const struct sbc_io *io, const cpu_set_t *cpus)
{
	static const char *const pci_opts[] = { "-a", "--allow", "-b", "--block",
						"--pci-whitelist", "--pci-blacklist", NULL };
	static const char *const nopci_opts[] = { "-a", "--allow", "-b", "--block", "--no-pci",
						  "--pci-whitelist", "--pci-blacklist", NULL };
	static const char *const lcore_opts[] = { "-l", "-c", "--lcores", NULL };
	bool any_pci = false;
	int r = arg_add("sbc");

	for (size_t i = 0; !r && i < io->neal_args; i++)
		r = arg_add("%s", io->eal_args[i]);
	for (size_t i = 0; !r && i < io->nports; i++) {
		const char *dev = io->ports[i].device;

		if (is_pci(dev)) {
			any_pci = true;
			if (!user_has(io, pci_opts))
				r = arg_add("-a") ?: arg_add("%s", dev);
		} else if ((!strncmp(dev, "net_af_packet", 13)) && !strstr(dev, "qpairs=")) {
			/* af_packet has one queue pair unless told: one per worker. */
			r = arg_add("--vdev=%s,qpairs=%u", dev, dp.nworkers);
		} else {
			r = arg_add("--vdev=%s", dev);
		}
		if (!r && io->ports[i].kernel_tap[0])
			r = arg_add("--vdev=net_tap_sbc%zu,iface=%s", i, io->ports[i].kernel_tap);
	}
	if (!r && !any_pci && !user_has(io, nopci_opts))
		r = arg_add("--no-pci");
	if (!r && !user_has(io, lcore_opts))
		r = arg_add("-l") ?: arg_add("%d", first_cpu(cpus));
	return r;
}

/* Free hugepages of every size, from sysfs; -1 if it cannot be read. */
static long free_hugepages(void)
{
	static const char *const sizes[] = { "hugepages-2048kB", "hugepages-1048576kB" };
	long total = -1;

	for (size_t i = 0; i < 2; i++) {
		char path[128];
		long v;
		FILE *f;

		snprintf(path, sizeof path, "/sys/kernel/mm/hugepages/%s/free_hugepages", sizes[i]);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fscanf(f, "%ld", &v) == 1)
			total = (total < 0 ? 0 : total) + v;
		fclose(f);
	}
	return total;
}

static int eal_start(const struct sbc_io *io)
{
	static const char *const nohuge[] = { "--no-huge", NULL };
	cpu_set_t cpus;
	char line[1024];
	size_t used = 0;
	int r;

	if (!user_has(io, nohuge) && free_hugepages() == 0) {
		log_error("io.eal_args: no free hugepages for DPDK. Reserve some "
			  "(echo 512 > /proc/sys/vm/nr_hugepages, and mount hugetlbfs: "
			  "mount -t hugetlbfs nodev /dev/hugepages) or add \"--no-huge\" to "
			  "io.eal_args (plain memory: fine for tests and virtual devices, slower)");
		return -ENOMEM;
	}
	if (pthread_getaffinity_np(pthread_self(), sizeof cpus, &cpus)) {
		CPU_ZERO(&cpus);
		CPU_SET(0, &cpus);
	}
	r = build_args(io, &cpus);
	if (r) {
		log_error("io.eal_args: cannot build the EAL arguments: %s", strerror(-r));
		return r;
	}
	for (int i = 0; i < st.argc && used < sizeof line; i++)
		used += (size_t)snprintf(line + used, sizeof line - used, "%s%s", i ? " " : "",
					 st.argv[i]);
	log_info("dpdk: EAL arguments: %s", line);
	dp_log_redirect();
	{
		/* rte_eal_init permutes its argv: give it a copy of the pointers. */
		char *argv[DP_MAX_ARGS];
		memcpy(argv, st.argv, sizeof(char *) * (size_t)st.argc);
		r = rte_eal_init(st.argc, argv);
	}
	if (r < 0) {
		int err = rte_errno;
		log_error("dpdk: EAL initialisation failed: %s%s", rte_strerror(err),
			  err == EALREADY ? " (another DPDK process uses the same --file-prefix, "
					    "or EAL was initialised twice)"
			  : err == EACCES ? " (needs root or CAP_SYS_ADMIN/CAP_NET_ADMIN/"
					    "CAP_IPC_LOCK)"
					  : " (see the DPDK messages above; check io.eal_args)");
		return -(err ? err : EINVAL);
	}
	st.eal = true;
	/* EAL pinned this thread to the main lcore; the workers we start
	 * inherit our affinity, so give the thread its original set back. */
	(void)pthread_setaffinity_np(pthread_self(), sizeof cpus, &cpus);
	dp.tsc_hz = rte_get_tsc_hz();
	dp.tsc_per_ms = dp.tsc_hz / 1000 ? dp.tsc_hz / 1000 : 1;
	return 0;
}

/* ---- ports ------------------------------------------------------------------ */

static int find_port(const char *name, uint16_t *id)
{
	char pci[64];
	uint16_t p;

	if (rte_eth_dev_get_port_by_name(name, id) == 0)
		return 0;
	/* "03:00.0" is "0000:03:00.0" to EAL. */
	snprintf(pci, sizeof pci, "0000:%s", name);
	if (strlen(name) == 7 && rte_eth_dev_get_port_by_name(pci, id) == 0)
		return 0;
	RTE_ETH_FOREACH_DEV(p) {
		struct rte_eth_dev_info di;
		if (rte_eth_dev_info_get(p, &di) == 0 && di.device &&
		    !strcmp(rte_dev_name(di.device), name)) {
			*id = p;
			return 0;
		}
	}
	return -ENODEV;
}

static struct rte_mempool *pool_for(int socket)
{
	char name[RTE_MEMPOOL_NAMESIZE];
	const struct sbc_io *io = &dp.cfg->io;

	if (socket < 0 || socket >= RTE_MAX_NUMA_NODES)
		socket = 0;
	if (st.pool[socket])
		return st.pool[socket];
	snprintf(name, sizeof name, "sbc_mbuf_%d", socket);
	st.pool[socket] = rte_pktmbuf_pool_create(name, io->mbufs, DP_POOL_CACHE, 0,
						  (uint16_t)io->mbuf_size, socket);
	if (!st.pool[socket])
		log_error("io.mbufs: cannot create %u packet buffers of %u bytes on NUMA node %d: "
			  "%s (give DPDK more memory: -m in io.eal_args or more hugepages, or "
			  "lower io.mbufs)", io->mbufs, io->mbuf_size, socket,
			  rte_strerror(rte_errno));
	return st.pool[socket];
}

/* Queues of device id (a port or a TAP) for every worker, started. */
static int dev_start(const char *what, uint16_t id, struct rte_eth_conf *conf,
		     struct rte_mempool *pool, int socket, const struct rte_eth_dev_info *di)
{
	uint16_t nrx = (uint16_t)dp.cfg->io.rx_queue_size, ntx = (uint16_t)dp.cfg->io.tx_queue_size;
	struct rte_eth_rxconf rxc = di->default_rxconf;
	struct rte_eth_txconf txc = di->default_txconf;
	int r;

	r = rte_eth_dev_configure(id, (uint16_t)dp.nworkers, (uint16_t)dp.nworkers, conf);
	if (r < 0) {
		log_error("%s: cannot configure %u queue pairs: %s", what, dp.nworkers, strerror(-r));
		return r;
	}
	r = rte_eth_dev_adjust_nb_rx_tx_desc(id, &nrx, &ntx);
	if (r < 0) {
		log_error("%s: queue sizes %u/%u not usable: %s", what, dp.cfg->io.rx_queue_size,
			  dp.cfg->io.tx_queue_size, strerror(-r));
		return r;
	}
	rxc.offloads = conf->rxmode.offloads;
	txc.offloads = conf->txmode.offloads;
	for (unsigned q = 0; q < dp.nworkers; q++) {
		r = rte_eth_rx_queue_setup(id, (uint16_t)q, nrx, (unsigned)socket, &rxc, pool);
		if (r < 0) {
			log_error("%s: RX queue %u: %s%s", what, q, strerror(-r),
				  r == -ENOMEM ? " (net_af_packet: its framesz must fit in "
						 "io.mbuf_size - 128; or DPDK is short of memory)" : "");
			return r;
		}
		r = rte_eth_tx_queue_setup(id, (uint16_t)q, ntx, (unsigned)socket, &txc);
		if (r < 0) {
			log_error("%s: TX queue %u: %s", what, q, strerror(-r));
			return r;
		}
	}
	return 0;
}

static int tap_setup(unsigned i)
{
	const struct sbc_io_port *cp = &dp.cfg->io.ports[i];
	struct dp_port *p = &dp.port[i];
	struct rte_eth_conf conf;
	struct rte_eth_dev_info di;
	char name[64], what[96];
	uint16_t id;
	int r;

	snprintf(name, sizeof name, "net_tap_sbc%u", i);
	snprintf(what, sizeof what, "io.ports[%u].kernel_tap %s", i, cp->kernel_tap);
	if (find_port(name, &id) < 0) {
		log_error("%s: the TAP was not created (see the DPDK messages above: an "
			  "interface of that name may exist already)", what);
		return -ENODEV;
	}
	r = rte_eth_dev_info_get(id, &di);
	if (r < 0)
		return r;
	if (di.max_rx_queues < dp.nworkers || di.max_tx_queues < dp.nworkers) {
		log_error("%s: a TAP has at most %u queues, %u workers need one each", what,
			  di.max_rx_queues < di.max_tx_queues ? di.max_rx_queues : di.max_tx_queues,
			  dp.nworkers);
		return -EINVAL;
	}
	memset(&conf, 0, sizeof conf);
	conf.txmode.offloads = RTE_ETH_TX_OFFLOAD_MULTI_SEGS & di.tx_offload_capa;
	r = dev_start(what, id, &conf, p->pool, rte_eth_dev_socket_id(p->id), &di);
	if (r)
		return r;
	/* The kernel sends with the port's MAC and takes frames for it. */
	r = rte_eth_dev_default_mac_addr_set(id, &p->mac);
	if (r < 0)
		log_warn("%s: cannot set its MAC to the port's: %s", what, strerror(-r));
	r = rte_eth_dev_set_mtu(id, p->mtu);
	if (r < 0)
		log_warn("%s: cannot set its MTU to %u: %s", what, p->mtu, strerror(-r));
	r = rte_eth_dev_start(id);
	if (r < 0) {
		log_error("%s: cannot start: %s", what, strerror(-r));
		return r;
	}
	st.tap_started[i] = true;
	p->tap = id;
	r = dp_kernel_addresses(cp->kernel_tap, cp);
	if (r)
		log_warn("%s: cannot give the kernel interface the port's addresses: %s "
			 "(configure them by hand)", what, strerror(-r));
	log_info("dpdk: %s: exception path to the kernel", what);
	return 0;
}

static int port_setup(unsigned i)
{
	const struct sbc_io_port *cp = &dp.cfg->io.ports[i];
	struct dp_port *p = &dp.port[i];
	struct rte_eth_dev_info di;
	struct rte_eth_conf conf;
	struct rte_ether_addr devmac;
	char what[300];
	size_t nlen = strcspn(cp->device, ",");
	int socket, r;

	p->idx = (uint16_t)i;
	p->tap = DP_NONE;
	p->nq = (uint16_t)dp.nworkers;
	snprintf(p->name, sizeof p->name, "%.*s", (int)nlen, cp->device);
	snprintf(what, sizeof what, "io.ports[%u] (%s)", i, p->name);
	if (find_port(p->name, &p->id) < 0) {
		log_error("io.ports[%u].device: no DPDK port \"%s\" (%s)", i, p->name,
			  is_pci(cp->device)
				  ? "is the device bound to vfio-pci or uio (dpdk-devbind.py --status) "
				    "and allowed by io.eal_args?"
				  : "see the DPDK messages above: does the interface exist, is the "
				    "driver installed?");
		return -ENODEV;
	}
	r = rte_eth_dev_info_get(p->id, &di);
	if (r < 0) {
		log_error("%s: no device information: %s", what, strerror(-r));
		return r;
	}
	if (di.max_rx_queues < dp.nworkers || di.max_tx_queues < dp.nworkers) {
		log_error("%s: not enough queues: the device has %u RX and %u TX queues, %u workers "
			  "need one of each%s", what, di.max_rx_queues, di.max_tx_queues, dp.nworkers,
			  !strncmp(p->name, "net_af_packet", 13)
				  ? " (add qpairs=N to the device arguments)"
				  : " (lower workers:, or use a device with more queues)");
		return -EINVAL;
	}
	memset(&conf, 0, sizeof conf);
	if (dp.nworkers > 1) {
		/* L3 fields only: every packet of a source, fragments included,
		 * reaches the same worker (DESIGN: rate limiting at first touch). */
		uint64_t hf = (RTE_ETH_RSS_IPV4 | RTE_ETH_RSS_FRAG_IPV4 |
			       RTE_ETH_RSS_NONFRAG_IPV4_OTHER) & di.flow_type_rss_offloads;
		if (hf) {
			conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
			conf.rx_adv_conf.rss_conf.rss_hf = hf;
		} else {
			log_info("dpdk: %s: no RSS; the device spreads packets over the queues itself%s",
				 what, !strncmp(p->name, "net_af_packet", 13)
					       ? " (af_packet: the kernel's flow-hash fanout)" : "");
		}
	}
	conf.rxmode.offloads = (RTE_ETH_RX_OFFLOAD_IPV4_CKSUM | RTE_ETH_RX_OFFLOAD_UDP_CKSUM) &
			       di.rx_offload_capa;
	conf.txmode.offloads = (RTE_ETH_TX_OFFLOAD_IPV4_CKSUM | RTE_ETH_TX_OFFLOAD_UDP_CKSUM |
				RTE_ETH_TX_OFFLOAD_MULTI_SEGS) & di.tx_offload_capa;
	if (cp->mtu) {
		if (cp->mtu > di.max_mtu || cp->mtu < di.min_mtu) {
			log_error("io.ports[%u].mtu: %u is outside what %s supports (%u-%u)", i, cp->mtu,
				  p->name, di.min_mtu, di.max_mtu);
			return -EINVAL;
		}
		conf.rxmode.mtu = cp->mtu;
	}
	p->rx_ip_csum = conf.rxmode.offloads & RTE_ETH_RX_OFFLOAD_IPV4_CKSUM;
	p->rx_udp_csum = conf.rxmode.offloads & RTE_ETH_RX_OFFLOAD_UDP_CKSUM;
	p->tx_ip_csum = conf.txmode.offloads & RTE_ETH_TX_OFFLOAD_IPV4_CKSUM;
	p->tx_udp_csum = conf.txmode.offloads & RTE_ETH_TX_OFFLOAD_UDP_CKSUM;
	p->tx_multiseg = conf.txmode.offloads & RTE_ETH_TX_OFFLOAD_MULTI_SEGS;
	socket = rte_eth_dev_socket_id(p->id);
	p->pool = pool_for(socket);
	if (!p->pool)
		return -ENOMEM;
	r = dev_start(what, p->id, &conf, p->pool, socket, &di);
	if (r)
		return r;
	r = rte_eth_macaddr_get(p->id, &devmac);
	if (r < 0)
		memset(&devmac, 0, sizeof devmac);
	if (cp->has_mac) {
		memcpy(p->mac.addr_bytes, cp->mac, sizeof p->mac.addr_bytes);
		/* Our address in software only (e.g. af_packet, whose device MAC is
		 * the kernel interface's): the device must let other MACs in. */
		if (!rte_is_same_ether_addr(&p->mac, &devmac) && rte_eth_promiscuous_enable(p->id) < 0)
			log_warn("%s: cannot enable promiscuous mode for MAC " RTE_ETHER_ADDR_PRT_FMT,
				 what, RTE_ETHER_ADDR_BYTES(&p->mac));
	} else {
		p->mac = devmac;
	}
	r = rte_eth_dev_start(p->id);
	if (r < 0) {
		log_error("%s: cannot start: %s", what, strerror(-r));
		return r;
	}
	st.port_started[i] = true;
	if (cp->mtu)
		p->mtu = cp->mtu;
	else if (rte_eth_dev_get_mtu(p->id, &p->mtu) < 0 || p->mtu < 576)
		p->mtu = RTE_ETHER_MTU;
	if (!p->tx_multiseg && (uint32_t)p->mtu + RTE_ETHER_HDR_LEN + RTE_PKTMBUF_HEADROOM >
				       dp.cfg->io.mbuf_size) {
		log_error("%s: a %u-byte frame does not fit io.mbuf_size %u and the device cannot "
			  "send chained buffers: raise io.mbuf_size", what,
			  p->mtu + RTE_ETHER_HDR_LEN, dp.cfg->io.mbuf_size);
		return -EINVAL;
	}
	for (size_t k = 0; k < cp->naddr; k++) {
		if (cp->addr[k].ip.family == AF_INET6) {
			memcpy(p->addr6[p->naddr6], cp->addr[k].ip.u.v6.s6_addr, 16);
			p->plen6[p->naddr6++] = cp->addr[k].len;
			continue;
		}
		p->addr[p->naddr] = cp->addr[k].ip.u.v4.s_addr;
		p->mask[p->naddr++] = rte_cpu_to_be_32(UINT32_MAX << (32 - cp->addr[k].len));
	}
	p->gateway = cp->gateway.family == AF_INET ? cp->gateway.u.v4.s_addr : 0;
	if (cp->gateway6.family == AF_INET6) {
		memcpy(p->gw6, cp->gateway6.u.v6.s6_addr, 16);
		p->has_gw6 = true;
	}
	if (p->naddr6) {
		/* fe80::/64 + modified EUI-64 of our MAC (RFC 4291 2.5.1). */
		const uint8_t *a = p->mac.addr_bytes;
		uint8_t ll[16] = { 0xfe, 0x80, 0, 0, 0, 0, 0, 0, (uint8_t)(a[0] ^ 2), a[1], a[2],
				   0xff, 0xfe, a[3], a[4], a[5] };
		memcpy(p->ll6, ll, 16);
		/* Solicited-node groups arrive as 33:33:ff:xx:xx:xx. */
		if (rte_eth_allmulticast_enable(p->id) < 0 && rte_eth_promiscuous_get(p->id) != 1)
			log_warn("%s: cannot receive all multicast: IPv6 neighbour discovery may fail",
				 what);
	}
	{
		struct rte_eth_link link;
		memset(&link, 0, sizeof link);
		(void)rte_eth_link_get_nowait(p->id, &link);
		log_info("dpdk: %s: port %u, driver %s, MAC " RTE_ETHER_ADDR_PRT_FMT ", MTU %u, "
			 "%u queue pairs, link %s, checksum offload rx %s/%s tx %s/%s", what, p->id,
			 di.driver_name, RTE_ETHER_ADDR_BYTES(&p->mac), p->mtu, dp.nworkers,
			 link.link_status ? "up" : "down", p->rx_ip_csum ? "ip" : "-",
			 p->rx_udp_csum ? "udp" : "-", p->tx_ip_csum ? "ip" : "-",
			 p->tx_udp_csum ? "udp" : "-");
	}
	if (cp->kernel_tap[0])
		return tap_setup(i);
	return 0;
}

/* Enough buffers for every descriptor, the reassembly tables, the
 * neighbour queues and the per-core caches, or say what to change. */
static int check_mbufs(void)
{
	const struct sbc_io *io = &dp.cfg->io;
	uint64_t devs = io->nports, rings, other, need;

	for (size_t i = 0; i < io->nports; i++)
		devs += io->ports[i].kernel_tap[0] ? 1 : 0;
	rings = devs * dp.nworkers * ((uint64_t)io->rx_queue_size + io->tx_queue_size);
	other = (uint64_t)dp.nworkers * (DP_FRAG_FLOWS * RTE_LIBRTE_IP_FRAG_MAX_FRAG + 256 +
					 DP_POOL_CACHE + 2u * DP_TXB * io->nports);
	need = rings + other;
	if (io->mbufs >= need)
		return 0;
	log_error("io.mbufs: %u packet buffers are too few: %u workers on %llu devices (ports and "
		  "TAPs) need about %llu (%llu in RX/TX rings of %u/%u descriptors, %llu for "
		  "reassembly, queues and caches); raise io.mbufs or lower "
		  "io.rx_queue_size/io.tx_queue_size", io->mbufs, dp.nworkers,
		  (unsigned long long)devs, (unsigned long long)need, (unsigned long long)rings,
		  io->rx_queue_size, io->tx_queue_size, (unsigned long long)other);
	return -EINVAL;
}

/* Flatten the realms' listen entries (io.h iface order) onto ports. */
static int map_ifaces(void)
{
	const struct sbc_config *cfg = dp.cfg;
	unsigned n = io_iface_count(cfg), k = 0;

	dp.iface = calloc(n ? n : 1, sizeof *dp.iface);
	if (!dp.iface)
		return -ENOMEM;
	for (size_t r = 0; r < cfg->nrealms; r++) {
		for (size_t j = 0; j < cfg->realms[r].nlisten; j++, k++) {
			const struct sbc_listen *l = &cfg->realms[r].listen[j];
			struct dp_iface *f = &dp.iface[k];

			f->realm = (uint16_t)r;
			f->family = (uint8_t)l->ip.family;
			if (l->ip.family == AF_INET6)
				memcpy(f->ip6, l->ip.u.v6.s6_addr, 16);
			else
				f->ip = l->ip.u.v4.s_addr;
			f->udp = rte_cpu_to_be_16(l->port);
			f->port = DP_NONE;
			for (unsigned p = 0; p < dp.nports && f->port == DP_NONE; p++) {
				if (l->ip.family == AF_INET ? dp_port_owns(&dp.port[p], f->ip)
							    : dp_port_owns6(&dp.port[p], f->ip6))
					f->port = (uint16_t)p;
			}
			if (f->port == DP_NONE) {
				/* The configuration check makes this unreachable. */
				log_error("realms[%zu].listen[%zu]: %s is on no io.ports[]", r, j,
					  l->ip.text);
				return -EINVAL;
			}
		}
	}
	dp.nifaces = n;
	return 0;
}

/* Each realm's relay range on the port owning its media address (the
 * configuration makes sure there is one). */
static int map_media(void)
{
	const struct sbc_config *cfg = dp.cfg;

	dp.media = calloc(cfg->nrealms ? cfg->nrealms : 1, sizeof *dp.media);
	if (!dp.media)
		return -ENOMEM;
	dp.nmedia = (unsigned)cfg->nrealms;
	for (size_t r = 0; r < cfg->nrealms; r++) {
		const struct sbc_media *m = &cfg->realms[r].media;
		struct dp_media *md = &dp.media[r];

		if (m->ip.family == AF_UNSPEC || m->port_last < m->port_first)
			continue;
		md->family = (uint8_t)m->ip.family;
		if (m->ip.family == AF_INET6)
			memcpy(md->ip6, m->ip.u.v6.s6_addr, 16);
		else
			md->ip = m->ip.u.v4.s_addr;
		md->first = m->port_first;
		md->last = m->port_last;
		for (unsigned p = 0; p < dp.nports && !md->on; p++) {
			if (m->ip.family == AF_INET ? dp_port_owns(&dp.port[p], md->ip)
						    : dp_port_owns6(&dp.port[p], md->ip6)) {
				md->port = (uint16_t)p;
				md->on = true;
			}
		}
	}
	return 0;
}

static int media_rings(void)
{
	dp.queues = calloc(dp.nworkers, sizeof *dp.queues);
	if (!dp.queues)
		return -ENOMEM;
	if (dp.nworkers < 2)
		return 0;
	dp.media_ring = calloc(dp.nworkers, sizeof *dp.media_ring);
	if (!dp.media_ring)
		return -ENOMEM;
	for (unsigned w = 0; w < dp.nworkers; w++) {
		char name[RTE_RING_NAMESIZE];

		snprintf(name, sizeof name, "sbc_media_%u", w);
		dp.media_ring[w] = rte_ring_create(name, DP_MEDIA_RING, SOCKET_ID_ANY, RING_F_SC_DEQ);
		if (!dp.media_ring[w]) {
			log_error("dpdk: cannot create ring %s: %s", name, rte_strerror(rte_errno));
			return -ENOMEM;
		}
	}
	return 0;
}

static int nbr_rings(void)
{
	if (dp.nworkers < 2)
		return 0;
	dp.nbr_ring = calloc(dp.nworkers, sizeof *dp.nbr_ring);
	if (!dp.nbr_ring)
		return -ENOMEM;
	for (unsigned w = 0; w < dp.nworkers; w++) {
		char name[RTE_RING_NAMESIZE];

		snprintf(name, sizeof name, "sbc_nbr_%u", w);
		dp.nbr_ring[w] = rte_ring_create_elem(name, DP_NBR_UPDATE_SIZE, DP_NBR_RING, SOCKET_ID_ANY,
						      RING_F_SC_DEQ);
		if (!dp.nbr_ring[w]) {
			log_error("dpdk: cannot create ring %s: %s", name, rte_strerror(rte_errno));
			return -ENOMEM;
		}
	}
	return 0;
}

static void dpdk_teardown(void)
{
	for (unsigned i = 0; i < SBC_IO_MAX_PORTS; i++) {
		struct dp_port *p = &dp.port[i];

		if (st.port_started[i]) {
			struct rte_eth_stats s;
			if (rte_eth_stats_get(p->id, &s) == 0)
				log_info("dpdk: %s: device counters: rx %llu, tx %llu, missed %llu, "
					 "rx errors %llu, tx errors %llu, no mbuf %llu", p->name,
					 (unsigned long long)s.ipackets, (unsigned long long)s.opackets,
					 (unsigned long long)s.imissed, (unsigned long long)s.ierrors,
					 (unsigned long long)s.oerrors, (unsigned long long)s.rx_nombuf);
			(void)rte_eth_dev_stop(p->id);
			if (!dp_eal_external)
				(void)rte_eth_dev_close(p->id);
			st.port_started[i] = false;
		}
		if (st.tap_started[i]) {
			(void)rte_eth_dev_stop(p->tap);
			(void)rte_eth_dev_close(p->tap);
			st.tap_started[i] = false;
		}
	}
	for (unsigned w = 0; dp.nbr_ring && w < dp.nworkers; w++)
		rte_ring_free(dp.nbr_ring[w]);
	free(dp.nbr_ring);
	dp.nbr_ring = NULL;
	for (unsigned w = 0; dp.media_ring && w < dp.nworkers; w++) {
		struct rte_mbuf *m;
		while (rte_ring_dequeue(dp.media_ring[w], (void **)&m) == 0)
			rte_pktmbuf_free(m);
		rte_ring_free(dp.media_ring[w]);
	}
	free(dp.media_ring);
	dp.media_ring = NULL;
	free(dp.media);
	dp.media = NULL;
	free(dp.queues);
	dp.queues = NULL;
	free(dp.iface);
	dp.iface = NULL;
	for (unsigned s = 0; s < RTE_MAX_NUMA_NODES; s++) {
		rte_mempool_free(st.pool[s]);
		st.pool[s] = NULL;
	}
	if (st.eal) {
		char run_dir[PATH_MAX];
		snprintf(run_dir, sizeof run_dir, "%s", rte_eal_get_runtime_dir());
		rte_eal_cleanup();
		dp_runtime_dir_remove(run_dir);
		st.eal = false;
	}
	args_free();
}

/* EAL leaves its runtime directory (/var/run/dpdk/<file-prefix>: the
 * shared config and memory-segment maps for secondary processes) behind
 * after rte_eal_cleanup(), even with --no-shconf; with a --file-prefix per
 * process, every run would add one. The directory is ours (our prefix) and
 * no secondary process can use it once we exit, so remove its files and
 * itself. dir: rte_eal_get_runtime_dir() copied before the cleanup. */
void dp_runtime_dir_remove(const char *dir)
{
	DIR *d;
	struct dirent *e;

	if (!dir || !dir[0] || !(d = opendir(dir)))
		return;
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			(void)unlinkat(dirfd(d), e->d_name, 0);
	closedir(d);
	(void)rmdir(dir);
}

static int dpdk_setup(const struct sbc_config *cfg)
{
	int r;

	memset(&dp, 0, sizeof dp);
	dp.cfg = cfg;
	dp.nworkers = sbc_config_workers(cfg);
	dp.nports = (unsigned)cfg->io.nports;
	dp.power_saving = cfg->io.power_saving;
	dp.idle_sleep_us = cfg->io.idle_sleep_us;
	if (!dp.nports) {
		log_error("io.ports: the dpdk backend needs at least one port");
		return -EINVAL;
	}
	if (dp.nworkers >= RTE_MAX_LCORE) {
		log_error("workers: at most %u with the dpdk backend", RTE_MAX_LCORE - 1);
		return -EINVAL;
	}
	r = sbc_hash_key_random(&dp.nbr_key);
	if (!r)
		r = check_mbufs();
	if (!r && !dp_eal_external)
		r = eal_start(&cfg->io);
	if (!r && dp_eal_external) {
		dp.tsc_hz = rte_get_tsc_hz();
		dp.tsc_per_ms = dp.tsc_hz / 1000 ? dp.tsc_hz / 1000 : 1;
	}
	for (unsigned i = 0; !r && i < dp.nports; i++)
		r = port_setup(i);
	if (!r)
		r = map_ifaces();
	if (!r)
		r = nbr_rings();
	if (!r)
		r = map_media();
	if (!r)
		r = media_rings();
	if (r) {
		log_error("dpdk: start-up failed");
		dpdk_teardown();
		return r < 0 ? r : -EINVAL;
	}
	return 0;
}

/* ---- queues ----------------------------------------------------------------- */

static int dpdk_open(const struct sbc_config *cfg, unsigned id, struct io_queue **out)
{
	struct io_queue *q = rte_zmalloc("sbc_queue", sizeof *q, RTE_CACHE_LINE_SIZE);
	char name[32];

	(void)cfg;
	*out = NULL;
	if (!q)
		return -ENOMEM;
	q->id = id;
	q->ip_id = (uint16_t)id;
	q->ip6_id = id;
	if (id < dp.nworkers)
		dp.queues[id] = q;
	q->icmp_tokens = 0;
	snprintf(name, sizeof name, "sbc_frag_%u", id);
	q->frag = rte_ip_frag_table_create(DP_FRAG_FLOWS / 4, 8, DP_FRAG_FLOWS,
					   dp.tsc_hz / 1000 * DP_FRAG_TIMEOUT_MS, SOCKET_ID_ANY);
	if (!q->frag || dp_nbr_create(q) < 0) {
		log_error("worker %u: cannot allocate its reassembly or neighbour table", id);
		if (q->frag)
			rte_ip_frag_table_destroy(q->frag);
		rte_free(q);
		return -ENOMEM;
	}
	*out = q;
	return 0;
}

static void txq_drop(struct dp_txq *t)
{
	rte_pktmbuf_free_bulk(t->m, t->n);
	t->n = 0;
}

static void dpdk_close(struct io_queue *q)
{
	char line[2048];
	size_t used = 0;

	if (!q)
		return;
	if (q->id < dp.nworkers && dp.queues)
		dp.queues[q->id] = NULL;
	for (unsigned c = 0; c < DP_C__COUNT && used < sizeof line; c++) {
		if (q->ctr[c])
			used += (size_t)snprintf(line + used, sizeof line - used, "%s%s %llu",
						 used ? ", " : "", ctr_names[c],
						 (unsigned long long)q->ctr[c]);
	}
	if (used)
		log_info("dpdk: worker %u: %s", q->id, line);
	for (unsigned i = 0; i < SBC_IO_MAX_PORTS; i++) {
		txq_drop(&q->tx[i]);
		txq_drop(&q->ktx[i]);
	}
	rte_ip_frag_table_destroy(q->frag);
	dp_frag_flush(q);
	dp_nbr_destroy(q);
	rte_free(q);
}

/* ---- transmit buffers ------------------------------------------------------- */

static void txq_flush(struct io_queue *q, uint16_t dev, struct dp_txq *t)
{
	uint16_t sent = 0;

	/* A full TX ring drains in microseconds: try a few times, then drop. */
	for (int tries = 0; tries < 3 && sent < t->n; tries++)
		sent = (uint16_t)(sent + rte_eth_tx_burst(dev, (uint16_t)q->id, t->m + sent,
							  (uint16_t)(t->n - sent)));
	if (sent < t->n) {
		q->ctr[DP_C_TX_FULL] += t->n - sent;
		rte_pktmbuf_free_bulk(t->m + sent, t->n - sent);
	}
	t->n = 0;
}

void dp_tx(struct io_queue *q, const struct dp_port *p, struct rte_mbuf *m)
{
	struct dp_txq *t = &q->tx[p->idx];

	if (t->n == DP_TXB)
		txq_flush(q, p->id, t);
	t->m[t->n++] = m;
}

void dp_to_kernel(struct io_queue *q, const struct dp_port *p, struct rte_mbuf *m)
{
	struct dp_txq *t = &q->ktx[p->idx];

	if (p->tap == DP_NONE) {
		q->ctr[DP_C_TO_KERNEL_DROP]++;
		rte_pktmbuf_free(m);
		return;
	}
	if (t->n == DP_TXB)
		txq_flush(q, p->tap, t);
	t->m[t->n++] = m;
	q->ctr[DP_C_TO_KERNEL]++;
}

static void flush_all(struct io_queue *q)
{
	for (unsigned i = 0; i < dp.nports; i++) {
		if (q->tx[i].n)
			txq_flush(q, dp.port[i].id, &q->tx[i]);
		if (q->ktx[i].n)
			txq_flush(q, dp.port[i].tap, &q->ktx[i]);
	}
}

/* ---- media relay ports ------------------------------------------------------ */

void dp_media_handoff(struct io_queue *q, unsigned owner, struct rte_mbuf *m)
{
	struct io_queue *o;

	if (!dp.media_ring || rte_ring_mp_enqueue(dp.media_ring[owner], m) != 0) {
		q->ctr[DP_C_MEDIA_HANDOFF_LOST]++;
		rte_pktmbuf_free(m);
		return;
	}
	q->ctr[DP_C_MEDIA_HANDOFF]++;
	/* The owner checks its ring after raising its flag and before it
	 * sleeps (dpdk_wait), so either it sees the frame or we see the flag. */
	o = dp.queues[owner];
	if (o && o->npfd && __atomic_load_n(&o->sleeping, __ATOMIC_SEQ_CST)) {
		uint64_t one = 1;
		ssize_t r = write(o->pfd[0].fd, &one, sizeof one);
		(void)r; /* EAGAIN: already signalled */
	}
}

/* Can m be lent to the worker and relayed in place? One segment (not a
 * reassembled chain), its data ours alone (direct, no other reference: a
 * shared frame must not be rewritten) and plain headers: 20-byte IPv4 or
 * IPv6 without extension headers, so the rewrite never moves anything. */
static inline bool lendable(const struct rte_mbuf *m, uint32_t l4, int family)
{
	return !dp_media_copy && m->nb_segs == 1 && RTE_MBUF_DIRECT(m) &&
	       rte_mbuf_refcnt_read(m) == 1 &&
	       l4 == sizeof(struct rte_ether_hdr) +
			     (family == AF_INET6 ? sizeof(struct rte_ipv6_hdr)
						 : sizeof(struct rte_ipv4_hdr));
}

/* out->src and out->dst of a datagram of family (addresses in network
 * order, 4 or 16 bytes; ports big-endian). */
static void pkt_addrs(struct io_pkt *out, int family, const void *src_ip, rte_be16_t sport,
		      const void *dst_ip, rte_be16_t dport)
{
	memset(&out->src, 0, sizeof out->src);
	memset(&out->dst, 0, sizeof out->dst);
	if (family == AF_INET6) {
		out->src.v6.sin6_family = out->dst.v6.sin6_family = AF_INET6;
		memcpy(&out->src.v6.sin6_addr, src_ip, 16);
		memcpy(&out->dst.v6.sin6_addr, dst_ip, 16);
		out->src.v6.sin6_port = sport;
		out->dst.v6.sin6_port = dport;
	} else {
		out->src.v4.sin_family = out->dst.v4.sin_family = AF_INET;
		memcpy(&out->src.v4.sin_addr, src_ip, 4);
		memcpy(&out->dst.v4.sin_addr, dst_ip, 4);
		out->src.v4.sin_port = sport;
		out->dst.v4.sin_port = dport;
	}
}

/* The UDP payload of m (len bytes after the header at l4) into buf, from
 * however many segments; false when m is shorter. */
static bool payload_copy(const struct rte_mbuf *m, uint32_t l4, uint32_t len, char *buf)
{
	const void *data = rte_pktmbuf_read(m, l4 + (uint32_t)sizeof(struct rte_udp_hdr), len, buf);

	if (data && data != buf)
		memcpy(buf, data, len);
	return data != NULL;
}

bool dp_listen_deliver(struct io_queue *q, struct rte_mbuf *m, const struct dp_iface *f,
		       uint32_t l4, uint16_t ulen, const void *src_ip, rte_be16_t sport,
		       struct io_pkt *out)
{
	uint32_t len = ulen - (uint32_t)sizeof(struct rte_udp_hdr);
	const void *ours = f->family == AF_INET6 ? (const void *)f->ip6 : (const void *)&f->ip;
	bool ok = payload_copy(m, l4, len, out->buf);

	rte_pktmbuf_free(m);
	if (!ok) {
		q->ctr[DP_C_RX_BAD_UDP]++;
		return false;
	}
	out->len = len;
	out->iface = (uint16_t)(f - dp.iface);
	out->realm = f->realm;
	pkt_addrs(out, f->family, src_ip, sport, ours, f->udp);
	q->ctr[DP_C_RX_DGRAMS]++;
	return true;
}

void dp_media_deliver(struct io_queue *q, struct rte_mbuf *m, uint32_t l4, uint16_t ulen,
		      int family, const void *src_ip, const void *dst_ip, rte_be16_t sport,
		      rte_be16_t dport, unsigned realm, struct io_pkt *out)
{
	uint32_t len = ulen - (uint32_t)sizeof(struct rte_udp_hdr);
	bool lend = lendable(m, l4, family);

	if (lend) {
		out->buf = rte_pktmbuf_mtod_offset(m, char *, l4 + sizeof(struct rte_udp_hdr));
		out->ref = m;
		out->len = len;
		m->l2_len = sizeof(struct rte_ether_hdr);
		m->l3_len = l4 - m->l2_len;
		q->ctr[DP_C_MEDIA_LENT]++;
	} else {
		out->ref = NULL;
		out->len = payload_copy(m, l4, len, out->buf) ? len : 0;
	}
	out->iface = IO_IFACE_MEDIA;
	out->realm = (uint16_t)realm;
	out->port = rte_be_to_cpu_16(dport);
	pkt_addrs(out, family, src_ip, sport, dst_ip, dport);
	q->ctr[DP_C_MEDIA_IN]++;
	if (!lend)
		rte_pktmbuf_free(m);
}

/* Frames other workers received for our relay ports: already checked
 * (headers, checksums, reassembly); l2_len/l3_len and the realm (hash.usr)
 * were set by the receiver. */
static unsigned media_drain(struct io_queue *q, struct io_pkt *pkts, unsigned n)
{
	struct rte_mbuf *mb[IO_BURST_MAX];
	unsigned got;

	if (!dp.media_ring || !n)
		return 0;
	got = rte_ring_sc_dequeue_burst(dp.media_ring[q->id], (void **)mb, n, NULL);
	for (unsigned i = 0; i < got; i++) {
		struct rte_mbuf *m = mb[i];
		const struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, const struct rte_ether_hdr *);
		uint32_t l4 = (uint32_t)m->l2_len + m->l3_len;
		struct rte_udp_hdr uh;
		const struct rte_udp_hdr *u = rte_pktmbuf_read(m, l4, sizeof uh, &uh);

		if (eth->ether_type == RTE_BE16(RTE_ETHER_TYPE_IPV6)) {
			const struct rte_ipv6_hdr *ip = (const struct rte_ipv6_hdr *)(eth + 1);
			dp_media_deliver(q, m, l4, rte_be_to_cpu_16(u->dgram_len), AF_INET6,
					 ip->src_addr, ip->dst_addr, u->src_port, u->dst_port,
					 m->hash.usr, &pkts[i]);
		} else {
			const struct rte_ipv4_hdr *ip = (const struct rte_ipv4_hdr *)(eth + 1);
			dp_media_deliver(q, m, l4, rte_be_to_cpu_16(u->dgram_len), AF_INET,
					 &ip->src_addr, &ip->dst_addr, u->src_port, u->dst_port,
					 m->hash.usr, &pkts[i]);
		}
	}
	return got;
}

/* Relay ports need no socket here: the data plane classifies every
 * datagram to a realm's media address and range, and delivers it to the
 * port's owner (io.h's "bookkeeping or no-op" case). */
static int dpdk_media_open(struct io_queue *q, uint16_t realm, uint16_t port)
{
	(void)q;
	if (realm >= dp.nmedia || !dp.media[realm].on || port < dp.media[realm].first ||
	    port > dp.media[realm].last)
		return -EINVAL;
	return 0;
}

static void dpdk_media_close(struct io_queue *q, uint16_t realm, uint16_t port)
{
	(void)q;
	(void)realm;
	(void)port;
}

/* ---- the worker's side ------------------------------------------------------ */

static inline void clock_update(struct io_queue *q)
{
	q->now_tsc = rte_rdtsc();
	q->now_ms = q->now_tsc / dp.tsc_per_ms;
}

/* First burst, on the worker's thread: an lcore id (per-core mempool
 * caches), precise short sleeps, and worker 0 announces our addresses. */
static __attribute__((noinline)) void queue_start(struct io_queue *q)
{
	q->started = true;
	if (rte_lcore_id() == LCORE_ID_ANY && rte_thread_register() < 0)
		log_warn("worker %u: no DPDK lcore id (%s): packet buffers without a per-core "
			 "cache", q->id, rte_strerror(rte_errno));
	if (dp.power_saving)
		(void)prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0); /* 1 us, not 50 */
	clock_update(q);
	q->icmp_tokens = DP_ICMP_RATE;
	q->icmp_refill_ms = q->now_ms;
	q->next_house_ms = q->now_ms + DP_HOUSEKEEPING_MS;
	if (q->id == 0) {
		for (unsigned i = 0; i < dp.nports; i++)
			dp_arp_announce(q, &dp.port[i]);
	}
}

static void housekeeping(struct io_queue *q)
{
	q->next_house_ms = q->now_ms + DP_HOUSEKEEPING_MS;
	dp_nbr_housekeeping(q);
	/* Experimental in DPDK 22.11 (hence the pragma); without it a stale
	 * reassembly would only go when its slot is reused, still bounded by
	 * DP_FRAG_FLOWS. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
	rte_ip_frag_table_del_expired_entries(q->frag, &q->dr, q->now_tsc);
#pragma GCC diagnostic pop
	dp_frag_flush(q);
}

/* One frame from port p. True when it delivered a datagram into out. */
static inline bool frame_input(struct io_queue *q, const struct dp_port *p, struct rte_mbuf *m,
			       struct io_pkt *out)
{
	const struct rte_ether_hdr *eth;

	if (unlikely(m->data_len < sizeof *eth)) {
		q->ctr[DP_C_RX_BAD_L2]++;
		rte_pktmbuf_free(m);
		return false;
	}
	eth = rte_pktmbuf_mtod(m, const struct rte_ether_hdr *);
	if (unlikely((!rte_is_same_ether_addr(&eth->dst_addr, &p->mac) &&
		      !rte_is_multicast_ether_addr(&eth->dst_addr)) ||
		     rte_is_same_ether_addr(&eth->src_addr, &p->mac))) {
		q->ctr[DP_C_RX_OTHER_MAC]++;
		rte_pktmbuf_free(m);
		return false;
	}
	switch (eth->ether_type) {
	case RTE_BE16(RTE_ETHER_TYPE_IPV4):
		return dp_ipv4_input(q, p, m, out);
	case RTE_BE16(RTE_ETHER_TYPE_ARP):
		dp_arp_input(q, p, m);
		return false;
	case RTE_BE16(RTE_ETHER_TYPE_IPV6):
		return dp_ipv6_input(q, p, m, out);
	default:
		dp_to_kernel(q, p, m); /* LLDP, VLAN ...: the kernel decides */
		return false;
	}
}

static unsigned dpdk_rx_burst(struct io_queue *q, struct io_pkt *pkts, unsigned n)
{
	struct rte_mbuf *mb[IO_BURST_MAX];
	unsigned got = 0;
	bool busy = false;

	if (unlikely(!q->started))
		queue_start(q);
	clock_update(q);
	if (n > IO_BURST_MAX)
		n = IO_BURST_MAX;
	got = media_drain(q, pkts, n);
	busy = got > 0;
	for (unsigned k = 0; k < dp.nports && got < n; k++) {
		const struct dp_port *p = &dp.port[(q->rx_next + k) % dp.nports];
		uint16_t nb = rte_eth_rx_burst(p->id, (uint16_t)q->id, mb, (uint16_t)(n - got));

		if (!nb)
			continue;
		busy = true;
		q->ctr[DP_C_RX_FRAMES] += nb;
		for (uint16_t i = 0; i < nb; i++) {
			if (i + 1 < nb)
				rte_prefetch0(rte_pktmbuf_mtod(mb[i + 1], void *));
			if (frame_input(q, p, mb[i], &pkts[got]))
				got++;
		}
		dp_frag_flush(q);
	}
	q->rx_next = (q->rx_next + 1) % dp.nports;
	for (unsigned i = 0; i < dp.nports; i++) {
		const struct dp_port *p = &dp.port[i];
		uint16_t nb;

		if (p->tap == DP_NONE)
			continue;
		nb = rte_eth_rx_burst(p->tap, (uint16_t)q->id, mb, IO_BURST_MAX);
		if (!nb)
			continue;
		busy = true;
		q->ctr[DP_C_FROM_KERNEL] += nb;
		for (uint16_t k = 0; k < nb; k++)
			dp_tx(q, p, mb[k]);
	}
	dp_nbr_sync_drain(q);
	if (q->now_ms >= q->next_house_ms)
		housekeeping(q);
	flush_all(q);
	if (busy)
		q->idle = 0;
	return got;
}

static unsigned dpdk_tx_burst(struct io_queue *q, const struct io_pkt *pkts, unsigned n)
{
	unsigned sent = 0;

	if (unlikely(!q->started))
		queue_start(q);
	clock_update(q);
	for (unsigned i = 0; i < n; i++)
		sent += dp_udp_output(q, &pkts[i]);
	flush_all(q);
	return sent;
}

/* Lent frames the worker does not send (io.h release). */
static void dpdk_release(struct io_queue *q, const struct io_pkt *pkts, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		if (!pkts[i].ref)
			continue;
		rte_pktmbuf_free(pkts[i].ref);
		q->ctr[DP_C_MEDIA_RELEASED]++;
	}
}

static int dpdk_wait(struct io_queue *q, int timeout_ms)
{
	uint64_t us;
	struct timespec ts;
	unsigned shift;
	int woken = 0;

	if (!dp.power_saving || timeout_ms == 0)
		return 0;
	if (++q->idle < DP_IDLE_SPINS) {
		rte_pause();
		return 0;
	}
	shift = q->idle - DP_IDLE_SPINS;
	us = shift < 20 ? (uint64_t)1 << shift : dp.idle_sleep_us;
	if (us > dp.idle_sleep_us)
		us = dp.idle_sleep_us;
	if (timeout_ms > 0 && us > (uint64_t)timeout_ms * 1000)
		us = (uint64_t)timeout_ms * 1000;
	ts.tv_sec = (time_t)(us / 1000000);
	ts.tv_nsec = (long)(us % 1000000) * 1000;
	/* Raise the flag, then look at the ring: a worker handing us a frame
	 * after this sees the flag and writes our eventfd (no lost wake-up). */
	__atomic_store_n(&q->sleeping, true, __ATOMIC_SEQ_CST);
	if (dp.media_ring && rte_ring_count(dp.media_ring[q->id])) {
		__atomic_store_n(&q->sleeping, false, __ATOMIC_RELAXED);
		return 0;
	}
	if (q->npfd) {
		if (ppoll(q->pfd, q->npfd, &ts, NULL) > 0) {
			q->idle = DP_IDLE_SPINS; /* woken by a peer: poll again soon */
			woken = 1;              /* the caller drains its eventfd (io.h) */
		}
	} else {
		(void)nanosleep(&ts, NULL);
	}
	__atomic_store_n(&q->sleeping, false, __ATOMIC_RELAXED);
	return woken;
}

static int dpdk_watch(struct io_queue *q, int fd)
{
	if (q->npfd >= DP_MAX_FDS)
		return -ENOSPC;
	q->pfd[q->npfd].fd = fd;
	q->pfd[q->npfd].events = POLLIN;
	q->npfd++;
	return 0;
}

static void dpdk_stats(const struct io_queue *q, struct io_stats *out)
{
	const uint64_t *c = q->ctr;

	out->rx_errors = c[DP_C_RX_BAD_L2] + c[DP_C_RX_BAD_IP] + c[DP_C_RX_TRUNCATED] +
			 c[DP_C_RX_BAD_UDP] + c[DP_C_ARP_BAD];
	out->tx_errors = c[DP_C_TX_FULL] + c[DP_C_TX_NOMBUF] + c[DP_C_TX_BAD] +
			 c[DP_C_TX_NO_ROUTE] + c[DP_C_NBR_QUEUE_FULL] + c[DP_C_NBR_UNRESOLVED] +
			 c[DP_C_NBR_EVICTED];
}

const struct io_backend io_dpdk_backend = {
	.name = "dpdk",
	.setup = dpdk_setup,
	.teardown = dpdk_teardown,
	.open = dpdk_open,
	.close = dpdk_close,
	.rx_burst = dpdk_rx_burst,
	.tx_burst = dpdk_tx_burst,
	.release = dpdk_release,
	.wait = dpdk_wait,
	.stats = dpdk_stats,
	.watch = dpdk_watch,
	.media_open = dpdk_media_open,
	.media_close = dpdk_media_close,
};
