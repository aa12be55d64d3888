use clap::{Args, CommandFactory};
use clap_complete::Shell;

use super::{Cli, Outcome};

/// Print a shell completion script
///
/// Bash: `git ml completions bash > ~/.local/share/bash-completion/completions/git-ml`.
/// Zsh: write `_git-ml` into a directory on `$fpath`. Fish: `~/.config/fish/completions/git-ml.fish`.
#[derive(Args)]
pub struct CompletionsArgs {
    /// The shell to generate for
    shell: Shell,
}

pub fn run(args: CompletionsArgs) -> gitml::Result<Outcome> {
    let mut cmd = Cli::command();
    // Rendered whole, then written through the output layer (a closed pipe is no panic).
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "git-ml", &mut script);
    out!("{}", String::from_utf8_lossy(&script));
    Ok(Outcome::Ok)
}
