//! Command-line errors worded and numbered as the docker CLI's: a bad flag
//! exits 125 ("unknown flag: --nope"), a wrong number of arguments or an
//! unknown command exits 1, and help asked for by giving no verb goes to
//! stdout with 0. clap's own rendering (its `tip:` lines, `-- --flag`) is
//! not printed.

use clap::error::{ContextKind, ContextValue, ErrorKind};

/// Docker's exit code for its own flag errors.
const FLAG_ERROR: i32 = 125;

/// Prints `err` as docker would and returns the exit code; `argv` is the
/// command line clap refused.
pub fn report(err: clap::Error, mut root: clap::Command, argv: &[String]) -> i32 {
    match err.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            let _ = err.print();
            return 0;
        }
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            print_quietly(&err.render().to_string());
            return 0;
        }
        _ => {}
    }
    root.build();
    let path = command_path(&root, argv.get(1..).unwrap_or_default());
    if err.kind() == ErrorKind::MissingSubcommand {
        // Flags but no verb (`strata -H x`): docker prints the help too.
        if let Some(command) = find(&root, &path) {
            print_quietly(&command.clone().render_help().to_string());
            return 0;
        }
    }
    let usage = find(&root, &path)
        .map(|c| docker_usage(&c.clone().render_usage().to_string()))
        .unwrap_or_else(|| path.clone());
    let (message, code) = describe(&err, &root, &path, argv);
    match err.kind() {
        ErrorKind::InvalidSubcommand if !path.contains(' ') => {
            eprintln!("{message}\n\nRun '{path} --help' for more information");
        }
        ErrorKind::InvalidSubcommand => {
            eprintln!("{message}\n\nUsage:  {path}\n\nRun '{path} --help' for more information");
        }
        _ => {
            // Docker's "See" after "requires at least", "Run" otherwise.
            let verb = if message.contains("requires at least") && !message.contains("at most") {
                "See"
            } else {
                "Run"
            };
            eprintln!("{message}\n\nUsage:  {usage}\n\n{verb} '{path} --help' for more information");
        }
    }
    code
}

/// Help on stdout; a closed stdout (`| head`) is not an error.
fn print_quietly(text: &str) {
    use std::io::Write;
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}

/// The first line of the error and its exit code.
fn describe(err: &clap::Error, root: &clap::Command, path: &str, argv: &[String]) -> (String, i32) {
    let name = root.get_name();
    let invalid_arg = context(err, ContextKind::InvalidArg).unwrap_or_default();
    match err.kind() {
        ErrorKind::InvalidSubcommand => {
            let verb = context(err, ContextKind::InvalidSubcommand).unwrap_or_default();
            (format!("{name}: unknown command: {path} {verb}"), 1)
        }
        ErrorKind::UnknownArgument if invalid_arg.starts_with("--") => {
            let flag = invalid_arg.split('=').next().unwrap_or_default();
            (format!("unknown flag: {flag}"), FLAG_ERROR)
        }
        ErrorKind::UnknownArgument if invalid_arg.starts_with('-') && invalid_arg.len() > 1 => {
            let letter = invalid_arg[1..].chars().next().unwrap_or('-');
            (
                format!("unknown shorthand flag: '{letter}' in {invalid_arg}"),
                FLAG_ERROR,
            )
        }
        // A missing positional argument, or one beyond the last.
        ErrorKind::MissingRequiredArgument | ErrorKind::UnknownArgument if !invalid_arg.starts_with('-') => {
            match arity(root, path) {
                Some((min, max)) => (format!("{name}: '{path}' {}", requires(min, max)), 1),
                None => (first_line(err), FLAG_ERROR),
            }
        }
        // A positional argument of the wrong kind: clap's words.
        ErrorKind::InvalidValue | ErrorKind::ValueValidation if !invalid_arg.starts_with('-') => {
            (format!("{name}: {}", first_line(err)), 1)
        }
        ErrorKind::InvalidValue | ErrorKind::ValueValidation => {
            let value = context(err, ContextKind::InvalidValue).unwrap_or_default();
            let flag = flag_names(root, path, &invalid_arg);
            if value.is_empty() && err.kind() == ErrorKind::InvalidValue {
                return (format!("flag needs an argument: {}", as_typed(&flag, argv)), FLAG_ERROR);
            }
            let why = std::error::Error::source(err)
                .map(|e| e.to_string())
                .unwrap_or_else(|| first_line(err));
            (
                format!("invalid argument \"{value}\" for \"{flag}\" flag: {why}"),
                FLAG_ERROR,
            )
        }
        _ => (first_line(err), FLAG_ERROR),
    }
}

/// Docker's words for how many arguments a command takes.
fn requires(min: usize, max: Option<usize>) -> String {
    let plural = |n: usize| if n == 1 { "argument" } else { "arguments" };
    match max {
        Some(0) => "accepts no arguments".to_string(),
        None => format!("requires at least {min} {}", plural(min)),
        Some(max) if max == min => format!("requires {min} {}", plural(min)),
        Some(max) if min == 0 => format!("requires at most {max} {}", plural(max)),
        Some(max) => format!("requires at least {min} and at most {max} {}", plural(max)),
    }
}

/// The fewest and most positional arguments `path`'s command takes (None:
/// no limit), or None when the command is not found.
fn arity(root: &clap::Command, path: &str) -> Option<(usize, Option<usize>)> {
    let command = find(root, path)?;
    let mut min = 0;
    let mut max = Some(0);
    for arg in command.get_positionals() {
        let range = arg.get_num_args().unwrap_or_else(|| 1.into());
        if arg.is_required_set() {
            min += range.min_values();
        }
        max = match (max, range.max_values()) {
            (Some(m), n) if n != usize::MAX => Some(m + n),
            _ => None,
        };
        if arg.is_last_set() || arg.is_trailing_var_arg_set() {
            max = None;
        }
    }
    Some((min, max))
}

/// `-m, --memory` as docker names a flag in its errors.
fn flag_names(root: &clap::Command, path: &str, invalid_arg: &str) -> String {
    let typed = invalid_arg.split_whitespace().next().unwrap_or(invalid_arg);
    let arg = find(root, path).and_then(|c| {
        c.get_arguments()
            .find(|a| a.get_long().is_some_and(|l| typed == format!("--{l}")))
    });
    match arg.and_then(|a| Some((a.get_short()?, a.get_long()?))) {
        Some((short, long)) => format!("-{short}, --{long}"),
        None => typed.to_string(),
    }
}

/// The command that `path` ("strata container ls") names.
fn find<'a>(root: &'a clap::Command, path: &str) -> Option<&'a clap::Command> {
    path.split_whitespace()
        .skip(1)
        .try_fold(root, |c, name| c.find_subcommand(name))
}

/// The names of the commands `args` goes through ("strata container ls"):
/// each word that is a subcommand of the one before, past the options (and
/// their values) in between.
fn command_path(root: &clap::Command, args: &[String]) -> String {
    let mut command = root;
    let mut path = vec![root.get_name().to_string()];
    let mut words = args.iter();
    while let Some(word) = words.next() {
        if word == "--" {
            break;
        }
        if let Some(flag) = word.strip_prefix('-').filter(|f| !f.is_empty()) {
            let takes_value = command.get_arguments().any(|a| {
                let named = match flag.strip_prefix('-') {
                    Some(long) => a.get_long() == Some(long),
                    None => flag.len() == 1 && a.get_short() == flag.chars().next(),
                };
                named && a.get_action().takes_values()
            });
            if takes_value {
                words.next();
            }
            continue;
        }
        match command.find_subcommand(word) {
            Some(sub) => {
                path.push(sub.get_name().to_string());
                command = sub;
            }
            None => break,
        }
    }
    path.join(" ")
}

/// clap's usage line in docker's notation: `IMAGE`, not `<IMAGE>`;
/// `NAME [NAME...]`, not `<NAME>...`.
fn docker_usage(clap_usage: &str) -> String {
    let line = clap_usage.lines().next().unwrap_or_default();
    let line = line.strip_prefix("Usage: ").unwrap_or(line);
    line.split_whitespace()
        .map(|word| match (word.strip_prefix('<'), word.strip_prefix('[')) {
            (Some(rest), _) => match rest.strip_suffix(">...") {
                Some(name) => format!("{name} [{name}...]"),
                None => rest.trim_end_matches('>').to_string(),
            },
            (_, Some(rest)) => match rest.strip_suffix("]...") {
                Some(name) => format!("[{name}...]"),
                None => word.to_string(),
            },
            _ => word.to_string(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// `'m' in -m` when the flag was typed short, as docker says it.
fn as_typed(flag: &str, argv: &[String]) -> String {
    let short = flag
        .strip_prefix('-')
        .and_then(|f| f.split(',').next())
        .filter(|s| s.len() == 1);
    match short {
        Some(letter) if argv.last().is_some_and(|a| *a == format!("-{letter}")) => format!("'{letter}' in -{letter}"),
        _ => flag.rsplit(", ").next().unwrap_or(flag).to_string(),
    }
}

fn context(err: &clap::Error, kind: ContextKind) -> Option<String> {
    match err.get(kind)? {
        ContextValue::String(s) => Some(s.clone()),
        ContextValue::Strings(s) => s.first().cloned(),
        ContextValue::StyledStr(s) => Some(s.to_string()),
        _ => None,
    }
}

/// clap's message alone: its first line, without "error: ".
fn first_line(err: &clap::Error) -> String {
    let text = err.render().to_string();
    let line = text.lines().next().unwrap_or_default();
    line.strip_prefix("error: ").unwrap_or(line).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arity_is_worded_as_docker_words_it() {
        assert_eq!(requires(1, None), "requires at least 1 argument");
        assert_eq!(requires(2, Some(2)), "requires 2 arguments");
        assert_eq!(requires(1, Some(2)), "requires at least 1 and at most 2 arguments");
        assert_eq!(requires(0, Some(0)), "accepts no arguments");
        assert_eq!(requires(0, Some(1)), "requires at most 1 argument");
    }

    #[test]
    fn usage_is_written_in_docker_notation() {
        assert_eq!(
            docker_usage("Usage: strata run [OPTIONS] <IMAGE> [COMMAND]..."),
            "strata run [OPTIONS] IMAGE [COMMAND...]"
        );
        assert_eq!(
            docker_usage("Usage: strata rm [OPTIONS] <CONTAINER>..."),
            "strata rm [OPTIONS] CONTAINER [CONTAINER...]"
        );
    }
}
