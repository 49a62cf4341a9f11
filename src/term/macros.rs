//! [`term!`](crate::term!) builds a [`Term`] from Erlang-like syntax and
//! [`term_match!`](crate::term_match!) takes one apart, as `serde_json`'s
//! `json!` does for JSON.
//!
//! | syntax                 | term                                        |
//! |------------------------|---------------------------------------------|
//! | `ok`, `'EXIT'`-free identifiers | the atom (`true`/`false` too)      |
//! | `:"$gen_call"`         | a quoted atom (any text)                    |
//! | `42`, `-1`, `1.5`      | an integer, a float                         |
//! | `"abc"`                | a charlist, as `"abc"` in Erlang source     |
//! | `<<"abc">>`, `<<(bytes)>>` | a binary                                |
//! | `{a, b}`               | a tuple                                     |
//! | `[a, b]`, `[h \| t]`   | a list, an improper list / cons             |
//! | `#{k => v}`            | a map                                       |
//! | `(expr)`               | any Rust value implementing [`IntoTerm`]    |
//!
//! Interpolated Rust strings (`(s)` with `s: &str`) become binaries, like
//! Elixir strings; a literal `"abc"` stays an Erlang charlist.

use super::{
    Atom, Binary, ByteList, FixInteger, Float, ImproperList, List, Map, Pid, Reference, Term,
    TermExt, Tuple, binary, boolean, charlist, int, uint,
};

/// A Rust value that `term!`'s `(expr)` interpolation turns into a term.
pub trait IntoTerm {
    /// The term.
    fn into_term(self) -> Term;
}

impl IntoTerm for Term {
    fn into_term(self) -> Term {
        self
    }
}

impl IntoTerm for &Term {
    fn into_term(self) -> Term {
        self.clone()
    }
}

macro_rules! into_term_signed {
    ($($t:ty),*) => {$(
        impl IntoTerm for $t {
            fn into_term(self) -> Term {
                int(i64::from(self))
            }
        }
    )*};
}
into_term_signed!(i8, i16, i32, i64, u8, u16, u32);

impl IntoTerm for u64 {
    fn into_term(self) -> Term {
        uint(self)
    }
}

impl IntoTerm for usize {
    fn into_term(self) -> Term {
        uint(self as u64)
    }
}

impl IntoTerm for isize {
    fn into_term(self) -> Term {
        int(self as i64)
    }
}

impl IntoTerm for bool {
    fn into_term(self) -> Term {
        boolean(self)
    }
}

impl IntoTerm for f64 {
    fn into_term(self) -> Term {
        Term::Float(Float { value: self })
    }
}

impl IntoTerm for &str {
    fn into_term(self) -> Term {
        binary(self)
    }
}

impl IntoTerm for String {
    fn into_term(self) -> Term {
        binary(self)
    }
}

impl IntoTerm for &String {
    fn into_term(self) -> Term {
        binary(self.as_str())
    }
}

impl IntoTerm for &[u8] {
    fn into_term(self) -> Term {
        binary(self)
    }
}

impl<T: IntoTerm> IntoTerm for Vec<T> {
    fn into_term(self) -> Term {
        super::list(self.into_iter().map(IntoTerm::into_term).collect())
    }
}

macro_rules! into_term_from {
    ($($t:ty),*) => {$(
        impl IntoTerm for $t {
            fn into_term(self) -> Term {
                Term::from(self)
            }
        }
    )*};
}
into_term_from!(
    Atom,
    Pid,
    Reference,
    Binary,
    ByteList,
    List,
    ImproperList,
    Tuple,
    Map,
    FixInteger
);

impl IntoTerm for &Pid {
    fn into_term(self) -> Term {
        Term::from(self.clone())
    }
}

impl IntoTerm for &Reference {
    fn into_term(self) -> Term {
        Term::from(self.clone())
    }
}

macro_rules! into_term_tuple {
    ($($n:ident),+) => {
        impl<$($n: IntoTerm),+> IntoTerm for ($($n,)+) {
            #[allow(non_snake_case)]
            fn into_term(self) -> Term {
                let ($($n,)+) = self;
                super::tuple(vec![$($n.into_term()),+])
            }
        }
    };
}
into_term_tuple!(A);
into_term_tuple!(A, B);
into_term_tuple!(A, B, C);
into_term_tuple!(A, B, C, D);
into_term_tuple!(A, B, C, D, E);

/// A value that `term_match!`'s `(name: Type)` binding reads out of a term;
/// the arm does not match when `from_term` returns `None`.
pub trait FromTerm<'a>: Sized {
    /// The value, if the term has the right shape.
    fn from_term(term: &'a Term) -> Option<Self>;
}

impl<'a> FromTerm<'a> for &'a Term {
    fn from_term(term: &'a Term) -> Option<Self> {
        Some(term)
    }
}

impl FromTerm<'_> for Term {
    fn from_term(term: &Term) -> Option<Self> {
        Some(term.clone())
    }
}

macro_rules! from_term_int {
    ($($t:ty),*) => {$(
        impl FromTerm<'_> for $t {
            fn from_term(term: &Term) -> Option<Self> {
                <$t>::try_from(term.as_i64()?).ok()
            }
        }
    )*};
}
from_term_int!(i8, i16, i32, i64, u8, u16, u32, usize, isize);

impl FromTerm<'_> for u64 {
    fn from_term(term: &Term) -> Option<Self> {
        use num_traits::ToPrimitive;
        match term {
            Term::BigInteger(b) => b.value.to_u64(),
            _ => Self::try_from(term.as_i64()?).ok(),
        }
    }
}

impl FromTerm<'_> for f64 {
    fn from_term(term: &Term) -> Option<Self> {
        match term {
            Term::Float(f) => Some(f.value),
            _ => None,
        }
    }
}

impl FromTerm<'_> for bool {
    fn from_term(term: &Term) -> Option<Self> {
        term.as_bool()
    }
}

/// An atom's text (use `String` for charlists and binaries).
impl<'a> FromTerm<'a> for &'a str {
    fn from_term(term: &'a Term) -> Option<Self> {
        term.as_atom()
    }
}

/// A charlist or a UTF-8 binary.
impl FromTerm<'_> for String {
    fn from_term(term: &Term) -> Option<Self> {
        term.as_text()
    }
}

/// A binary's bytes.
impl<'a> FromTerm<'a> for &'a [u8] {
    fn from_term(term: &'a Term) -> Option<Self> {
        match term {
            Term::Binary(b) => Some(&b.bytes),
            _ => None,
        }
    }
}

impl<'a> FromTerm<'a> for &'a Pid {
    fn from_term(term: &'a Term) -> Option<Self> {
        term.as_pid()
    }
}

impl FromTerm<'_> for Pid {
    fn from_term(term: &Term) -> Option<Self> {
        term.as_pid().cloned()
    }
}

impl<'a> FromTerm<'a> for &'a Reference {
    fn from_term(term: &'a Term) -> Option<Self> {
        term.as_reference()
    }
}

impl FromTerm<'_> for Reference {
    fn from_term(term: &Term) -> Option<Self> {
        term.as_reference().cloned()
    }
}

/// Every element of a proper list (or charlist).
impl<T: for<'b> FromTerm<'b>> FromTerm<'_> for Vec<T> {
    fn from_term(term: &Term) -> Option<Self> {
        term.as_list()?.iter().map(T::from_term).collect()
    }
}

/// Support for the macros; not part of the API.
#[doc(hidden)]
pub mod __private {
    use super::{ImproperList, Term, charlist, int};

    /// A literal inside `term!`: strings are charlists, as in Erlang source.
    pub trait Lit {
        fn lit(self) -> Term;
    }
    impl Lit for &str {
        fn lit(self) -> Term {
            charlist(self)
        }
    }
    impl Lit for i32 {
        fn lit(self) -> Term {
            int(i64::from(self))
        }
    }
    impl Lit for i64 {
        fn lit(self) -> Term {
            int(self)
        }
    }
    impl Lit for u64 {
        fn lit(self) -> Term {
            super::uint(self)
        }
    }
    impl Lit for f64 {
        fn lit(self) -> Term {
            super::IntoTerm::into_term(self)
        }
    }
    impl Lit for bool {
        fn lit(self) -> Term {
            super::boolean(self)
        }
    }

    /// `[e1, e2 | tail]`: a proper list when the tail is a list.
    pub fn cons(mut elements: Vec<Term>, tail: Term) -> Term {
        match tail {
            Term::List(l) => {
                elements.extend(l.elements);
                super::super::list(elements)
            }
            Term::ByteList(b) => {
                elements.extend(b.bytes.iter().map(|&c| int(i64::from(c))));
                super::super::list(elements)
            }
            Term::ImproperList(l) => {
                elements.extend(l.elements);
                Term::ImproperList(ImproperList::from((elements, *l.last)))
            }
            tail => Term::ImproperList(ImproperList::from((elements, tail))),
        }
    }

    /// The map value under `key` (keys compared with `=:=`).
    pub fn map_get<'a>(term: &'a Term, key: &Term) -> Option<&'a Term> {
        match term {
            Term::Map(m) => m
                .map
                .iter()
                .find(|(k, _)| super::super::exact_eq(k, key))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    /// Always true, and opaque to the reachability analysis, so that an arm
    /// after a catch-all does not warn.
    #[inline]
    pub fn always() -> bool {
        true
    }
}

/// Builds a [`Term`](crate::term::Term) from Erlang-like syntax.
///
/// ```
/// use distro::term;
/// use distro::term::{atom, binary, int, list, tuple, map, charlist};
///
/// let pid_like = int(7);
/// let name = "counter";
/// let t = term!({ok, [1, -2, 1.5], "abc", <<"bin">>, :"$gen_call",
///                #{count => 3}, (name), (&pid_like), [a | b]});
/// assert_eq!(
///     t,
///     tuple(vec![
///         atom("ok"),
///         list(vec![int(1), int(-2), term!(1.5)]),
///         charlist("abc"),
///         binary("bin"),
///         atom("$gen_call"),
///         map(vec![(atom("count"), int(3))]),
///         binary("counter"),
///         int(7),
///         distro::term::improper_list(vec![atom("a")], atom("b")),
///     ])
/// );
/// assert_eq!(term!([1 | [2, 3]]), list(vec![int(1), int(2), int(3)]));
/// assert_eq!(term!([]), distro::term::nil());
/// ```
#[macro_export]
macro_rules! term {
    ($a:ident) => {
        $crate::term::atom(::core::stringify!($a))
    };
    (: $a:literal) => {
        $crate::term::atom($a)
    };
    (- $l:literal) => {
        $crate::term::__private::Lit::lit(-$l)
    };
    ($l:literal) => {
        $crate::term::__private::Lit::lit($l)
    };
    (<< >>) => {
        $crate::term::binary(::std::vec::Vec::<u8>::new())
    };
    (<< $l:literal >>) => {
        $crate::term::binary($l)
    };
    (<< ($e:expr) >>) => {
        $crate::term::binary($e)
    };
    ({ $($t:tt)* }) => {
        $crate::term::tuple($crate::__term_seq!([] [] $($t)*))
    };
    ([ $($t:tt)* ]) => {
        $crate::__term_list!([] [] $($t)*)
    };
    (# { $($t:tt)* }) => {
        $crate::term::map($crate::__term_map!(@k [] [] $($t)*))
    };
    (( $e:expr )) => {
        $crate::term::IntoTerm::into_term($e)
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __term_seq {
    ([$($d:expr,)*] []) => {
        ::std::vec![$($d),*]
    };
    ([$($d:expr,)*] [$($c:tt)+]) => {
        ::std::vec![$($d,)* $crate::term!($($c)+)]
    };
    ([$($d:expr,)*] [$($c:tt)+] , $($r:tt)*) => {
        $crate::__term_seq!([$($d,)* $crate::term!($($c)+),] [] $($r)*)
    };
    ([$($d:expr,)*] [$($c:tt)*] $n:tt $($r:tt)*) => {
        $crate::__term_seq!([$($d,)*] [$($c)* $n] $($r)*)
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __term_list {
    ([$($d:expr,)*] []) => {
        $crate::term::list(::std::vec![$($d),*])
    };
    ([$($d:expr,)*] [$($c:tt)+]) => {
        $crate::term::list(::std::vec![$($d,)* $crate::term!($($c)+)])
    };
    ([$($d:expr,)*] [$($c:tt)+] | $($t:tt)+) => {
        $crate::term::__private::cons(
            ::std::vec![$($d,)* $crate::term!($($c)+)],
            $crate::term!($($t)+),
        )
    };
    ([$($d:expr,)*] [$($c:tt)+] , $($r:tt)*) => {
        $crate::__term_list!([$($d,)* $crate::term!($($c)+),] [] $($r)*)
    };
    ([$($d:expr,)*] [$($c:tt)*] $n:tt $($r:tt)*) => {
        $crate::__term_list!([$($d,)*] [$($c)* $n] $($r)*)
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __term_map {
    (@k [$($d:tt)*] []) => {
        ::std::vec![$($d)*]
    };
    (@k [$($d:tt)*] [$($k:tt)+] => $($r:tt)*) => {
        $crate::__term_map!(@v [$($d)*] [$($k)+] [] $($r)*)
    };
    (@k [$($d:tt)*] [$($k:tt)*] $n:tt $($r:tt)*) => {
        $crate::__term_map!(@k [$($d)*] [$($k)* $n] $($r)*)
    };
    (@v [$($d:tt)*] [$($k:tt)+] [$($v:tt)+]) => {
        ::std::vec![$($d)* ($crate::term!($($k)+), $crate::term!($($v)+))]
    };
    (@v [$($d:tt)*] [$($k:tt)+] [$($v:tt)+] , $($r:tt)*) => {
        $crate::__term_map!(@k [$($d)* ($crate::term!($($k)+), $crate::term!($($v)+)),] [] $($r)*)
    };
    (@v [$($d:tt)*] [$($k:tt)+] [$($v:tt)*] $n:tt $($r:tt)*) => {
        $crate::__term_map!(@v [$($d)*] [$($k)+] [$($v)* $n] $($r)*)
    };
}

/// Matches a term against Erlang-like patterns, arm by arm, like `match`.
///
/// Patterns use [`term!`](crate::term!)'s syntax, plus bindings:
/// `(name)` binds a `&Term`, `(name: Type)` converts with [`FromTerm`] (the
/// arm fails when the conversion does), `_` matches anything, and
/// `[h, t | (rest)]` binds the rest of a list. Literals and atoms must be
/// equal (`=:=`); map patterns match a subset of keys. When no arm matches,
/// the macro panics, so end with `_ => ...` unless a match is certain.
///
/// ```
/// use distro::{term, term_match};
///
/// let reply = term!({ok, 42, [a, b, c], #{name => <<"x">>}});
/// let n = term_match!(reply,
///     {error, (why)} => { let _ = why; -1 },
///     {ok, (n: i64), [_ | (rest)], #{name => (who: String)}} => {
///         assert_eq!(rest, &term!([b, c]));
///         assert_eq!(who, "x");
///         n
///     },
///     _ => 0,
/// );
/// assert_eq!(n, 42);
///
/// let is_call = term_match!(term!({:"$gen_call", x, y}), {:"$gen_call", _, _} => true, _ => false);
/// assert!(is_call);
/// ```
#[macro_export]
macro_rules! term_match {
    ($s:expr, $($arms:tt)+) => {{
        let __term_match_scrut: &$crate::term::Term = &$s;
        '__term_match_done: {
            $crate::__term_arms!('__term_match_done __term_match_scrut [] $($arms)+)
        }
    }};
}

#[doc(hidden)]
#[macro_export]
macro_rules! __term_arms {
    ($done:lifetime $s:ident []) => {{
        ::core::panic!("term_match!: no arm matched {}", $s)
    }};
    ($done:lifetime $s:ident [$($p:tt)+] => $body:expr , $($r:tt)*) => {{
        '__term_arm: {
            if !$crate::term::__private::always() {
                break '__term_arm;
            }
            $crate::__term_pat!('__term_arm ($s) [$($p)+] {
                if $crate::term::__private::always() {
                    break $done $body;
                }
            })
        }
        $crate::__term_arms!($done $s [] $($r)*)
    }};
    ($done:lifetime $s:ident [$($p:tt)+] => $body:expr) => {
        $crate::__term_arms!($done $s [$($p)+] => $body,)
    };
    ($done:lifetime $s:ident [$($p:tt)*] $n:tt $($r:tt)*) => {
        $crate::__term_arms!($done $s [$($p)* $n] $($r)*)
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __term_pat {
    ($l:lifetime ($s:expr) [_] $k:block) => {{
        let _ = $s;
        $k
    }};
    ($l:lifetime ($s:expr) [$a:ident] $k:block) => {{
        if $crate::term::TermExt::as_atom($s) != ::core::option::Option::Some(::core::stringify!($a)) {
            break $l;
        }
        $k
    }};
    ($l:lifetime ($s:expr) [: $a:literal] $k:block) => {{
        if $crate::term::TermExt::as_atom($s) != ::core::option::Option::Some($a) {
            break $l;
        }
        $k
    }};
    ($l:lifetime ($s:expr) [($v:ident)] $k:block) => {{
        let $v: &$crate::term::Term = $s;
        $k
    }};
    ($l:lifetime ($s:expr) [($v:ident : $t:ty)] $k:block) => {{
        let ::core::option::Option::Some($v) = <$t as $crate::term::FromTerm>::from_term($s) else {
            break $l;
        };
        $k
    }};
    ($l:lifetime ($s:expr) [{ $($t:tt)* }] $k:block) => {{
        let ::core::option::Option::Some(__e) = $crate::term::TermExt::as_tuple($s) else {
            break $l;
        };
        let mut __it = __e.iter();
        $crate::__term_pat_seq!($l __it [] [$($t)*] $k)
    }};
    ($l:lifetime ($s:expr) [[ $($t:tt)* ]] $k:block) => {{
        let __c = $crate::term::TermExt::as_list($s);
        let ::core::option::Option::Some(__e) = __c.as_deref() else {
            break $l;
        };
        let mut __it = __e.iter();
        $crate::__term_pat_seq!($l __it [] [$($t)*] $k)
    }};
    ($l:lifetime ($s:expr) [# { $($t:tt)* }] $k:block) => {{
        if !::core::matches!($s, $crate::term::Term::Map(_)) {
            break $l;
        }
        $crate::__term_pat_map!($l ($s) @k [] [$($t)*] $k)
    }};
    ($l:lifetime ($s:expr) [$($p:tt)+] $k:block) => {{
        if !$crate::term::exact_eq($s, &$crate::term!($($p)+)) {
            break $l;
        }
        $k
    }};
}

#[doc(hidden)]
#[macro_export]
macro_rules! __term_pat_seq {
    ($l:lifetime $it:ident [] [] $k:block) => {{
        if $it.next().is_some() {
            break $l;
        }
        $k
    }};
    ($l:lifetime $it:ident [$($c:tt)+] [] $k:block) => {{
        let ::core::option::Option::Some(__x) = $it.next() else {
            break $l;
        };
        $crate::__term_pat!($l (__x) [$($c)+] { $crate::__term_pat_seq!($l $it [] [] $k) })
    }};
    ($l:lifetime $it:ident [$($c:tt)+] [| $($t:tt)+] $k:block) => {{
        let ::core::option::Option::Some(__x) = $it.next() else {
            break $l;
        };
        $crate::__term_pat!($l (__x) [$($c)+] {
            let __rest = $crate::term::list($it.as_slice().to_vec());
            $crate::__term_pat!($l (&__rest) [$($t)+] $k)
        })
    }};
    ($l:lifetime $it:ident [$($c:tt)+] [, $($r:tt)*] $k:block) => {{
        let ::core::option::Option::Some(__x) = $it.next() else {
            break $l;
        };
        $crate::__term_pat!($l (__x) [$($c)+] { $crate::__term_pat_seq!($l $it [] [$($r)*] $k) })
    }};
    ($l:lifetime $it:ident [$($c:tt)*] [$n:tt $($r:tt)*] $k:block) => {
        $crate::__term_pat_seq!($l $it [$($c)* $n] [$($r)*] $k)
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __term_pat_map {
    ($l:lifetime ($s:expr) @k [] [] $k:block) => {
        $k
    };
    ($l:lifetime ($s:expr) @k [$($key:tt)+] [=> $($r:tt)*] $k:block) => {
        $crate::__term_pat_map!($l ($s) @v [$($key)+] [] [$($r)*] $k)
    };
    ($l:lifetime ($s:expr) @k [$($key:tt)*] [$n:tt $($r:tt)*] $k:block) => {
        $crate::__term_pat_map!($l ($s) @k [$($key)* $n] [$($r)*] $k)
    };
    ($l:lifetime ($s:expr) @v [$($key:tt)+] [$($v:tt)+] [] $k:block) => {{
        let ::core::option::Option::Some(__x) =
            $crate::term::__private::map_get($s, &$crate::term!($($key)+))
        else {
            break $l;
        };
        $crate::__term_pat!($l (__x) [$($v)+] $k)
    }};
    ($l:lifetime ($s:expr) @v [$($key:tt)+] [$($v:tt)+] [, $($r:tt)*] $k:block) => {{
        let ::core::option::Option::Some(__x) =
            $crate::term::__private::map_get($s, &$crate::term!($($key)+))
        else {
            break $l;
        };
        $crate::__term_pat!($l (__x) [$($v)+] { $crate::__term_pat_map!($l ($s) @k [] [$($r)*] $k) })
    }};
    ($l:lifetime ($s:expr) @v [$($key:tt)+] [$($v:tt)*] [$n:tt $($r:tt)*] $k:block) => {
        $crate::__term_pat_map!($l ($s) @v [$($key)+] [$($v)* $n] [$($r)*] $k)
    };
}
