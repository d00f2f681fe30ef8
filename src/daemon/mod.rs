//! Daemon: sockets, TUN, threads, control plane.
