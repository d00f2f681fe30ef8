//! The CLI's commands in the control plane: each `cli::CommandId` becomes a
//! look (`show.rs`) or a `Command` of the command layer, so an action a CLI
//! user takes is the one nsctl, DAE or a signal takes. `shutdown` and
//! `reload` raise the daemon's own SIGQUIT and SIGHUP: one path for each.

use std::time::Instant;

use crate::cli::{CommandId, Outcome};
use crate::config::{Located, Statement};

use super::super::cli_io::CliCommand;
use super::super::speed::{self, Totals};
use super::super::teardown::Cause;
use super::command::{Command, Origin, Reply, Target};
use super::ControlPlane;

type Answer = (Vec<String>, Outcome);

/// What a CLI command gets: its whole answer now, or a listing the control
/// loop produces a slice at a time between other work (`show session` at
/// 100,000 sessions must not hold logins and control messages up).
pub enum CliAnswer {
    Now(Vec<String>, Outcome),
    Sessions(SessionListing),
}

/// A `show session` in progress: the keys at the start, and how far it got.
pub struct SessionListing {
    keys: Vec<crate::dataplane::session_table::SessionKey>,
    next: usize,
}

/// Sessions per slice: a few milliseconds of the control loop.
const SLICE: usize = 2_000;

fn done(lines: Vec<String>) -> Answer {
    (lines, Outcome::Done)
}

fn failed(line: impl Into<String>) -> Answer {
    (vec![line.into()], Outcome::Failed)
}

fn reply(r: Reply) -> Answer {
    match r {
        Reply::Done(lines) => done(lines),
        Reply::Refused(why) => failed(why),
    }
}

fn later(feature: &str) -> Answer {
    failed(format!("{feature} is not implemented yet"))
}

fn raise(signal: libc::c_int) {
    // SAFETY: sending a signal to our own process.
    unsafe { libc::kill(libc::getpid(), signal) };
}

impl ControlPlane {
    pub fn cli_command(&mut self, now: Instant, c: &CliCommand, traffic: Totals) -> CliAnswer {
        if c.command == CommandId::ShowSession && c.args.is_empty() {
            return CliAnswer::Sessions(SessionListing {
                keys: self.session_keys_sorted(),
                next: 0,
            });
        }
        let (lines, outcome) = self.cli_now(now, c, traffic);
        CliAnswer::Now(lines, outcome)
    }

    /// The next slice of a listing (the header first); true when it is done.
    pub fn listing_slice(&self, now: Instant, l: &mut SessionListing) -> (Vec<String>, bool) {
        let end = (l.next + SLICE).min(l.keys.len());
        let mut lines = Vec::new();
        if l.next == 0 {
            lines.push(Self::session_table_header());
        }
        lines.extend(self.session_rows(now, &l.keys[l.next..end]));
        l.next = end;
        (lines, end == l.keys.len())
    }

    fn cli_now(&mut self, now: Instant, c: &CliCommand, traffic: Totals) -> Answer {
        use CommandId::*;
        let origin = Origin::Cli(format!("{}@{}", c.user, c.from));
        let args = &c.args;
        match c.command {
            ShowSession => done(self.show_session_details(now, args)),
            ShowTunnels => done(self.show_tunnels()),
            ShowUsers => done(self.show_users(now, args)),
            ShowPool => done(self.show_pool()),
            ShowRadius => done(self.show_radius()),
            ShowCounters => done(self.show_counters()),
            ShowVersion => done(vec![format!(
                "l2tpns {} (Rust), a successor to l2tpns 2.4.1",
                env!("CARGO_PKG_VERSION")
            )]),
            ShowPlugins => {
                let mut v = vec!["Plugins currently loaded:".to_string()];
                v.extend(self.plugins.names().into_iter().map(|n| format!("  {n}")));
                done(v)
            }
            ShowBanana => done(vec![" _\n//\\\n V  \\\n  \\  \\_\n   \\,'.`-.\n    |\\ `. `.\n    ( \\  `. `-.                        _,.-:\\\n     \\ \\   `.  `-._             __..--' ,-';/\n      \\ `.   `-.   `-..___..---'   _.--' ,'/\n       `. `.    `-._        __..--'    ,' /\n         `. `-_     ``--..''       _.-' ,'\n           `-_ `-.___        __,--'   ,'\n              `-.__  `----\"\"\"    __.-'\n                   `--..____..--'".into()]),
            ShowRunningConfig | WriteTerminal => done(self.running_config_lines()),
            WriteMemory => self.write_memory(),
            ClearCounters => {
                self.stats = Default::default();
                done(vec!["Counters cleared".into()])
            }
            Uptime => done(self.uptime(now, &traffic)),
            Shutdown => {
                raise(libc::SIGQUIT);
                done(vec!["Shutting down: closing every tunnel".into()])
            }
            Reload => {
                raise(libc::SIGHUP);
                done(vec!["Reloading the configuration".into()])
            }
            DropUser => self.drop_each(now, &origin, args, |a| Ok(Target::User(a.into()))),
            DropTunnel => self.drop_each(now, &origin, args, |a| {
                a.parse::<u16>()
                    .map(Target::Tunnel)
                    .map_err(|_| format!("Invalid tunnel id \"{a}\""))
            }),
            DropSession => self.drop_each(now, &origin, args, |a| {
                a.parse::<u32>()
                    .map(|n| {
                        Target::Session(crate::dataplane::session_table::SessionKey::from_nas_port(
                            n,
                        ))
                    })
                    .map_err(|_| format!("Invalid session id \"{a}\""))
            }),
            Set => self.cli_set(now, origin, args),
            LoadPlugin | RemovePlugin => self.cli_plugin(now, c.command == LoadPlugin, args),
            // The connection keeps its own console flags (daemon::cli_io).
            Debug | NoDebug => done(Vec::new()),
            Snoop => self.cli_snoop(now, origin, args),
            NoSnoop => self.cli_no_snoop(now, origin, args),
            Throttle => self.cli_throttle(now, origin, args),
            NoThrottle => self.cli_no_throttle(now, origin, args),
            ShowThrottle => self.cli_show_throttle(),
            ShowTbf => later("Per-bucket throttling statistics (show tbf)"),
            Filter | NoFilter | IpAccessList | NoIpAccessList | AccessListPermit
            | AccessListDeny | ShowAccessList => later("Access lists (filter)"),
            SuspendBgp | NoSuspendBgp | RestartBgp | ShowBgp | RouterBgp | BgpNeighbour
            | BgpNoNeighbour => later("BGP"),
            ShowCluster => later("Clustering"),
            ShowIpcache => later("The IP cache"),
            ShowHistogramIdle | ShowHistogramOpen => later("Session histograms"),
            ShowRemotelnsConf | SetForward => later("Forwarding to a remote LNS"),
            Help | Quit | Logout | Exit | End | History | Enable | Disable
            | ConfigureTerminal => done(Vec::new()),
        }
    }

    fn drop_each(
        &mut self,
        now: Instant,
        origin: &Origin,
        args: &[String],
        target: impl Fn(&str) -> Result<Target, String>,
    ) -> Answer {
        let mut lines = Vec::new();
        let mut ok = true;
        for a in args {
            match target(a) {
                Ok(t) => {
                    let cause = Cause::AdminReset;
                    let command = Command::Drop { target: t, cause };
                    match self.execute(now, origin.clone(), command) {
                        Reply::Done(l) => lines.extend(l),
                        Reply::Refused(why) => {
                            ok = false;
                            lines.push(why);
                        }
                    }
                }
                Err(e) => {
                    ok = false;
                    lines.push(e);
                }
            }
        }
        (lines, if ok { Outcome::Done } else { Outcome::Failed })
    }

    fn running_config_lines(&self) -> Vec<String> {
        let mut v = vec!["# Current configuration:".to_string()];
        v.extend(self.config.running_config());
        let plugins = Statement::plugins(&self.config.statements);
        if !plugins.is_empty() {
            v.push("# Plugins".into());
            v.extend(plugins.iter().map(|p| format!("load plugin \"{p}\"")));
        }
        v.push("# end".into());
        v
    }

    /// `write memory`: the running configuration over the startup-config
    /// (comments are lost, as in l2tpns), through a temporary file.
    fn write_memory(&self) -> Answer {
        let path = &self.config.source;
        let tmp = path.with_extension("new");
        let text = self.running_config_lines().join("\n") + "\n";
        match std::fs::write(&tmp, text).and_then(|()| std::fs::rename(&tmp, path)) {
            Ok(()) => done(vec![format!("Configuration written to {}", path.display())]),
            Err(e) => failed(format!("Cannot write {}: {e}", path.display())),
        }
    }

    /// `set VARIABLE VALUE` in configure mode: the running configuration
    /// with one change, taken over as a reload takes a file.
    fn cli_set(&mut self, now: Instant, origin: Origin, args: &[String]) -> Answer {
        let [name, value] = args else {
            return failed("Usage: set VARIABLE VALUE");
        };
        let mut config = self.config.clone();
        if let Err(e) = config.set(name, value) {
            return failed(e);
        }
        let tun_addr = self.settings.ppp.local_address;
        let r = super::reconfigure::Reconfigure {
            settings: super::super::settings::control_settings(&config, tun_addr),
            config,
            pool: None,
            auth: None,
        };
        reply(self.execute(now, origin, Command::Reconfigure(Box::new(r))))
    }

    fn cli_plugin(&mut self, now: Instant, load: bool, args: &[String]) -> Answer {
        let [name] = args else {
            return failed("Usage: load plugin NAME");
        };
        let statement = if load {
            match self.plugins.load(name) {
                Ok(()) | Err(crate::plugin::LoadError::AlreadyLoaded) => {
                    Statement::LoadPlugin(name.clone())
                }
                Err(crate::plugin::LoadError::Unknown) => {
                    return failed(format!(
                        "No such plugin \"{name}\" (available: {})",
                        crate::plugins::AVAILABLE.join(", ")
                    ))
                }
            }
        } else {
            self.plugins.unload(name);
            Statement::RemovePlugin(name.clone())
        };
        self.arm_plugin_timer(now);
        self.config.statements.push(Located { line: 0, statement });
        done(Vec::new())
    }

    /// `uptime`: l2tpns's two lines; the bandwidth, in dump_speed's words,
    /// over the time since the last `uptime` (or the start).
    fn uptime(&mut self, now: Instant, t: &Totals) -> Vec<String> {
        let (since, before) = self
            .last_uptime
            .unwrap_or((self.started, Totals::default()));
        let dt = now.saturating_duration_since(since).as_secs_f64();
        let up = self.started.elapsed().as_secs();
        let lines = vec![
            format!(
                "up {} days, {:02}:{:02}, {} users",
                up / 86400,
                (up % 86400) / 3600,
                (up % 3600) / 60,
                self.by_user.len()
            ),
            format!("Bandwidth: {}", speed::line(&speed::delta(&before, t), dt)),
        ];
        self.last_uptime = Some((now, *t));
        lines
    }
}
