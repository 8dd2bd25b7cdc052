//! Value readers with the exact semantics of the original CDK app: booleans are true only for
//! the string `true`, integers follow JavaScript's `parseInt`, lists split on commas and drop
//! empty items, tags are `Key:Value` pairs. Validation of the results lives in `config.rs`.

/// `true` iff the value is exactly the string `true` (case-sensitive), as in the original.
pub fn bool_value(value: &str) -> bool {
    value == "true"
}

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

/// A comma-separated list: items are trimmed and empty items dropped. `" a , ,b,"` gives
/// `["a", "b"]`.
pub fn list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(|item| item.trim_matches(is_js_whitespace))
        .filter(|item| !item.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A tag parsed from `SEMAPHORE_AGENT_TAGS`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Tag {
    /// Tag key, trimmed.
    pub key: String,
    /// Tag value, trimmed.
    pub value: String,
}

/// Why a tags item could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagItemError {
    /// The offending item, as written.
    pub item: String,
}

/// Parses `Key:Value,Key2:Value2`. Items are trimmed; whitespace-only items (a trailing
/// comma) are skipped. The value is everything after the first `:`, so `url:https://x`
/// keeps its colon (the original silently cut such values at the second colon). An item
/// without `:` is an error (the original crashed with a TypeError). Later duplicates win,
/// keeping the position of the first occurrence.
pub fn tags(value: &str) -> Result<Vec<Tag>, Vec<TagItemError>> {
    let mut tags: Vec<Tag> = Vec::new();
    let mut errors = Vec::new();
    for raw_item in value.split(',') {
        let item = raw_item.trim_matches(is_js_whitespace);
        if item.is_empty() {
            continue;
        }
        let Some((key, val)) = item.split_once(':') else {
            errors.push(TagItemError {
                item: item.to_owned(),
            });
            continue;
        };
        let key = key.trim_matches(is_js_whitespace).to_owned();
        let val = val.trim_matches(is_js_whitespace).to_owned();
        match tags.iter_mut().find(|t| t.key == key) {
            Some(existing) => existing.value = val,
            None => tags.push(Tag { key, value: val }),
        }
    }
    if errors.is_empty() {
        Ok(tags)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bool_is_exactly_true() {
        for (input, expected) in [
            ("true", true),
            ("True", false),
            ("TRUE", false),
            ("1", false),
            ("yes", false),
            (" true", false),
            ("false", false),
            ("", false),
        ] {
            assert_eq!(bool_value(input), expected, "{input:?}");
        }
    }

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

    #[test]
    fn list_trims_and_drops_empty_items() {
        assert_eq!(list(" a , ,b,"), vec!["a", "b"]);
        assert_eq!(list(" , "), Vec::<String>::new());
        assert_eq!(list(""), Vec::<String>::new());
        assert_eq!(list("subnet-1,subnet-2"), vec!["subnet-1", "subnet-2"]);
    }

    #[test]
    fn tags_are_trimmed_pairs() {
        let parsed = tags(" Name : Something ,Category:SomethingElse").expect("valid");
        assert_eq!(
            parsed,
            vec![
                Tag {
                    key: "Name".into(),
                    value: "Something".into()
                },
                Tag {
                    key: "Category".into(),
                    value: "SomethingElse".into()
                },
            ]
        );
    }

    #[test]
    fn tags_keep_colons_in_values_and_later_duplicates_win() {
        let parsed = tags("url:https://example.com,a:1,a:2,").expect("valid");
        assert_eq!(parsed[0].value, "https://example.com");
        assert_eq!(parsed.len(), 2);
        assert_eq!(parsed[1].value, "2");
    }

    #[test]
    fn tags_without_colon_are_errors() {
        let err = tags("a:b,nocolon, other").expect_err("invalid");
        assert_eq!(
            err,
            vec![
                TagItemError {
                    item: "nocolon".into()
                },
                TagItemError {
                    item: "other".into()
                }
            ]
        );
    }

    #[test]
    fn empty_tags_give_empty_list() {
        assert_eq!(tags(""), Ok(vec![]));
    }
}
