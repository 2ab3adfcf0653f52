//! What the commands print: aligned tables for people, JSON (`--json`) for programs.
//!
//! The JSON schema is stable (documented in the README): fields are only ever added.

use std::io::IsTerminal;
use std::path::Path;

use comfy_table::{CellAlignment, ContentArrangement, Table, presets};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::{Value, json};
use twat_cache::disk::inspect::{CacheReport, CacheState, EntryReport, Freed};

pub struct Output {
    pub json: bool,
}

/// Sizes in IEC units (`1.4 MiB`).
pub fn size(bytes: u64) -> String {
    bytesize::ByteSize::b(bytes).display().iec().to_string()
}

/// How long ago a Unix-nanosecond time was, roughly (`3h ago`).
fn age(at: Option<u64>) -> String {
    let Some(at) = at else { return "-".into() };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    format!("{} ago", span(now.saturating_sub(at) / 1_000_000_000))
}

/// When a Unix-nanosecond deadline comes, roughly (`in 2h`, `expired`).
fn until(at: Option<u64>) -> String {
    let Some(at) = at else { return "never".into() };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    if at <= now {
        return "expired".into();
    }
    format!("in {}", span((at - now) / 1_000_000_000))
}

/// A number of seconds, roughly (`3h`).
fn span(secs: u64) -> String {
    match secs {
        0..60 => format!("{secs}s"),
        60..3_600 => format!("{}m", secs / 60),
        3_600..86_400 => format!("{}h", secs / 3_600),
        _ => format!("{}d", secs / 86_400),
    }
}

fn state(cache: &CacheReport) -> String {
    match &cache.state {
        CacheState::Ok => "ok".into(),
        CacheState::InUse => "in use".into(),
        CacheState::Unreadable(why) => format!("unreadable: {why}"),
    }
}

fn display_name(cache: &CacheReport) -> String {
    if cache.name.is_empty() {
        cache.folder.clone()
    } else {
        format!("{}/{}", cache.folder, cache.name)
    }
}

fn table(header: &[&str]) -> Table {
    let mut table = Table::new();
    table
        .load_style(presets::UTF8_BORDERS_ONLY)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(header.to_vec());
    table
}

fn align_right(table: &mut Table, columns: &[usize]) {
    for &i in columns {
        if let Some(column) = table.column_mut(i) {
            column.set_cell_alignment(CellAlignment::Right);
        }
    }
}

/// Whether the cache's numbers were read: an in-use (or unreadable) sled database was not
/// opened, so its counts are unknown, which must not read as an empty cache.
fn counted(cache: &CacheReport) -> bool {
    cache.state == CacheState::Ok
}

/// A count for the table: `?` for a cache that was not read.
fn count_cell(cache: &CacheReport, count: impl ToString) -> String {
    if counted(cache) {
        count.to_string()
    } else {
        "?".into()
    }
}

fn cache_json(cache: &CacheReport) -> Value {
    // `null` (unknown) rather than 0 for the counts of a cache that was not read.
    let known = |count: Value| if counted(cache) { count } else { Value::Null };
    json!({
        "folder": cache.folder,
        "name": cache.name,
        "store": cache.store,
        "path": cache.path,
        "state": match &cache.state {
            CacheState::Ok => "ok",
            CacheState::InUse => "in_use",
            CacheState::Unreadable(_) => "unreadable",
        },
        "reason": match &cache.state {
            CacheState::Unreadable(why) => Some(why.as_str()),
            _ => None,
        },
        "entries": known(cache.entries().into()),
        "bytes": known(cache.bytes().into()),
        "expired": known(cache.expired().into()),
        "stale_namespaces": known(cache.stale_namespaces().into()),
        "oldest": cache.oldest(),
        "newest": cache.newest(),
        "namespaces": cache.namespaces,
    })
}

fn print_json(value: &Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).expect("JSON values serialize")
    );
}

impl Output {
    pub fn dir(&self, root: &Path) {
        if self.json {
            print_json(&json!({ "root": root }));
        } else {
            println!("{}", root.display());
        }
    }

    pub fn list(&self, root: &Path, caches: &[CacheReport]) {
        if self.json {
            let caches: Vec<Value> = caches.iter().map(cache_json).collect();
            print_json(&json!({ "root": root, "caches": caches }));
            return;
        }
        if caches.is_empty() {
            println!("no caches under {}", root.display());
            return;
        }
        let mut t = table(&[
            "cache", "store", "entries", "size", "expired", "stale ns", "oldest", "newest", "state",
        ]);
        for cache in caches {
            t.add_row(vec![
                display_name(cache),
                format!("{:?}", cache.store).to_lowercase(),
                count_cell(cache, cache.entries()),
                count_cell(cache, size(cache.bytes())),
                count_cell(cache, cache.expired()),
                count_cell(cache, cache.stale_namespaces()),
                age(cache.oldest()),
                age(cache.newest()),
                state(cache),
            ]);
        }
        align_right(&mut t, &[2, 3, 4, 5]);
        println!("{t}");
    }

    pub fn stats(&self, root: &Path, name: Option<&str>, caches: &[&CacheReport]) {
        let entries: u64 = caches.iter().map(|c| c.entries()).sum();
        let bytes: u64 = caches.iter().map(|c| c.bytes()).sum();
        let expired: u64 = caches.iter().map(|c| c.expired()).sum();
        let stale: usize = caches.iter().map(|c| c.stale_namespaces()).sum();
        let in_use = caches
            .iter()
            .filter(|c| c.state == CacheState::InUse)
            .count();
        let oldest = caches.iter().filter_map(|c| c.oldest()).min();
        let newest = caches.iter().filter_map(|c| c.newest()).max();
        if self.json {
            print_json(&json!({
                "root": root,
                "name": name,
                "caches": caches.len(),
                "entries": entries,
                "bytes": bytes,
                "expired": expired,
                "stale_namespaces": stale,
                "in_use": in_use,
                "oldest": oldest,
                "newest": newest,
            }));
            return;
        }
        let mut t = Table::new();
        t.load_style(presets::NOTHING);
        let counted = if in_use == 0 {
            caches.len().to_string()
        } else {
            format!(
                "{} ({in_use} in use by another process: not counted)",
                caches.len()
            )
        };
        let rows = [
            ("root", root.display().to_string()),
            ("selection", name.unwrap_or("every cache").to_string()),
            ("caches", counted),
            ("entries", format!("{entries} ({expired} expired)")),
            ("size", size(bytes)),
            ("stale namespaces", stale.to_string()),
            ("oldest entry", age(oldest)),
            ("newest entry", age(newest)),
        ];
        for (label, value) in rows {
            t.add_row(vec![label.to_string(), value]);
        }
        println!("{t}");
    }

    pub fn inspect(&self, shown: &[(&CacheReport, Vec<EntryReport>)]) {
        if self.json {
            let caches: Vec<Value> = shown
                .iter()
                .map(|(cache, entries)| json!({ "cache": cache_json(cache), "entries": entries }))
                .collect();
            print_json(&json!({ "caches": caches }));
            return;
        }
        for (cache, entries) in shown {
            println!(
                "{} — {} entries, {}",
                display_name(cache),
                cache.entries(),
                size(cache.bytes())
            );
            if entries.is_empty() {
                continue;
            }
            let mut t = table(&[
                "key",
                "size",
                "written",
                "expires",
                "compressed",
                "namespace",
            ]);
            for entry in entries {
                let current = cache
                    .namespaces
                    .iter()
                    .any(|n| n.current && n.id == entry.namespace);
                t.add_row(vec![
                    entry.key.clone(),
                    size(entry.bytes),
                    age(Some(entry.created)),
                    until(entry.expires),
                    if entry.compressed { "yes" } else { "no" }.to_string(),
                    if current {
                        entry.namespace.clone()
                    } else {
                        format!("{} (stale)", entry.namespace)
                    },
                ]);
            }
            align_right(&mut t, &[1]);
            println!("{t}");
        }
    }

    pub fn cleared(&self, cleared: &[(&CacheReport, Freed)]) {
        if self.json {
            let caches: Vec<Value> = cleared
                .iter()
                .map(|(c, freed)| json!({ "folder": c.folder, "name": c.name, "freed": freed }))
                .collect();
            print_json(&json!({ "cleared": caches }));
            return;
        }
        for (cache, freed) in cleared {
            println!(
                "cleared {}: {} entries, {}",
                display_name(cache),
                freed.entries,
                size(freed.bytes)
            );
        }
    }

    pub fn pruned(&self, freed: &Freed, dry_run: bool, skipped: &[&&CacheReport]) {
        if self.json {
            let skipped: Vec<String> = skipped.iter().map(|c| display_name(c)).collect();
            print_json(&json!({ "dry_run": dry_run, "freed": freed, "skipped": skipped }));
            return;
        }
        let verb = if dry_run { "would free" } else { "freed" };
        println!(
            "{verb} {} in {} entries: {} expired, {} of stale namespaces, {} to fit --max-bytes; \
             {} damaged entries and {} temporary files of dead writers",
            size(freed.bytes),
            freed.entries,
            freed.expired,
            freed.stale,
            freed.evicted,
            freed.damaged,
            freed.temp_files
        );
        for cache in skipped {
            println!("left alone: {} ({})", display_name(cache), state(cache));
        }
    }
}

/// Where progress is drawn: stderr, and only on a terminal.
fn progress_target() -> ProgressDrawTarget {
    if std::io::stderr().is_terminal() {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    }
}

/// A progress bar over `total` steps (drawn only on a terminal, and only once the work has
/// taken a moment: indicatif waits before its first draw).
pub fn progress(total: u64, what: &'static str) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(total), progress_target());
    if let Ok(style) = ProgressStyle::with_template("{msg} {bar:30} {pos}/{len}") {
        bar.set_style(style);
    }
    bar.set_message(what);
    bar
}

/// A counter of entries for work of unknown size (a prune).
pub fn spinner(what: &'static str) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(None, progress_target());
    if let Ok(style) = ProgressStyle::with_template("{spinner} {msg}: {pos} entries") {
        bar.set_style(style);
    }
    bar.set_message(what);
    bar.enable_steady_tick(std::time::Duration::from_millis(100));
    bar
}
