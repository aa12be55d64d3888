//! git-ml core: everything `git ml` does, without the command line.
//!
//! The CLI (`src/cli/`) turns arguments into the typed options these modules take and renders the
//! typed results they return. Nothing in here prints to the terminal or knows about clap; progress
//! is reported through [`progress::Progress`], which the CLI implements.
//!
//! The invariant every module keeps: a cache object is visible under its name only once its
//! bytes hash to that name, and no user file is replaced unless its content is recoverable.

pub mod ci;
pub mod config;
pub mod data;
pub mod demo;
pub mod dvc;
pub mod error;
pub mod fsutil;
#[doc(hidden)]
pub mod fuzz;
pub mod gate;
pub mod git;
pub mod hooks;
pub mod import;
pub mod init;
pub mod lock;
pub mod oid;
pub mod pipeline;
pub mod plots;
pub mod profile;
pub mod progress;
pub mod record;
pub mod registry;
pub mod remote;
pub mod repo;
pub mod report;
pub mod text;
pub mod workspace;

pub use error::{Error, Result};
pub use oid::Oid;
pub use workspace::Workspace;
