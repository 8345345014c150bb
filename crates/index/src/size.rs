//! Human byte sizes: parsing (`500MiB`, `1.5G`, `10k`, `1GB`) and formatting (`1.5 MiB`).

use crate::error::SizeError;

/// Most fraction digits that are taken into account (more would overflow the arithmetic).
const MAX_FRACTION_DIGITS: usize = 18;

const BINARY_UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];

/// Parses a size: a number (decimals allowed) and an optional unit.
///
/// `B` = bytes; `k`, `K`, `Ki`, `KiB` = 1024 (likewise `M`, `G`, `T`, `P`, binary);
/// `KB`, `MB`, `GB`, `TB`, `PB` = powers of 1000. Letters are case-insensitive and a
/// space may separate the number from the unit. A plain number is bytes; a fractional
/// byte count is rounded to the nearest byte.
pub fn parse_size(text: &str) -> Result<u64, SizeError> {
    let error = |reason: &str| SizeError { text: text.to_owned(), reason: reason.to_owned() };
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(error("expected a number such as 500MiB, 1.5G or 4096"));
    }
    if trimmed.starts_with('-') {
        return Err(error("sizes cannot be negative"));
    }
    let integer_end = trimmed.find(|c: char| !c.is_ascii_digit()).unwrap_or(trimmed.len());
    let integer_digits = &trimmed[..integer_end];
    let mut rest = &trimmed[integer_end..];
    let mut fraction_digits = "";
    if let Some(after_dot) = rest.strip_prefix('.') {
        let fraction_end = after_dot.find(|c: char| !c.is_ascii_digit()).unwrap_or(after_dot.len());
        fraction_digits = &after_dot[..fraction_end];
        rest = &after_dot[fraction_end..];
        if fraction_digits.is_empty() {
            return Err(error("expected digits after the decimal point"));
        }
    }
    if integer_digits.is_empty() {
        return Err(error("expected a number such as 500MiB, 1.5G or 4096"));
    }
    let unit = rest.trim_start();
    let multiplier = unit_multiplier(unit)
        .ok_or_else(|| error(&format!("unknown unit `{unit}`; use B, k/KiB, M/MiB, G/GiB, T/TiB, KB, MB, GB or TB")))?;
    if multiplier == 1 && !fraction_digits.is_empty() {
        return Err(error("a size in bytes is a whole number; use a larger unit for a fraction (1.5KiB)"));
    }
    let too_large = || error("too large");

    let mut integer: u128 = 0;
    for digit in integer_digits.bytes() {
        integer = integer
            .checked_mul(10)
            .and_then(|value| value.checked_add(u128::from(digit - b'0')))
            .filter(|value| *value <= u128::from(u64::MAX))
            .ok_or_else(too_large)?;
    }
    let fraction_digits = &fraction_digits[..fraction_digits.len().min(MAX_FRACTION_DIGITS)];
    let mut fraction: u128 = 0;
    let mut scale: u128 = 1;
    for digit in fraction_digits.bytes() {
        fraction = fraction * 10 + u128::from(digit - b'0');
        scale *= 10;
    }
    // fraction < scale <= 10^18 and multiplier <= 2^60, so this fits in u128.
    let fraction_bytes = (fraction * u128::from(multiplier) + scale / 2) / scale;
    let total = integer
        .checked_mul(u128::from(multiplier))
        .and_then(|value| value.checked_add(fraction_bytes))
        .ok_or_else(too_large)?;
    u64::try_from(total).map_err(|_| too_large())
}

/// The number of bytes one `unit` stands for, or `None` for an unknown unit.
fn unit_multiplier(unit: &str) -> Option<u64> {
    let lower = unit.to_ascii_lowercase();
    let multiplier = match lower.as_str() {
        "" | "b" | "byte" | "bytes" => 1,
        "k" | "ki" | "kib" => 1 << 10,
        "m" | "mi" | "mib" => 1 << 20,
        "g" | "gi" | "gib" => 1 << 30,
        "t" | "ti" | "tib" => 1 << 40,
        "p" | "pi" | "pib" => 1 << 50,
        "e" | "ei" | "eib" => 1 << 60,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        "tb" => 1_000_000_000_000,
        "pb" => 1_000_000_000_000_000,
        "eb" => 1_000_000_000_000_000_000,
        _ => return None,
    };
    Some(multiplier)
}

/// Formats a byte count for people: `512 B`, `1 KiB`, `1.5 MiB` (binary units, one decimal).
pub fn format_size(bytes: u64) -> String {
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let bytes = u128::from(bytes);
    let mut unit_index = 0;
    let mut divisor: u128 = 1024;
    while unit_index + 1 < BINARY_UNITS.len() && bytes >= divisor * 1024 {
        divisor *= 1024;
        unit_index += 1;
    }
    let mut tenths = (bytes * 10 + divisor / 2) / divisor;
    if tenths >= 10 * 1024 && unit_index + 1 < BINARY_UNITS.len() {
        divisor *= 1024;
        unit_index += 1;
        tenths = (bytes * 10 + divisor / 2) / divisor;
    }
    let unit = BINARY_UNITS[unit_index];
    let (whole, tenth) = (tenths / 10, tenths % 10);
    if tenth == 0 { format!("{whole} {unit}") } else { format!("{whole}.{tenth} {unit}") }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_examples() {
        let cases = [
            ("4096", 4096),
            ("0", 0),
            ("512B", 512),
            ("10k", 10 * 1024),
            ("10K", 10 * 1024),
            ("1KiB", 1024),
            ("500MiB", 500 << 20),
            ("500 MiB", 500 << 20),
            ("500mib", 500 << 20),
            ("1.5G", 3 << 29),
            ("1.5 GiB", 3 << 29),
            ("2T", 2 << 40),
            ("1KB", 1_000),
            ("1kb", 1_000),
            ("1MB", 1_000_000),
            ("1GB", 1_000_000_000),
            ("1.5GB", 1_500_000_000),
            ("1TB", 1_000_000_000_000),
            ("  7 ", 7),
            ("18446744073709551615", u64::MAX),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_size(text), Ok(expected), "{text}");
        }
    }

    #[test]
    fn rejects_bad_sizes() {
        for text in
            ["", "-5", "-1MB", "10XB", "abc", "1.", ".5", "1.5.5", "MB", "1 2", "+5", "1e3", "0.5", "1.5B", "2.0 bytes"]
        {
            let error = parse_size(text).expect_err(text);
            assert_eq!(error.text, text);
            assert!(error.to_string().starts_with("bad size `"), "{error}");
        }
        assert!(parse_size("18446744073709551616").is_err());
        assert!(parse_size("16384PiB").is_err());
        assert!(parse_size("99999999999999999999999999999999999999999").is_err());
    }

    #[test]
    fn error_message_names_unit() {
        let error = parse_size("10XB").expect_err("junk unit");
        assert!(error.to_string().contains("unknown unit `XB`"), "{error}");
    }

    #[test]
    fn formats_examples() {
        assert_eq!(format_size(0), "0 B");
        assert_eq!(format_size(512), "512 B");
        assert_eq!(format_size(1023), "1023 B");
        assert_eq!(format_size(1024), "1 KiB");
        assert_eq!(format_size(1536), "1.5 KiB");
        assert_eq!(format_size(3 << 19), "1.5 MiB");
        assert_eq!(format_size(500 << 20), "500 MiB");
        assert_eq!(format_size((1 << 20) - 1), "1 MiB");
        assert_eq!(format_size(u64::MAX), "16 EiB");
    }

    proptest! {
        #[test]
        fn parse_never_panics(text in "\\PC{0,24}") {
            let _ = parse_size(&text);
        }

        #[test]
        fn formatted_size_parses_back_close(bytes in any::<u64>()) {
            let formatted = format_size(bytes);
            if let Ok(parsed) = parse_size(&formatted) {
                // One decimal of the unit: within 5% (plus rounding) of the original.
                let difference = parsed.abs_diff(bytes);
                prop_assert!(difference <= bytes / 20 + 1, "{bytes} -> {formatted} -> {parsed}");
            } else {
                // Only the very top of the range may round past u64::MAX.
                prop_assert!(bytes > u64::MAX - (u64::MAX / 20), "{formatted}");
            }
        }
    }
}
