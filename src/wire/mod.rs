//! Packets explained from their own bytes.
//!
//! One file per protocol. Each turns the bytes netlab sent or received into a
//! table of fields (name, byte range, decoded value, meaning) for the byte
//! view. Parsing itself is done by the protocol libraries (hickory-proto for
//! DNS); this module owns only the explanation.

pub mod dns;
