#![no_main]
// The `config` target: see `gitml::fuzz::config` for the input and the properties checked.
libfuzzer_sys::fuzz_target!(|data: &[u8]| gitml::fuzz::config(data));
