//! The engine of `load-balance`: web backends, clients, layer-4 rules and
//! layer-7 proxies in the server farm (lab::farm). Typed results; no narration.
//!
//! - [`backend`]: three web servers that answer with their own name
//! - [`client`]: one GET per connection from a client host
//! - [`rules`]: nftables NAT and direct routing on the balancer
//! - [`proxy`]: netlab's reverse proxy (hyper), health checks included
//! - [`daemon`]: the system's nginx or HAProxy as the proxy, configured by netlab

pub mod backend;
pub mod client;
pub mod daemon;
pub mod proxy;
pub mod rules;
