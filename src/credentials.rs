//! What a PPP peer presented to log in (PAP password, CHAP-MD5 response):
//! produced by `ppp::server`, checked by `auth` (the secrets file) or sent
//! by `radius`. It lives here, where those three meet, so none of them
//! reaches into another's room for it.

/// The peer's credentials, for the authenticator to check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Credentials {
    Pap {
        password: Vec<u8>,
    },
    Chap {
        id: u8,
        challenge: Vec<u8>,
        response: Vec<u8>,
    },
}
