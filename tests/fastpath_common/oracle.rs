//! The fuzz oracle of tests/fastpath_programs.rs: runs one frame through a
//! program and checks the verdict, the frame as the program left it and
//! every counter against what must hold. A passed frame is unchanged and
//! counted under exactly one reason (none if it is not L2TP for us); a
//! forwarded upstream frame is what the userspace data plane
//! (`dataplane::upstream`) would take from the same peer for the same
//! session, the same inner packet from the session's own address; a
//! forwarded downstream packet is exactly the encapsulation for the session
//! that owns its destination (the userspace table's longest-prefix match).

use std::net::{Ipv4Addr, SocketAddrV4};

use l2tpns::daemon::fastpath::{FastSession, PassReason, TestProgram};
use l2tpns::dataplane::{upstream, SessionKey, SessionTable, UpVerdict};

use super::cases::*;
use super::frames::*;
use super::*;
use TestProgram::{Down, Up};

/// The upstream program's tests before it takes a frame for L2TP to us
/// (and counts whatever it does with it): Ethernet to us with IPv4, UDP,
/// not a later fragment, to port 1701.
pub fn up_is_ours(f: &[u8]) -> bool {
    if f.len() < OUTER_IP + 20 || f[..6] != TO_US || be16(f, 12) != ETHERTYPE_IPV4 {
        return false;
    }
    let ip = &f[OUTER_IP..];
    let hl = ihl_bytes(ip);
    ip[0] >> 4 == 4
        && hl >= 20
        && ip[9] == PROTO_UDP
        && be16(ip, 6) & 0x1fff == 0
        && ip.len() >= hl + 8
        && be16(ip, hl + 2) == L2TP_PORT
}

/// The fuzz loop's state: the oracle, the counters as last seen, tallies.
pub struct Fuzz<'l, 'n> {
    lab: &'l Lab<'n>,
    sessions: Vec<FastSession>,
    oracle: SessionTable,
    passed: Vec<u64>,
    forwarded: Vec<[u64; 4]>,
    pub runs: u64,
    pub not_ours: u64,
    pub redirected: u64,
    pub dropped: u64,
    /// Frames BPF_PROG_TEST_RUN would not run at all.
    pub refused: u64,
}

impl<'l, 'n> Fuzz<'l, 'n> {
    pub fn new(lab: &'l Lab<'n>, sessions: &[FastSession]) -> Self {
        Fuzz {
            lab,
            sessions: sessions.to_vec(),
            oracle: oracle_table(sessions),
            passed: lab.passed(),
            forwarded: sessions.iter().map(|s| lab.forwarded(s.key)).collect(),
            runs: 0,
            not_ours: 0,
            redirected: 0,
            dropped: 0,
            refused: 0,
        }
    }

    /// Run `frame` and check everything; false if test_run refused it.
    pub fn run(&mut self, program: TestProgram, frame: &[u8]) -> bool {
        let Some((verdict, out)) = self.lab.try_run(program, frame) else {
            assert!(
                refused_by_test_run(frame),
                "test_run failed on {}",
                hex(frame)
            );
            self.refused += 1;
            return false;
        };
        assert!(!refused_by_test_run(frame), "test_run took {}", hex(frame));
        let passed = self.lab.passed();
        let forwarded: Vec<[u64; 4]> = self
            .sessions
            .iter()
            .map(|s| self.lab.forwarded(s.key))
            .collect();
        let reasons = moved(&self.passed, &passed);
        let counted: Vec<(SessionKey, [u64; 4])> = self
            .sessions
            .iter()
            .zip(forwarded.iter().zip(&self.forwarded))
            .filter(|(_, (now, was))| now != was)
            .map(|(s, (now, was))| (s.key, [0, 1, 2, 3].map(|i| now[i] - was[i])))
            .collect();
        let ctx = format!("{program:?} frame {}", hex(frame));
        match verdict {
            TC_ACT_OK => {
                assert_eq!(hex(&out), hex(frame), "passed but changed: {ctx}");
                assert_eq!(counted, vec![], "passed but counted forwarded: {ctx}");
                let ours = matches!(program, Down) || up_is_ours(frame);
                if ours {
                    assert!(
                        reasons.len() == 1 && reasons[0].1 == 1,
                        "{reasons:?} for {ctx}"
                    );
                } else {
                    assert_eq!(reasons, vec![], "not ours but counted: {ctx}");
                    self.not_ours += 1;
                }
            }
            TC_ACT_REDIRECT => {
                assert_eq!(reasons, vec![], "forwarded and passed: {ctx}");
                let (k, inner_len) = match program {
                    Up => self.up_oracle(frame, &out, &ctx),
                    Down => self.down_oracle(frame, &out, &ctx),
                };
                let n = inner_len as u64;
                let delta = match program {
                    Up => [1, n, 0, 0],
                    Down => [0, 0, 1, n],
                };
                assert_eq!(counted, vec![(k, delta)], "slot counters: {ctx}");
                self.redirected += 1;
            }
            TC_ACT_SHOT => {
                assert_eq!(reasons, vec![(PassReason::DownEncapFailed, 1)], "{ctx}");
                self.dropped += 1;
            }
            v => panic!("verdict {v} for {ctx}"),
        }
        self.passed = passed;
        self.forwarded = forwarded;
        self.runs += 1;
        true
    }

    /// The userspace data plane must take the same datagram from the same
    /// peer for the same session and inner packet, from its own address.
    fn up_oracle(&self, frame: &[u8], out: &[u8], ctx: &str) -> (SessionKey, usize) {
        let ip = &frame[OUTER_IP..];
        let hl = ihl_bytes(ip);
        assert_eq!(checksum(&ip[..hl]), 0, "IPv4 input would drop it: {ctx}");
        let datagram = &ip[..usize::from(be16(ip, 2))];
        assert!(
            udp_checksum_holds(datagram),
            "a UDP socket would drop it: {ctx}"
        );
        let from = SocketAddrV4::new(Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15]), be16(ip, hl));
        match upstream(&self.oracle, &datagram[hl + 8..], from.into(), 0) {
            UpVerdict::ToTun(inner, k) => {
                assert_eq!(hex(&out[..ETH_LEN]), hex(&frame[..ETH_LEN]), "{ctx}");
                assert_eq!(
                    hex(&out[ETH_LEN..]),
                    hex(inner),
                    "not the oracle's inner packet: {ctx}"
                );
                let entry = self.oracle.by_key(k).expect("session");
                assert_eq!(inner[12..16], entry.address.octets(), "inner source: {ctx}");
                (k, inner.len())
            }
            v => panic!("forwarded, but userspace says {v:?}: {ctx}"),
        }
    }

    /// The packet must be the whole, sane IPv4 packet of the session that
    /// owns its destination (longest prefix), within its MRU, not a SYN,
    /// and the output exactly its encapsulation.
    fn down_oracle(&self, frame: &[u8], out: &[u8], ctx: &str) -> (SessionKey, usize) {
        let ip = &frame[ETH_LEN..];
        let hl = ihl_bytes(ip);
        assert_eq!(be16(frame, 12), ETHERTYPE_IPV4, "{ctx}");
        assert!(ip[0] >> 4 == 4 && hl >= 20 && hl <= ip.len(), "{ctx}");
        assert_eq!(usize::from(be16(ip, 2)), ip.len(), "{ctx}");
        let dst = Ipv4Addr::new(ip[16], ip[17], ip[18], ip[19]);
        let entry = self
            .oracle
            .by_destination(dst)
            .unwrap_or_else(|| panic!("no session owns {dst}: {ctx}"));
        assert!(ip.len() <= usize::from(entry.mru), "over the MRU: {ctx}");
        if ip[9] == PROTO_TCP && be16(ip, 6) & 0x1fff == 0 {
            assert!(
                ip.len() > hl + 13 && ip[hl + 13] & TCP_SYN == 0,
                "a SYN: {ctx}"
            );
        }
        let s = self
            .sessions
            .iter()
            .find(|s| s.key == entry.key)
            .expect("session");
        assert_eq!(
            hex(out),
            hex(&encapsulated(&encap_for(s, None), ip)),
            "{ctx}"
        );
        (entry.key, ip.len())
    }
}

pub fn fuzz_sessions() -> Vec<FastSession> {
    // The userspace fuzzer's sessions (fuzz/fuzz_targets/dataplane_packet.rs),
    // so that its seeds name them; (2, 1)'s LAC on this host.
    vec![
        session(key(1, 1), [10, 0, 0, 1], LAC, &["192.168.0.0/16"], 1500),
        session(key(1, 2), [10, 0, 0, 2], LAC, &[], 576),
        session(
            key(2, 1),
            [10, 0, 0, 3],
            LOCAL_LAC,
            &["172.16.0.0/12"],
            1400,
        ),
    ]
}

/// The fuzzer's seed corpus: upstream UDP payloads and downstream packets.
fn seeds() -> Vec<(String, Vec<u8>)> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/seeds/dataplane_packet");
    let mut all: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{dir}: {e}"))
        .map(|d| d.expect("seed").path())
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).expect("seed"),
            )
        })
        .collect();
    all.sort();
    assert!(all.len() >= 8, "seed corpus missing in {dir}");
    all
}

/// Valid frames both ways for each fuzz session, and the seeds.
pub fn fuzz_bases(sessions: &[FastSession]) -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    let (mut ups, mut downs) = (Vec::new(), Vec::new());
    for s in sessions {
        let a = s.address.octets();
        let inners = [
            inner_udp(a, 40),
            inner_udp(a, 700),
            tcp4(addr(a, 40000), REMOTE, TCP_ACK, &pattern(60)),
            tcp4(addr(a, 40000), REMOTE, TCP_SYN, &[]),
            ipv4(
                s.address,
                *REMOTE.ip(),
                PROTO_ICMP,
                &[8, 0, 0xf7, 0xfe, 0, 1, 0, 0],
            ),
        ];
        for (i, inner) in inners.iter().enumerate() {
            for ppp in [PPP_FULL, PPP_PFC, PPP_ACFC, PPP_ACFC_PFC] {
                let l2tp = l2tp_data(s.key.tunnel, s.key.session, ppp, inner);
                ups.push(up_from(s.peer, &l2tp, i % 2 == 0));
            }
        }
        let mut dests = vec![a];
        dests.extend(s.routes.iter().map(|r| {
            let mut o = r.network().octets();
            o[3] |= 7;
            o
        }));
        for d in dests {
            downs.push(down(&to_subscriber(d, 40)));
            downs.push(down(&to_subscriber(d, usize::from(s.mru) - 28)));
            downs.push(down(&tcp4(REMOTE, addr(d, 40000), TCP_ACK, &pattern(60))));
            downs.push(down(&tcp4(REMOTE, addr(d, 40000), TCP_SYN, &[])));
        }
    }
    downs.push(down(&to_subscriber([10, 9, 9, 9], 40)));
    for (name, bytes) in seeds() {
        // Every seed as an upstream payload from the usual LAC...
        ups.push(up(&bytes));
        // ...and the downstream ones as packets from the Internet.
        if name.starts_with("down") {
            downs.push(down(&bytes));
        }
    }
    (ups, downs)
}
