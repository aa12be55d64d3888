use std::path::PathBuf;

use clap::{Args, CommandFactory};

use super::{Cli, Outcome};

/// Print the man page `git-ml.1`, or write it and one page per command into a directory
///
/// `git ml --help` opens `man git-ml`, so install the pages where man finds them:
/// `git ml man --dir ~/.local/share/man/man1`.
#[derive(Args)]
pub struct ManArgs {
    /// Write `git-ml.1` and `git-ml-<command>.1` into this directory
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
}

pub fn run(args: ManArgs) -> gitml::Result<Outcome> {
    let cmd = Cli::command().name("git-ml");
    match args.dir {
        None => {
            let mut page = Vec::new();
            render(&cmd, &mut page)?;
            out!("{}", String::from_utf8_lossy(&page));
        }
        Some(dir) => {
            fs_err::create_dir_all(&dir)?;
            let mut buf = Vec::new();
            render(&cmd, &mut buf)?;
            fs_err::write(dir.join("git-ml.1"), &buf)?;
            for sub in cmd.get_subcommands() {
                let name = format!("git-ml-{}", sub.get_name());
                let page = sub.clone().name(name.clone());
                let mut buf = Vec::new();
                render(&page, &mut buf)?;
                fs_err::write(dir.join(format!("{name}.1")), &buf)?;
            }
            eprintln!("wrote man pages to `{}`", dir.display());
        }
    }
    Ok(Outcome::Ok)
}

fn render(cmd: &clap::Command, out: &mut dyn std::io::Write) -> gitml::Result<()> {
    clap_mangen::Man::new(cmd.clone()).render(out)?;
    Ok(())
}
