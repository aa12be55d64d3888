#![no_main]
// The `lockfile` target: see `gitml::fuzz::lockfile` for the input and the properties checked.
libfuzzer_sys::fuzz_target!(|data: &[u8]| gitml::fuzz::lockfile(data));
