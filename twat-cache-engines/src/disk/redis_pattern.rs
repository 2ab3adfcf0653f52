//! `SCAN MATCH` patterns built from names (feature `redis`). A Redis glob gives `*`, `?`,
//! `[…]` and `\` a meaning, and a folder, a function or a `RedisCache` prefix may hold any of
//! them: written into a pattern as it is, the name would match other caches' keys, and
//! clearing one cache would delete theirs. Every pattern here escapes its names with
//! [`literal`].

/// `name` as a glob that matches exactly `name`: each `\`, `*`, `?`, `[` and `]` escaped with
/// a backslash (which Redis reads as "the next character, literally").
pub(crate) fn literal(name: &str) -> String {
    let mut pattern = String::with_capacity(name.len());
    for c in name.chars() {
        if matches!(c, '\\' | '*' | '?' | '[' | ']') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern
}

#[cfg(test)]
mod tests {
    use super::literal;

    #[test]
    fn glob_metacharacters_are_escaped_and_nothing_else() {
        assert_eq!(literal("twat-cache:geo:app.f"), "twat-cache:geo:app.f");
        assert_eq!(literal(r"*?[a]\"), r"\*\?\[a\]\\");
        assert_eq!(literal("{é}"), "{é}");
    }
}
