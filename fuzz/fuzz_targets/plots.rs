#![no_main]
// The `plots` target: see `gitml::fuzz::plots` for the input and the properties checked.
libfuzzer_sys::fuzz_target!(|data: &[u8]| gitml::fuzz::plots(data));
