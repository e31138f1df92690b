//! Fuzz target: see netlab::fuzzing::text_inputs.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| netlab::fuzzing::text_inputs(data));
