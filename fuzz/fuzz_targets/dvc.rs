#![no_main]
// The `dvc` target: see `gitml::fuzz::dvc` for the input and the properties checked.
libfuzzer_sys::fuzz_target!(|data: &[u8]| gitml::fuzz::dvc(data));
