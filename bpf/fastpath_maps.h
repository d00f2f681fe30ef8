// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The fast path's interface with userspace (Docs/FASTPATH.md): the pass
 * reasons, the maps and their keys and values. The Rust mirror of these is
 * src/daemon/fastpath/abi.rs (and pass_reason.rs), byte for byte; the
 * loader sets every max_entries but `passed` and `config`.
 *
 * All addresses, ports and L2TP ids in the maps are in network byte order
 * (as on the wire) unless a field says otherwise.
 */
#ifndef FASTPATH_MAPS_H
#define FASTPATH_MAPS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
/* Why a packet went on to the userspace path. The SAME numbers, in the same
 * order, as PassReason in src/daemon/fastpath/pass_reason.rs: change both
 * together (the loader refuses an object whose `passed` map has another
 * size, and tests/fastpath_programs.rs checks each reason by number). */
enum pass_reason {
	PASS_UP_MALFORMED = 0,      /* outer IPv4 checksum or IPv4/UDP lengths wrong */
	PASS_UP_OUTER_FRAGMENT = 1, /* the outer IPv4 packet is fragmented */
	PASS_UP_GSO = 2,            /* GRO merged several datagrams */
	PASS_UP_L2TP_VERSION = 3,   /* not L2TPv2 */
	PASS_UP_CONTROL = 4,        /* T bit: a control message */
	PASS_UP_L2TP_OPTIONS = 5,   /* L, S or O bit: a header we do not parse */
	PASS_UP_UNKNOWN_SESSION = 6,
	PASS_UP_WRONG_PEER = 7,     /* not from the tunnel's LAC address and port */
	PASS_UP_NOT_IPV4 = 8,       /* LCP, IPCP, IPv6, ... or bad PPP framing */
	PASS_UP_INNER_MALFORMED = 9,
	PASS_UP_SPOOFED_SOURCE = 10, /* userspace checks Framed-Routes, counts drops */
	PASS_UP_INNER_FRAGMENT = 11,
	PASS_UP_TCP_SYN = 12,       /* userspace clamps the MSS */
	PASS_UP_UDP_CHECKSUM = 13,  /* wrong, not verifiable here, or too long */
	PASS_UP_OVER_TUN_MTU = 14,  /* the redirect would drop it */
	PASS_UP_DECAP_FAILED = 15,
	PASS_DOWN_GSO = 16,         /* userspace segments it */
	PASS_DOWN_NOT_IPV4 = 17,
	PASS_DOWN_MALFORMED = 18,
	PASS_DOWN_NO_ROUTE = 19,    /* no session: userspace answers ICMP */
	PASS_DOWN_OVER_MRU = 20,    /* userspace fragments or answers ICMP */
	PASS_DOWN_TCP_SYN = 21,
	PASS_DOWN_NO_NEIGH = 22,    /* userspace's send resolves the neighbour */
	PASS_DOWN_FRAG_NEEDED = 23, /* the outer packet exceeds the route MTU */
	PASS_DOWN_FIB_FAILED = 24,  /* no usable route to the LAC */
	PASS_DOWN_NOT_UPLINK = 25,  /* the route leaves by a device we did not check */
	PASS_DOWN_ENCAP_FAILED = 26,
	PASS_DOWN_LOCAL_LAC = 27,   /* a LAC on this host, which lo would refuse */
	PASS_DOWN_PARTIAL_CHECKSUM = 28, /* TCP/UDP checksum left for a device */
	PASS_REASON_COUNT = 29,
};

struct up_key {
	__be16 tunnel;  /* our ids, as in the L2TP header */
	__be16 session;
};

struct up_value {
	__be32 lac_addr;
	__be16 lac_port;
	__u16 pad;
	__be32 address; /* the session's IPCP address */
	__u32 slot;     /* index into `counters` */
};

struct down_key {
	__u32 prefixlen; /* LPM trie key: prefix length in bits, then the data */
	__be32 addr;
};

struct down_value {
	__be32 lac_addr;
	__be16 lac_port;
	__be16 peer_tunnel;
	__be16 peer_session;
	__u16 mru;      /* host order: largest inner IPv4 packet to send */
	__u32 slot;
};

struct fp_config {
	__u32 tun_ifindex;
	__u32 tun_mtu;     /* host order; upstream packets beyond it are passed */
	__be32 local_addr; /* bind_address, 0 if none */
	__be16 port;       /* our L2TP port */
	__u16 flags;       /* CFG_* */
	__u32 line_mask;   /* tunnel id bits that pick a block of 65,536 lines */
	__u32 down_mask;   /* address bits that pick a down_index entry */
};

/* lo takes a packet from a local source (accept_local, route_localnet):
 * downstream to a LAC on this host may go through lo's ingress. */
#define CFG_LOCAL_LAC_OK 1

struct fp_counters {
	__u64 up_packets;
	__u64 up_bytes;
	__u64 down_packets;
	__u64 down_bytes;
};

/* One cache line of `counters`: a session's counts, and, when the session
 * sits on the line its own ids pick (line_index), what the up program
 * checks, so that upstream finds a session with one miss instead of the
 * hash's bucket and element. Userspace writes `ids` last and clears it
 * first (x86's stores and loads are not reordered among themselves).
 *
 * The down record: when down_index names this line, how to encapsulate
 * for the address `down_addr`, the same as that address's down_hosts
 * value. Written the same way: `down_addr` after the fields, cleared
 * first, and never written again until the line has rested. */
struct fp_line {
	struct fp_counters c;
	__u32 ids;        /* the up_key's 4 bytes as on the wire; 0: empty */
	__be32 lac_addr;
	__be32 address;
	__be16 lac_port;
	__u16 pad0;
	__be32 down_addr; /* 0: no down record */
	__be32 down_lac_addr;
	__be16 down_lac_port;
	__be16 peer_tunnel;
	__be16 peer_session;
	__u16 mru;        /* host order, as in down_value */
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct up_key);
	__type(value, struct up_value);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 1);
} up_sessions SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__type(key, struct down_key);
	__type(value, struct down_value);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 1);
} down_routes SEC(".maps");

/* Host destinations (each session's address, /32 Framed-Routes) by
 * address, looked up before the trie: one hash probe where the trie walks
 * a node per prefix bit, which grows with the sessions held. A /32 lives
 * here only, so the longest match is still the one userspace makes. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __be32);
	__type(value, struct down_value);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 1);
} down_hosts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct fp_config);
	__uint(max_entries, 1);
} config SEC(".maps");

/* One slot per session; userspace mmaps it, reads the counts directly and
 * writes the lines. Slots below (line_mask + 1) << 16 are lines. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct fp_line);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1);
} counters SEC(".maps");

/* Downstream's first probe (daemon::fast_lines::DownIndexLayout): by the
 * destination's low bits (down_mask), the slot + 1 of the line whose down
 * record may be the destination's; 0 names none. Sixteen entries to an
 * element, as an array lays each value out at a multiple of 8 bytes: one
 * cache line holds 16 addresses' entries. Userspace mmaps it and writes
 * an entry after the record it names, clears it before. */
#define DOWN_BLOCK 16
struct down_block {
	__u32 slot[DOWN_BLOCK];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct down_block);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1);
} down_index SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, PASS_REASON_COUNT);
} passed SEC(".maps");

/* The devices the downstream program may send out of: the uplinks, whose
 * link type (Ethernet) the loader checked. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u32);
	__type(value, __u32);
	__uint(max_entries, 1);
} egress_ifaces SEC(".maps");

#endif /* FASTPATH_MAPS_H */
