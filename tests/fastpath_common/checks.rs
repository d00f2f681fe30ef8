//! Running frames through a lab's programs and checking what they did,
//! for the programs' tests.

use l2tpns::daemon::fastpath::{PassReason, TestProgram};
use l2tpns::dataplane::SessionKey;

use super::cases::Row;
use super::frames::hex;
use super::{moved, Lab, TC_ACT_OK, TC_ACT_REDIRECT};

/// Run each row: passed, unchanged, and counted under its reason only.
pub fn check_rows(lab: &Lab, program: TestProgram, rows: &[Row]) {
    for r in rows {
        let before = lab.passed();
        let (verdict, out) = lab.run(program, &r.frame, r.gso);
        assert_eq!(verdict, TC_ACT_OK, "{}: verdict", r.what);
        assert_eq!(
            hex(&out),
            hex(&r.frame),
            "{}: the packet must be unchanged",
            r.what
        );
        let expected: Vec<(PassReason, u64)> = r.reason.iter().map(|&x| (x, 1)).collect();
        assert_eq!(moved(&before, &lab.passed()), expected, "{}", r.what);
    }
}

/// Run a frame the program must forward for `k`; the output.
pub fn forward(
    lab: &Lab,
    program: TestProgram,
    frame: &[u8],
    k: SessionKey,
    inner_len: usize,
    what: &str,
) -> Vec<u8> {
    let passed = lab.passed();
    let before = lab.forwarded(k);
    let (verdict, out) = lab.run(program, frame, None);
    assert_eq!(
        verdict,
        TC_ACT_REDIRECT,
        "{what}: verdict (passed: {:?})",
        moved(&passed, &lab.passed())
    );
    let n = inner_len as u64;
    let expected = match program {
        TestProgram::Up => [before[0] + 1, before[1] + n, before[2], before[3]],
        TestProgram::Down => [before[0], before[1], before[2] + 1, before[3] + n],
    };
    assert_eq!(lab.forwarded(k), expected, "{what}: the slot's counters");
    assert_eq!(
        moved(&passed, &lab.passed()),
        vec![],
        "{what}: nothing passed"
    );
    out
}
