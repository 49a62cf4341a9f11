//! Where erl's arguments come from before they are parsed: `-args_file`
//! files (nested, with `#` comments and quoting) and the `ERL_AFLAGS`,
//! `ERL_FLAGS` and `ERL_ZFLAGS` environment variables — mirrors
//! `initial_argv_massage`, `get_file_args`, `read_args_file` and
//! `build_args_from_string` of `erts/etc/common/erlexec.c`.
//!
//! - The sources are, in order: `ERL_AFLAGS`, the command line, `ERL_FLAGS`,
//!   `ERL_ZFLAGS`; each is followed by `--`, so that a flag at the end of
//!   one never takes the first word of the next as its argument.
//! - `-args_file F` is replaced by the words of `F`, where it stands; files
//!   may name further files (distro stops at a depth of
//!   [`MAX_DEPTH`], where erl would loop forever on a cycle).
//! - A word is split at white space; `'…'` and `"…"` quote (no escapes
//!   inside), `\` quotes the next character, and in a file `#` starts a
//!   comment to the end of the line (also right after a word).
//! - `-extra` in a source moves the rest of *that* source (file, variable
//!   or command line) to the plain arguments at the very end, behind one
//!   `-extra`.
//!
//! erl does not expand `${VAR}` inside an args file (a release start script
//! does that before erl, or distro, reads it), and neither does distro.

use std::path::Path;

/// How deep `-args_file` files may nest.
pub const MAX_DEPTH: usize = 64;

/// Why the arguments could not be assembled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArgsFileError {
    /// `-args_file` as the last word.
    #[error("distro: -args_file needs a file name")]
    MissingName,
    /// The file cannot be read.
    #[error("distro: failed to read arguments file \"{file}\": {reason}")]
    Read {
        /// The file as named.
        file: String,
        /// The OS's reason.
        reason: String,
    },
    /// Files name each other (or nest absurdly deep).
    #[error("distro: -args_file files nest deeper than {MAX_DEPTH} (\"{0}\" names itself?)")]
    TooDeep(String),
}

/// The words of `text` as erlexec splits an environment variable
/// (`comments = false`) or an args file (`comments = true`).
pub fn split(text: &str, comments: bool) -> Vec<String> {
    let mut words = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        // Between words: skip white space and comments.
        while let Some(&c) = chars.peek() {
            if is_space(c) {
                chars.next();
            } else if c == '#' && comments {
                while chars.next_if(|&c| c != '\n').is_some() {}
            } else {
                break;
            }
        }
        if chars.peek().is_none() {
            return words;
        }
        let mut word = String::new();
        while let Some(&c) = chars.peek() {
            if is_space(c) || (c == '#' && comments) {
                break;
            }
            chars.next();
            match c {
                '"' | '\'' => {
                    for q in chars.by_ref() {
                        if q == c {
                            break;
                        }
                        word.push(q);
                    }
                }
                '\\' => {
                    if let Some(n) = chars.next() {
                        word.push(n);
                    }
                }
                _ => word.push(c),
            }
        }
        words.push(word);
    }
}

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0b' | '\x0c')
}

/// The command line `args` (without the program name) as erl assembles it
/// from the environment variables `env` gives and the `-args_file` files
/// `read` returns.
pub fn expand(
    args: &[String],
    env: &dyn Fn(&str) -> Option<String>,
    read: &dyn Fn(&Path) -> std::io::Result<String>,
) -> Result<Vec<String>, ArgsFileError> {
    let from_env = |var: &str| {
        let mut words = split(&env(var).unwrap_or_default(), false);
        if !words.is_empty() {
            words.push("--".to_owned());
        }
        words
    };
    // The separator after the command line is a source of its own: an
    // `-extra` on the command line does not take it.
    let separator = if args.is_empty() {
        Vec::new()
    } else {
        vec!["--".to_owned()]
    };
    let sources = [
        from_env("ERL_AFLAGS"),
        args.to_vec(),
        separator,
        from_env("ERL_FLAGS"),
        from_env("ERL_ZFLAGS"),
    ];
    let plain_cmdline = sources.iter().filter(|s| !s.is_empty()).count()
        == 2 * usize::from(!args.is_empty())
        && !args
            .iter()
            .take_while(|a| *a != "-extra")
            .any(|a| a == "-args_file");
    if plain_cmdline {
        // erlexec uses argv as it is.
        return Ok(args.to_vec());
    }
    let mut out = Vec::new();
    let mut extra = Vec::new();
    for source in &sources {
        walk(source, &mut out, &mut extra, read, 0)?;
    }
    if !extra.is_empty() {
        out.push("-extra".to_owned());
        out.extend(extra);
    }
    Ok(out)
}

fn walk(
    words: &[String],
    out: &mut Vec<String>,
    extra: &mut Vec<String>,
    read: &dyn Fn(&Path) -> std::io::Result<String>,
    depth: usize,
) -> Result<(), ArgsFileError> {
    let mut it = words.iter();
    while let Some(w) = it.next() {
        match w.as_str() {
            "-args_file" => {
                let file = it.next().ok_or(ArgsFileError::MissingName)?;
                if depth >= MAX_DEPTH {
                    return Err(ArgsFileError::TooDeep(file.clone()));
                }
                let text = read(Path::new(file)).map_err(|e| ArgsFileError::Read {
                    file: file.clone(),
                    reason: e.to_string(),
                })?;
                walk(&split(&text, true), out, extra, read, depth + 1)?;
            }
            "-extra" => {
                extra.extend(it.cloned());
                return Ok(());
            }
            _ => out.push(w.clone()),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn words(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn splitting_like_erlexec() {
        let cases: &[(&str, bool, &[&str])] = &[
            ("a b\tc\n d", true, &["a", "b", "c", "d"]),
            ("# all comment\n-name x # trailing\n", true, &["-name", "x"]),
            ("-a x#y", true, &["-a", "x"]),
            ("-a x#y", false, &["-a", "x#y"]),
            ("'a b' \"c 'd'\" e\\ f", true, &["a b", "c 'd'", "e f"]),
            ("-kernel k '\"str\"'", true, &["-kernel", "k", "\"str\""]),
            ("x\"\"y \"\"", true, &["xy", ""]),
            ("", true, &[]),
            ("  \n ", false, &[]),
        ];
        for (text, comments, want) in cases {
            assert_eq!(split(text, *comments), words(want), "{text:?}");
        }
    }

    fn run(
        args: &[&str],
        env: &[(&str, &str)],
        files: &[(&str, &str)],
    ) -> Result<Vec<String>, ArgsFileError> {
        let env: HashMap<String, String> = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let files: HashMap<String, String> = files
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        expand(&words(args), &|k| env.get(k).cloned(), &|p| {
            files
                .get(p.to_str().unwrap())
                .cloned()
                .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::NotFound))
        })
    }

    #[test]
    fn expansion() {
        // Nothing to expand: unchanged.
        assert_eq!(
            run(&["-sname", "a"], &[], &[]).unwrap(),
            words(&["-sname", "a"])
        );
        // Files nest; -extra in a file ends with the file.
        let files = [
            (
                "vm.args",
                "-name a@h\n-args_file more.args\n-setcookie c -extra p1",
            ),
            ("more.args", "+K true # comment\n-kernel x 1\n"),
        ];
        assert_eq!(
            run(
                &["-args_file", "vm.args", "-hidden", "-extra", "p2"],
                &[],
                &files
            )
            .unwrap(),
            words(&[
                "-name",
                "a@h",
                "+K",
                "true",
                "-kernel",
                "x",
                "1",
                "-setcookie",
                "c",
                "-hidden",
                "--",
                "-extra",
                "p1",
                "p2"
            ])
        );
        // The environment variables frame the command line.
        assert_eq!(
            run(
                &["-sname", "a"],
                &[
                    ("ERL_AFLAGS", "-first"),
                    ("ERL_FLAGS", "-args_file f"),
                    ("ERL_ZFLAGS", "-last 'x y'")
                ],
                &[("f", "-middle")],
            )
            .unwrap(),
            words(&[
                "-first", "--", "-sname", "a", "--", "-middle", "--", "-last", "x y", "--"
            ])
        );
    }

    #[test]
    fn expansion_errors() {
        assert_eq!(
            run(&["-args_file"], &[], &[]).unwrap_err().to_string(),
            "distro: -args_file needs a file name"
        );
        assert_eq!(
            run(&["-args_file", "nope"], &[], &[])
                .unwrap_err()
                .to_string(),
            "distro: failed to read arguments file \"nope\": entity not found"
        );
        assert_eq!(
            run(&["-args_file", "loop"], &[], &[("loop", "-args_file loop")])
                .unwrap_err()
                .to_string(),
            "distro: -args_file files nest deeper than 64 (\"loop\" names itself?)"
        );
    }
}
