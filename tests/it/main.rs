//! Integration tests: the real `git-ml` binary against real git repositories in temporary
//! directories. All in one test binary (one link step, shared harness).

mod common;

mod action;
mod bad_input;
mod cli;
mod cloud;
mod crash;
mod data;
mod data_checks;
mod demo;
mod emulators;
mod export;
mod faultloops;
mod faultproxy;
mod faults;
mod gates;
mod hooks;
mod import;
mod lineage;
mod pipeline;
mod plots;
mod records;
mod registry;
mod remote;
mod s3;
mod safety;
mod seaweed;
mod terminal;
mod transcripts;
