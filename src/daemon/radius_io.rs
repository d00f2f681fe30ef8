//! The RADIUS side of the daemon's I/O: the client's UDP sockets (many, so
//! thousands of requests in flight never run out of 8-bit identifiers), the
//! DAE socket, and the tasks that hand what they receive to the control
//! plane. Everything RADIUS *means* lives in the sans-IO `radius` module and
//! `control::aaa`.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tracing::{info, warn};

use crate::config::Config;
use crate::radius::{ClientConfig, MessageAuthenticatorPolicy, RadiusClient, ServerAddrs};

use super::control::{Aaa, AaaSettings};
use super::ControlInput;

/// Client sockets: 16 x 256 identifiers in flight.
const SOCKETS: usize = 16;

/// The sockets the I/O driver sends from: client socket `i` for
/// `Io::Radius { socket: i, .. }`, the DAE port for `Io::Dae`.
pub struct Senders {
    pub client: Vec<UdpSocket>,
    pub dae: Option<UdpSocket>,
}

/// Sockets whose datagrams go to the control plane.
pub struct Receivers {
    client: Vec<UdpSocket>,
    dae: Option<UdpSocket>,
}

fn bind(addr: SocketAddrV4) -> std::io::Result<UdpSocket> {
    let s = UdpSocket::bind(addr)?;
    s.set_nonblocking(true)?;
    Ok(s)
}

/// RADIUS when primary_radius is set; None otherwise (embedded secrets).
pub fn setup(
    cfg: &Config,
    nas_ip: Ipv4Addr,
    hostname: &str,
) -> Result<Option<(Aaa, Receivers, Senders)>, String> {
    let Some(primary) = cfg.primary_radius else {
        return Ok(None);
    };
    let mut servers = vec![ServerAddrs::new(SocketAddr::from((
        primary,
        cfg.primary_radius_port,
    )))];
    if let Some(s) = cfg.secondary_radius {
        servers.push(ServerAddrs::new(SocketAddr::from((
            s,
            cfg.secondary_radius_port,
        ))));
    }
    if cfg.radius_secret.is_empty() {
        return Err("primary_radius is set but radius_secret is empty".into());
    }
    // Like l2tpns, requests leave from INADDR_ANY: the kernel picks the
    // source by the route to the server, which is what an operator's
    // clients.conf is keyed on. radius_source_address pins it.
    let source = cfg.radius_source_address.unwrap_or(Ipv4Addr::UNSPECIFIED);
    let mut client_sockets = Vec::with_capacity(SOCKETS);
    let mut receivers = Vec::with_capacity(SOCKETS);
    for i in 0..SOCKETS {
        // radius_bind_min..max: a fixed port range (firewalls); else any port.
        let port = if cfg.radius_bind_min != 0 {
            cfg.radius_bind_min.saturating_add(i as u16)
        } else {
            0
        };
        let s = bind(SocketAddrV4::new(source, port)).map_err(|e| {
            format!("RADIUS socket {source}:{port}: {e} (radius_source_address, radius_bind_min)")
        })?;
        receivers.push(s.try_clone().map_err(|e| e.to_string())?);
        client_sockets.push(s);
    }
    // The DAE port listens where the L2TP port does (bind_address), so its
    // answers leave from the address the request came to.
    let dae = if cfg.radius_dae_port != 0 {
        let local = cfg.bind_address.unwrap_or(Ipv4Addr::UNSPECIFIED);
        let addr = SocketAddrV4::new(local, cfg.radius_dae_port);
        Some(bind(addr).map_err(|e| format!("DAE socket {addr}: {e} (radius_dae_port)"))?)
    } else {
        None
    };
    let dae_rx = match &dae {
        Some(s) => Some(s.try_clone().map_err(|e| e.to_string())?),
        None => None,
    };
    let mut dae_allowed: Vec<IpAddr> = servers.iter().map(|s| s.auth.ip()).collect();
    dae_allowed.extend(cfg.radius_dae_allow.iter().map(|a| IpAddr::V4(*a)));
    let client_cfg = ClientConfig {
        servers,
        secret: cfg.radius_secret.clone().into_bytes(),
        sockets: SOCKETS,
        timeout: Duration::from_secs(3),
        retries: 3,
        dead_time: Duration::from_secs(30),
        require_message_authenticator: cfg.radius_require_message_authenticator,
        nas_ip,
        nas_identifier: hostname.to_string(),
    };
    if cfg.radius_require_message_authenticator == MessageAuthenticatorPolicy::No {
        warn!("radius_require_message_authenticator no: RADIUS replies without Message-Authenticator are accepted even from servers that sign (Blast-RADIUS, CVE-2024-3596)");
    }
    info!(
        servers = ?client_cfg.servers.iter().map(|s| s.auth).collect::<Vec<_>>(),
        accounting = cfg.radius_accounting,
        dae = ?dae.as_ref().and_then(|d| d.local_addr().ok()),
        "RADIUS enabled"
    );
    let settings = AaaSettings {
        accounting: cfg.radius_accounting,
        interim: cfg.radius_interim,
        secret: cfg.radius_secret.clone().into_bytes(),
        dae_allowed,
        dae_require_message_authenticator: cfg.radius_dae_require_message_authenticator,
        nas_ip,
        nas_identifier: hostname.to_string(),
        kill_timedout: cfg.kill_timedout_sessions,
    };
    let client = RadiusClient::new(Arc::new(client_cfg), Instant::now());
    Ok(Some((
        Aaa::new(client, settings),
        Receivers {
            client: receivers,
            dae: dae_rx,
        },
        Senders {
            client: client_sockets,
            dae,
        },
    )))
}

/// Start one receive task per socket (inside the runtime).
pub fn spawn(
    receivers: Receivers,
    tx: tokio::sync::mpsc::Sender<ControlInput>,
) -> Result<(), String> {
    for (socket, s) in receivers.client.into_iter().enumerate() {
        let s = tokio::net::UdpSocket::from_std(s).map_err(|e| e.to_string())?;
        let tx = tx.clone();
        tokio::spawn(async move {
            let mut buf = vec![0u8; 4096];
            while let Ok((n, from)) = s.recv_from(&mut buf).await {
                let msg = ControlInput::Radius {
                    socket,
                    from,
                    bytes: buf[..n].to_vec(),
                };
                if tx.send(msg).await.is_err() {
                    break;
                }
            }
        });
    }
    if let Some(s) = receivers.dae {
        let s = tokio::net::UdpSocket::from_std(s).map_err(|e| e.to_string())?;
        tokio::spawn(async move {
            let mut buf = vec![0u8; 4096];
            while let Ok((n, from)) = s.recv_from(&mut buf).await {
                if tx
                    .send(ControlInput::Dae {
                        from,
                        bytes: buf[..n].to_vec(),
                    })
                    .await
                    .is_err()
                {
                    break;
                }
            }
        });
    }
    Ok(())
}
