#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| greenpipe::fuzz_targets::events(data));
