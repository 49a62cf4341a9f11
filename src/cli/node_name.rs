//! Turning `-name` / `-sname` into a full node name, as `net_kernel` does:
//! `-sname foo` → `foo@<short host name>`, `-name foo` → `foo@<fully
//! qualified host name>`, and `name@host` as given.

/// Why a node name cannot be made.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NameError {
    /// Empty alive part.
    #[error("invalid node name {0:?}")]
    Invalid(String),
    /// `-name` without a host and no fully qualified host name found.
    #[error(
        "Can't set long node name {0:?}: the host name {1:?} is not fully qualified; use -name {0}@<host>"
    )]
    NoLongHost(String, String),
    /// The host name could not be read.
    #[error("cannot determine the host name: {0}")]
    Hostname(String),
}

fn hostname() -> Result<String, NameError> {
    let mut buf = [0u8; 256];
    // SAFETY: buf is valid for buf.len() bytes; gethostname NUL-terminates on success.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return Err(NameError::Hostname(
            std::io::Error::last_os_error().to_string(),
        ));
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    Ok(String::from_utf8_lossy(&buf[..end]).into_owned())
}

/// The full node name for `-name` (`long = true`) or `-sname`.
pub fn full_name(arg: &str, long: bool) -> Result<String, NameError> {
    full_name_with(arg, long, &hostname()?)
}

/// [`full_name`] with the host name given (for tests).
pub fn full_name_with(arg: &str, long: bool, host: &str) -> Result<String, NameError> {
    if let Some((alive, h)) = arg.split_once('@') {
        if alive.is_empty() || h.is_empty() || h.contains('@') {
            return Err(NameError::Invalid(arg.to_owned()));
        }
        return Ok(arg.to_owned());
    }
    if arg.is_empty() {
        return Err(NameError::Invalid(arg.to_owned()));
    }
    if long {
        if !host.contains('.') {
            return Err(NameError::NoLongHost(arg.to_owned(), host.to_owned()));
        }
        Ok(format!("{arg}@{host}"))
    } else {
        let short = host.split('.').next().unwrap_or(host);
        Ok(format!("{arg}@{short}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(
            full_name_with("cp1", false, "cave.example.org").unwrap(),
            "cp1@cave"
        );
        assert_eq!(
            full_name_with("cp1", true, "cave.example.org").unwrap(),
            "cp1@cave.example.org"
        );
        assert_eq!(
            full_name_with("a@127.0.0.1", true, "x").unwrap(),
            "a@127.0.0.1"
        );
        assert!(matches!(
            full_name_with("cp1", true, "cave"),
            Err(NameError::NoLongHost(..))
        ));
        assert!(matches!(
            full_name_with("@h", false, "x"),
            Err(NameError::Invalid(_))
        ));
    }
}
