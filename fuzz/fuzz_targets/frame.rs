//! Fuzz target: see netlab::fuzzing::frame.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| netlab::fuzzing::frame(data));
