//! Text for people: a template diff as lines, coloured or plain, with its security changes
//! as tables in the shape of the CDK's (box-drawn, one row per statement or rule, cells
//! wrapped to the width given, never cut).

use console::Style;
use serde_json::Value;

use crate::diff::{Change, Detail, TemplateDiff};
use crate::replacement::Replacement;
use crate::security::{RowChange, SecurityChanges};

/// Longest value shown in a resource's detail line; longer ones are cut with `…`.
const MAX_VALUE: usize = 120;

fn style(colors: bool, change: Change) -> Style {
    let s = match change {
        Change::Added => Style::new().green(),
        Change::Removed => Style::new().red(),
        Change::Modified => Style::new().yellow(),
    };
    s.force_styling(colors)
}

/// A changed value as compact JSON with its intrinsics written readably (`"${Role.Arn}"`),
/// cut at [`MAX_VALUE`] characters: the security tables show grants whole.
fn short(value: Option<&Value>) -> String {
    match value {
        None => "(none)".to_owned(),
        Some(value) => cut(&crate::security::readable_value(value).to_string()),
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

/// Columns the tables fit in when no terminal says otherwise (logs, pipes, files).
pub const DEFAULT_WIDTH: usize = 120;

/// The narrowest a column is squeezed to before a table is allowed to be wider than asked.
const MIN_COLUMN: usize = 12;

/// The diff of stack `stack` as lines: the security tables first, then the other sections
/// and the resources. Table cells wrap to fit `width` columns (never cut); `colors` paints
/// added rows green and removed ones red.
pub fn diff_lines(stack: &str, diff: &TemplateDiff, colors: bool, width: usize) -> Vec<String> {
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
        out.extend(security_tables(
            &SecurityChanges::of(&diff.security),
            colors,
            width,
        ));
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

/// The security tables of `changes`, each under its title; empty tables are left out.
pub fn security_tables(changes: &SecurityChanges, colors: bool, width: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut add = |title: &str, headers: &[&str], rows: Vec<(RowChange, Vec<Vec<String>>)>| {
        if !rows.is_empty() {
            out.push(title.to_owned());
            out.extend(table(headers, &rows, colors, width));
        }
    };
    add(
        "IAM Statement Changes",
        &["", "Resource", "Effect", "Action", "Principal", "Condition"],
        changes
            .iam_statements
            .iter()
            .map(|r| {
                let condition = r
                    .condition
                    .as_ref()
                    .map(condition_lines)
                    .unwrap_or_default();
                (
                    r.change,
                    vec![
                        r.resource.clone(),
                        vec![r.effect.clone()],
                        r.action.clone(),
                        r.principal.clone(),
                        condition,
                    ],
                )
            })
            .collect(),
    );
    add(
        "IAM Policy Changes",
        &["", "Resource", "Managed Policy ARN"],
        changes
            .managed_policies
            .iter()
            .map(|r| {
                (
                    r.change,
                    vec![vec![r.resource.clone()], vec![r.managed_policy_arn.clone()]],
                )
            })
            .collect(),
    );
    add(
        "Instance Profile Changes",
        &["", "Instance Profile", "Role"],
        changes
            .instance_profiles
            .iter()
            .map(|r| {
                (
                    r.change,
                    vec![vec![r.instance_profile.clone()], vec![r.role.clone()]],
                )
            })
            .collect(),
    );
    add(
        "Security Group Changes",
        &["", "Group", "Dir", "Protocol", "Peer"],
        changes
            .security_group_rules
            .iter()
            .map(|r| {
                (
                    r.change,
                    vec![
                        vec![r.group.clone()],
                        vec![r.direction.clone()],
                        vec![r.protocol.clone()],
                        vec![r.peer.clone()],
                    ],
                )
            })
            .collect(),
    );
    out
}

/// A condition block as one line per operator and key, `ArnLike AWS:SourceArn = ${Rule.Arn}`
/// (several values as `[a, b]`); a block that is not operators of keys is shown whole.
fn condition_lines(condition: &Value) -> Vec<String> {
    let Some(operators) = condition.as_object() else {
        return vec![crate::security::readable(condition)];
    };
    let mut lines = Vec::new();
    for (operator, tests) in operators {
        match tests.as_object() {
            Some(tests) => {
                for (key, value) in tests {
                    lines.push(format!(
                        "{operator} {key} = {}",
                        crate::security::readable(value)
                    ));
                }
            }
            None => lines.push(format!("{operator} {}", crate::security::readable(tests))),
        }
    }
    lines
}

/// A box-drawn table: the sign column (`+`/`-`), then `rows`' cells (one line per entry),
/// with the widest columns narrowed until the table fits `width`, their entries wrapped.
fn table(
    headers: &[&str],
    rows: &[(RowChange, Vec<Vec<String>>)],
    colors: bool,
    width: usize,
) -> Vec<String> {
    let columns = headers.len();
    // Every cell as lines: the sign, then the given cells (missing ones empty).
    let cells: Vec<(RowChange, Vec<Vec<String>>)> = rows
        .iter()
        .map(|(change, row)| {
            let mut cells = vec![vec![change.sign().to_owned()]];
            cells.extend(row.iter().cloned());
            cells.resize(columns, Vec::new());
            (*change, cells)
        })
        .collect();
    let mut widths: Vec<usize> = headers.iter().map(|h| text_width(h)).collect();
    for (_, row) in &cells {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = cell.iter().map(|l| text_width(l)).fold(*w, usize::max);
        }
    }
    widths[0] = widths[0].max(1);
    // Borders and padding: `│ a │ b │` is 3 per column plus 1.
    let total = |widths: &[usize]| widths.iter().sum::<usize>() + 3 * columns + 1;
    while total(&widths) > width {
        let Some((widest, w)) = widths
            .iter()
            .enumerate()
            .skip(1)
            .max_by_key(|(i, w)| (**w, usize::MAX - i))
            .map(|(i, w)| (i, *w))
        else {
            break;
        };
        if w <= MIN_COLUMN {
            break;
        }
        widths[widest] -= 1;
    }
    let rule = |left: &str, middle: &str, right: &str| {
        let parts: Vec<String> = widths.iter().map(|w| "─".repeat(w + 2)).collect();
        format!("{left}{}{right}", parts.join(middle))
    };
    let mut out = vec![rule("┌", "┬", "┐")];
    let header: Vec<Vec<String>> = headers.iter().map(|h| vec![(*h).to_owned()]).collect();
    out.extend(row_lines(&header, &widths, None));
    for (change, row) in &cells {
        out.push(rule("├", "┼", "┤"));
        let style = style(
            colors,
            match change {
                RowChange::Add => Change::Added,
                RowChange::Remove => Change::Removed,
            },
        );
        out.extend(row_lines(row, &widths, Some(&style)));
    }
    out.push(rule("└", "┴", "┘"));
    out
}

/// The lines of one table row: each cell's entries wrapped to its column, side by side.
fn row_lines(row: &[Vec<String>], widths: &[usize], style: Option<&Style>) -> Vec<String> {
    let wrapped: Vec<Vec<String>> = row
        .iter()
        .zip(widths)
        .map(|(cell, w)| cell.iter().flat_map(|l| wrap(l, *w)).collect())
        .collect();
    let height = wrapped.iter().map(Vec::len).max().unwrap_or(0).max(1);
    (0..height)
        .map(|i| {
            let mut line = String::from("│");
            for (cell, w) in wrapped.iter().zip(widths) {
                let text = cell.get(i).map(String::as_str).unwrap_or("");
                let pad = " ".repeat(w.saturating_sub(text_width(text)));
                let text = match style {
                    Some(style) if !text.is_empty() => style.apply_to(text).to_string(),
                    _ => text.to_owned(),
                };
                line.push_str(&format!(" {text}{pad} │"));
            }
            line
        })
        .collect()
}

fn text_width(text: &str) -> usize {
    console::measure_text_width(text)
}

/// `text` in lines of at most `width` characters, broken after a separator (`:`, `/`, `,`,
/// space, …) where there is one in the second half of the line, else at the width (spaces at
/// a break are dropped, nothing else); continuation lines are indented by two spaces so that
/// one entry never looks like two.
fn wrap(text: &str, width: usize) -> Vec<String> {
    const INDENT: &str = "  ";
    let chars: Vec<char> = text.chars().collect();
    if chars.len() <= width || width <= INDENT.len() + 1 {
        return vec![text.to_owned()];
    }
    let mut out = Vec::new();
    let mut start = 0;
    while start < chars.len() {
        let room = if out.is_empty() {
            width
        } else {
            width - INDENT.len()
        };
        let end = if chars.len() - start <= room {
            chars.len()
        } else {
            let limit = start + room;
            (start + room / 2..limit)
                .rev()
                .find(|&i| {
                    matches!(
                        chars[i],
                        ':' | '/' | ',' | ' ' | '-' | '_' | '.' | '}' | '*'
                    )
                })
                .map(|i| i + 1)
                .unwrap_or(limit)
        };
        let piece: String = chars[start..end].iter().collect();
        out.push(if out.is_empty() {
            piece.trim_end().to_owned()
        } else {
            format!("{INDENT}{}", piece.trim_end())
        });
        // A line never starts with the space it was broken at.
        start = end;
        while start < chars.len() && chars[start] == ' ' {
            start += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diff::compare;
    use serde_json::json;

    #[test]
    fn wrapping_keeps_every_character_and_fits_the_width() {
        let arn = "arn:aws:autoscaling:*:123456789012:autoScalingGroup:*:autoScalingGroupName/ci-agents-autoScalingGroup-*";
        for width in [8, 12, 20, 33, 200] {
            let lines = wrap(arn, width);
            assert!(
                lines.iter().all(|l| l.chars().count() <= width),
                "{width}: {lines:?}"
            );
            let joined: String = lines
                .iter()
                .enumerate()
                .map(|(i, l)| if i == 0 { l.as_str() } else { &l[2..] })
                .collect();
            assert_eq!(joined, arn, "{width}");
        }
        assert_eq!(wrap("short", 10), vec!["short"]);
        assert_eq!(
            wrap("arn:aws:ssm:*:*:parameter/x", 20),
            vec!["arn:aws:ssm:*:*:", "  parameter/x"]
        );
    }

    #[test]
    fn narrow_tables_wrap_rows_and_never_drop_a_resource_or_action() {
        let new = json!({"Resources": {"P": {"Type": "AWS::IAM::Policy", "Properties": {
            "PolicyName": "p", "Roles": [{"Ref": "Role"}],
            "PolicyDocument": {"Statement": [{"Effect": "Allow",
                "Action": ["autoscaling:TerminateInstanceInAutoScalingGroup", "ssm:GetParameter"],
                "Resource": ["arn:aws:ssm:us-east-1:123456789012:parameter/a-very-long-parameter-name", "arn:aws:kms:*:*:key/k"],
                "Condition": {"StringEquals": {"aws:RequestedRegion": ["us-east-1", "eu-west-1"]}}}]}
        }}}});
        let changes = SecurityChanges::of(&compare(&json!({}), &new).security);
        for width in [80, 120] {
            let lines = security_tables(&changes, false, width);
            assert!(
                lines.iter().all(|l| text_width(l) <= width),
                "{width}:\n{}",
                lines.join("\n")
            );
            // Each column's text put back together from its wrapped lines.
            let column = |i: usize| -> String {
                lines
                    .iter()
                    .filter_map(|l| l.split('│').nth(i))
                    .map(str::trim)
                    .collect()
            };
            for (i, whole) in [
                (
                    2,
                    "arn:aws:ssm:us-east-1:123456789012:parameter/a-very-long-parameter-name",
                ),
                (2, "arn:aws:kms:*:*:key/k"),
                (4, "autoscaling:TerminateInstanceInAutoScalingGroup"),
                (4, "ssm:GetParameter"),
                (5, "AWS:${Role}"),
            ] {
                assert!(
                    column(i).contains(whole),
                    "{width}: {whole} missing from\n{}",
                    lines.join("\n")
                );
            }
        }
        // Too narrow for the columns' minimum: wider than asked, still whole.
        let narrow = security_tables(&changes, false, 40).join("\n");
        assert!(narrow.contains("│ Allow  │"), "{narrow}");
        let lines = security_tables(&changes, false, 200).join("\n");
        assert!(
            lines.contains("StringEquals aws:RequestedRegion = [eu-west-1, us-east-1]")
                || lines.contains("StringEquals aws:RequestedRegion = [us-east-1, eu-west-1]"),
            "{lines}"
        );
        assert!(lines.contains("│ + │ arn:aws:kms:*:*:key/k "), "{lines}");
    }

    #[test]
    fn table_rows_are_coloured_only_when_asked() {
        let new = json!({"Resources": {"Sg": {"Type": "AWS::EC2::SecurityGroup", "Properties": {
            "SecurityGroupEgress": [{"CidrIp": "0.0.0.0/0", "IpProtocol": "-1"}]
        }}}});
        let changes = SecurityChanges::of(&compare(&json!({}), &new).security);
        let plain = security_tables(&changes, false, DEFAULT_WIDTH).join("\n");
        assert!(!plain.contains('\u{1b}'), "{plain}");
        assert!(
            plain.contains("│ + │ ${Sg.GroupId} │ Out │ Everything │ Everyone (IPv4) │"),
            "{plain}"
        );
        let coloured = security_tables(&changes, true, DEFAULT_WIDTH).join("\n");
        assert!(coloured.contains("\u{1b}[32m+"), "green sign: {coloured:?}");
        assert_eq!(console::strip_ansi_codes(&coloured), plain);
    }

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
        let lines = diff_lines("s", &compare(&old, &new), false, DEFAULT_WIDTH);
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
        let coloured = diff_lines("s", &compare(&old, &new), true, DEFAULT_WIDTH).join("\n");
        assert!(coloured.contains('\u{1b}'), "colour codes when on");
    }
}
