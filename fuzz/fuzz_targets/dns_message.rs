//! Fuzz target: see netlab::fuzzing::dns_message.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| netlab::fuzzing::dns_message(data));
