//! Value readers with the exact semantics of the original CDK app: booleans are true only for
//! the string `true`, integers follow JavaScript's `parseInt`, lists split on commas and drop
//! empty items, tags are `Key:Value` pairs. Validation of the results lives in `config.rs`.

/// `true` iff the value is exactly the string `true` (case-sensitive), as in the original.
pub fn bool_value(value: &str) -> bool {
    value == "true"
}

pub use stack_contract::js::{ParsedInt, is_js_whitespace, js_parse_int};

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
