//! The manual page and the shell completions, made from the command line's own definition:
//! every command a person can type is in them.

mod support;

use support::{cli, run};

const COMMANDS: [&str; 10] = [
    "add",
    "status",
    "watch",
    "failed",
    "cancel",
    "agents",
    "start",
    "retry",
    "history",
    "credentials",
];

#[test]
fn completions_for_bash_zsh_and_fish_know_every_command() {
    for shell in ["bash", "zsh", "fish"] {
        let out = run(cli(&["completions", shell]));
        out.assert_code(0);
        for command in COMMANDS {
            assert!(out.stdout.contains(command), "{shell} lacks {command}");
        }
        // Options of a command too.
        assert!(
            out.stdout.contains("callback-gap"),
            "{shell} lacks start's options"
        );
    }
    run(cli(&["completions", "tcsh"])).assert_code(2);
}

#[test]
fn the_manual_page_is_roff_naming_every_command() {
    let out = run(cli(&["man"]));
    out.assert_code(0);
    assert!(
        out.stdout.contains(".TH batchwatch-cli 1"),
        "{}",
        &out.stdout[..200.min(out.stdout.len())]
    );
    // Each command is listed under SUBCOMMANDS, by the name of its own page.
    let listed = out
        .stdout
        .split(".SH SUBCOMMANDS")
        .nth(1)
        .expect("a SUBCOMMANDS section");
    for command in COMMANDS {
        assert!(
            listed.contains(&format!("batchwatch\\-cli\\-{command}(1)")),
            "{command}"
        );
    }
}
