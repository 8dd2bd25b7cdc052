//! Text for people: a template diff as lines, coloured or plain.

use console::Style;
use serde_json::Value;

use crate::diff::{Change, Detail, TemplateDiff};
use crate::replacement::Replacement;

/// Longest value shown in a detail line; longer ones are cut with `…`.
const MAX_VALUE: usize = 120;

fn style(colors: bool, change: Change) -> Style {
    let s = match change {
        Change::Added => Style::new().green(),
        Change::Removed => Style::new().red(),
        Change::Modified => Style::new().yellow(),
    };
    s.force_styling(colors)
}

fn short(value: Option<&Value>) -> String {
    match value {
        None => "(none)".to_owned(),
        Some(value) => cut(&value.to_string()),
    }
}

fn cut(text: &str) -> String {
    if text.chars().count() <= MAX_VALUE {
        return text.to_owned();
    }
    let head: String = text.chars().take(MAX_VALUE).collect();
    format!("{head}…")
}

fn replacement_note(replacement: Replacement) -> &'static str {
    match replacement {
        Replacement::Never => "",
        Replacement::Conditional => " (may be replaced)",
        Replacement::Always => " (replaced)",
    }
}

/// The diff of stack `stack` as lines.
pub fn diff_lines(stack: &str, diff: &TemplateDiff, colors: bool) -> Vec<String> {
    let bold = Style::new().bold().force_styling(colors);
    let mut out = vec![bold.apply_to(format!("Stack {stack}")).to_string()];
    if diff.is_empty() {
        out.push("There were no differences".to_owned());
        return out;
    }
    if !diff.security.is_empty() {
        let title = if diff.security.is_broadening() {
            "Security changes (broadening: new permissions)"
        } else {
            "Security changes (narrowing)"
        };
        out.push(bold.apply_to(title).to_string());
        for (grants, change) in [
            (&diff.security.added, Change::Added),
            (&diff.security.removed, Change::Removed),
        ] {
            for g in grants {
                out.push(
                    style(colors, change)
                        .apply_to(format!(
                            "{} {} in {} for {}: {}",
                            change.marker(),
                            g.kind,
                            g.holder,
                            g.subject,
                            cut(&g.what)
                        ))
                        .to_string(),
                );
            }
        }
    }
    let mut section = "";
    for s in &diff.sections {
        if s.section != section {
            out.push(bold.apply_to(&s.section).to_string());
            section = &s.section;
        }
        out.push(
            style(colors, s.change)
                .apply_to(format!(
                    "{} {}",
                    s.change.marker(),
                    if s.name.is_empty() {
                        &s.section
                    } else {
                        &s.name
                    }
                ))
                .to_string(),
        );
    }
    if !diff.resources.is_empty() {
        out.push(bold.apply_to("Resources").to_string());
    }
    for r in &diff.resources {
        out.push(
            style(colors, r.change)
                .apply_to(format!(
                    "{} {} {}{}",
                    r.change.marker(),
                    r.resource_type,
                    r.logical_id,
                    replacement_note(r.replacement)
                ))
                .to_string(),
        );
        let n = r.details.len();
        for (i, d) in r.details.iter().enumerate() {
            out.push(detail_line(d, i + 1 == n, colors));
        }
    }
    out.push(format!("{stack}: {}", diff.counts()));
    out
}

fn detail_line(d: &Detail, last: bool, colors: bool) -> String {
    let branch = if last { "└─" } else { "├─" };
    let note = match d.replacement {
        Replacement::Never => "",
        Replacement::Conditional => " (may cause replacement)",
        Replacement::Always => " (requires replacement)",
    };
    let note = Style::new()
        .red()
        .bold()
        .force_styling(colors)
        .apply_to(note)
        .to_string();
    format!(
        "    {branch} {}{note}: {} → {}",
        d.path,
        short(d.old.as_ref()),
        short(d.new.as_ref())
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diff::compare;
    use serde_json::json;

    #[test]
    fn plain_lines_name_changes_and_replacement() {
        let old = json!({"Resources": {
            "P": {"Type": "AWS::SSM::Parameter", "Properties": {"Name": "a", "Value": "1", "Type": "String"}},
            "Gone": {"Type": "AWS::Logs::LogGroup", "Properties": {}}
        }});
        let new = json!({"Resources": {
            "P": {"Type": "AWS::SSM::Parameter", "Properties": {"Name": "b", "Value": "1", "Type": "String"}},
            "New": {"Type": "AWS::Logs::LogGroup", "Properties": {}}
        }});
        let lines = diff_lines("s", &compare(&old, &new), false);
        let text = lines.join("\n");
        assert!(
            text.contains("[~] AWS::SSM::Parameter P (replaced)"),
            "{text}"
        );
        assert!(
            text.contains("└─ Properties.Name (requires replacement): \"a\" → \"b\""),
            "{text}"
        );
        assert!(text.contains("[+] AWS::Logs::LogGroup New"), "{text}");
        assert!(text.contains("[-] AWS::Logs::LogGroup Gone"), "{text}");
        assert!(
            text.ends_with(
                "s: 1 to add, 1 to change (1 replaced or possibly replaced), 1 to remove"
            ),
            "{text}"
        );
        assert!(
            !text.contains('\u{1b}'),
            "no colour codes when colours are off"
        );
        let coloured = diff_lines("s", &compare(&old, &new), true).join("\n");
        assert!(coloured.contains('\u{1b}'), "colour codes when on");
    }
}
