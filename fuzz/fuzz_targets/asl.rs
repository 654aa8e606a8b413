#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| greenpipe_statemachine::fuzz_targets::asl(data));
