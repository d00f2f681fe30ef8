//! What a hook run is told: the facts of one session at up or down, and
//! their environment variables (`L2TPNS_*`, Docs/HOOKS.md). Sans-IO: the
//! control plane fills them in, the runner only passes them on.

use std::net::{Ipv4Addr, SocketAddr};

use ipnetwork::Ipv4Network;

/// argv[1] and `L2TPNS_EVENT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookEvent {
    /// The session's network came up (IPCP Opened).
    Up,
    /// The session ended.
    Down,
}

impl HookEvent {
    pub fn name(self) -> &'static str {
        match self {
            HookEvent::Up => "up",
            HookEvent::Down => "down",
        }
    }
}

/// One session as a hook run sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionFacts {
    pub event: HookEvent,
    /// Our tunnel and session ids.
    pub tunnel: u16,
    pub session: u16,
    /// l2tpns's session id, which is also the NAS-Port.
    pub sid: u32,
    pub user: String,
    pub address: Ipv4Addr,
    /// The tunnel's peer (None if the tunnel is already gone).
    pub lac: Option<SocketAddr>,
    /// "" when the LAC did not say.
    pub calling_number: String,
    pub called_number: String,
    pub acct_session_id: String,
    /// Framed-Routes routed to the session.
    pub routes: Vec<Ipv4Network>,
    /// At down: the session's totals and why it ended.
    pub ended: Option<Ended>,
}

/// What a session did, told at down.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ended {
    /// rx = from the user (upstream), tx = to the user.
    pub rx_bytes: u64,
    pub tx_bytes: u64,
    pub rx_packets: u64,
    pub tx_packets: u64,
    /// Since the network came up (as Acct-Session-Time).
    pub session_seconds: u64,
    /// The Acct-Terminate-Cause name (RFC 2866), e.g. "User-Request".
    pub cause: &'static str,
}

impl SessionFacts {
    /// The run's environment besides PATH, in a fixed order.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        let mut env = vec![
            ("L2TPNS_EVENT", self.event.name().to_string()),
            ("L2TPNS_USER", self.user.clone()),
            ("L2TPNS_ADDRESS", self.address.to_string()),
            ("L2TPNS_TUNNEL", self.tunnel.to_string()),
            ("L2TPNS_SESSION", self.session.to_string()),
            ("L2TPNS_SID", self.sid.to_string()),
        ];
        if let Some(lac) = self.lac {
            env.push(("L2TPNS_LAC_ADDRESS", lac.ip().to_string()));
            env.push(("L2TPNS_LAC_PORT", lac.port().to_string()));
        }
        env.push(("L2TPNS_CALLING_NUMBER", self.calling_number.clone()));
        env.push(("L2TPNS_CALLED_NUMBER", self.called_number.clone()));
        env.push(("L2TPNS_ACCT_SESSION_ID", self.acct_session_id.clone()));
        if !self.routes.is_empty() {
            let routes: Vec<String> = self.routes.iter().map(|r| r.to_string()).collect();
            env.push(("L2TPNS_ROUTES", routes.join(" ")));
        }
        if let Some(e) = &self.ended {
            env.push(("L2TPNS_RX_BYTES", e.rx_bytes.to_string()));
            env.push(("L2TPNS_TX_BYTES", e.tx_bytes.to_string()));
            env.push(("L2TPNS_RX_PACKETS", e.rx_packets.to_string()));
            env.push(("L2TPNS_TX_PACKETS", e.tx_packets.to_string()));
            env.push(("L2TPNS_SESSION_SECONDS", e.session_seconds.to_string()));
            env.push(("L2TPNS_CAUSE", e.cause.to_string()));
        }
        env
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A down event with every optional fact present.
    pub(crate) fn sample(event: HookEvent) -> SessionFacts {
        SessionFacts {
            event,
            tunnel: 3,
            session: 17,
            sid: (3 << 16) | 17,
            user: "alice".into(),
            address: Ipv4Addr::new(10, 100, 0, 1),
            lac: Some("192.0.2.9:1701".parse().unwrap()),
            calling_number: "0123".into(),
            called_number: "4567".into(),
            acct_session_id: "5F3E1234000000AB".into(),
            routes: vec![
                "198.51.100.0/24".parse().unwrap(),
                "203.0.113.8/29".parse().unwrap(),
            ],
            ended: (event == HookEvent::Down).then_some(Ended {
                rx_bytes: 1000,
                tx_bytes: 2000,
                rx_packets: 10,
                tx_packets: 20,
                session_seconds: 42,
                cause: "User-Request",
            }),
        }
    }

    #[test]
    fn up_says_who_and_where_and_down_adds_the_totals() {
        let up = sample(HookEvent::Up).env();
        let get = |env: &[(&str, String)], k: &str| {
            env.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone())
        };
        assert_eq!(get(&up, "L2TPNS_EVENT").as_deref(), Some("up"));
        assert_eq!(get(&up, "L2TPNS_SID").as_deref(), Some("196625"));
        assert_eq!(get(&up, "L2TPNS_LAC_ADDRESS").as_deref(), Some("192.0.2.9"));
        assert_eq!(get(&up, "L2TPNS_LAC_PORT").as_deref(), Some("1701"));
        assert_eq!(
            get(&up, "L2TPNS_ROUTES").as_deref(),
            Some("198.51.100.0/24 203.0.113.8/29")
        );
        assert_eq!(get(&up, "L2TPNS_CAUSE"), None);
        let down = sample(HookEvent::Down).env();
        assert_eq!(get(&down, "L2TPNS_EVENT").as_deref(), Some("down"));
        assert_eq!(get(&down, "L2TPNS_RX_BYTES").as_deref(), Some("1000"));
        assert_eq!(get(&down, "L2TPNS_TX_PACKETS").as_deref(), Some("20"));
        assert_eq!(get(&down, "L2TPNS_SESSION_SECONDS").as_deref(), Some("42"));
        assert_eq!(get(&down, "L2TPNS_CAUSE").as_deref(), Some("User-Request"));
        let mut no_routes = sample(HookEvent::Up);
        no_routes.routes.clear();
        assert_eq!(get(&no_routes.env(), "L2TPNS_ROUTES"), None);
    }

    /// Docs/HOOKS.md describes every variable a run can get.
    #[test]
    fn every_variable_is_documented() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/Docs/HOOKS.md");
        let doc = std::fs::read_to_string(path).expect("Docs/HOOKS.md");
        for (name, _) in sample(HookEvent::Down).env() {
            assert!(doc.contains(&format!("`{name}`")), "{name} not in {path}");
        }
    }
}
