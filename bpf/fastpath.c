// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The kernel fast path (Docs/FASTPATH.md): two TC programs that forward the
 * plain IPv4 data of established sessions without the userspace data plane.
 *
 *   l2tpns_up    ingress of each uplink: L2TP data from a LAC -> decapsulate
 *                -> redirect into the TUN device's ingress.
 *   l2tpns_down  egress of the TUN device: an IPv4 packet for a session ->
 *                encapsulate (IPv4/UDP/L2TP/PPP) -> redirect to the LAC.
 *
 * Anything they do not fully understand they return with TC_ACT_OK and the
 * packet UNCHANGED, so it goes on to the userspace path exactly as without
 * them; each such case is counted in `passed` by reason, except packets
 * that are not L2TP for us at all.
 *
 * Packet bytes are read with bpf_skb_load_bytes into aligned stack copies:
 * it works on non-linear skbs and keeps the verifier's job simple. The
 * verifier refuses misaligned stack accesses, hence the careful layouts.
 *
 * The maps, their keys and values and the pass reasons are in
 * fastpath_maps.h, mirrored byte for byte by src/daemon/fastpath/abi.rs.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

/* "GPL": bpf_fib_lookup is a GPL-only helper, and the project is
 * GPL-2.0-or-later anyway. */
char LICENSE[] SEC("license") = "GPL";

#include "fastpath_maps.h"

#define CSUM_CHUNK 512 /* bpf_csum_diff takes at most 512 bytes at once */
#define CSUM_CHUNKS 4  /* so UDP checksums are verified up to 2048 bytes */

struct csum_scratch {
	__u8 buf[CSUM_CHUNK + 4];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct csum_scratch);
	__uint(max_entries, 1);
} csum_scratch SEC(".maps");

/* x & mask, done where the verifier sees it: clang drops a mask it can
 * prove redundant, and the verifier cannot follow that proof. */
#define VERIFIER_BOUND(x, mask)                      \
	({                                           \
		__u32 __v = (x);                     \
		asm volatile("" : "+r"(__v));        \
		__v & (mask);                        \
	})

#define ETH_LEN 14
#define IP_DF 0x4000
#define IP_MF 0x2000
#define IP_OFFSET 0x1fff
#define L2TP_T 0x8000
#define L2TP_L 0x4000
#define L2TP_S 0x0800
#define L2TP_O 0x0200
#define L2TP_VERSION_MASK 0x000f
#define L2TP_DATA_LEN 6
#define TCP_FLAGS_AT 13
#define TCP_CHECK_AT 16
#define UDP_CHECK_AT 6
#define TCP_SYN 0x02
#define LOOPBACK_IFINDEX 1
#define AF_INET 2

/* Outer IPv4 + UDP + L2TP data header + PPP FF 03 00 21, after Ethernet. */
struct encap {
	struct iphdr ip;
	struct udphdr udp;
	__be16 l2tp[3];
	__u8 ppp[4];
};
#define ENCAP_LEN 38 /* sizeof(struct encap) is 40: tail padding */

static __always_inline int pass(__u32 reason)
{
	__u64 *n = bpf_map_lookup_elem(&passed, &reason);

	if (n)
		__sync_fetch_and_add(n, 1);
	return TC_ACT_OK;
}

static __always_inline __u32 fold(__u64 sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u32)sum;
}

/* RFC 1071 sum of `len` bytes at `off` plus `seed`, through the per-CPU
 * scratch buffer; negative if the packet is too long or a helper failed. */
static __always_inline __s64 sum_packet(struct __sk_buff *skb, __u32 off,
					__u32 len, __s64 seed)
{
	__u32 zero = 0;
	struct csum_scratch *s = bpf_map_lookup_elem(&csum_scratch, &zero);
	__s64 sum = seed;

	if (!s || len > CSUM_CHUNK * CSUM_CHUNKS)
		return -1;
	for (int i = 0; i < CSUM_CHUNKS; i++) {
		__u32 done = i * CSUM_CHUNK;

		if (done >= len)
			break;
		__u32 n = len - done;

		if (n >= CSUM_CHUNK) {
			if (bpf_skb_load_bytes(skb, off + done, s->buf, CSUM_CHUNK))
				return -1;
			sum = bpf_csum_diff(0, 0, (__be32 *)s->buf, CSUM_CHUNK, sum);
		} else {
			/* 1..511 bytes. Zero their last word first: the sum
			 * takes whole words. */
			__u32 words = VERIFIER_BOUND((n + 3) & ~3U, 0x3fc);

			if (words > CSUM_CHUNK)
				return -1;
			*(__u32 *)&s->buf[VERIFIER_BOUND(n, CSUM_CHUNK - 4)] = 0;
			if (bpf_skb_load_bytes(skb, off + done, s->buf,
					       VERIFIER_BOUND(n - 1, CSUM_CHUNK - 1) + 1))
				return -1;
			sum = bpf_csum_diff(0, 0, (__be32 *)s->buf, words, sum);
		}
		if (sum < 0)
			return -1;
	}
	return sum;
}

/* Is the UDP checksum of the datagram at `off` right? (0 means "none".) */
static __always_inline int udp_checksum_ok(struct __sk_buff *skb, __u32 off,
					   __u32 len, __be32 saddr, __be32 daddr)
{
	struct {
		__be32 saddr;
		__be32 daddr;
		__u8 zero;
		__u8 protocol;
		__be16 len;
	} pseudo = { saddr, daddr, 0, IPPROTO_UDP, bpf_htons(len) };
	__s64 sum = bpf_csum_diff(0, 0, (__be32 *)&pseudo, sizeof(pseudo), 0);

	if (sum < 0)
		return 0;
	sum = sum_packet(skb, off, len, sum);
	return sum >= 0 && fold(sum) == 0xffff;
}

static __always_inline __u16 ip_checksum(const struct iphdr *ip)
{
	const __u16 *w = (const __u16 *)ip;
	__u64 sum = 0;

#pragma unroll
	for (int i = 0; i < 10; i++)
		sum += w[i];
	return ~fold(sum) & 0xffff;
}

/* Is the header checksum of the outer IPv4 header (`hl` bytes) right? */
static __always_inline int ipv4_header_ok(struct __sk_buff *skb,
					  const struct iphdr *ip, __u32 hl)
{
	if (hl == sizeof(*ip))
		return ip_checksum(ip) == 0;
	__s64 sum = sum_packet(skb, ETH_LEN, hl, 0);

	return sum >= 0 && fold(sum) == 0xffff;
}

/* Would a UDP socket of this namespace take a datagram from saddr:sport
 * to daddr:dport? */
static __always_inline int udp_socket_here(struct __sk_buff *skb, __be32 saddr,
					   __be16 sport, __be32 daddr, __be16 dport)
{
	struct bpf_sock_tuple t = {};

	t.ipv4.saddr = saddr;
	t.ipv4.daddr = daddr;
	t.ipv4.sport = sport;
	t.ipv4.dport = dport;
	struct bpf_sock *sk = bpf_sk_lookup_udp(skb, &t, sizeof(t.ipv4),
						BPF_F_CURRENT_NETNS, 0);

	if (!sk)
		return 0;
	bpf_sk_release(sk);
	return 1;
}

/* Does this TCP or UDP packet carry a partial checksum (CHECKSUM_PARTIAL),
 * which a device is still to finish? A socket on this host (or a veth from
 * one) leaves that to a device with checksum offload, as the TUN is: the
 * field holds only the pseudo-header sum, the device adds the rest at the
 * offset the skb carries. Encapsulated, lo or a veth to a LAC finish
 * nothing and a NIC might finish the outer header instead, so such a packet
 * must go to userspace, which gets it from the TUN with its offsets.
 * __sk_buff does not show ip_summed; the field's value gives it away. A
 * complete checksum equal to that sum by chance (1 in 65,536 packets) is
 * passed too, which is merely slower. Later fragments have no L4 header. */
static __always_inline int checksum_left_for_device(struct __sk_buff *skb,
						    const struct iphdr *ip,
						    __u32 l2, __u32 hl, __u32 tot)
{
	__u32 at;

	if (ip->frag_off & bpf_htons(IP_OFFSET))
		return 0;
	if (ip->protocol == IPPROTO_TCP)
		at = TCP_CHECK_AT;
	else if (ip->protocol == IPPROTO_UDP)
		at = UDP_CHECK_AT;
	else
		return 0;
	__be16 field;

	if (tot < hl + at + sizeof(field) ||
	    bpf_skb_load_bytes(skb, l2 + hl + at, &field, sizeof(field)))
		return 0; /* too short to be partial: not ours to judge */
	if (field == 0)
		return 0; /* UDP without a checksum; never a partial sum */
	/* Summed as the kernel does (csum_tcpudp_nofold, then folded): in
	 * the words' memory order, so no byte swapping. */
	__u64 sum = (ip->saddr & 0xffff) + (ip->saddr >> 16) +
		    (ip->daddr & 0xffff) + (ip->daddr >> 16) +
		    bpf_htons((__u16)ip->protocol) + bpf_htons((__u16)(tot - hl));

	return field == (__be16)fold(sum);
}

static __always_inline void count(__u32 slot, int up, __u32 bytes)
{
	struct fp_line *l = bpf_map_lookup_elem(&counters, &slot);

	if (!l)
		return;
	struct fp_counters *c = &l->c;

	if (up) {
		__sync_fetch_and_add(&c->up_packets, 1);
		__sync_fetch_and_add(&c->up_bytes, bytes);
	} else {
		__sync_fetch_and_add(&c->down_packets, 1);
		__sync_fetch_and_add(&c->down_bytes, bytes);
	}
}

/* The session of `key`: on the line its ids pick, else in the hash (ids
 * restored from a saved state, a block full, a line still resting). The
 * line's fields are read after its ids, each once. */
static __always_inline int find_session(struct fp_config *cfg, struct up_key *key,
					struct up_value *out)
{
	__u32 ids;

	__builtin_memcpy(&ids, key, sizeof(ids));
	__u32 index = ((__u32)(bpf_ntohs(key->tunnel) & cfg->line_mask) << 16) |
		      bpf_ntohs(key->session);
	struct fp_line *l = bpf_map_lookup_elem(&counters, &index);

	if (l && ids && *(volatile __u32 *)&l->ids == ids) {
		asm volatile("" ::: "memory");
		out->lac_addr = l->lac_addr;
		out->lac_port = l->lac_port;
		out->address = l->address;
		out->slot = index;
		return 1;
	}
	struct up_value *v = bpf_map_lookup_elem(&up_sessions, key);

	if (!v)
		return 0;
	*out = *v;
	return 1;
}

/* Where a packet to `daddr` goes: the down record of the line down_index
 * names, if it is `daddr`'s; else a /32 in the hash, else the longest
 * prefix in the trie. The record's fields are read after its address. */
static __always_inline int find_route(struct fp_config *cfg, __be32 daddr,
				      struct down_value *out)
{
	__u32 entry = bpf_ntohl(daddr) & cfg->down_mask;
	__u32 block = entry / DOWN_BLOCK;
	struct down_block *b = bpf_map_lookup_elem(&down_index, &block);

	if (b && daddr) {
		/* 0 names none: slot 0xffffffff is past the array. */
		__u32 slot = *(volatile __u32 *)&b->slot[entry % DOWN_BLOCK] - 1;
		struct fp_line *l = bpf_map_lookup_elem(&counters, &slot);

		if (l && *(volatile __be32 *)&l->down_addr == daddr) {
			asm volatile("" ::: "memory");
			out->lac_addr = l->down_lac_addr;
			out->lac_port = l->down_lac_port;
			out->peer_tunnel = l->peer_tunnel;
			out->peer_session = l->peer_session;
			out->mru = l->mru;
			out->slot = slot;
			return 1;
		}
	}
	struct down_value *d = bpf_map_lookup_elem(&down_hosts, &daddr);

	if (!d) {
		struct down_key k = { 32, daddr };

		d = bpf_map_lookup_elem(&down_routes, &k);
	}
	if (!d)
		return 0;
	*out = *d;
	return 1;
}

SEC("classifier")
int l2tpns_up(struct __sk_buff *skb)
{
	__u32 zero = 0;
	struct fp_config *cfg = bpf_map_lookup_elem(&config, &zero);

	if (!cfg || !cfg->tun_ifindex)
		return TC_ACT_OK;
	/* The uplinks are Ethernet-framed (lo too): IPv4 starts at 14. */
	if (skb->protocol != bpf_htons(ETH_P_IP) || skb->pkt_type != PACKET_HOST ||
	    skb->vlan_present)
		return TC_ACT_OK;

	struct iphdr ip;

	if (bpf_skb_load_bytes(skb, ETH_LEN, &ip, sizeof(ip)))
		return TC_ACT_OK;
	if (ip.version != 4 || ip.ihl < 5 || ip.protocol != IPPROTO_UDP)
		return TC_ACT_OK;
	if (cfg->local_addr && ip.daddr != cfg->local_addr)
		return TC_ACT_OK;
	__u16 frag = bpf_ntohs(ip.frag_off);

	/* A later fragment has no UDP header: whose it is cannot be told. */
	if (frag & IP_OFFSET)
		return TC_ACT_OK;
	__u32 hl = ip.ihl * 4;
	struct udphdr udp;

	if (bpf_skb_load_bytes(skb, ETH_LEN + hl, &udp, sizeof(udp)))
		return TC_ACT_OK;
	if (udp.dest != cfg->port)
		return TC_ACT_OK;

	/* L2TP for us from here on: every pass is counted. */
	if (frag & IP_MF)
		return pass(PASS_UP_OUTER_FRAGMENT);
	if (skb->gso_segs > 1 || skb->gso_size)
		return pass(PASS_UP_GSO);
	/* IPv4 input drops a wrong header checksum; we take its place. */
	if (!ipv4_header_ok(skb, &ip, hl))
		return pass(PASS_UP_MALFORMED);
	__u32 tot = bpf_ntohs(ip.tot_len);
	__u32 ulen = bpf_ntohs(udp.len);

	if (tot != hl + ulen || ETH_LEN + tot > skb->len ||
	    ulen < sizeof(udp) + 2)
		return pass(PASS_UP_MALFORMED);
	__u32 l2tp = ETH_LEN + hl + sizeof(udp);
	__u32 end = ETH_LEN + tot; /* end of the UDP payload */
	__be16 flags_be;

	if (bpf_skb_load_bytes(skb, l2tp, &flags_be, sizeof(flags_be)))
		return pass(PASS_UP_MALFORMED);
	__u16 flags = bpf_ntohs(flags_be);

	if ((flags & L2TP_VERSION_MASK) != 2)
		return pass(PASS_UP_L2TP_VERSION);
	if (flags & L2TP_T)
		return pass(PASS_UP_CONTROL);
	if (flags & (L2TP_L | L2TP_S | L2TP_O))
		return pass(PASS_UP_L2TP_OPTIONS);
	if (ulen < sizeof(udp) + L2TP_DATA_LEN)
		return pass(PASS_UP_MALFORMED);
	struct up_key key;

	if (bpf_skb_load_bytes(skb, l2tp + 2, &key, sizeof(key)))
		return pass(PASS_UP_MALFORMED);
	struct up_value s;

	if (!find_session(cfg, &key, &s))
		return pass(PASS_UP_UNKNOWN_SESSION);
	/* RFC 2661 §8.1: only the tunnel's peer, address and port. */
	if (ip.saddr != s.lac_addr || udp.source != s.lac_port)
		return pass(PASS_UP_WRONG_PEER);

	/* PPP: FF 03 00 21, FF 03 21, 00 21 or 21, then IPv4. */
	__u32 ppp = l2tp + L2TP_DATA_LEN;
	__u32 avail = end - ppp;
	__u8 p[4] = { 0, 0, 0, 0 };
	__u32 n = avail < 4 ? avail : 4;

	if (n == 0)
		return pass(PASS_UP_NOT_IPV4);
	if (bpf_skb_load_bytes(skb, ppp, p, VERIFIER_BOUND(n - 1, 3) + 1))
		return pass(PASS_UP_MALFORMED);
	__u32 framing;

	if (p[0] == 0xff && p[1] == 0x03) {
		if (p[2] == 0x00 && p[3] == 0x21)
			framing = 4;
		else if (p[2] == 0x21)
			framing = 3;
		else
			return pass(PASS_UP_NOT_IPV4);
	} else if (p[0] == 0x00 && p[1] == 0x21) {
		framing = 2;
	} else if (p[0] == 0x21) {
		framing = 1;
	} else {
		return pass(PASS_UP_NOT_IPV4);
	}

	__u32 inner = ppp + framing;
	__u32 ilen = end - inner;
	struct iphdr in;

	if (ilen < sizeof(in) || bpf_skb_load_bytes(skb, inner, &in, sizeof(in)))
		return pass(PASS_UP_INNER_MALFORMED);
	__u32 ihl = in.ihl * 4;

	if (in.version != 4 || in.ihl < 5 || bpf_ntohs(in.tot_len) != ilen ||
	    ihl > ilen)
		return pass(PASS_UP_INNER_MALFORMED);
	if (in.saddr != s.address)
		return pass(PASS_UP_SPOOFED_SOURCE);
	if (in.frag_off & bpf_htons(IP_MF | IP_OFFSET))
		return pass(PASS_UP_INNER_FRAGMENT);
	if (in.protocol == IPPROTO_TCP) {
		__u8 tcp_flags;

		if (ilen < ihl + TCP_FLAGS_AT + 1 ||
		    bpf_skb_load_bytes(skb, inner + ihl + TCP_FLAGS_AT, &tcp_flags, 1))
			return pass(PASS_UP_INNER_MALFORMED);
		if (tcp_flags & TCP_SYN)
			return pass(PASS_UP_TCP_SYN);
	}
	if (cfg->tun_mtu && ilen > cfg->tun_mtu)
		return pass(PASS_UP_OVER_TUN_MTU);
	/* A socket would drop a wrong checksum; trust only a device that
	 * verified it (CHECKSUM_UNNECESSARY), else verify it here. */
	if (udp.check && bpf_csum_level(skb, BPF_CSUM_LEVEL_QUERY) < 0 &&
	    !udp_checksum_ok(skb, ETH_LEN + hl, ulen, ip.saddr, ip.daddr))
		return pass(PASS_UP_UDP_CHECKSUM);

	__u32 slot = s.slot;

	/* Drop Ethernet padding first: failing here leaves a packet that is
	 * still whole for userspace. */
	if (skb->len > end && bpf_skb_change_tail(skb, end, 0))
		return pass(PASS_UP_DECAP_FAILED);
	if (bpf_skb_adjust_room(skb, -(__s32)(inner - ETH_LEN), BPF_ADJ_ROOM_MAC, 0))
		return pass(PASS_UP_DECAP_FAILED);
	count(slot, 1, ilen);
	/* As if it came from the TUN; the L3 device takes the Ethernet header off. */
	return bpf_redirect(cfg->tun_ifindex, BPF_F_INGRESS);
}

SEC("classifier")
int l2tpns_down(struct __sk_buff *skb)
{
	__u32 zero = 0;
	struct fp_config *cfg = bpf_map_lookup_elem(&config, &zero);

	if (!cfg || !cfg->tun_ifindex)
		return TC_ACT_OK;
	/* On the TUN the packet starts with IPv4; BPF_PROG_TEST_RUN (or an
	 * Ethernet device) puts an Ethernet header first. */
	__u32 l2 = skb->ifindex == cfg->tun_ifindex ? 0 : ETH_LEN;

	if (skb->protocol != bpf_htons(ETH_P_IP))
		return pass(PASS_DOWN_NOT_IPV4);
	if (skb->gso_segs > 1 || skb->gso_size)
		return pass(PASS_DOWN_GSO);
	struct iphdr ip;

	if (bpf_skb_load_bytes(skb, l2, &ip, sizeof(ip)))
		return pass(PASS_DOWN_MALFORMED);
	__u32 tot = bpf_ntohs(ip.tot_len);
	__u32 hl = ip.ihl * 4;

	if (ip.version != 4 || ip.ihl < 5 || tot != skb->len - l2 || hl > tot)
		return pass(PASS_DOWN_MALFORMED);
	struct down_value d;

	if (!find_route(cfg, ip.daddr, &d))
		return pass(PASS_DOWN_NO_ROUTE);
	if (tot > d.mru)
		return pass(PASS_DOWN_OVER_MRU);
	if (ip.protocol == IPPROTO_TCP && !(ip.frag_off & bpf_htons(IP_OFFSET))) {
		__u8 tcp_flags;

		if (tot < hl + TCP_FLAGS_AT + 1 ||
		    bpf_skb_load_bytes(skb, l2 + hl + TCP_FLAGS_AT, &tcp_flags, 1))
			return pass(PASS_DOWN_MALFORMED);
		if (tcp_flags & TCP_SYN)
			return pass(PASS_DOWN_TCP_SYN);
	}
	if (checksum_left_for_device(skb, &ip, l2, hl, tot))
		return pass(PASS_DOWN_PARTIAL_CHECKSUM);
	__be32 lac_addr = d.lac_addr;
	__be16 lac_port = d.lac_port;
	__be16 peer_tunnel = d.peer_tunnel;
	__be16 peer_session = d.peer_session;
	__u32 slot = d.slot;

	/* Route the outer packet before touching the skb: a packet we pass
	 * must reach userspace unchanged. As a local sender would (iif lo). */
	struct bpf_fib_lookup fib = {};

	fib.family = AF_INET;
	fib.l4_protocol = IPPROTO_UDP;
	fib.sport = cfg->port;
	fib.dport = lac_port;
	fib.tot_len = tot + ENCAP_LEN;
	fib.ifindex = LOOPBACK_IFINDEX;
	fib.ipv4_src = cfg->local_addr;
	fib.ipv4_dst = lac_addr;
	long rc = bpf_fib_lookup(skb, &fib, sizeof(fib),
				 cfg->local_addr ? 0 : BPF_FIB_LOOKUP_SRC);
	__be32 src = cfg->local_addr;
	__u32 out_ifindex;
	__u64 out_flags;
	int local = 0;

	switch (rc) {
	case BPF_FIB_LKUP_RET_SUCCESS:
		out_ifindex = fib.ifindex;
		if (!bpf_map_lookup_elem(&egress_ifaces, &out_ifindex))
			return pass(PASS_DOWN_NOT_UPLINK);
		if (!src)
			src = fib.ipv4_src;
		out_flags = 0;
		break;
	case BPF_FIB_LKUP_RET_NOT_FWDED:
		/* The LAC is on this host (127.0.0.1 or one of our
		 * addresses), or there is no route to it at all: the lookup
		 * says the same for both. Only a socket here that would take
		 * the datagram tells them apart; without one, userspace's
		 * send fails as it should. Delivered through lo's ingress,
		 * which drops the TUN route's dst and parses it afresh, but
		 * drops a local source as a martian unless told not to. */
		if (!src)
			src = lac_addr;
		if (!udp_socket_here(skb, src, cfg->port, lac_addr, lac_port))
			return pass(PASS_DOWN_FIB_FAILED);
		if (!(cfg->flags & CFG_LOCAL_LAC_OK))
			return pass(PASS_DOWN_LOCAL_LAC);
		local = 1;
		out_ifindex = LOOPBACK_IFINDEX;
		out_flags = BPF_F_INGRESS;
		break;
	case BPF_FIB_LKUP_RET_NO_NEIGH:
		return pass(PASS_DOWN_NO_NEIGH);
	case BPF_FIB_LKUP_RET_FRAG_NEEDED:
		return pass(PASS_DOWN_FRAG_NEEDED);
	default:
		return pass(PASS_DOWN_FIB_FAILED);
	}
	if (!src)
		return pass(PASS_DOWN_FIB_FAILED);

	/* Room for the outer headers between L2 and the inner IPv4 header;
	 * on the TUN (no L2) then the Ethernet header in front. */
	if (bpf_skb_adjust_room(skb, ENCAP_LEN, BPF_ADJ_ROOM_MAC, 0))
		return pass(PASS_DOWN_ENCAP_FAILED);
	if (l2 == 0 && bpf_skb_change_head(skb, ETH_LEN, 0)) {
		/* Undo, so userspace still gets the packet as it was. */
		pass(PASS_DOWN_ENCAP_FAILED);
		if (bpf_skb_adjust_room(skb, -ENCAP_LEN, BPF_ADJ_ROOM_MAC, 0))
			return TC_ACT_SHOT;
		return TC_ACT_OK;
	}

	struct ethhdr eth = {};

	if (!local) {
		__builtin_memcpy(eth.h_dest, fib.dmac, ETH_ALEN);
		__builtin_memcpy(eth.h_source, fib.smac, ETH_ALEN);
	}
	eth.h_proto = bpf_htons(ETH_P_IP);

	struct encap e = {};

	e.ip.version = 4;
	e.ip.ihl = 5;
	e.ip.tot_len = bpf_htons(tot + ENCAP_LEN);
	e.ip.frag_off = bpf_htons(IP_DF);
	e.ip.ttl = 64;
	e.ip.protocol = IPPROTO_UDP;
	e.ip.saddr = src;
	e.ip.daddr = lac_addr;
	e.ip.check = ip_checksum(&e.ip);
	e.udp.source = cfg->port;
	e.udp.dest = lac_port;
	e.udp.len = bpf_htons(tot + ENCAP_LEN - sizeof(struct iphdr));
	e.udp.check = 0; /* legal for UDP over IPv4 */
	e.l2tp[0] = bpf_htons(2);
	e.l2tp[1] = peer_tunnel;
	e.l2tp[2] = peer_session;
	e.ppp[0] = 0xff;
	e.ppp[1] = 0x03;
	e.ppp[2] = 0x00;
	e.ppp[3] = 0x21;
	if (bpf_skb_store_bytes(skb, 0, &eth, ETH_LEN, 0) ||
	    bpf_skb_store_bytes(skb, ETH_LEN, &e, ENCAP_LEN, 0)) {
		/* Half-written headers: nobody can use this packet any more. */
		pass(PASS_DOWN_ENCAP_FAILED);
		return TC_ACT_SHOT;
	}
	count(slot, 0, tot);
	return bpf_redirect(out_ifindex, out_flags);
}
