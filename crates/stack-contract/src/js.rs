//! Numbers read with the original's JavaScript semantics (`parseInt`, `String.prototype.trim`):
//! the configuration, the template and the scaler must read the same text the same way.

/// The result of [`js_parse_int`]: the number, and whether the whole string was a plain
/// integer (so callers can warn about `"12.7GB"` being read as 12).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParsedInt {
    /// The integer value.
    pub value: i64,
    /// `false` when characters after the digits were ignored, or a `0x` prefix was used.
    pub exact: bool,
}

/// JavaScript `parseInt(value)` without a radix: leading whitespace is skipped, an optional
/// sign is read, `0x`/`0X` switches to base 16, then the longest run of digits is taken and
/// the rest ignored. Returns `None` where JavaScript returns `NaN` (no digits), or when the
/// number does not fit in an `i64`.
pub fn js_parse_int(value: &str) -> Option<ParsedInt> {
    let trimmed = value.trim_start_matches(is_js_whitespace);
    let (negative, rest) = match trimmed.as_bytes().first() {
        Some(b'-') => (true, &trimmed[1..]),
        Some(b'+') => (false, &trimmed[1..]),
        _ => (false, trimmed),
    };
    let (radix, digits_and_rest) =
        if rest.len() >= 2 && (rest.starts_with("0x") || rest.starts_with("0X")) {
            (16, &rest[2..])
        } else {
            (10, rest)
        };
    let digit_len = digits_and_rest
        .chars()
        .take_while(|c| c.is_digit(radix))
        .map(char::len_utf8)
        .sum::<usize>();
    if digit_len == 0 {
        return None;
    }
    let digits = &digits_and_rest[..digit_len];
    let magnitude = i64::from_str_radix(digits, radix).ok()?;
    let value = if negative { -magnitude } else { magnitude };
    Some(ParsedInt {
        value,
        exact: radix == 10 && is_plain_integer(trimmed),
    })
}

// "Plain" means, apart from surrounding whitespace, only digits with an optional sign: what a
// user typing a number means.
fn is_plain_integer(trimmed_start: &str) -> bool {
    let s = trimmed_start.trim_end_matches(is_js_whitespace);
    let body = s.strip_prefix(['-', '+']).unwrap_or(s);
    !body.is_empty() && body.bytes().all(|b| b.is_ascii_digit())
}

/// JavaScript's `String.prototype.trim` whitespace (ASCII whitespace, NBSP, BOM and the
/// Unicode space separators).
pub fn is_js_whitespace(c: char) -> bool {
    matches!(
        c,
        '\u{0009}'..='\u{000D}'
            | ' '
            | '\u{00A0}'
            | '\u{1680}'
            | '\u{2000}'..='\u{200A}'
            | '\u{2028}'
            | '\u{2029}'
            | '\u{202F}'
            | '\u{205F}'
            | '\u{3000}'
            | '\u{FEFF}'
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_int_follows_javascript() {
        let cases: &[(&str, Option<i64>, bool)] = &[
            ("64", Some(64), true),
            ("12.7GB", Some(12), false),
            (" 50 ", Some(50), true),
            ("1e3", Some(1), false),
            ("0x10", Some(16), false),
            ("0X1f", Some(31), false),
            ("abc", None, false),
            ("", None, false),
            ("-1", Some(-1), true),
            ("+7", Some(7), true),
            ("-0", Some(0), true),
            ("0x", None, false),
            ("  -12abc", Some(-12), false),
            ("\u{00A0}42", Some(42), true),
            ("99999999999999999999999", None, false),
        ];
        for (input, value, exact) in cases {
            let parsed = js_parse_int(input);
            assert_eq!(parsed.map(|p| p.value), *value, "value of {input:?}");
            if let Some(p) = parsed {
                assert_eq!(p.exact, *exact, "exactness of {input:?}");
            }
        }
    }
}
