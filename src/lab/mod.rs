//! The offline lab: real servers and hosts on this machine.
//!
//! [`dns`] is a DNS hierarchy (root, TLDs, authoritative zones) served by real
//! UDP and TCP sockets on 127.53.0.0/16, loaded from the zone files in
//! `lab/zones/`; [`resolver`] is the caching recursive server in front of it.
//! Nothing here is a mock: clients such as dig and drill get the same answers.

pub mod capture;
pub mod cdn;
pub mod dns;
pub mod edge;
pub mod failover;
pub mod farm;
pub mod firewall;
pub mod holder;
pub mod link;
pub mod netns;
pub mod resolver;
pub mod topology;
pub mod userns;
pub mod wan;
pub mod web;
pub mod zones;
