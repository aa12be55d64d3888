#![no_main]
// The `note` target: see `gitml::fuzz::note` for the input and the properties checked.
libfuzzer_sys::fuzz_target!(|data: &[u8]| gitml::fuzz::note(data));
