//! High availability: what keeps a gateway address alive when the router
//! holding it dies (the engine of `netlab failover`).
//!
//! [`vrrp`] is netlab's own VRRP speaker (RFC 5798), one per router;
//! [`keepalived`] writes keepalived's configuration and runs the system's
//! keepalived inside a lab namespace instead; [`ping`] is the steady pinger
//! whose echoes show what a takeover costs. They run in the namespaces
//! [`crate::lab::failover`] builds; none of them narrates.

pub mod keepalived;
pub mod ping;
pub mod vrrp;
