#![no_main]
// The `tag` target: see `gitml::fuzz::tag` for the input and the properties checked.
libfuzzer_sys::fuzz_target!(|data: &[u8]| gitml::fuzz::tag(data));
