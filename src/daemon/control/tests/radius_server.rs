//! A RADIUS server for the bench: it accepts every Access-Request with the
//! Cisco-AVPairs it was given, answers accounting and keeps each
//! Accounting-Request, and writes CoA-Requests as a DAE client would.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use radius::core::code::Code;
use radius::core::packet::Packet;
use radius::core::{rfc2865, rfc2866};

use crate::radius::builder::Builder;
use crate::radius::reply::vendor_subattributes;
use crate::radius::request::{CISCO_AVPAIR, VENDOR_CISCO};
use crate::radius::{ClientConfig, RadiusClient, ServerAddrs};

use super::super::{Aaa, AaaSettings};

const SECRET: &[u8] = b"testing123";
const NAS_IP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 10);

/// Where the server listens (authentication; accounting is the port + 1)
/// and where its CoA-Requests come from.
pub fn server_addr() -> SocketAddr {
    "192.0.2.1:1812".parse().unwrap()
}

pub struct FakeRadius {
    /// The Cisco-AVPairs of every Access-Accept, in order.
    accept_avpairs: Vec<String>,
    /// radius_interim, seconds.
    interim: u32,
    /// Every Accounting-Request received, as sent.
    pub accounting: Vec<Vec<u8>>,
    next_dae_id: u8,
}

impl FakeRadius {
    pub fn new(accept_avpairs: &[&str], interim: u32) -> FakeRadius {
        FakeRadius {
            accept_avpairs: accept_avpairs.iter().map(|s| s.to_string()).collect(),
            interim,
            accounting: Vec::new(),
            next_dae_id: 1,
        }
    }

    /// The control plane's RADIUS side, pointed at this server, with
    /// accounting and DAE from it.
    pub fn aaa(&self, now: Instant) -> Aaa {
        let client = ClientConfig {
            servers: vec![ServerAddrs::new(server_addr())],
            secret: SECRET.to_vec(),
            nas_ip: NAS_IP,
            ..Default::default()
        };
        let settings = AaaSettings {
            accounting: true,
            interim: self.interim,
            secret: SECRET.to_vec(),
            dae_allowed: vec![server_addr().ip()],
            dae_require_message_authenticator: true,
            nas_ip: NAS_IP,
            nas_identifier: String::new(),
            kill_timedout: false,
        };
        Aaa::new(RadiusClient::new(Arc::new(client), now), settings)
    }

    /// Access-Accept for an Access-Request, Accounting-Response for an
    /// Accounting-Request (kept in `accounting`).
    pub fn answer(&mut self, request: &[u8]) -> Vec<u8> {
        let id = request[1];
        let auth: [u8; 16] = request[4..20].try_into().unwrap();
        let code = match Code::from(request[0]) {
            Code::AccessRequest => Code::AccessAccept,
            Code::AccountingRequest => {
                self.accounting.push(request.to_vec());
                Code::AccountingResponse
            }
            other => panic!("unexpected RADIUS request {other:?}"),
        };
        let mut b = Builder::new(code, id, auth, SECRET).unwrap();
        if code == Code::AccessAccept {
            for pair in &self.accept_avpairs {
                b.vsa(VENDOR_CISCO, CISCO_AVPAIR, pair.as_bytes());
            }
        }
        b.finish(SECRET).unwrap()
    }

    /// A signed CoA-Request naming `user`, with these Cisco-AVPairs.
    pub fn coa(&mut self, user: &str, avpairs: &[&str]) -> Vec<u8> {
        let id = self.next_dae_id;
        self.next_dae_id = self.next_dae_id.wrapping_add(1);
        let mut b = Builder::new(Code::CoARequest, id, [0; 16], SECRET).unwrap();
        b.string(rfc2865::USER_NAME_TYPE, user);
        for pair in avpairs {
            b.vsa(VENDOR_CISCO, CISCO_AVPAIR, pair.as_bytes());
        }
        b.finish(SECRET).unwrap()
    }
}

/// Acct-Status-Type and the Cisco-AVPairs of an Accounting-Request.
pub fn accounting_record(bytes: &[u8]) -> (u32, Vec<String>) {
    let p = Packet::decode(bytes, SECRET).unwrap();
    let status = p
        .lookup(rfc2866::ACCT_STATUS_TYPE_TYPE)
        .and_then(|a| a.encode_u32().ok())
        .expect("Acct-Status-Type");
    let mut pairs = Vec::new();
    for vsa in p.lookup_all(rfc2865::VENDOR_SPECIFIC_TYPE) {
        let value = vsa.encode_bytes();
        let (vendor, subs) = vendor_subattributes(&value).expect("a well-formed VSA");
        for (typ, v) in subs {
            if (vendor, typ) == (VENDOR_CISCO, CISCO_AVPAIR) {
                pairs.push(String::from_utf8(v.to_vec()).unwrap());
            }
        }
    }
    (status, pairs)
}

/// The code of a Disconnect/CoA answer (CoA-ACK 44, CoA-NAK 45).
pub fn dae_code(answer: &[u8]) -> u8 {
    answer[0]
}
