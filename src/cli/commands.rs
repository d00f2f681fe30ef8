//! The CLI's commands as data: one `CommandSpec` per command, with its
//! words, help text, privilege, mode, arguments and the `CommandId` the
//! daemon executes. The set and the help texts are l2tpns 2.4.1's
//! (ffdn `cli.c` `init_cli`), plus libcli's built-ins (`enable`, `exit`...)
//! which the session itself carries out.

/// Privilege, as libcli's PRIVILEGE_UNPRIVILEGED (0) and PRIVILEGED (15).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Privilege {
    User,
    Enable,
}

/// Where a command is typed. libcli's MODE_EXEC, MODE_CONFIG and l2tpns's
/// submodes MODE_CONFIG_BGP (`router bgp`) and MODE_CONFIG_NACL
/// (`ip access-list`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Exec,
    Config,
    ConfigBgp,
    ConfigAcl { extended: bool },
}

impl Mode {
    /// The text between the hostname and `>`/`#` in the prompt.
    pub fn prompt_part(self) -> &'static str {
        match self {
            Mode::Exec => "",
            Mode::Config => "(config)",
            Mode::ConfigBgp => "(config-router)",
            Mode::ConfigAcl { extended: true } => "(config-ext-nacl)",
            Mode::ConfigAcl { extended: false } => "(config-std-nacl)",
        }
    }

    pub fn is_config(self) -> bool {
        self != Mode::Exec
    }
}

/// Which modes a command is declared for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InMode {
    Exec,
    Config,
    ConfigBgp,
    ConfigAcl,
    /// libcli's MODE_ANY.
    Any,
}

impl InMode {
    pub fn allows(self, m: Mode) -> bool {
        matches!(
            (self, m),
            (InMode::Any, _)
                | (InMode::Exec, Mode::Exec)
                | (InMode::Config, Mode::Config)
                | (InMode::ConfigBgp, Mode::ConfigBgp)
                | (InMode::ConfigAcl, Mode::ConfigAcl { .. })
        )
    }
}

/// What the daemon is asked to do. Built-ins are handled by the session and
/// never reach the daemon.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CommandId {
    ShowBanana,
    ShowBgp,
    ShowCluster,
    ShowIpcache,
    ShowPlugins,
    ShowPool,
    ShowRadius,
    ShowRunningConfig,
    ShowRemotelnsConf,
    ShowSession,
    ShowTbf,
    ShowThrottle,
    ShowTunnels,
    ShowUsers,
    ShowVersion,
    ShowAccessList,
    ShowHistogramIdle,
    ShowHistogramOpen,
    ShowCounters,
    ClearCounters,
    Uptime,
    Shutdown,
    Reload,
    WriteMemory,
    WriteTerminal,
    Snoop,
    NoSnoop,
    Throttle,
    NoThrottle,
    Filter,
    NoFilter,
    Debug,
    NoDebug,
    SuspendBgp,
    NoSuspendBgp,
    RestartBgp,
    DropUser,
    DropTunnel,
    DropSession,
    // Configuration mode.
    Set,
    LoadPlugin,
    RemovePlugin,
    SetForward,
    RouterBgp,
    BgpNeighbour,
    BgpNoNeighbour,
    IpAccessList,
    NoIpAccessList,
    AccessListPermit,
    AccessListDeny,
    // Built into libcli; the session carries them out.
    Help,
    Quit,
    Logout,
    Exit,
    End,
    History,
    Enable,
    Disable,
    ConfigureTerminal,
}

impl CommandId {
    /// Whether the session handles it without the daemon.
    pub fn is_builtin(self) -> bool {
        use CommandId::*;
        matches!(
            self,
            Help | Quit | Logout | Exit | End | History | Enable | Disable | ConfigureTerminal
        )
    }
}

/// Where TAB and `?` find candidates for an argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgValues {
    /// Free text (a user name, a number...).
    Free,
    /// Names of startup-config variables (config::vars::VARS).
    Vars,
    /// A fixed list of keywords.
    Words(&'static [&'static str]),
}

/// A command's arguments: how many, and help for `?`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Args {
    pub min: usize,
    /// `usize::MAX` for "any number".
    pub max: usize,
    /// What the first argument can be; later ones use `rest`.
    pub first: ArgValues,
    pub rest: ArgValues,
    /// `?` help for the arguments: (syntax, description).
    pub help: &'static [(&'static str, &'static str)],
}

const NONE: Args = Args {
    min: 0,
    max: 0,
    first: ArgValues::Free,
    rest: ArgValues::Free,
    help: &[],
};

const fn free(min: usize, max: usize, help: &'static [(&'static str, &'static str)]) -> Args {
    Args {
        min,
        max,
        first: ArgValues::Free,
        rest: ArgValues::Free,
        help,
    }
}

const MANY: usize = usize::MAX;

/// One command.
#[derive(Debug, Clone, Copy)]
pub struct CommandSpec {
    pub words: &'static [&'static str],
    pub help: &'static str,
    pub privilege: Privilege,
    pub mode: InMode,
    pub id: CommandId,
    pub args: Args,
}

impl CommandSpec {
    pub fn name(&self) -> String {
        self.words.join(" ")
    }

    /// Whether a session in `mode` with `privilege` may see it.
    pub fn visible(&self, mode: Mode, privilege: Privilege) -> bool {
        privilege >= self.privilege && self.mode.allows(mode)
    }
}

use ArgValues::{Free, Vars, Words};
use CommandId as C;
use Privilege::{Enable as P, User as U};

const fn cmd(
    words: &'static [&'static str],
    id: CommandId,
    privilege: Privilege,
    mode: InMode,
    help: &'static str,
    args: Args,
) -> CommandSpec {
    CommandSpec {
        words,
        help,
        privilege,
        mode,
        id,
        args,
    }
}

const ALL: &[&str] = &["all"];

/// Help for words that only group commands (l2tpns registers them without
/// help; Cisco-like text is friendlier in `?` listings).
pub const GROUP_HELP: &[(&str, &str)] = &[
    ("show", "Show running system information"),
    ("clear", "Reset functions"),
    ("write", "Write running configuration to memory or terminal"),
    ("no", "Negate a command or set its defaults"),
    ("suspend", "Suspend a function"),
    ("restart", "Restart a function"),
    ("drop", "Disconnect users, tunnels or sessions"),
    ("histogram", "Show histograms"),
    ("load", "Load a plugin"),
    ("remove", "Remove a plugin"),
    ("router", "Enable a routing process"),
    ("ip", "IP configuration"),
    ("configure", "Enter configuration mode"),
];
/// `debug` flags (cli.c `cmd_debug`).
pub const DEBUG_FLAGS: &[&str] = &[
    "all", "critical", "error", "warning", "info", "calls", "data",
];
const IN_OUT: &[&str] = &["in", "out"];

const E: InMode = InMode::Exec;
const CF: InMode = InMode::Config;

/// Every command, l2tpns's order.
#[rustfmt::skip]
pub const COMMANDS: &[CommandSpec] = &[
    cmd(&["show", "banana"], C::ShowBanana, U, E, "Show a banana", NONE),
    cmd(&["show", "bgp"], C::ShowBgp, U, E, "Show BGP status",
        free(0, MANY, &[("A.B.C.D", "BGP neighbour"), ("HOST", "BGP neighbour")])),
    cmd(&["show", "cluster"], C::ShowCluster, U, E, "Show cluster information", NONE),
    cmd(&["show", "ipcache"], C::ShowIpcache, U, E, "Show contents of the IP cache", NONE),
    cmd(&["show", "plugins"], C::ShowPlugins, U, E, "List all installed plugins", NONE),
    cmd(&["show", "pool"], C::ShowPool, U, E, "Show the IP address allocation pool",
        Args { min: 0, max: 1, first: Words(ALL), rest: Free,
               help: &[("all", "Show all pool addresses, including unused")] }),
    cmd(&["show", "radius"], C::ShowRadius, U, E, "Show active radius queries",
        Args { min: 0, max: 1, first: Words(ALL), rest: Free,
               help: &[("all", "Show all RADIUS sessions")] }),
    cmd(&["show", "running-config"], C::ShowRunningConfig, P, E,
        "Show the currently running configuration", NONE),
    cmd(&["show", "remotelns-conf"], C::ShowRemotelnsConf, P, E,
        "Show a list of remote LNS configuration", NONE),
    cmd(&["show", "session"], C::ShowSession, U, E,
        "Show a list of sessions or details for a single session",
        free(0, MANY, &[("<1-59999>", "Show specific session by id")])),
    cmd(&["show", "tbf"], C::ShowTbf, U, E, "List all token bucket filters in use", NONE),
    cmd(&["show", "throttle"], C::ShowThrottle, U, E,
        "List all throttled sessions and associated TBFs", NONE),
    cmd(&["show", "tunnels"], C::ShowTunnels, U, E,
        "Show a list of tunnels or details for a single tunnel",
        Args { min: 0, max: MANY, first: Words(ALL), rest: Free,
               help: &[("<1-19999>", "Show specific tunnel by id"),
                       ("all", "Show all tunnels, including unused")] }),
    cmd(&["show", "users"], C::ShowUsers, U, E,
        "Show a list of all connected users or details of selected user",
        free(0, MANY, &[("USER", "Show connected user")])),
    cmd(&["show", "version"], C::ShowVersion, U, E,
        "Show currently running software version", NONE),
    cmd(&["show", "access-list"], C::ShowAccessList, U, E, "Show named access-list",
        free(0, MANY, &[("NAME", "Access-list name")])),
    cmd(&["show", "histogram", "idle"], C::ShowHistogramIdle, U, E,
        "Show histogram of session idle times", NONE),
    cmd(&["show", "histogram", "open"], C::ShowHistogramOpen, U, E,
        "Show histogram of session durations", NONE),
    cmd(&["show", "counters"], C::ShowCounters, U, E,
        "Display all the internal counters and running totals", NONE),
    cmd(&["clear", "counters"], C::ClearCounters, P, E, "Clear internal counters", NONE),
    cmd(&["uptime"], C::Uptime, U, E, "Show uptime and bandwidth utilisation", NONE),
    cmd(&["shutdown"], C::Shutdown, P, E, "Shutdown l2tpns daemon and exit", NONE),
    cmd(&["reload"], C::Reload, P, E, "Reload configuration", NONE),
    cmd(&["write", "memory"], C::WriteMemory, P, E, "Save the running config to flash", NONE),
    cmd(&["write", "terminal"], C::WriteTerminal, U, E, "Show the running config", NONE),
    cmd(&["snoop"], C::Snoop, P, E, "Enable interception of a session",
        free(3, 3, &[("USER | SID", "Session to intercept"), ("A.B.C.D", "Destination address"),
                     ("<1-65535>", "Destination port")])),
    cmd(&["throttle"], C::Throttle, P, E, "Enable throttling of a session",
        Args { min: 1, max: 5, first: Free, rest: Words(IN_OUT),
               help: &[("USER | SID", "Session to throttle"), ("RATE", "Rate in kbps (in and out)"),
                       ("in RATE", "Rate in kbps (input)"), ("out RATE", "Rate in kbps (output)")] }),
    cmd(&["filter"], C::Filter, P, E, "Add filtering to a session",
        Args { min: 3, max: 5, first: Free, rest: Words(IN_OUT),
               help: &[("USER | SID", "Session to filter"), ("in ACL", "Input filter"),
                       ("out ACL", "Output filter")] }),
    cmd(&["debug"], C::Debug, U, E, "Set the level of logging that is shown on the console",
        Args { min: 0, max: MANY, first: Words(DEBUG_FLAGS), rest: Words(DEBUG_FLAGS),
               help: &[("all", "Enable all debugging"), ("critical", ""), ("error", ""),
                       ("warning", ""), ("info", ""), ("calls", ""), ("data", "")] }),
    cmd(&["suspend", "bgp"], C::SuspendBgp, P, E, "Withdraw routes from BGP neighbour",
        free(0, 1, &[("A.B.C.D", "BGP neighbour")])),
    cmd(&["no", "snoop"], C::NoSnoop, P, E, "Disable interception of a session",
        free(1, MANY, &[("USER | SID", "Session to stop intercepting")])),
    cmd(&["no", "throttle"], C::NoThrottle, P, E, "Disable throttling of a session",
        free(1, MANY, &[("USER | SID", "Session to unthrottle")])),
    cmd(&["no", "filter"], C::NoFilter, P, E, "Remove filtering from a session",
        free(1, MANY, &[("USER | SID", "Session to remove filters from")])),
    cmd(&["no", "debug"], C::NoDebug, U, E, "Turn off logging of a certain level of debugging",
        Args { min: 0, max: MANY, first: Words(DEBUG_FLAGS), rest: Words(DEBUG_FLAGS),
               help: &[("all", "Disable all debugging"), ("critical", ""), ("error", ""),
                       ("warning", ""), ("info", ""), ("calls", ""), ("data", "")] }),
    cmd(&["no", "suspend", "bgp"], C::NoSuspendBgp, P, E, "Advertise routes to BGP neighbour",
        free(0, 1, &[("A.B.C.D", "BGP neighbour")])),
    cmd(&["restart", "bgp"], C::RestartBgp, P, E, "Restart BGP",
        free(0, 1, &[("A.B.C.D", "BGP neighbour")])),
    cmd(&["drop", "user"], C::DropUser, P, E, "Disconnect a user",
        free(1, MANY, &[("USER", "Username of session to drop")])),
    cmd(&["drop", "tunnel"], C::DropTunnel, P, E,
        "Disconnect a tunnel and all sessions on that tunnel",
        free(1, MANY, &[("<1-19999>", "Tunnel id")])),
    cmd(&["drop", "session"], C::DropSession, P, E, "Disconnect a session",
        free(1, MANY, &[("<1-59999>", "Session id")])),
    // Configuration mode.
    cmd(&["set"], C::Set, P, CF, "Set a configuration variable",
        Args { min: 2, max: MANY, first: Vars, rest: Free, help: &[("VALUE", "Value")] }),
    cmd(&["load", "plugin"], C::LoadPlugin, P, CF, "Load a plugin",
        free(1, 1, &[("PLUGIN", "Name of plugin to load")])),
    cmd(&["remove", "plugin"], C::RemovePlugin, P, CF, "Remove a plugin",
        free(1, 1, &[("PLUGIN", "Name of plugin to unload")])),
    cmd(&["setforward"], C::SetForward, P, CF, "Set the Remote LNS Forward",
        free(3, 4, &[("MASK", "Forward sessions whose user name matches"),
                     ("IP", "Remote LNS address"), ("PORT", "Remote LNS port"),
                     ("SECRET", "Tunnel secret")])),
    cmd(&["router", "bgp"], C::RouterBgp, P, CF, "Configure BGP",
        free(1, 1, &[("<1-65535>", "Autonomous system number")])),
    cmd(&["ip", "access-list"], C::IpAccessList, P, CF, "Add named access-list",
        Args { min: 2, max: 2, first: Words(&["standard", "extended"]), rest: Free,
               help: &[("standard NAME", "Standard access-list"),
                       ("extended NAME", "Extended access-list")] }),
    cmd(&["no", "ip", "access-list"], C::NoIpAccessList, P, CF, "Remove named access-list",
        Args { min: 2, max: 2, first: Words(&["standard", "extended"]), rest: Free,
               help: &[("standard NAME", "Standard access-list"),
                       ("extended NAME", "Extended access-list")] }),
    cmd(&["neighbour"], C::BgpNeighbour, P, InMode::ConfigBgp, "Configure BGP neighbour",
        free(2, MANY, &[("NAME", "BGP neighbour"), ("remote-as <1-65535>", "Set remote AS"),
                        ("timers <0-65535> <0-65535>", "Set keepalive and hold timers")])),
    cmd(&["no", "neighbour"], C::BgpNoNeighbour, P, InMode::ConfigBgp, "Remove BGP neighbour",
        free(1, 1, &[("NAME", "BGP neighbour")])),
    cmd(&["permit"], C::AccessListPermit, P, InMode::ConfigAcl, "Permit rule",
        free(1, MANY, &[("RULE", "Source [destination] [protocol options]")])),
    cmd(&["deny"], C::AccessListDeny, P, InMode::ConfigAcl, "Deny rule",
        free(1, MANY, &[("RULE", "Source [destination] [protocol options]")])),
    // libcli built-ins.
    cmd(&["help"], C::Help, U, InMode::Any, "Show available commands", NONE),
    cmd(&["quit"], C::Quit, U, InMode::Any, "Disconnect", NONE),
    cmd(&["logout"], C::Logout, U, InMode::Any, "Disconnect", NONE),
    cmd(&["exit"], C::Exit, U, InMode::Any, "Exit from current mode", NONE),
    cmd(&["end"], C::End, P, CF, "End configuration and return to exec mode", NONE),
    cmd(&["history"], C::History, U, InMode::Any, "Show a list of previously run commands", NONE),
    cmd(&["enable"], C::Enable, U, E, "Turn on privileged commands", NONE),
    cmd(&["disable"], C::Disable, P, E, "Turn off privileged commands", NONE),
    cmd(&["configure", "terminal"], C::ConfigureTerminal, P, E, "Configure from the terminal",
        NONE),
];

/// The mode a submode falls back to: a config-mode command typed in a
/// submode leaves it and runs in config mode (libcli's `again_config`).
pub fn parent_mode(m: Mode) -> Option<Mode> {
    match m {
        Mode::ConfigBgp | Mode::ConfigAcl { .. } => Some(Mode::Config),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique() {
        for (i, a) in COMMANDS.iter().enumerate() {
            for b in &COMMANDS[i + 1..] {
                assert!(
                    a.words != b.words || !modes_overlap(a.mode, b.mode),
                    "{}",
                    a.name()
                );
                assert_ne!(a.id, b.id, "{}", a.name());
            }
        }
    }

    fn modes_overlap(a: InMode, b: InMode) -> bool {
        a == b || a == InMode::Any || b == InMode::Any
    }

    #[test]
    fn arguments_are_sane() {
        for c in COMMANDS {
            assert!(c.args.min <= c.args.max, "{}", c.name());
            assert!(!c.words.is_empty());
            // Submodes and config are only reachable with enable.
            if matches!(
                c.mode,
                InMode::Config | InMode::ConfigBgp | InMode::ConfigAcl
            ) {
                assert_eq!(c.privilege, Privilege::Enable, "{}", c.name());
            }
        }
    }
}
