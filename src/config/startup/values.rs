//! How each kind of startup-config value is read from its text and printed
//! back. A variable's row in table.rs names one codec (numbers in a range,
//! yes/no, addresses, lists, file names...); `show` prints what `parse`
//! reads back to the same value, so `show running-config` and `write
//! memory` round-trip. Checks follow l2tpns 2.4.1 (`cli.c` `cmd_set`,
//! `l2tpns.c` `update_config`) but refuse what l2tpns would misread.

use std::fmt::Display;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};

pub use crate::radius::MessageAuthenticatorPolicy;

/// Text to a typed field and back, for one kind of value.
pub(super) trait Codec<T> {
    fn parse(&self, v: &str, cx: &mut Cx) -> Result<T, String>;
    fn show(&self, x: &T) -> String;
}

/// What a codec may need besides the text.
pub(super) struct Cx<'a> {
    /// The variable being set (warnings name it).
    pub name: &'static str,
    /// Directory of the startup-config, for relative file names.
    pub dir: &'a Path,
    /// A remark for the operator; the value is taken all the same.
    pub warning: Option<String>,
}

/// Authentication protocol offered to clients (`radius_authtypes`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthType {
    Pap,
    Chap,
}

/// How log lines are written (`log_format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// l2tpns-like text lines.
    Text,
    /// One JSON object per line (journald, log shippers).
    Json,
}

impl Display for LogFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            LogFormat::Text => "text",
            LogFormat::Json => "json",
        })
    }
}

/// Where established sessions' IPv4 is forwarded (`data_path`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataPath {
    /// The userspace workers only.
    Userspace,
    /// The kernel fast path (TC-BPF around the TUN); start-up fails without it.
    Bpf,
    /// The fast path where the kernel takes it, else userspace.
    Auto,
}

impl Display for DataPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            DataPath::Userspace => "userspace",
            DataPath::Bpf => "bpf",
            DataPath::Auto => "auto",
        })
    }
}

pub(super) const SYSLOG_FACILITIES: &[&str] = &[
    "auth", "authpriv", "cron", "daemon", "ftp", "kern", "lpr", "mail", "news", "security",
    "syslog", "user", "uucp", "local0", "local1", "local2", "local3", "local4", "local5", "local6",
    "local7",
];

/// A relative file name is taken from the startup-config's directory.
pub(super) fn resolve(dir: &Path, v: &str) -> PathBuf {
    let p = Path::new(v);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        dir.join(p)
    }
}

pub(super) const U32_MAX: u64 = u32::MAX as u64;

/// A decimal integer in `min..=max`, into whatever integer the field is.
pub(super) struct Ranged(pub u64, pub u64);

impl Ranged {
    /// Any u32 (l2tpns's plain `int` variables that have no bound).
    pub const U32: Ranged = Ranged(0, U32_MAX);
}

impl<T: TryFrom<u64> + Display> Codec<T> for Ranged {
    fn parse(&self, v: &str, _: &mut Cx) -> Result<T, String> {
        let n = parse_ranged(v, self.0, self.1)?;
        // Only a table row whose range does not fit its field gets here.
        T::try_from(n).map_err(|_| format!("{v} does not fit the variable"))
    }
    fn show(&self, x: &T) -> String {
        x.to_string()
    }
}

/// A number brought into `min..=max` with a warning (l2tpns clamps `l2tp_mtu`).
pub(super) struct Clamped(pub u32, pub u32);

impl Codec<u32> for Clamped {
    fn parse(&self, v: &str, cx: &mut Cx) -> Result<u32, String> {
        let n = parse_ranged(v, 0, U32_MAX)? as u32;
        let clamped = n.clamp(self.0, self.1);
        if clamped != n {
            cx.warning = Some(format!(
                "{} {n} out of {}..{}, using {clamped}",
                cx.name, self.0, self.1
            ));
        }
        Ok(clamped)
    }
    fn show(&self, x: &u32) -> String {
        x.to_string()
    }
}

/// yes/no and its synonyms.
pub(super) struct YesNo;

impl Codec<bool> for YesNo {
    fn parse(&self, v: &str, _: &mut Cx) -> Result<bool, String> {
        parse_bool(v)
    }
    fn show(&self, x: &bool) -> String {
        if *x { "yes" } else { "no" }.to_string()
    }
}

/// A string taken as it is ("" = not set).
pub(super) struct Text;

impl Codec<String> for Text {
    fn parse(&self, v: &str, _: &mut Cx) -> Result<String, String> {
        Ok(v.into())
    }
    fn show(&self, x: &String) -> String {
        x.clone()
    }
}

/// `log_file`: a path, or `syslog:FACILITY` (an unknown facility is daemon).
pub(super) struct LogFile;

impl Codec<String> for LogFile {
    fn parse(&self, v: &str, cx: &mut Cx) -> Result<String, String> {
        if let Some(fac) = v.strip_prefix("syslog:") {
            if !SYSLOG_FACILITIES.contains(&fac) {
                cx.warning = Some(format!(
                    "unknown syslog facility \"{fac}\", using daemon (as l2tpns does)"
                ));
            }
        }
        Ok(v.into())
    }
    fn show(&self, x: &String) -> String {
        x.clone()
    }
}

/// A network interface name (`tundevicename`).
pub(super) struct IfName;

impl Codec<String> for IfName {
    fn parse(&self, v: &str, _: &mut Cx) -> Result<String, String> {
        // Linux IFNAMSIZ is 16 including the NUL.
        let ok = !v.is_empty()
            && v.len() <= 15
            && v != "."
            && v != ".."
            && !v
                .bytes()
                .any(|b| b == b'/' || b == b':' || b.is_ascii_whitespace() || b == 0);
        if ok {
            Ok(v.into())
        } else {
            Err(format!(
                "\"{v}\" is not a valid interface name (1-15 characters, no '/', ':' or spaces)"
            ))
        }
    }
    fn show(&self, x: &String) -> String {
        x.clone()
    }
}

/// An address; in an `Option` field 0.0.0.0 / `::` is `None` (not set).
pub(super) struct Ip;

impl Codec<Ipv4Addr> for Ip {
    fn parse(&self, v: &str, _: &mut Cx) -> Result<Ipv4Addr, String> {
        parse_ip4(v)
    }
    fn show(&self, x: &Ipv4Addr) -> String {
        x.to_string()
    }
}

impl Codec<Option<Ipv4Addr>> for Ip {
    fn parse(&self, v: &str, _: &mut Cx) -> Result<Option<Ipv4Addr>, String> {
        let a = parse_ip4(v)?;
        Ok((!a.is_unspecified()).then_some(a))
    }
    fn show(&self, x: &Option<Ipv4Addr>) -> String {
        x.unwrap_or(Ipv4Addr::UNSPECIFIED).to_string()
    }
}

impl Codec<Option<Ipv6Addr>> for Ip {
    fn parse(&self, v: &str, _: &mut Cx) -> Result<Option<Ipv6Addr>, String> {
        let a: Ipv6Addr = v
            .trim()
            .parse()
            .map_err(|_| format!("\"{v}\" is not an IPv6 address"))?;
        Ok((!a.is_unspecified()).then_some(a))
    }
    fn show(&self, x: &Option<Ipv6Addr>) -> String {
        x.unwrap_or(Ipv6Addr::UNSPECIFIED).to_string()
    }
}

/// At most `max` IPv4 addresses, separated by commas or spaces.
pub(super) struct IpList(pub usize);

impl Codec<Vec<Ipv4Addr>> for IpList {
    fn parse(&self, v: &str, _: &mut Cx) -> Result<Vec<Ipv4Addr>, String> {
        let list = words(v).map(parse_ip4).collect::<Result<Vec<_>, _>>()?;
        if list.len() > self.0 {
            return Err(format!("at most {} addresses", self.0));
        }
        Ok(list)
    }
    fn show(&self, x: &Vec<Ipv4Addr>) -> String {
        join(x)
    }
}

/// userspace, bpf or auto (`data_path`).
pub(super) struct DataPathChoice;

impl Codec<DataPath> for DataPathChoice {
    fn parse(&self, v: &str, _: &mut Cx) -> Result<DataPath, String> {
        match v {
            "userspace" => Ok(DataPath::Userspace),
            "bpf" => Ok(DataPath::Bpf),
            "auto" => Ok(DataPath::Auto),
            _ => Err(format!("\"{v}\": expected userspace, bpf or auto")),
        }
    }
    fn show(&self, x: &DataPath) -> String {
        x.to_string()
    }
}

/// Interface names, separated by commas or spaces (`bpf_interfaces`).
pub(super) struct IfNameList;

impl Codec<Vec<String>> for IfNameList {
    fn parse(&self, v: &str, cx: &mut Cx) -> Result<Vec<String>, String> {
        words(v).map(|w| IfName.parse(w, cx)).collect()
    }
    fn show(&self, x: &Vec<String>) -> String {
        x.join(",")
    }
}

/// A UDP/TCP port, 1..65535.
pub(super) struct Port;

impl Codec<u16> for Port {
    fn parse(&self, v: &str, _: &mut Cx) -> Result<u16, String> {
        port(v, 1)
    }
    fn show(&self, x: &u16) -> String {
        x.to_string()
    }
}

/// A port or 0 (`radius_bind_min/max`: 0 = dynamic).
pub(super) struct PortOrZero;

impl Codec<u16> for PortOrZero {
    fn parse(&self, v: &str, _: &mut Cx) -> Result<u16, String> {
        port(v, 0)
    }
    fn show(&self, x: &u16) -> String {
        x.to_string()
    }
}

/// A RADIUS port; 0 means 1812, as in l2tpns's `update_config`.
pub(super) struct RadiusPort;

impl Codec<u16> for RadiusPort {
    fn parse(&self, v: &str, _: &mut Cx) -> Result<u16, String> {
        Ok(match port(v, 0)? {
            0 => 1812,
            p => p,
        })
    }
    fn show(&self, x: &u16) -> String {
        x.to_string()
    }
}

/// A file of ours, relative to the startup-config's directory; never empty.
pub(super) struct File;

impl Codec<PathBuf> for File {
    fn parse(&self, v: &str, cx: &mut Cx) -> Result<PathBuf, String> {
        if v.is_empty() {
            return Err("file name must not be empty".into());
        }
        Ok(resolve(cx.dir, v))
    }
    fn show(&self, x: &PathBuf) -> String {
        x.display().to_string()
    }
}

/// A file of ours that may be unset ("" = `None`), relative to the
/// startup-config's directory otherwise (`session_hook`).
pub(super) struct OptionalFile;

impl Codec<Option<PathBuf>> for OptionalFile {
    fn parse(&self, v: &str, cx: &mut Cx) -> Result<Option<PathBuf>, String> {
        Ok((!v.is_empty()).then(|| resolve(cx.dir, v)))
    }
    fn show(&self, x: &Option<PathBuf>) -> String {
        x.as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_default()
    }
}

/// `radius_authtypes`: pap and/or chap, in the order of preference.
pub(super) struct AuthTypes;

impl Codec<Vec<AuthType>> for AuthTypes {
    fn parse(&self, v: &str, _: &mut Cx) -> Result<Vec<AuthType>, String> {
        let mut out = Vec::new();
        for tok in words(v) {
            let t = match tok.to_ascii_lowercase().as_str() {
                "pap" => AuthType::Pap,
                "chap" => AuthType::Chap,
                _ => {
                    return Err(format!(
                        "unknown authentication type \"{tok}\" (pap or chap)"
                    ))
                }
            };
            if !out.contains(&t) {
                out.push(t);
            }
        }
        if out.is_empty() {
            // l2tpns: "Defaulting to PAP authentication".
            out.push(AuthType::Pap);
        }
        Ok(out)
    }
    fn show(&self, x: &Vec<AuthType>) -> String {
        x.iter()
            .map(|a| match a {
                AuthType::Pap => "pap",
                AuthType::Chap => "chap",
            })
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// `guest_account`: up to 10 user names, comma-separated.
pub(super) struct GuestAccounts;

impl Codec<Vec<String>> for GuestAccounts {
    fn parse(&self, v: &str, _: &mut Cx) -> Result<Vec<String>, String> {
        let list: Vec<String> = v
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect();
        if list.len() > 10 {
            return Err("at most 10 guest accounts".into());
        }
        Ok(list)
    }
    fn show(&self, x: &Vec<String>) -> String {
        x.join(",")
    }
}

/// `metrics_address` (metrics_address.rs): "" = off.
pub(super) struct MetricsAddress;

impl Codec<Option<SocketAddr>> for MetricsAddress {
    fn parse(&self, v: &str, _: &mut Cx) -> Result<Option<SocketAddr>, String> {
        crate::config::metrics_address::parse(v)
    }
    fn show(&self, x: &Option<SocketAddr>) -> String {
        crate::config::metrics_address::show(x)
    }
}

/// `IP:PORT`, or "" for none (`garden_redirect`).
pub(super) struct OptionalIpPort;

impl Codec<Option<std::net::SocketAddrV4>> for OptionalIpPort {
    fn parse(&self, v: &str, _: &mut Cx) -> Result<Option<std::net::SocketAddrV4>, String> {
        if v.is_empty() {
            return Ok(None);
        }
        match v.parse::<std::net::SocketAddrV4>() {
            Ok(a) if a.port() != 0 && !a.ip().is_unspecified() => Ok(Some(a)),
            _ => Err(format!("'{v}' is not IPv4-ADDRESS:PORT")),
        }
    }
    fn show(&self, x: &Option<std::net::SocketAddrV4>) -> String {
        x.map(|a| a.to_string()).unwrap_or_default()
    }
}

/// auto, or a yes/no (`radius_require_message_authenticator`).
pub(super) struct AutoYesNo;

impl Codec<MessageAuthenticatorPolicy> for AutoYesNo {
    fn parse(&self, v: &str, _: &mut Cx) -> Result<MessageAuthenticatorPolicy, String> {
        Ok(match v {
            "auto" => MessageAuthenticatorPolicy::Auto,
            _ => match parse_bool(v) {
                Ok(true) => MessageAuthenticatorPolicy::Yes,
                Ok(false) => MessageAuthenticatorPolicy::No,
                Err(_) => return Err(format!("\"{v}\": expected auto, yes or no")),
            },
        })
    }
    fn show(&self, x: &MessageAuthenticatorPolicy) -> String {
        x.to_string()
    }
}

/// text or json (`log_format`).
pub(super) struct TextOrJson;

impl Codec<LogFormat> for TextOrJson {
    fn parse(&self, v: &str, _: &mut Cx) -> Result<LogFormat, String> {
        match v {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            _ => Err(format!("\"{v}\": expected text or json")),
        }
    }
    fn show(&self, x: &LogFormat) -> String {
        x.to_string()
    }
}

/// A decimal integer in `min..=max`. l2tpns uses `atoi` (so "12abc" is 12);
/// we refuse anything that is not a plain number.
pub(super) fn parse_ranged(v: &str, min: u64, max: u64) -> Result<u64, String> {
    let digits = v.strip_prefix('+').unwrap_or(v);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        if v.starts_with('-') && v.len() > 1 && v[1..].bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("\"{v}\" must not be negative (range {min}..{max})"));
        }
        return Err(format!("\"{v}\" is not a number"));
    }
    match digits.parse::<u64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(format!("{v} is out of range {min}..{max}")),
    }
}

/// yes/no/true/false/on/off/1/0, any case. l2tpns takes anything that is
/// not yes/true/1 as "no"; we refuse typos instead.
pub(super) fn parse_bool(v: &str) -> Result<bool, String> {
    match v.to_ascii_lowercase().as_str() {
        "yes" | "true" | "on" | "1" => Ok(true),
        "no" | "false" | "off" | "0" => Ok(false),
        _ => Err(format!("\"{v}\" is not a boolean (yes/no/true/false)")),
    }
}

pub(super) fn parse_ip4(v: &str) -> Result<Ipv4Addr, String> {
    v.trim()
        .parse()
        .map_err(|_| format!("\"{v}\" is not an IPv4 address (a.b.c.d)"))
}

fn port(v: &str, min: u64) -> Result<u16, String> {
    parse_ranged(v, min, 65535)
        .map(|n| n as u16)
        .map_err(|e| format!("invalid port: {e}"))
}

/// The items of a list separated by commas and/or spaces.
fn words(v: &str) -> impl Iterator<Item = &str> {
    v.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
}

fn join<T: Display>(x: &[T]) -> String {
    x.iter().map(T::to_string).collect::<Vec<_>>().join(",")
}
