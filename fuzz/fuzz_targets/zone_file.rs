//! Fuzz target: see netlab::fuzzing::zone_file.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| netlab::fuzzing::zone_file(data));
