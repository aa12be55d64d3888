#![no_main]
// The `metrics` target: see `gitml::fuzz::metrics` for the input and the properties checked.
libfuzzer_sys::fuzz_target!(|data: &[u8]| gitml::fuzz::metrics(data));
