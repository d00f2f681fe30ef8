//! l2tpns configuration files: startup-config, ip_pool, PPP secrets, CLI users.
