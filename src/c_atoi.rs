//! C's `atoi`, as l2tpns's CLI, nsctl and plugins read numbers: a word that
//! is not a number reads as 0, which they then refuse. One copy for our
//! nsctl client, the CLI's and the plugins' commands.

/// C's `atoi`: leading blanks, a sign, then digits; anything else ends it.
pub fn atoi(s: &str) -> i64 {
    let s = s.trim_start();
    let (neg, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let n = digits
        .bytes()
        .take_while(u8::is_ascii_digit)
        .fold(0i64, |n, d| {
            n.saturating_mul(10).saturating_add(i64::from(d - b'0'))
        });
    if neg {
        -n
    } else {
        n
    }
}

/// `atoi` for a rate or a count that must be positive: a negative or
/// out-of-range value reads as 0 (refused by the caller).
pub fn atoi_u32(s: &str) -> u32 {
    u32::try_from(atoi(s)).unwrap_or(0)
}
