//! A DNS client that shows its work: one exchange at a time ([`client`]) and
//! the iterative walk from the root a recursive server performs ([`walk`]).
//!
//! Owns sending and matching queries and the referral logic. It does not
//! print or narrate: the walk reports [`walk::Event`]s to an observer, which
//! the dns-trace demo turns into steps and the lab's resolver ignores.

pub mod client;
pub mod name;
pub mod stub;
pub mod walk;
