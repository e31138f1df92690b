//! The `netlab` binary: parse, run, print the error once, exit with a named code.

use std::io::Write as _;

use clap::Parser;

use netlab::cli::Cli;
use netlab::error::exit;
use netlab::narrate::Narrator;

fn main() {
    // OS strings: a path or a `lab exec` argument need not be UTF-8, and
    // std::env::args() would panic on one that is not.
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let json = args.iter().any(|a| a == "--json");
    let cli = match Cli::try_parse_from(&args) {
        Ok(c) => c,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(
                e.kind(),
                ErrorKind::DisplayHelp
                    | ErrorKind::DisplayVersion
                    | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
            ) {
                // Help and version go to stdout; if that fails (a full disk), say so.
                if let Err(w) = e.print() {
                    if w.kind() != std::io::ErrorKind::BrokenPipe {
                        let _ = writeln!(
                            std::io::stderr(),
                            "netlab: error: cannot write to standard output: {w}"
                        );
                        std::process::exit(exit::LOCAL);
                    }
                }
                std::process::exit(
                    if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                        exit::LOCAL
                    } else {
                        exit::OK
                    },
                );
            }
            // clap's message up to its usage line, on one line: what is wrong, and
            // what is missing or allowed ("<NAME>", "[possible values: …]").
            let detail = e.to_string();
            let message = detail
                .lines()
                .take_while(|l| !l.starts_with("Usage:"))
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with("For more information"))
                .collect::<Vec<_>>()
                .join(" ");
            let message = message.trim_start_matches("error: ");
            if json {
                let _ = writeln!(
                    std::io::stdout(),
                    "{}",
                    netlab::narrate::json::error_of(
                        "netlab",
                        1,
                        &netlab::error::Error::usage(message),
                    )
                );
            } else {
                // One line on what is wrong, then clap's usage line.
                let usage = detail.lines().find(|l| l.starts_with("Usage:"));
                let mut err = std::io::stderr();
                let _ = writeln!(err, "netlab: error: {message}");
                if let Some(u) = usage {
                    let _ = writeln!(err, "{u}");
                }
            }
            std::process::exit(exit::LOCAL);
        }
    };
    // Without root, a lab demo runs in a user namespace of its own; it must be
    // made now, while this process has a single thread.
    let unprivileged = !netlab::privilege::Privileges::probe().can_build_lab();
    let rootless = if netlab::needs_lab(&cli) && unprivileged {
        netlab::lab::userns::enter()
    } else {
        if netlab::wants_private_net(&cli) && unprivileged {
            // A better capture where the system allows it (port 53, real frames);
            // where it does not, the run goes on in the host's network as before.
            let _ = netlab::lab::userns::enter().and_then(|()| netlab::lab::userns::private_net());
        }
        Ok(())
    };
    // Logs go to stderr, and only when asked for (-v, RUST_LOG).
    netlab::log::init(cli.global.verbose);
    let cfg = netlab::narrator_config(&cli);
    let mut narrator = Narrator::stdout(netlab::demo_name(&cli.command), cfg);
    let code = match rootless.and_then(|()| netlab::run(&cli, &mut narrator)) {
        Ok(code) => code,
        // A reader that went away (`netlab ... | head`) is not an error worth a message.
        Err(netlab::error::Error::Output(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => {
            exit::OK
        }
        Err(e) => {
            if narrator.is_json() {
                let _ = narrator.error_json(&e);
            }
            // The whole message in the run's language, prefix included.
            let line = match cfg.lang {
                netlab::text::Lang::Zh => format!("netlab：错误：{}", e.text().zh),
                netlab::text::Lang::En => format!("netlab: error: {}", e.text().en),
            };
            // Even with stderr full or closed, no panic: the exit code still tells.
            let _ = writeln!(std::io::stderr(), "{line}");
            e.exit_code()
        }
    };
    // process::exit runs no destructors: drop the narrator first, so an
    // output that was not committed (a failed run) removes its temporary file.
    drop(narrator);
    std::process::exit(code);
}
