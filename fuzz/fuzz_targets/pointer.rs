#![no_main]
// The `pointer` target: see `gitml::fuzz::pointer` for the input and the properties checked.
libfuzzer_sys::fuzz_target!(|data: &[u8]| gitml::fuzz::pointer(data));
