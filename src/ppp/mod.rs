//! PPP in userspace, sans-IO: RFC 1661 option automaton, LCP, PAP, CHAP-MD5,
//! IPCP (+RFC 1877 DNS); server side (LNS) and client side (loadgen).

pub mod chap;
pub mod fsm;
pub mod ipcp;
pub mod lcp;
pub mod pap;
pub mod wire;
