//! Fuzz target: see netlab::fuzzing::lab_server.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| netlab::fuzzing::lab_server(data));
