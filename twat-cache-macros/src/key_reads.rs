//! Which arguments a `key = …` expression never mentions: each is reported as a warning (see
//! `expand.rs`), because calls that differ only in it would share one cached value.
//!
//! "Mentions" is a walk over the key's tokens, macro arguments included (`format!("{}", path)`
//! reads `path`), and the names captured by format strings (`format!("{path}")`): an identifier
//! anywhere counts, even as a field name (`self.path`). That can miss a warning but never gives
//! a false one, which matters more for a warning the user must silence by hand.

use std::collections::HashSet;

use proc_macro2::{Span, TokenStream, TokenTree};
use quote::ToTokens;

use crate::ast::CachedFn;
use crate::attr::Options;

/// An argument (or the receiver) that `key = …` leaves out.
pub struct Unread {
    /// The argument's name as written, without `r#` (`self` for the receiver).
    pub name: String,
    /// Where the warning lands: the argument's name, or `self`.
    pub span: Span,
}

/// The arguments, receiver first, whose name `key = …` never mentions, except those named
/// `_…` (deliberately ignored). Empty without `key = …`: then every argument is the key.
pub fn unread(f: &CachedFn, options: &Options) -> Vec<Unread> {
    let Some(key) = options.key() else {
        return Vec::new();
    };
    let mut mentioned = HashSet::new();
    collect_idents(key.to_token_stream(), &mut mentioned);
    let receiver = f
        .receiver
        .iter()
        .map(|r| ("self".to_string(), r.self_token.span));
    // Destructuring patterns are an error with `key = …` (valid.rs); only plain names remain.
    let args = f
        .args
        .iter()
        .filter(|arg| arg.simple)
        .map(|arg| (unraw(&arg.name), arg.name.span()));
    receiver
        .chain(args)
        .filter(|(name, _)| !name.starts_with('_') && !mentioned.contains(name))
        .map(|(name, span)| Unread { name, span })
        .collect()
}

fn unraw(ident: &proc_macro2::Ident) -> String {
    let text = ident.to_string();
    text.strip_prefix("r#").map(str::to_string).unwrap_or(text)
}

/// Every identifier in `tokens`, through groups (and so through macro calls' arguments), and
/// every `{name}` a string literal captures.
fn collect_idents(tokens: TokenStream, into: &mut HashSet<String>) {
    for tree in tokens {
        match tree {
            TokenTree::Ident(ident) => {
                into.insert(unraw(&ident));
            }
            TokenTree::Group(group) => collect_idents(group.stream(), into),
            TokenTree::Literal(literal) => collect_captures(&literal.to_string(), into),
            TokenTree::Punct(_) => {}
        }
    }
}

/// The names a format string captures: every word inside `{…}` (`{path}`, `{path:?}`,
/// `{x:>width$}`). Applied to every literal: a `{word}` in a plain string only spares a warning.
fn collect_captures(literal: &str, into: &mut HashSet<String>) {
    let mut rest = literal;
    while let Some(open) = rest.find('{') {
        rest = &rest[open + 1..];
        let inside = &rest[..rest.find('}').unwrap_or(rest.len())];
        let words = inside.split(|c: char| !(c.is_alphanumeric() || c == '_'));
        for word in words.filter(|w| w.chars().next().is_some_and(|c| !c.is_ascii_digit())) {
            into.insert(word.to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use quote::quote;

    use super::*;
    use crate::attr::{self, Kind};

    /// The names `unread` reports for `#[mcache(<args>)]` on `<item>`.
    fn unread_names(args: TokenStream, item: TokenStream) -> Vec<String> {
        let mut errors = darling::Error::accumulator();
        let options = attr::parse(Kind::Mcache, args, &mut errors);
        errors.finish().expect("valid options");
        let f = CachedFn::parse(item).expect("a function");
        unread(&f, &options).into_iter().map(|u| u.name).collect()
    }

    #[test]
    fn reports_each_left_out_argument_receiver_first() {
        let names = unread_names(
            quote!(key = a),
            quote!(
                fn get(&self, a: u32, b: &str, c: u8) -> u32 {
                    0
                }
            ),
        );
        assert_eq!(names, ["self", "b", "c"]);
    }

    #[test]
    fn a_field_access_on_self_reads_self() {
        let names = unread_names(
            quote!(key = (self.id, path)),
            quote!(
                fn get(&self, path: &str) -> u32 {
                    0
                }
            ),
        );
        assert!(names.is_empty(), "{names:?}");
    }

    #[test]
    fn underscore_names_are_deliberately_ignored() {
        let names = unread_names(
            quote!(key = id),
            quote!(
                fn get(id: u64, _trace: &str) -> u32 {
                    0
                }
            ),
        );
        assert!(names.is_empty(), "{names:?}");
    }

    #[test]
    fn macro_arguments_and_format_captures_are_reads() {
        let names = unread_names(
            quote!(key = format!("{}/{name:?}/{w:>pad$}", dir, pad = 4)),
            quote!(
                fn get(dir: &str, name: &str, w: u32, pad: usize, left: u8) -> u32 {
                    0
                }
            ),
        );
        assert_eq!(names, ["left"]);
    }

    #[test]
    fn raw_identifiers_match_their_plain_name() {
        let names = unread_names(
            quote!(key = r#type),
            quote!(
                fn get(r#type: u32, r#match: u32) -> u32 {
                    0
                }
            ),
        );
        assert_eq!(names, ["match"]);
    }

    #[test]
    fn without_key_nothing_is_reported() {
        let names = unread_names(
            quote!(),
            quote!(
                fn get(a: u32) -> u32 {
                    a
                }
            ),
        );
        assert!(names.is_empty(), "{names:?}");
    }
}
