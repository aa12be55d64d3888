#![no_main]
// The `event` target: see `gitml::fuzz::event` for the input and the properties checked.
libfuzzer_sys::fuzz_target!(|data: &[u8]| gitml::fuzz::event(data));
