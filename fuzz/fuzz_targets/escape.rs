#![no_main]
// The `escape` target: see `gitml::fuzz::escape` for the input and the properties checked.
libfuzzer_sys::fuzz_target!(|data: &[u8]| gitml::fuzz::escape(data));
