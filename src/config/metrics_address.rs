//! `metrics_address`: where the Prometheus endpoint listens. Empty is off;
//! `HOST:PORT` (IPv4, or `[IPv6]:PORT`) is that socket; a bare `PORT` is
//! 127.0.0.1:PORT, because the figures (logins, load) are not for the world
//! unless the operator says so with an address.

use std::net::{Ipv4Addr, SocketAddr};

pub fn parse(v: &str) -> Result<Option<SocketAddr>, String> {
    let v = v.trim();
    if v.is_empty() {
        return Ok(None);
    }
    if let Ok(port) = v.parse::<u16>() {
        return nonzero(SocketAddr::from((Ipv4Addr::LOCALHOST, port)), v);
    }
    match v.parse::<SocketAddr>() {
        Ok(a) => nonzero(a, v),
        Err(_) => Err(format!(
            "\"{v}\" is not ADDRESS:PORT or PORT (e.g. \"127.0.0.1:9100\", \"[::1]:9100\", \"9100\")"
        )),
    }
}

fn nonzero(a: SocketAddr, v: &str) -> Result<Option<SocketAddr>, String> {
    if a.port() == 0 {
        return Err(format!("\"{v}\": port 0 is not a port to scrape"));
    }
    Ok(Some(a))
}

/// As `show running-config` prints it; `parse(show(x)) == x`.
pub fn show(a: &Option<SocketAddr>) -> String {
    a.map(|a| a.to_string()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        assert_eq!(parse("").unwrap(), None);
        assert_eq!(
            parse("9100").unwrap(),
            Some("127.0.0.1:9100".parse().unwrap())
        );
        assert_eq!(
            parse("0.0.0.0:9100").unwrap(),
            Some("0.0.0.0:9100".parse().unwrap())
        );
        assert_eq!(
            parse("[::1]:9100").unwrap(),
            Some("[::1]:9100".parse().unwrap())
        );
        for bad in [
            "0",
            "1.2.3.4",
            "1.2.3.4:0",
            "host:9100",
            "70000",
            "1.2.3.4:x",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        for a in ["127.0.0.1:9100", "[::1]:9100"] {
            let p = parse(a).unwrap();
            assert_eq!(parse(&show(&p)).unwrap(), p);
        }
    }
}
