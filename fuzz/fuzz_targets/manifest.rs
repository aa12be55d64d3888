#![no_main]
// The `manifest` target: see `gitml::fuzz::manifest` for the input and the properties checked.
libfuzzer_sys::fuzz_target!(|data: &[u8]| gitml::fuzz::manifest(data));
