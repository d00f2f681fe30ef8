//! Attaching the two programs to their devices and detaching them.
//!
//! - Linux >= 6.6: TCX links (`bpf_link`), appended after any programs
//!   already there. A link lives only as long as its file descriptor, so a
//!   crashed daemon leaves nothing attached; Drop detaches explicitly too.
//! - Older kernels (or TCX refused): a cls_bpf direct-action filter under
//!   the clsact qdisc (added if missing, left in place afterwards). Such a
//!   filter outlives its process, so before attaching we delete any filter
//!   with our program's name left by a crashed earlier run; Drop deletes
//!   ours.

use aya::programs::tc::{self, NlOptions, SchedClassifierLinkId, TcAttachOptions};
use aya::programs::{LinkOrder, SchedClassifier, TcAttachType};
use aya::Ebpf;

use super::FastPathError;

/// The programs' names in bpf/fastpath.c (also how stale filters are found).
pub const UP_PROGRAM: &str = "l2tpns_up";
pub const DOWN_PROGRAM: &str = "l2tpns_down";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Tcx,
    Netlink,
}

/// One program attached to one device.
#[derive(Debug)]
pub struct Attachment {
    program: &'static str,
    interface: String,
    direction: TcAttachType,
    mode: Mode,
    link: SchedClassifierLinkId,
}

impl Attachment {
    /// This program on this device?
    pub fn is(&self, program: &str, interface: &str) -> bool {
        self.program == program && self.interface == interface
    }
}

fn classifier<'a>(
    ebpf: &'a mut Ebpf,
    name: &str,
) -> Result<&'a mut SchedClassifier, FastPathError> {
    ebpf.program_mut(name)
        .ok_or_else(|| FastPathError::Load(format!("the BPF object has no program {name}")))?
        .try_into()
        .map_err(|e| FastPathError::Load(format!("{name}: {e}")))
}

/// Attach `program` to `interface` in `direction`: TCX first, netlink if
/// the kernel refuses TCX.
pub fn attach(
    ebpf: &mut Ebpf,
    program: &'static str,
    interface: &str,
    direction: TcAttachType,
) -> Result<Attachment, FastPathError> {
    let p = classifier(ebpf, program)?;
    let tcx_error = match p.attach_with_options(
        interface,
        direction,
        TcAttachOptions::TcxOrder(LinkOrder::default()),
    ) {
        Ok(link) => {
            // A filter of a crashed run on an older kernel would see the
            // packets before us; it goes too (nothing there is the usual case).
            let _ = tc::qdisc_detach_program(interface, direction, program);
            return Ok(Attachment {
                program,
                interface: interface.to_string(),
                direction,
                mode: Mode::Tcx,
                link,
            });
        }
        Err(e) => e,
    };
    // clsact may exist already (ours from an earlier run, or someone's).
    let _ = tc::qdisc_add_clsact(interface);
    let _ = tc::qdisc_detach_program(interface, direction, program);
    match p.attach_with_options(
        interface,
        direction,
        TcAttachOptions::Netlink(NlOptions::default()),
    ) {
        Ok(link) => Ok(Attachment {
            program,
            interface: interface.to_string(),
            direction,
            mode: Mode::Netlink,
            link,
        }),
        Err(nl) => Err(FastPathError::attach(
            interface,
            format!("TCX: {}; tc (netlink): {}", chain(&tcx_error), chain(&nl)),
        )),
    }
}

/// Detach one attachment; failures are ignored (the device may be gone).
pub fn detach(ebpf: &mut Ebpf, a: Attachment) {
    if let Ok(p) = classifier(ebpf, a.program) {
        let _ = p.detach(a.link);
    }
}

/// "tcx ingress on lo, veth0; tcx egress on tun0" for the start-up log.
pub fn describe(list: &[Attachment]) -> String {
    let mut groups: Vec<(Mode, TcAttachType, Vec<&str>)> = Vec::new();
    for a in list {
        match groups.last_mut() {
            Some((m, d, names)) if *m == a.mode && *d == a.direction => names.push(&a.interface),
            _ => groups.push((a.mode, a.direction, vec![&a.interface])),
        }
    }
    groups
        .iter()
        .map(|(m, d, names)| {
            let mode = match m {
                Mode::Tcx => "tcx",
                Mode::Netlink => "tc",
            };
            let dir = match d {
                TcAttachType::Egress => "egress",
                _ => "ingress",
            };
            format!("{mode} {dir} on {}", names.join(", "))
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// An error with its sources, "outer: inner: innermost".
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut next = e.source();
    while let Some(inner) = next {
        let t = inner.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        next = inner.source();
    }
    s
}
