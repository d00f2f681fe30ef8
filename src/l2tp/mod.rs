//! L2TPv2 (RFC 2661), sans-IO: wire codec, AVPs, reliable control channel,
//! LNS and LAC tunnel state machines.
