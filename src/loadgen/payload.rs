//! The payload of benchmark packets: a magic, the session index and a
//! per-stream sequence number, so the receiver counts loss and reordering
//! per session exactly. Also the sink's report request and reply, which
//! travel through a session like any other packet.

use thiserror::Error;

/// A benchmark data packet.
pub const MAGIC_DATA: [u8; 4] = *b"L2tB";
/// "Tell me what you received" (loadgen -> sink).
pub const MAGIC_REPORT_REQUEST: [u8; 4] = *b"L2tQ";
/// The sink's answer.
pub const MAGIC_REPORT: [u8; 4] = *b"L2tR";

/// magic (4) + session index (4) + sequence number (8).
pub const STAMP_LEN: usize = 16;
/// magic + 8 u64 fields.
pub const REPORT_LEN: usize = 4 + 8 * 8;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum PayloadError {
    #[error("payload of {0} bytes is too short")]
    TooShort(usize),
    #[error("not a benchmark payload")]
    NotOurs,
}

/// Who sent a data packet and its place in that sender's stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    pub index: u32,
    pub seq: u64,
}

impl Stamp {
    /// Writes the stamp at the start of `buf`; the rest is left alone.
    pub fn emit(&self, buf: &mut [u8]) -> Result<(), PayloadError> {
        let len = buf.len();
        let b = buf
            .get_mut(..STAMP_LEN)
            .ok_or(PayloadError::TooShort(len))?;
        b[..4].copy_from_slice(&MAGIC_DATA);
        b[4..8].copy_from_slice(&self.index.to_be_bytes());
        b[8..16].copy_from_slice(&self.seq.to_be_bytes());
        Ok(())
    }

    /// Rewrites only the sequence number of an emitted stamp (hot path).
    pub fn set_seq(buf: &mut [u8], seq: u64) -> Result<(), PayloadError> {
        let len = buf.len();
        buf.get_mut(8..16)
            .ok_or(PayloadError::TooShort(len))?
            .copy_from_slice(&seq.to_be_bytes());
        Ok(())
    }

    pub fn parse(buf: &[u8]) -> Result<Stamp, PayloadError> {
        let b = buf
            .get(..STAMP_LEN)
            .ok_or(PayloadError::TooShort(buf.len()))?;
        if b[..4] != MAGIC_DATA {
            return Err(PayloadError::NotOurs);
        }
        let mut index = [0u8; 4];
        index.copy_from_slice(&b[4..8]);
        let mut seq = [0u8; 8];
        seq.copy_from_slice(&b[8..16]);
        Ok(Stamp {
            index: u32::from_be_bytes(index),
            seq: u64::from_be_bytes(seq),
        })
    }
}

/// What the sink has received so far, over all sources.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SinkReport {
    pub packets: u64,
    pub bytes: u64,
    pub lost: u64,
    pub reordered: u64,
    pub sources: u64,
    pub min_per_source: u64,
    pub max_per_source: u64,
    /// First to last data packet, microseconds.
    pub window_us: u64,
}

impl SinkReport {
    pub fn emit(&self) -> Vec<u8> {
        let mut v = MAGIC_REPORT.to_vec();
        for x in [
            self.packets,
            self.bytes,
            self.lost,
            self.reordered,
            self.sources,
            self.min_per_source,
            self.max_per_source,
            self.window_us,
        ] {
            v.extend_from_slice(&x.to_be_bytes());
        }
        v
    }

    pub fn parse(buf: &[u8]) -> Result<SinkReport, PayloadError> {
        let b = buf
            .get(..REPORT_LEN)
            .ok_or(PayloadError::TooShort(buf.len()))?;
        if b[..4] != MAGIC_REPORT {
            return Err(PayloadError::NotOurs);
        }
        let mut f = [0u64; 8];
        for (i, chunk) in b[4..].chunks_exact(8).enumerate() {
            let mut x = [0u8; 8];
            x.copy_from_slice(chunk);
            if let Some(slot) = f.get_mut(i) {
                *slot = u64::from_be_bytes(x);
            }
        }
        Ok(SinkReport {
            packets: f[0],
            bytes: f[1],
            lost: f[2],
            reordered: f[3],
            sources: f[4],
            min_per_source: f[5],
            max_per_source: f[6],
            window_us: f[7],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn stamp_round_trip_and_seq_rewrite() {
        let mut b = [0u8; 36];
        Stamp { index: 7, seq: 1 }.emit(&mut b).unwrap();
        assert_eq!(Stamp::parse(&b), Ok(Stamp { index: 7, seq: 1 }));
        Stamp::set_seq(&mut b, u64::MAX).unwrap();
        assert_eq!(
            Stamp::parse(&b),
            Ok(Stamp {
                index: 7,
                seq: u64::MAX
            })
        );
    }

    #[test]
    fn malformed_stamps_are_errors() {
        assert_eq!(Stamp::parse(&[]), Err(PayloadError::TooShort(0)));
        assert_eq!(Stamp::parse(&[0u8; 15]), Err(PayloadError::TooShort(15)));
        assert_eq!(Stamp::parse(&[0u8; 16]), Err(PayloadError::NotOurs));
        let mut short = [0u8; 10];
        assert_eq!(
            Stamp { index: 1, seq: 1 }.emit(&mut short),
            Err(PayloadError::TooShort(10))
        );
        assert_eq!(
            Stamp::set_seq(&mut short, 1),
            Err(PayloadError::TooShort(10))
        );
        let report = SinkReport::default().emit();
        assert_eq!(Stamp::parse(&report), Err(PayloadError::NotOurs));
        assert_eq!(
            SinkReport::parse(&report[..20]),
            Err(PayloadError::TooShort(20))
        );
        let mut b = [0u8; 16];
        Stamp { index: 1, seq: 1 }.emit(&mut b).unwrap();
        assert!(SinkReport::parse(&b).is_err());
    }

    proptest! {
        #[test]
        fn stamp_parse_emit(index: u32, seq: u64, tail in proptest::collection::vec(any::<u8>(), 0..64)) {
            let mut b = vec![0u8; STAMP_LEN];
            b.extend_from_slice(&tail);
            let s = Stamp { index, seq };
            s.emit(&mut b).unwrap();
            prop_assert_eq!(Stamp::parse(&b), Ok(s));
        }

        #[test]
        fn report_parse_emit(a: u64, b: u64, c: u64, d: u64, e: u64, f: u64, g: u64, h: u64) {
            let r = SinkReport { packets: a, bytes: b, lost: c, reordered: d, sources: e,
                min_per_source: f, max_per_source: g, window_us: h };
            prop_assert_eq!(SinkReport::parse(&r.emit()), Ok(r));
        }

        #[test]
        fn arbitrary_bytes_never_panic(v in proptest::collection::vec(any::<u8>(), 0..100)) {
            let _ = Stamp::parse(&v);
            let _ = SinkReport::parse(&v);
        }
    }
}
