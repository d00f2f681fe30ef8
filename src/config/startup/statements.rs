//! The configuration-mode commands of a startup-config other than `set`:
//! plugins, BGP (`router bgp`, `neighbour`), access lists and `setforward`,
//! read into a typed `Statement` list in file order. Syntax follows l2tpns
//! 2.4.1's `cli.c` (libcli modes: a `router bgp` or `ip access-list` block
//! lasts until `exit`/`end` or any other top-level command).

use std::net::Ipv4Addr;

use super::values::{parse_ip4, parse_ranged};
use crate::config::acl::{self, AclKind, AclRule, Action};

/// A BGP neighbour sub-command (`neighbour PEER ...` after `router bgp`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NeighbourCmd {
    RemoteAs(u16),
    Timers { keepalive: u16, hold: u16 },
    UpdateSource(Ipv4Addr),
}

/// A configuration command other than `set`, kept in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Statement {
    LoadPlugin(String),
    RemovePlugin(String),
    RouterBgp {
        asn: u16,
    },
    Neighbour {
        peer: String,
        cmd: NeighbourCmd,
    },
    NoNeighbour {
        peer: String,
    },
    AccessList {
        kind: AclKind,
        name: String,
    },
    AclRule {
        list: String,
        kind: AclKind,
        rule: AclRule,
    },
    NoAccessList {
        name: String,
    },
    SetForward {
        mask: String,
        ip: Ipv4Addr,
        port: u16,
        secret: String,
    },
}

impl Statement {
    /// Whether the daemon acts on it (plugins are loaded; BGP, access
    /// lists and forwards are not there yet).
    pub fn is_implemented(&self) -> bool {
        matches!(self, Statement::LoadPlugin(_) | Statement::RemovePlugin(_))
    }

    /// The plugins to load, in file order, after `remove plugin` lines.
    pub fn plugins(statements: &[Located]) -> Vec<String> {
        let mut v: Vec<String> = Vec::new();
        for l in statements {
            match &l.statement {
                Statement::LoadPlugin(n) if !v.contains(n) => v.push(n.clone()),
                Statement::RemovePlugin(n) => v.retain(|x| x != n),
                _ => {}
            }
        }
        v
    }

    /// The statement as an operator would name it in a message.
    pub fn keyword(&self) -> String {
        match self {
            Statement::LoadPlugin(n) => format!("load plugin {n}"),
            Statement::RemovePlugin(n) => format!("remove plugin {n}"),
            Statement::RouterBgp { asn } => format!("router bgp {asn}"),
            Statement::Neighbour { peer, .. } => format!("neighbour {peer}"),
            Statement::NoNeighbour { peer } => format!("no neighbour {peer}"),
            Statement::AccessList { name, .. } => format!("ip access-list {name}"),
            Statement::AclRule { list, .. } => format!("access-list {list} rule"),
            Statement::NoAccessList { name } => format!("no ip access-list {name}"),
            Statement::SetForward { mask, .. } => format!("setforward {mask}"),
        }
    }
}

/// A statement and the line it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    pub line: usize,
    pub statement: Statement,
}

/// The sub-mode a line is read in (l2tpns's libcli modes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Mode {
    Config,
    Bgp,
    Acl { kind: AclKind, name: String },
}

/// What a line asks of the parser.
pub(super) enum Flow<'w> {
    /// `set NAME VALUE`: for the variables (mod.rs).
    Set {
        name: &'w str,
        value: &'w str,
    },
    Continue,
    Quit,
    Statement(Statement),
}

fn neighbour<'w>(rest: &[&'w str]) -> Result<Flow<'w>, String> {
    let (peer, cmd) = match rest {
        [peer, "remote-as", asn] => (
            peer,
            NeighbourCmd::RemoteAs(
                parse_ranged(asn, 0, 65535).map_err(|e| format!("invalid autonomous system number: {e}"))? as u16,
            ),
        ),
        [peer, "timers", k, h] => (
            peer,
            NeighbourCmd::Timers {
                keepalive: parse_ranged(k, 1, 65535).map_err(|e| format!("invalid keepalive time: {e}"))?
                    as u16,
                hold: parse_ranged(h, 3, 65535).map_err(|e| format!("invalid hold time: {e}"))? as u16,
            },
        ),
        [peer, "update-source", a] => (peer, NeighbourCmd::UpdateSource(parse_ip4(a)?)),
        _ => {
            return Err(
                "expected `neighbour PEER remote-as AS`, `neighbour PEER timers KEEPALIVE HOLD` or `neighbour PEER update-source A.B.C.D`"
                    .into(),
            )
        }
    };
    Ok(Flow::Statement(Statement::Neighbour {
        peer: (*peer).to_string(),
        cmd,
    }))
}

fn check_acl_name(name: &str) -> Result<(), String> {
    // l2tpns: at most 31 characters of [A-Za-z0-9_-].
    let ok = !name.is_empty()
        && name.len() <= 31
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "invalid access-list name \"{name}\" (1-31 of A-Z a-z 0-9 _ -)"
        ))
    }
}

/// One non-empty line of words.
pub(super) fn command<'w>(words: &'w [String], mode: &mut Mode) -> Result<Flow<'w>, String> {
    let w: Vec<&str> = words.iter().map(String::as_str).collect();
    // Sub-mode commands first; any other command leaves the sub-mode.
    match (&*mode, w.as_slice()) {
        (Mode::Bgp, ["neighbour" | "neighbor", rest @ ..]) => return neighbour(rest),
        (Mode::Bgp, ["no", "neighbour" | "neighbor", peer]) => {
            return Ok(Flow::Statement(Statement::NoNeighbour {
                peer: (*peer).to_string(),
            }))
        }
        (Mode::Acl { kind, name }, [a @ ("permit" | "deny"), ..]) => {
            let action = if *a == "permit" {
                Action::Permit
            } else {
                Action::Deny
            };
            let rule = acl::parse_rule(*kind, action, &words[1..])?;
            return Ok(Flow::Statement(Statement::AclRule {
                list: name.clone(),
                kind: *kind,
                rule,
            }));
        }
        (Mode::Bgp | Mode::Acl { .. }, ["exit" | "end"]) => {
            *mode = Mode::Config;
            return Ok(Flow::Continue);
        }
        _ => {}
    }
    *mode = Mode::Config;
    match w.as_slice() {
        ["set", name, value] => Ok(Flow::Set { name, value }),
        ["set", ..] => {
            Err("`set` takes a variable and one value (quote values containing spaces)".into())
        }
        ["load", "plugin", name] => Ok(Flow::Statement(Statement::LoadPlugin((*name).into()))),
        ["remove", "plugin", name] => Ok(Flow::Statement(Statement::RemovePlugin((*name).into()))),
        ["load" | "remove", ..] => {
            Err("expected `load plugin NAME` or `remove plugin NAME`".into())
        }
        ["router", "bgp", asn] => {
            let asn = parse_ranged(asn, 1, 65535)
                .map_err(|e| format!("invalid autonomous system number: {e}"))?;
            *mode = Mode::Bgp;
            Ok(Flow::Statement(Statement::RouterBgp { asn: asn as u16 }))
        }
        ["ip", "access-list", kind, name] => {
            let kind = match *kind {
                k if !k.is_empty() && "standard".starts_with(k) => AclKind::Standard,
                k if !k.is_empty() && "extended".starts_with(k) => AclKind::Extended,
                _ => {
                    return Err(format!(
                        "invalid access-list type \"{kind}\" (standard or extended)"
                    ))
                }
            };
            check_acl_name(name)?;
            *mode = Mode::Acl {
                kind,
                name: (*name).into(),
            };
            Ok(Flow::Statement(Statement::AccessList {
                kind,
                name: (*name).into(),
            }))
        }
        ["no", "ip", "access-list", name] => Ok(Flow::Statement(Statement::NoAccessList {
            name: (*name).into(),
        })),
        ["setforward", mask, ip, port, secret] => Ok(Flow::Statement(Statement::SetForward {
            mask: (*mask).into(),
            ip: parse_ip4(ip)?,
            port: parse_ranged(port, 1, 65535)? as u16,
            secret: (*secret).into(),
        })),
        ["setforward", ..] => Err("expected `setforward MASK IP PORT SECRET`".into()),
        ["quit"] => Ok(Flow::Quit),
        ["exit" | "end"] => Ok(Flow::Continue),
        ["neighbour" | "neighbor", ..] => Err("`neighbour` outside `router bgp`".into()),
        ["permit" | "deny", ..] => Err("access-list rule outside `ip access-list`".into()),
        [cmd, ..] => Err(format!("unknown command \"{cmd}\"")),
        [] => Ok(Flow::Continue),
    }
}
