//! IPv4 address pool.
