//! The distribution cookie, found as `erl` finds it (`lib/kernel/src/auth.erl`):
//! `-setcookie`, else `$HOME/.erlang.cookie`, else
//! `$XDG_CONFIG_HOME/erlang/.erlang.cookie`; when neither exists a random
//! 20-letter cookie is written to `$HOME/.erlang.cookie` with mode 0400.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Why no cookie could be had (messages worded as `auth.erl`'s).
#[derive(Debug, thiserror::Error)]
pub enum CookieError {
    /// The cookie file is readable by others.
    #[error("Cookie file {0} must be accessible by owner only")]
    Permissions(String),
    /// The cookie file is not a regular file.
    #[error("Cookie file {0} is not a regular file")]
    NotAFile(String),
    /// Characters outside printable ASCII.
    #[error("Bad characters in cookie")]
    BadCharacters,
    /// Empty cookie file.
    #[error("Too short cookie string")]
    TooShort,
    /// Reading or creating the file failed.
    #[error("Error when reading {0}: {1}")]
    Io(String, std::io::Error),
    /// No home directory to look in.
    #[error("No home for cookie file")]
    NoHome,
}

/// `auth.erl`'s `check_cookie/2`: printable ASCII, trailing whitespace and newlines dropped.
pub fn check_cookie(text: &str) -> Result<String, CookieError> {
    let printable: String = text
        .chars()
        .take_while(|c| (' '..='~').contains(c))
        .collect();
    let rest = &text[printable.len()..];
    if rest.chars().any(|c| !matches!(c, '\n' | '\r' | ' ')) {
        return Err(CookieError::BadCharacters);
    }
    // check_cookie1 drops the trailing newline/CR/space run only after the
    // printable prefix; spaces inside the prefix are kept, as in OTP.
    if printable.is_empty() {
        return Err(CookieError::TooShort);
    }
    Ok(printable)
}

fn read(path: &Path) -> Result<Option<String>, CookieError> {
    let shown = path.display().to_string();
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(CookieError::Io(shown, e)),
    };
    if !meta.is_file() {
        return Err(CookieError::NotAFile(shown));
    }
    if meta.permissions().mode() & 0o077 != 0 {
        return Err(CookieError::Permissions(shown));
    }
    let text = std::fs::read_to_string(path).map_err(|e| CookieError::Io(shown, e))?;
    check_cookie(&text).map(Some)
}

fn create(path: &Path) -> Result<String, CookieError> {
    let cookie: String = (0..20)
        .map(|_| char::from(b'A' + (rand::random::<u32>() % 26) as u8))
        .collect();
    let shown = path.display().to_string();
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o400)
        .open(path)
        .map_err(|e| CookieError::Io(shown.clone(), e))?;
    f.write_all(cookie.as_bytes())
        .map_err(|e| CookieError::Io(shown, e))?;
    Ok(cookie)
}

fn xdg_path(home: Option<&Path>) -> Option<PathBuf> {
    let base = match std::env::var_os("XDG_CONFIG_HOME") {
        Some(x) if !x.is_empty() => PathBuf::from(x),
        _ => home?.join(".config"),
    };
    Some(base.join("erlang").join(".erlang.cookie"))
}

/// The cookie for this node: `setcookie` if given, else read or created
/// in the user's home as `erl` does.
pub fn resolve(setcookie: Option<&str>, home: Option<&Path>) -> Result<String, CookieError> {
    if let Some(c) = setcookie {
        return Ok(c.to_owned());
    }
    let xdg = xdg_path(home);
    match home {
        Some(home) => {
            let home_path = home.join(".erlang.cookie");
            if let Some(c) = read(&home_path)? {
                return Ok(c);
            }
            if let Some(c) = xdg.as_deref().map(read).transpose()?.flatten() {
                return Ok(c);
            }
            create(&home_path)
        }
        None => {
            let xdg = xdg.ok_or(CookieError::NoHome)?;
            match read(&xdg)? {
                Some(c) => Ok(c),
                None => create(&xdg),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_a_private_cookie_once_and_reads_it_back() {
        let dir = tempfile::tempdir().unwrap();
        let c1 = resolve(None, Some(dir.path())).unwrap();
        assert_eq!(c1.len(), 20);
        assert!(c1.chars().all(|c| c.is_ascii_uppercase()));
        let meta = std::fs::metadata(dir.path().join(".erlang.cookie")).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o400);
        assert_eq!(resolve(None, Some(dir.path())).unwrap(), c1);
        assert_eq!(resolve(Some("given"), Some(dir.path())).unwrap(), "given");
    }

    #[test]
    fn refuses_a_cookie_readable_by_others() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(".erlang.cookie");
        std::fs::write(&p, "SECRET\n").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = resolve(None, Some(dir.path())).unwrap_err();
        assert!(
            e.to_string().ends_with("must be accessible by owner only"),
            "{e}"
        );
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(resolve(None, Some(dir.path())).unwrap(), "SECRET");
    }

    #[test]
    fn cookie_text_rules() {
        assert_eq!(check_cookie("abc \r\n").unwrap(), "abc ");
        assert!(matches!(check_cookie("\n"), Err(CookieError::TooShort)));
        assert!(matches!(
            check_cookie("ab\tc"),
            Err(CookieError::BadCharacters)
        ));
    }
}
