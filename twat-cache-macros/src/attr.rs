//! Reading the attribute's options (`maxsize = 100, ttl = "10m", …`) into [`Options`].
//!
//! Every problem is pushed to the accumulator with the span of the token the user wrote, so one
//! compile reports all of them.

use darling::Error;
use darling::ast::NestedMeta;
use proc_macro2::{Span, TokenStream};
use syn::spanned::Spanned as _;
use syn::{Expr, ExprLit, Lit, Meta};

use crate::units;

/// Which attribute is being expanded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Mcache,
    Bcache,
    Fcache,
    Ucache,
}

/// Which attributes take an option.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Applies {
    All,
    /// `#[bcache]`, `#[fcache]`, `#[ucache]`.
    Disk,
    /// `#[ucache]` only.
    Ucache,
}

/// How an option's value is written, and so how it is read and checked.
#[derive(Clone, Copy)]
enum Shape {
    /// A positive integer literal.
    Count,
    /// `"512MiB"` or a positive integer of bytes.
    Size,
    /// `"10m"` or a positive integer of seconds; read as nanoseconds.
    Duration,
    /// `true`/`false`, or the bare name for `true`.
    Flag,
    /// A non-empty string.
    Text,
    /// One of [`POLICIES`].
    Policy,
    /// A plain sub-folder name.
    Folder,
    /// One of [`BACKENDS`].
    Backend,
    /// Any expression (`key = …`).
    Expr,
    /// A function path or closure taking `&V` (`cache_if = …`); a literal is refused.
    Predicate,
}

/// One option: everything the macro knows of it, in one place. `runtime` names the
/// `twat_cache::__private::SpecOption` variant that carries it to the engine builders (the
/// runtime applies it in `spec.rs`); `None` for options the generated code itself uses.
pub struct Declared {
    pub name: &'static str,
    applies: Applies,
    shape: Shape,
    example: &'static str,
    pub runtime: Option<&'static str>,
}

/// Every option of every attribute.
const DECLARED: &[Declared] = &[
    Declared {
        name: "maxsize",
        applies: Applies::All,
        shape: Shape::Count,
        example: "a positive integer or const, e.g. `maxsize = 1000` or `maxsize = MAX`",
        runtime: Some("Maxsize"),
    },
    Declared {
        name: "max_bytes",
        applies: Applies::All,
        shape: Shape::Size,
        example: "a size, e.g. `max_bytes = \"512MiB\"` or `max_bytes = 1048576`",
        runtime: Some("MaxBytes"),
    },
    Declared {
        name: "ttl",
        applies: Applies::All,
        shape: Shape::Duration,
        example: "a duration, e.g. `ttl = \"250ms\"`, `\"90s\"`, `\"1h30m\"`, `\"1d\"`, an integer number of seconds, or a const such as `TTL` or `Duration::from_secs(60)`",
        runtime: Some("TtlNanos"),
    },
    Declared {
        name: "refresh",
        applies: Applies::All,
        shape: Shape::Flag,
        example: "`true` or `false`",
        runtime: Some("Refresh"),
    },
    Declared {
        name: "early_refresh",
        applies: Applies::All,
        shape: Shape::Flag,
        example: "`true` or `false` (with a `ttl`)",
        runtime: Some("EarlyRefresh"),
    },
    Declared {
        name: "policy",
        applies: Applies::All,
        shape: Shape::Policy,
        example: "one of \"lru\", \"fifo\", \"lfu\", \"tinylfu\", e.g. `policy = \"lru\"`",
        runtime: Some("Policy"),
    },
    Declared {
        name: "key",
        applies: Applies::All,
        shape: Shape::Expr,
        example: "an expression over the arguments, e.g. `key = (user.id, page)`",
        runtime: None,
    },
    Declared {
        name: "cache_if",
        applies: Applies::All,
        shape: Shape::Predicate,
        example: "a function or closure taking the value that would be stored, e.g. `cache_if = is_complete` with `fn is_complete(v: &Report) -> bool`, or `cache_if = |r| r.status < 500`",
        runtime: None,
    },
    Declared {
        name: "name",
        applies: Applies::All,
        shape: Shape::Text,
        example: "a non-empty string, e.g. `name = \"users\"`",
        runtime: None,
    },
    Declared {
        name: "cache_none",
        applies: Applies::All,
        shape: Shape::Flag,
        example: "`true` or `false`",
        runtime: None,
    },
    Declared {
        name: "single_flight",
        applies: Applies::All,
        shape: Shape::Flag,
        example: "`true` or `false`",
        runtime: Some("SingleFlight"),
    },
    Declared {
        name: "cache",
        applies: Applies::All,
        shape: Shape::Expr,
        example: "a `static` engine, e.g. `cache = SHARED` with `static SHARED: LazyLock<MemoryCache<(u64,), String>>`",
        runtime: None,
    },
    Declared {
        name: "companions",
        applies: Applies::All,
        shape: Shape::Flag,
        example: "`true` or `false`",
        runtime: None,
    },
    Declared {
        name: "folder",
        applies: Applies::Disk,
        shape: Shape::Folder,
        example: "a folder name of letters, digits, `.`, `_` or `-`, e.g. `folder = \"geo\"`",
        runtime: None,
    },
    Declared {
        name: "version",
        applies: Applies::Disk,
        shape: Shape::Text,
        example: "a non-empty string, e.g. `version = \"2\"`",
        runtime: None,
    },
    Declared {
        name: "compress",
        applies: Applies::Disk,
        shape: Shape::Flag,
        example: "`true` or `false`",
        runtime: Some("Compress"),
    },
    Declared {
        name: "disk_max_bytes",
        applies: Applies::Ucache,
        shape: Shape::Size,
        example: "a size, e.g. `disk_max_bytes = \"10GiB\"` or `disk_max_bytes = 1048576`",
        runtime: Some("DiskMaxBytes"),
    },
    Declared {
        name: "backend",
        applies: Applies::Ucache,
        shape: Shape::Backend,
        example: "`backend = \"disk\"` (the default) or `backend = \"redis\"`",
        runtime: None,
    },
];

/// Second tiers `backend = "…"` accepts.
pub const BACKENDS: &[&str] = &["disk", "redis"];

/// Eviction policies `policy = "…"` accepts, with their `twat_cache_engines::Policy` variants.
pub const POLICIES: &[(&str, &str)] = &[
    ("lru", "Lru"),
    ("fifo", "Fifo"),
    ("lfu", "Lfu"),
    ("tinylfu", "TinyLfu"),
];

fn declared(name: &str) -> Option<&'static Declared> {
    DECLARED.iter().find(|d| d.name == name)
}

impl Kind {
    pub fn attr_name(self) -> &'static str {
        match self {
            Kind::Mcache => "mcache",
            Kind::Bcache => "bcache",
            Kind::Fcache => "fcache",
            Kind::Ucache => "ucache",
        }
    }

    /// Whether entries go to disk (and so need `Serialize` keys and values).
    pub fn is_disk(self) -> bool {
        !matches!(self, Kind::Mcache)
    }

    /// Whether a memory tier holds entries (and so needs `Hash` keys and `Clone` values, and
    /// takes the `max_bytes` weigher).
    pub fn has_memory(self) -> bool {
        matches!(self, Kind::Mcache | Kind::Ucache)
    }

    /// The suffix of this attribute's functions in `twat_cache::__private` (`lookup_disk`, …).
    pub fn runtime_suffix(self) -> &'static str {
        match self {
            Kind::Mcache => "",
            Kind::Bcache | Kind::Fcache => "_disk",
            Kind::Ucache => "_tiered",
        }
    }

    fn takes(self, option: &Declared) -> bool {
        match option.applies {
            Applies::All => true,
            Applies::Disk => self.is_disk(),
            Applies::Ucache => self == Kind::Ucache,
        }
    }

    fn valid_options(self) -> Vec<&'static str> {
        DECLARED
            .iter()
            .filter(|d| self.takes(d))
            .map(|d| d.name)
            .collect()
    }

    /// Why an option of another attribute does not apply here.
    fn why_not(self, option: &Declared) -> &'static str {
        match (option.applies, option.name) {
            (Applies::Disk, _) => "memory caches keep nothing on disk",
            (_, "disk_max_bytes") => {
                "only #[ucache] has a disk tier behind its memory tier; bound this cache with `max_bytes`"
            }
            (Applies::Ucache, _) => "only #[ucache] has a pluggable second tier",
            (Applies::All, _) => "it belongs to another attribute",
        }
    }
}

/// A value and the span of the token it came from.
#[derive(Clone, Debug)]
pub struct Spanned<T> {
    pub value: T,
    pub span: Span,
}

/// An option's value as written.
pub enum Value {
    Int(u64),
    Bool(bool),
    Text(String),
    Expr(Expr),
}

/// One option given to the attribute.
pub struct Given {
    pub declared: &'static Declared,
    pub value: Value,
    /// The value's span.
    pub span: Span,
}

/// The options as written, in order, each with its span.
#[derive(Default)]
pub struct Options {
    pub given: Vec<Given>,
}

impl Options {
    /// `cache = STATIC`, if given.
    pub fn shared(&self) -> Option<&Expr> {
        self.expr("cache")
    }

    pub fn get(&self, name: &str) -> Option<&Given> {
        self.given.iter().find(|g| g.declared.name == name)
    }

    /// A flag's value and span, if given.
    pub fn flag(&self, name: &str) -> Option<Spanned<bool>> {
        self.get(name).and_then(|g| match g.value {
            Value::Bool(value) => Some(Spanned {
                value,
                span: g.span,
            }),
            _ => None,
        })
    }

    /// Whether a flag is on (`default` if not given).
    pub fn flag_on(&self, name: &str, default: bool) -> bool {
        self.flag(name).map_or(default, |f| f.value)
    }

    /// A text option's value, if given.
    pub fn text(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(|g| match &g.value {
            Value::Text(text) => Some(text.as_str()),
            _ => None,
        })
    }

    /// `key = …`, if given.
    pub fn key(&self) -> Option<&Expr> {
        self.expr("key")
    }

    /// `cache_if = …`, if given.
    pub fn cache_if(&self) -> Option<&Expr> {
        self.expr("cache_if")
    }

    /// An expression option's value, if given.
    fn expr(&self, name: &str) -> Option<&Expr> {
        self.get(name).and_then(|g| match &g.value {
            Value::Expr(expr) => Some(expr),
            _ => None,
        })
    }
}

pub fn parse(kind: Kind, args: TokenStream, errors: &mut darling::error::Accumulator) -> Options {
    let mut options = Options::default();
    let items = match NestedMeta::parse_meta_list(args) {
        Ok(items) => items,
        Err(e) => {
            errors.push(Error::from(e));
            return options;
        }
    };
    let mut seen: Vec<String> = Vec::new();
    for item in items {
        let meta = match item {
            NestedMeta::Meta(meta) => meta,
            other => {
                errors.push(
                    Error::custom(format!(
                        "expected `option = value`; valid options for #[{}]: {}",
                        kind.attr_name(),
                        kind.valid_options().join(", ")
                    ))
                    .with_span(&other),
                );
                continue;
            }
        };
        let path = meta.path();
        let name = path
            .get_ident()
            .map(ToString::to_string)
            .unwrap_or_else(|| quote::quote!(#path).to_string());
        if !check_name(kind, &name, path, errors) {
            continue;
        }
        if seen.contains(&name) {
            errors.push(Error::custom(format!("`{name}` is given twice")).with_span(path));
            continue;
        }
        seen.push(name.clone());
        let value = match meta {
            Meta::NameValue(nv) => nv.value,
            Meta::Path(ref p) if is_flag(&name) => {
                // A bare flag (`refresh`) means `refresh = true`.
                Expr::Lit(ExprLit {
                    attrs: Vec::new(),
                    lit: Lit::Bool(syn::LitBool::new(true, p.span())),
                })
            }
            other => {
                errors.push(
                    Error::custom(format!("`{name}` needs a value: {}", example(&name)))
                        .with_span(&other),
                );
                continue;
            }
        };
        read_value(&mut options, &name, value, errors);
    }
    options
}

fn is_flag(name: &str) -> bool {
    declared(name).is_some_and(|d| matches!(d.shape, Shape::Flag))
}

fn example(name: &str) -> &'static str {
    declared(name).map_or("`true` or `false`", |d| d.example)
}

/// Whether `name` is an option of this attribute; reports unknown and misplaced ones.
fn check_name(
    kind: Kind,
    name: &str,
    path: &syn::Path,
    errors: &mut darling::error::Accumulator,
) -> bool {
    let valid = kind.valid_options();
    if valid.contains(&name) {
        return true;
    }
    let list = valid.join(", ");
    let attr = kind.attr_name();
    let message = if let Some(other) = declared(name) {
        format!(
            "`{name}` does not apply to #[{attr}]: {}; valid options for #[{attr}]: {list}",
            kind.why_not(other)
        )
    } else {
        let suggestion = closest(name, valid.iter().copied())
            .map(|candidate| format!(" did you mean `{candidate}`?"))
            .unwrap_or_default();
        format!("unknown option `{name}` for #[{attr}];{suggestion} valid options: {list}")
    };
    errors.push(Error::custom(message).with_span(path));
    false
}

fn read_value(
    options: &mut Options,
    name: &str,
    value: Expr,
    errors: &mut darling::error::Accumulator,
) {
    let declared = declared(name).expect("check_name admits only declared options");
    match read_shape(declared, &value) {
        Ok(read) => options.given.push(Given {
            declared,
            value: read,
            span: value.span(),
        }),
        Err(message) => errors.push(Error::custom(message).with_span(&value)),
    }
}

/// Reads `value` as `declared`'s shape; the error says what was expected.
fn read_shape(declared: &Declared, value: &Expr) -> Result<Value, String> {
    let (name, example) = (declared.name, declared.example);
    // Sizes, counts and durations may be any const expression (`TTL`, `MAX * 2`,
    // `Duration::from_secs(60)`): the generated code evaluates it in a `static`, so the
    // compiler checks that it is constant and of a supported type.
    let numeric = matches!(declared.shape, Shape::Count | Shape::Size | Shape::Duration);
    if numeric && is_const_expression(value) {
        return Ok(Value::Expr(value.clone()));
    }
    match declared.shape {
        Shape::Count => positive_int(value)
            .map(Value::Int)
            .map_err(|e| format!("`{name}` {e}; expected {example}")),
        Shape::Size => {
            let parsed = match string(value) {
                Some(text) => units::parse_size_bytes(&text),
                None => positive_int(value),
            };
            match parsed {
                Ok(0) => Err(format!("`{name}` must be greater than 0")),
                Ok(n) => Ok(Value::Int(n)),
                Err(e) => Err(format!("`{name}`: {e}; expected {example}")),
            }
        }
        Shape::Duration => {
            let parsed = match string(value) {
                Some(text) => units::parse_duration_nanos(&text),
                None => positive_int(value).and_then(|secs| {
                    secs.checked_mul(1_000_000_000)
                        .ok_or_else(|| "is too long".to_string())
                }),
            };
            match parsed {
                Ok(0) => Err(format!("`{name}` must be longer than 0")),
                Ok(n) => Ok(Value::Int(n)),
                Err(e) => Err(format!("`{name}`: {e}; expected {example}")),
            }
        }
        Shape::Flag => boolean(value)
            .map(Value::Bool)
            .ok_or_else(|| format!("`{name}` expects `true` or `false`")),
        Shape::Text => match string(value) {
            Some(text) if !text.trim().is_empty() => Ok(Value::Text(text)),
            _ => Err(format!("`{name}` expects {example}")),
        },
        Shape::Policy => match string(value) {
            Some(p) if POLICIES.iter().any(|(n, _)| *n == p.to_ascii_lowercase()) => {
                Ok(Value::Text(p.to_ascii_lowercase()))
            }
            Some(p) => {
                let close = closest(&p, POLICIES.iter().map(|(c, _)| *c))
                    .map(|c| format!(" did you mean \"{c}\"?"))
                    .unwrap_or_default();
                Err(format!("unknown policy \"{p}\";{close} expected {example}"))
            }
            None => Err(format!("`{name}` expects {example}")),
        },
        Shape::Folder => match string(value) {
            Some(f) if is_folder_name(&f) => Ok(Value::Text(f)),
            Some(f) => Err(format!(
                "`folder = \"{f}\"` is not a plain sub-folder name; expected {example}"
            )),
            None => Err(format!("`{name}` expects {example}")),
        },
        Shape::Backend => match string(value).as_deref() {
            Some("disk") => Ok(Value::Text("disk".into())),
            // Whether this build has the Redis tier is the runtime's to say (a feature of
            // twat-cache, which a proc macro cannot see): a compile error there if not.
            Some("redis") => Ok(Value::Text("redis".into())),
            Some(b) => Err(format!(
                "unknown backend \"{b}\"; expected {example} (one of {})",
                BACKENDS.join(", ")
            )),
            None => Err(format!("`{name}` expects {example}")),
        },
        Shape::Expr => Ok(Value::Expr(value.clone())),
        Shape::Predicate => match value {
            Expr::Lit(_) => Err(format!("`{name}` expects {example}")),
            _ => Ok(Value::Expr(value.clone())),
        },
    }
}

/// `[A-Za-z0-9._-]+`, and not `.` or `..` (which would leave the cache root).
fn is_folder_name(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// Whether `value` is an expression other than a literal (or a negated literal), which an
/// option must then take as a const expression.
fn is_const_expression(value: &Expr) -> bool {
    match value {
        Expr::Lit(_) => false,
        Expr::Unary(u) if matches!(*u.expr, Expr::Lit(_)) => false,
        Expr::Group(g) => is_const_expression(&g.expr),
        _ => true,
    }
}

fn positive_int(value: &Expr) -> Result<u64, String> {
    match value {
        Expr::Lit(ExprLit {
            lit: Lit::Int(int), ..
        }) => match int.base10_parse::<u64>() {
            Ok(0) => Err("must be greater than 0".into()),
            Ok(n) => Ok(n),
            Err(_) => Err("is not a valid integer".into()),
        },
        Expr::Unary(u) if matches!(u.op, syn::UnOp::Neg(_)) => Err("must be positive".into()),
        _ => Err("expects an integer literal".into()),
    }
}

fn string(value: &Expr) -> Option<String> {
    match value {
        Expr::Lit(ExprLit {
            lit: Lit::Str(s), ..
        }) => Some(s.value()),
        _ => None,
    }
}

fn boolean(value: &Expr) -> Option<bool> {
    match value {
        Expr::Lit(ExprLit {
            lit: Lit::Bool(b), ..
        }) => Some(b.value),
        _ => None,
    }
}

/// The candidate `typed` most likely misspells: one edit away (a typo, a swapped pair: `tll`,
/// `tlt` → `ttl`), else the closest by Jaro-Winkler above 0.8 (`maxsiz` → `maxsize`). Short
/// names defeat Jaro-Winkler alone (`tll` scores 0.78 against `ttl`).
fn closest<'a>(typed: &str, candidates: impl Iterator<Item = &'a str> + Clone) -> Option<&'a str> {
    let one_edit = candidates
        .clone()
        .filter(|c| typed.len() >= 2 && strsim::osa_distance(typed, c) == 1)
        .max_by(|a, b| strsim::jaro_winkler(typed, a).total_cmp(&strsim::jaro_winkler(typed, b)));
    one_edit.or_else(|| {
        candidates
            .map(|c| (strsim::jaro_winkler(typed, c), c))
            .filter(|(score, _)| *score > 0.8)
            .max_by(|a, b| a.0.total_cmp(&b.0))
            .map(|(_, c)| c)
    })
}
