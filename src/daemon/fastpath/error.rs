//! Why the kernel fast path could not start or take a session. Each
//! message names the real cause and, where it helps the operator, the
//! setting that avoids the fast path (`data_path`).

use std::error::Error;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FastPathError {
    /// build.rs could not compile bpf/fastpath.c (the reason it gave).
    #[error(
        "the kernel fast path is not built into this binary ({0}); rebuild with clang, llvm \
         and libbpf-dev installed, or set data_path to userspace"
    )]
    NotBuilt(String),
    #[error(
        "the kernel fast path needs root (CAP_BPF, CAP_NET_ADMIN): {0}; run as root or set \
         data_path to userspace"
    )]
    Permission(String),
    #[error(
        "cannot load the kernel fast path: {0} (it needs Linux >= 5.8 with BPF and BTF); set \
         data_path to userspace"
    )]
    Load(String),
    #[error("cannot attach the kernel fast path to {interface}: {error}")]
    Attach { interface: String, error: String },
    #[error("kernel fast path map: {0}")]
    Map(String),
}

impl FastPathError {
    pub fn attach(interface: &str, error: impl Into<String>) -> Self {
        FastPathError::Attach {
            interface: interface.to_string(),
            error: error.into(),
        }
    }

    /// Loading failed: Permission if the kernel said EPERM anywhere in the
    /// chain (not root, no CAP_BPF), else Load with the whole chain.
    pub fn loading(context: &str, e: &(dyn Error + 'static)) -> Self {
        let text = format!("{context}: {}", super::attach::chain(e));
        if eperm(e) {
            FastPathError::Permission(text)
        } else {
            FastPathError::Load(text)
        }
    }
}

/// EPERM somewhere in the source chain. (Not EACCES: the verifier uses it
/// for rejected programs.)
fn eperm(e: &(dyn Error + 'static)) -> bool {
    let mut next = Some(e);
    while let Some(err) = next {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            if io.raw_os_error() == Some(libc::EPERM) {
                return true;
            }
        }
        next = err.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("map create failed")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn eperm_in_the_chain_is_a_permission_error() {
        let e = Outer(std::io::Error::from_raw_os_error(libc::EPERM));
        let f = FastPathError::loading("up_sessions", &e);
        assert!(matches!(f, FastPathError::Permission(_)), "{f}");
        assert!(f.to_string().contains("data_path"), "{f}");
        let e = Outer(std::io::Error::from_raw_os_error(libc::EACCES));
        assert!(matches!(
            FastPathError::loading("prog", &e),
            FastPathError::Load(_)
        ));
    }

    #[test]
    fn messages_name_the_cause() {
        let e = FastPathError::NotBuilt("cannot run clang".into());
        assert!(e.to_string().contains("cannot run clang"));
        let e = FastPathError::attach("eth9", "no such device");
        assert_eq!(
            e.to_string(),
            "cannot attach the kernel fast path to eth9: no such device"
        );
    }
}
