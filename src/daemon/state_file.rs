//! The state file (save_state, state_file): the control plane's
//! `SavedState` on disk, versioned and self-checking, written atomically.
//!
//! Layout: a 16-byte magic, a bincode `Header` (format version, the binary
//! that wrote it, when, the settings the sessions depend on, the body's
//! length and MD5), then the bincode body. A file that does not match
//! (another format, other settings, a damaged body) is set aside as
//! `FILE.rejected` with a log line that says why, and the daemon starts
//! clean. A file that was read is removed before the restore starts, so a
//! daemon that crashes while restoring does not restore it again.

use std::io::Write;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use md5::{Digest, Md5};
use tracing::{info, warn};

use super::control::SavedState;

const MAGIC: [u8; 16] = *b"l2tpns-rs state\n";
/// Bumped whenever `SavedState` or anything it holds changes shape. A binary
/// restores only its own format: an upgrade that changes it starts clean.
pub const FORMAT_VERSION: u32 = 1;

/// The settings restored sessions depend on: where the LACs reach us, the
/// address our end of every PPP link has, and the MRU they negotiated.
#[derive(Debug, Clone, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct Identity {
    pub bind_address: Option<Ipv4Addr>,
    pub local_address: Ipv4Addr,
    pub mru: u16,
}

impl Identity {
    pub fn of(cfg: &crate::config::Config, ppp: &crate::ppp::server::ServerConfig) -> Identity {
        Identity {
            bind_address: cfg.bind_address,
            local_address: ppp.local_address,
            mru: ppp.mru,
        }
    }

    /// What differs, in the words of the configuration.
    fn mismatch(&self, now: &Identity) -> Option<String> {
        let show = |a: Option<Ipv4Addr>| a.map_or("unset".to_string(), |a| a.to_string());
        if self.bind_address != now.bind_address {
            return Some(format!(
                "it was saved with bind_address {} and the configuration now has {}",
                show(self.bind_address),
                show(now.bind_address)
            ));
        }
        if self.local_address != now.local_address {
            return Some(format!(
                "it was saved with the LNS address {} (bind_address / the TUN address) and it is now {}",
                self.local_address, now.local_address
            ));
        }
        if self.mru != now.mru {
            return Some(format!(
                "it was saved with l2tp_mtu {} and the configuration now has {}",
                self.mru, now.mru
            ));
        }
        None
    }
}

#[derive(Debug, Clone, bincode::Encode, bincode::Decode)]
struct Header {
    format: u32,
    /// The version of the binary that wrote it (for the log).
    binary: String,
    saved_at_unix_ms: u64,
    identity: Identity,
    body_len: u64,
    body_md5: [u8; 16],
}

fn config() -> impl bincode::config::Config {
    bincode::config::standard().with_limit::<{ 1 << 31 }>()
}

fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The bytes `save` writes for `state` (no file): the fuzz target's seed.
pub fn encode(identity: &Identity, state: &SavedState) -> Result<Vec<u8>, String> {
    let body = bincode::encode_to_vec(state, config()).map_err(|e| format!("encoding: {e}"))?;
    let header = Header {
        format: FORMAT_VERSION,
        binary: env!("CARGO_PKG_VERSION").into(),
        saved_at_unix_ms: unix_ms(SystemTime::now()),
        identity: identity.clone(),
        body_len: body.len() as u64,
        body_md5: Md5::digest(&body).into(),
    };
    let mut out = MAGIC.to_vec();
    bincode::encode_into_std_write(&header, &mut out, config())
        .map_err(|e| format!("encoding: {e}"))?;
    out.extend_from_slice(&body);
    Ok(out)
}

/// What a save wrote.
#[derive(Debug, Clone, Copy)]
pub struct Written {
    pub bytes: usize,
}

/// Write `state` to `path` atomically (a temporary file, fsync, rename),
/// readable by root only: it names users and their Class.
pub fn save(path: &Path, identity: &Identity, state: &SavedState) -> Result<Written, String> {
    let out = encode(identity, state)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let tmp = sibling(path, ".new");
    let write = || -> std::io::Result<()> {
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(&out)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    };
    write().map_err(|e| format!("{}: {e}", tmp.display()))?;
    Ok(Written { bytes: out.len() })
}

/// A state taken back from disk.
pub struct Loaded {
    pub state: SavedState,
    /// Wall-clock time since the save (zero if the clock went back).
    pub downtime: Duration,
    pub bytes: usize,
    pub binary: String,
}

/// Read the state at `path`, if there is one that fits `identity`. The
/// file is gone afterwards: removed when it was read, set aside as
/// `FILE.rejected` when it did not fit.
pub fn load(path: &Path, identity: &Identity) -> Option<Loaded> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => {
            warn!(
                "state_file {}: {e}; starting with no sessions",
                path.display()
            );
            return None;
        }
    };
    match decode(&bytes, identity) {
        Ok(loaded) => {
            if let Err(e) = std::fs::remove_file(path) {
                warn!("state_file {}: cannot remove it after reading ({e}): a crash during restore would restore it again", path.display());
            }
            info!(
                file = %path.display(),
                bytes = loaded.bytes,
                saved_by = %loaded.binary,
                downtime_ms = loaded.downtime.as_millis() as u64,
                "state file read"
            );
            Some(loaded)
        }
        Err(why) => {
            set_aside(path, &why);
            None
        }
    }
}

/// Move a state file out of the way, saying why (save_state off, or it
/// does not fit).
pub fn set_aside(path: &Path, why: &str) {
    let to = sibling(path, ".rejected");
    match std::fs::rename(path, &to) {
        Ok(()) => warn!(
            "state_file {} not restored: {why}; moved to {} and starting with no sessions",
            path.display(),
            to.display()
        ),
        Err(e) => warn!(
            "state_file {} not restored: {why}; moving it to {} failed ({e}); starting with no sessions",
            path.display(),
            to.display()
        ),
    }
}

fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// The file's contents checked and decoded, or why not (any bytes: the
/// fuzz target `state_file` feeds it).
pub fn decode(bytes: &[u8], identity: &Identity) -> Result<Loaded, String> {
    let rest = bytes
        .strip_prefix(&MAGIC[..])
        .ok_or("it is not a state file of this daemon (no magic)")?;
    let (header, used): (Header, usize) = bincode::decode_from_slice(rest, config())
        .map_err(|e| format!("its header does not decode ({e})"))?;
    if header.format != FORMAT_VERSION {
        return Err(format!(
            "it has format {} (written by version {}) and this binary reads format {FORMAT_VERSION}",
            header.format, header.binary
        ));
    }
    if let Some(why) = header.identity.mismatch(identity) {
        return Err(why);
    }
    let body = &rest[used..];
    if body.len() as u64 != header.body_len
        || <[u8; 16]>::from(Md5::digest(body)) != header.body_md5
    {
        return Err("it is damaged (length or checksum wrong)".into());
    }
    let (state, used): (SavedState, usize) = bincode::decode_from_slice(body, config())
        .map_err(|e| format!("its body does not decode ({e})"))?;
    if used != body.len() {
        return Err("it has trailing bytes".into());
    }
    let now = unix_ms(SystemTime::now());
    Ok(Loaded {
        state,
        downtime: Duration::from_millis(now.saturating_sub(header.saved_at_unix_ms)),
        bytes: bytes.len(),
        binary: header.binary,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity() -> Identity {
        Identity {
            bind_address: Some(Ipv4Addr::new(192, 0, 2, 1)),
            local_address: Ipv4Addr::new(192, 0, 2, 1),
            mru: 1458,
        }
    }

    fn empty() -> SavedState {
        SavedState {
            tunnels: Vec::new(),
            sessions: Vec::new(),
            stats: Default::default(),
            pending_accounting: Vec::new(),
        }
    }

    fn dir() -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "l2tpns-state-test-{}-{}",
            std::process::id(),
            rand::random::<u32>()
        ));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn a_saved_state_comes_back_once() {
        let d = dir();
        let p = d.join("sub/state");
        let mut s = empty();
        s.stats.sessions_up = 7;
        let w = save(&p, &identity(), &s).unwrap();
        assert!(w.bytes > MAGIC.len());
        let l = load(&p, &identity()).expect("restored");
        assert_eq!(l.state.stats.sessions_up, 7);
        assert!(!p.exists(), "read once, then removed");
        assert!(load(&p, &identity()).is_none());
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn another_configuration_or_damage_sets_the_file_aside() {
        let d = dir();
        let p = d.join("state");
        save(&p, &identity(), &empty()).unwrap();
        let mut other = identity();
        other.bind_address = None;
        assert!(load(&p, &other).is_none());
        assert!(!p.exists());
        assert!(d.join("state.rejected").exists());

        save(&p, &identity(), &empty()).unwrap();
        let mut bytes = std::fs::read(&p).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
        std::fs::write(&p, &bytes).unwrap();
        assert!(load(&p, &identity()).is_none());
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn any_bytes_are_refused_without_a_panic() {
        let id = identity();
        for len in 0..64 {
            let junk: Vec<u8> = (0..len).map(|i| (i * 37) as u8).collect();
            assert!(decode(&junk, &id).is_err());
            let mut framed = MAGIC.to_vec();
            framed.extend_from_slice(&junk);
            assert!(decode(&framed, &id).is_err());
        }
    }
}
