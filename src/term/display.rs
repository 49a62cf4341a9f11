//! Erlang-style printing of terms (`~p`-like), for logs and error messages.
//!
//! TEMPORARY: delegates to eetf's Display.

use super::Term;
use std::fmt;

/// Wraps a term so that `{}` prints it the way Erlang's `~0p` would.
pub struct Pretty<'a>(pub &'a Term);

impl fmt::Display for Pretty<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}
