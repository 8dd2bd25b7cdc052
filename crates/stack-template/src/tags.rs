//! Tags from `SEMAPHORE_AGENT_TAGS` as each resource type writes them, sorted as the original
//! sorted them: by JavaScript's `localeCompare` (ICU root collation), not by code point.

use serde_json::{Map, Value, json};
use stack_config::Tag;

/// Primary weights of printable ASCII under ICU's root collation: punctuation and symbols in
/// this order, then digits, then letters (case folded).
const PUNCTUATION_ORDER: &str = " _-,;:!?.'\"()[]{}@*/\\&#%`^+<=>|~$";

fn primary_weight(c: char) -> u32 {
    if let Some(i) = PUNCTUATION_ORDER.find(c) {
        return 100 + i as u32;
    }
    match c {
        '0'..='9' => 200 + (c as u32 - '0' as u32),
        'a'..='z' => 300 + (c as u32 - 'a' as u32),
        'A'..='Z' => 300 + (c as u32 - 'A' as u32),
        // Control characters first, anything beyond ASCII after the letters by code point.
        c if (c as u32) < 0x20 => c as u32,
        c => 1000 + c as u32,
    }
}

/// Compares two strings the way `a.localeCompare(b)` does in Node for ASCII text: by primary
/// weights first (a proper prefix sorts first), then lowercase before uppercase, left to right.
pub fn locale_compare(a: &str, b: &str) -> std::cmp::Ordering {
    let primary = |s: &str| s.chars().map(primary_weight).collect::<Vec<_>>();
    primary(a).cmp(&primary(b)).then_with(|| {
        let case = |s: &str| {
            s.chars()
                .map(|c| c.is_ascii_uppercase())
                .collect::<Vec<_>>()
        };
        case(a).cmp(&case(b))
    })
}

fn sorted(tags: Vec<Tag>) -> Vec<Tag> {
    let mut tags = tags;
    tags.sort_by(|a, b| locale_compare(&a.key, &b.key));
    tags
}

/// Merges `extra` over `base`: a key in both keeps `extra`'s value (configured tags applied
/// after a construct's own tags override them).
fn merged(base: Vec<Tag>, extra: &[Tag]) -> Vec<Tag> {
    let mut out = base;
    for tag in extra {
        match out.iter_mut().find(|t| t.key == tag.key) {
            Some(existing) => existing.value = tag.value.clone(),
            None => out.push(tag.clone()),
        }
    }
    out
}

/// `[{"Key": k, "Value": v}, …]`, or `None` without tags.
pub fn list(tags: &[Tag]) -> Option<Value> {
    (!tags.is_empty()).then(|| {
        Value::Array(
            sorted(tags.to_vec())
                .into_iter()
                .map(|t| json!({"Key": t.key, "Value": t.value}))
                .collect(),
        )
    })
}

/// `{"k": "v", …}` (SSM parameters), or `None` without tags.
pub fn map(tags: &[Tag]) -> Option<Value> {
    (!tags.is_empty()).then(|| {
        let map: Map<String, Value> = sorted(tags.to_vec())
            .into_iter()
            .map(|t| (t.key, json!(t.value)))
            .collect();
        Value::Object(map)
    })
}

/// The Auto Scaling group's tags: `application: semaphore-agent` (which a configured
/// `application` tag replaces) plus the configured ones, all propagated at launch.
pub fn auto_scaling_group(tags: &[Tag]) -> Value {
    let base = vec![Tag {
        key: "application".into(),
        value: "semaphore-agent".into(),
    }];
    Value::Array(
        sorted(merged(base, tags))
            .into_iter()
            .map(|t| json!({"Key": t.key, "PropagateAtLaunch": true, "Value": t.value}))
            .collect(),
    )
}

/// The launch template's tag list: its `Name` (which wins over a configured `Name`) plus the
/// configured tags.
pub fn launch_template(name: &str, tags: &[Tag]) -> Value {
    let own = Tag {
        key: "Name".into(),
        value: name.into(),
    };
    let without_name: Vec<Tag> = tags.iter().filter(|t| t.key != "Name").cloned().collect();
    Value::Array(
        sorted(merged(vec![own], &without_name))
            .into_iter()
            .map(|t| json!({"Key": t.key, "Value": t.value}))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(k: &str, v: &str) -> Tag {
        Tag {
            key: k.into(),
            value: v.into(),
        }
    }

    #[test]
    fn ascii_order_matches_icu_root_collation() {
        let expected = [
            "a", "A", "a b", "a_b", "a-b", "a1", "a10", "a9", "ab", "aB", "Ab", "AB", "b",
        ];
        let mut shuffled = expected.to_vec();
        shuffled.reverse();
        shuffled.sort_by(|a, b| locale_compare(a, b));
        assert_eq!(shuffled, expected);

        let keys = ["_u", "9n", "alpha", "application", "Beta", "Name", "Zed"];
        let mut shuffled = keys.to_vec();
        shuffled.sort();
        shuffled.sort_by(|a, b| locale_compare(a, b));
        assert_eq!(shuffled, keys);
    }

    #[test]
    fn configured_application_tag_replaces_the_builtin_one() {
        let value = auto_scaling_group(&[tag("application", "mine"), tag("Team", "ci")]);
        assert_eq!(
            value,
            json!([
                {"Key": "application", "PropagateAtLaunch": true, "Value": "mine"},
                {"Key": "Team", "PropagateAtLaunch": true, "Value": "ci"}
            ])
        );
    }

    #[test]
    fn launch_template_name_wins_over_a_configured_name() {
        let value = launch_template(
            "AwsSemaphoreAgentStack/launchTemplate",
            &[tag("Name", "Something"), tag("Category", "x")],
        );
        assert_eq!(
            value,
            json!([
                {"Key": "Category", "Value": "x"},
                {"Key": "Name", "Value": "AwsSemaphoreAgentStack/launchTemplate"}
            ])
        );
    }

    #[test]
    fn empty_tags_render_nothing() {
        assert_eq!(list(&[]), None);
        assert_eq!(map(&[]), None);
    }
}
