//! Per-packet work between UDP (L2TP data) and the TUN device.
