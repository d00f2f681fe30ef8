//! How the fast path's programs find a session (Docs/FASTPATH.md,
//! "Session lines" and "Down index"): on the line its ids pick or in the
//! hash upstream, through the index entry its address picks or in the
//! hash downstream; each way found, checked and counted as its own, and
//! the index following every change of the hash at once.

mod common;
mod fastpath_common;

use common::skip_privileged;
use fastpath_common::cases::*;
use fastpath_common::checks::{check_rows, forward};
use fastpath_common::frames::*;
use fastpath_common::*;
use l2tpns::daemon::fastpath::{FastSession, PassReason, TestProgram};

use PassReason::*;
use TestProgram::{Down, Up};

/// Two sessions whose ids pick the same line (one block of lines: every
/// tunnel shares it): the first sits on the line, the second is in the
/// hash; each is found, checked and counted as its own.
#[test]
fn sessions_sharing_a_line_are_found_on_it_and_in_the_hash() {
    if skip_privileged() {
        return;
    }
    let b = key(9, A.session);
    let b_addr = [10, 0, 9, 1];
    let mut sessions = standard_sessions();
    sessions.push(session(b, b_addr, LAC, &[], 1500));
    with_lab(None, &sessions, |lab| {
        let (a_slot, _) = lab.fp.slot_counters(A).expect("A's slot");
        let (b_slot, _) = lab.fp.slot_counters(b).expect("B's slot");
        assert_eq!(a_slot, u32::from(A.session), "A is on its line");
        assert!(b_slot >= 1 << 16, "B is past the lines: {b_slot}");
        // B and LOCAL_KEY (tunnel 2, session 1) are in the hash.
        assert_eq!(lab.fp.off_line(), 2);
        for (k, addr, what) in [(A, A_ADDR, "A on its line"), (b, b_addr, "B in the hash")] {
            let inner = inner_udp(addr, 40);
            let frame = up(&l2tp_data(k.tunnel, k.session, PPP_FULL, &inner));
            forward(lab, Up, &frame, k, inner.len(), what);
        }
        // Each is checked against its own address: A's source in B's ids
        // is spoofed, and the other way round.
        let a_in_b = up(&l2tp_data(
            b.tunnel,
            b.session,
            PPP_FULL,
            &inner_udp(A_ADDR, 40),
        ));
        let b_in_a = up(&l2tp_data(
            A.tunnel,
            A.session,
            PPP_FULL,
            &inner_udp(b_addr, 40),
        ));
        check_rows(
            lab,
            Up,
            &[
                row("A's source in B's ids", UpSpoofedSource, a_in_b),
                row("B's source in A's ids", UpSpoofedSource, b_in_a),
            ],
        );
        // A leaves: its line is cleared, B is still found in the hash.
        lab.fp.remove(A);
        check_rows(
            lab,
            Up,
            &[row(
                "A after removal",
                UpUnknownSession,
                up_a(PPP_FULL, &inner_udp(A_ADDR, 40)),
            )],
        );
        let inner = inner_udp(b_addr, 40);
        let frame = up(&l2tp_data(b.tunnel, b.session, PPP_FULL, &inner));
        forward(lab, Up, &frame, b, inner.len(), "B after A left");
    });
}

/// Downstream through the index (daemon::fast_lines::DownIndexLayout):
/// two sessions whose addresses pick the same entry, the first found
/// through it and the second in the hash, each encapsulated for its own
/// LAC ids and counted in its own slot; a changed session and an address
/// taken by another session leave the index, and the packet follows the
/// hash's new value at once.
#[test]
fn addresses_sharing_a_down_index_entry_are_found_through_it_and_in_the_hash() {
    if skip_privileged() {
        return;
    }
    let b_addr = [10, 0, 16, 1];
    let b = session(key(1, 20), b_addr, LAC, &[], 1500);
    let c = session(key(1, 21), [10, 0, 0, 21], LAC, &["10.0.0.1/32"], 1500);
    let mut sessions = standard_sessions();
    sessions.push(b.clone());
    let a = a_session();
    let expect = |lab: &Lab, s: &FastSession, dst: [u8; 4], what: &str| {
        let inner = to_subscriber(dst, 64);
        let out = forward(lab, Down, &down(&inner), s.key, inner.len(), what);
        assert_eq!(
            hex(&out),
            hex(&encapsulated(&encap_for(s, None), &inner)),
            "{what}: encapsulated for its own LAC ids"
        );
    };
    with_lab(None, &sessions, |lab| {
        assert_eq!(
            lab.fp.down_index_len(),
            4096,
            "10.0.16.1 picks 10.0.0.1's entry"
        );
        assert!(lab.fp.down_indexed(A), "A through the index");
        assert!(!lab.fp.down_indexed(b.key), "B in the hash");
        expect(lab, &a, A_ADDR, "A through the index");
        expect(lab, &b, b_addr, "B in the hash");

        // A changes (a smaller MRU): its record goes, the hash has the
        // new value, and the next packet obeys it.
        let smaller = FastSession {
            mru: 1200,
            ..a.clone()
        };
        lab.fp.upsert(&smaller).expect("upsert");
        assert!(!lab.fp.down_indexed(A));
        check_rows(
            lab,
            Down,
            &[row(
                "over A's new MRU",
                DownOverMru,
                down(&to_subscriber(A_ADDR, 1200)),
            )],
        );
        expect(lab, &smaller, A_ADDR, "A in the hash after its change");

        // C takes 10.0.0.1 as a Framed-Route: the packet goes to C.
        lab.fp.upsert(&c).expect("upsert C");
        expect(lab, &c, A_ADDR, "A's old address to its new owner");
        assert!(
            lab.fp.down_indexed(c.key),
            "C's own address through the index"
        );
        expect(lab, &c, [10, 0, 0, 21], "C through the index");
        lab.fp.remove(c.key);
        check_rows(
            lab,
            Down,
            &[row(
                "10.0.0.1 after its owner left",
                DownNoRoute,
                down(&to_subscriber(A_ADDR, 64)),
            )],
        );
        expect(lab, &b, b_addr, "B unmoved by all of it");
    });
}
