//! What is known of a startup-config variable besides its value: its name,
//! l2tpns type and flags (`VarInfo`), looked up by name; and the names
//! l2tpns no longer has or never had. The variables themselves are declared
//! once, in startup/table.rs, which makes `VARS`; it drives `set`,
//! `show running-config`, the CLI's completion, reloads and the man page test.

/// Value type as l2tpns declares it (`config_values[].type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VarType {
    Int,
    String,
    Ipv4,
    Ipv6,
    Short,
    Bool,
    UnsignedLong,
}

/// One startup-config variable, as its row in startup/table.rs declares it.
#[derive(Debug, Clone, Copy)]
pub struct VarInfo {
    pub name: &'static str,
    pub ty: VarType,
    /// Only in our daemon, not in l2tpns.
    pub ours: bool,
    /// The daemon acts on it; else it is accepted and logged as not implemented yet.
    pub implemented: bool,
    /// A reload applies it to new tunnels and sessions; an implemented
    /// variable without this flag takes effect at the next start.
    pub live: bool,
}

impl VarInfo {
    /// No flags: what a table row starts from before its own.
    pub const PLAIN: VarInfo = VarInfo {
        name: "",
        ty: VarType::String,
        ours: false,
        implemented: false,
        live: false,
    };
}

/// Every variable, in l2tpns's `config_values[]` order, ours last.
pub use super::startup::VARS;

/// Looks a variable up by its exact name (l2tpns uses `strcmp`).
pub fn find(name: &str) -> Option<&'static VarInfo> {
    VARS.iter().find(|v| v.name == name)
}

/// Variables of older or other l2tpns trees that 2.4.1 no longer has.
/// They are accepted with a warning so a migrated file still loads.
pub const REMOVED: &[(&str, &str)] = &[(
    "setuid",
    "removed in l2tpns 2.2.0 (it did not work); ignored - run the daemon as the user you want",
)];

/// Names that were never valid but appear commented out in Debian's sample
/// startup-config; the error message names the real variable.
pub const RENAMED: &[(&str, &str)] = &[
    ("nexthop", "nexthop_address"),
    ("nexthop6", "nexthop6_address"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique() {
        for (i, a) in VARS.iter().enumerate() {
            for b in &VARS[i + 1..] {
                assert_ne!(a.name, b.name);
            }
        }
    }

    #[test]
    fn live_variables_are_implemented() {
        for v in VARS.iter().filter(|v| v.live) {
            assert!(v.implemented, "{} is live but not implemented", v.name);
        }
    }

    #[test]
    fn find_is_exact() {
        assert!(find("debug").is_some());
        assert!(find("DEBUG").is_none());
        assert!(find("no_throttle_local_IP").is_some());
        assert!(find("no_throttle_local_ip").is_none());
    }
}
