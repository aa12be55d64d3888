//! The `git-ml` binary: `git ml <command>`. All logic lives in the `gitml` library; this is the
//! command line around it.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
