//! Parsing `ttl = "10m"` and `max_bytes = "512MiB"` at compile time.

/// `"1.5 GiB"` → `(1.5, "GiB")`: the leading number (underscores allowed) and the trimmed unit.
fn split_number(text: &str) -> Result<(f64, &str), String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '_'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number = number
        .replace('_', "")
        .parse()
        .map_err(|_| format!("`{text}` does not start with a number"))?;
    Ok((number, unit.trim()))
}

/// `"250ms"`, `"1.5s"`, `"90s"`, `"10m"`, `"1h"`, `"1d"`, `"2w"`, compounds such as `"1h30m"`
/// or `"1d 12h"`, or a bare number of seconds, to nanoseconds.
pub fn parse_duration_nanos(text: &str) -> Result<u64, String> {
    let whole = text.trim();
    let mut rest = whole;
    let mut nanos = 0f64;
    while !rest.is_empty() {
        let (number, after) = split_number(rest)?;
        let unit_len = after
            .find(|c: char| c.is_ascii_digit() || c == '.' || c.is_whitespace())
            .unwrap_or(after.len());
        let (unit, next) = after.split_at(unit_len);
        if unit.is_empty() && !(rest == whole && next.trim().is_empty()) {
            return Err(format!(
                "`{whole}` needs a unit after each number, e.g. `1h30m`"
            ));
        }
        nanos += number * unit_nanos(unit)?;
        rest = next.trim_start();
    }
    if !nanos.is_finite() || nanos >= u64::MAX as f64 {
        return Err(format!("`{whole}` is too long"));
    }
    Ok(nanos.round() as u64)
}

fn unit_nanos(unit: &str) -> Result<f64, String> {
    Ok(match unit {
        "ns" => 1.0,
        "us" | "µs" => 1e3,
        "ms" => 1e6,
        "" | "s" | "sec" | "secs" => 1e9,
        "m" | "min" | "mins" => 60e9,
        "h" | "hr" | "hrs" => 3_600e9,
        "d" | "day" | "days" => 86_400e9,
        "w" | "week" | "weeks" => 604_800e9,
        other => return Err(format!("unknown time unit `{other}`")),
    })
}

/// `"512MiB"`, `"2GiB"`, `"10KB"`, `"64k"`, `"100"` to bytes (KB = 1000, KiB = 1024).
pub fn parse_size_bytes(text: &str) -> Result<u64, String> {
    let (number, unit) = split_number(text)?;
    let multiplier: f64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" => 1e3,
        "kib" => 1024.0,
        "m" | "mb" => 1e6,
        "mib" => 1024.0 * 1024.0,
        "g" | "gb" => 1e9,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        "t" | "tb" => 1e12,
        "tib" => 1024.0f64.powi(4),
        other => return Err(format!("unknown size unit `{other}`")),
    };
    let bytes = number * multiplier;
    if !bytes.is_finite() || bytes >= u64::MAX as f64 {
        return Err(format!("`{}` is too large", text.trim()));
    }
    Ok(bytes.round() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration_nanos("250ms"), Ok(250_000_000));
        assert_eq!(parse_duration_nanos("90s"), Ok(90_000_000_000));
        assert_eq!(parse_duration_nanos("10m"), Ok(600_000_000_000));
        assert_eq!(parse_duration_nanos("1h"), Ok(3_600_000_000_000));
        assert_eq!(parse_duration_nanos("1d"), Ok(86_400_000_000_000));
        assert_eq!(parse_duration_nanos("1.5s"), Ok(1_500_000_000));
        assert_eq!(parse_duration_nanos("1h30m"), Ok(5_400_000_000_000));
        assert_eq!(parse_duration_nanos("1d 12h"), Ok(129_600_000_000_000));
        assert_eq!(parse_duration_nanos("1m30s500ms"), Ok(90_500_000_000));
        assert_eq!(parse_duration_nanos("90"), Ok(90_000_000_000));
        assert!(
            parse_duration_nanos("1h30").is_err(),
            "a unit after each number"
        );
        assert!(parse_duration_nanos("soon").is_err());
        assert!(parse_duration_nanos("5 parsecs").is_err());
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size_bytes("512MiB"), Ok(512 << 20));
        assert_eq!(parse_size_bytes("2GiB"), Ok(2 << 30));
        assert_eq!(parse_size_bytes("10KB"), Ok(10_000));
        assert_eq!(parse_size_bytes("100"), Ok(100));
        assert!(parse_size_bytes("lots").is_err());
    }
}
