//! Every `tests/fixtures/config-errors/<case>/config.json` is refused with exactly the message
//! in its `expected_error.txt` (users know these words; they are checked word for word).

use std::path::Path;

use stack_config::{RawConfig, StackConfig};

#[test]
fn invalid_configurations_are_refused_with_the_expected_message() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/config-errors");
    let mut cases: Vec<_> = std::fs::read_dir(&dir)
        .expect("fixtures exist")
        .map(|e| e.expect("entry").path())
        .collect();
    cases.sort();
    assert!(cases.len() >= 10, "{} cases", cases.len());
    let mut failures = Vec::new();
    for case in cases {
        let expected =
            std::fs::read_to_string(case.join("expected_error.txt")).expect("expected error");
        let raw = RawConfig::load(
            Some(&case.join("config.json")),
            Vec::<(String, String)>::new(),
        )
        .expect("loads");
        match StackConfig::from_raw(&raw) {
            Ok(_) => failures.push(format!("{}: accepted", case.display())),
            Err(e) if e.to_string() != expected.trim_end() => failures.push(format!(
                "{}:\n  expected: {}\n  actual:   {e}",
                case.display(),
                expected.trim_end()
            )),
            Err(_) => {}
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn tags_with_empty_keys_are_refused() {
    let raw = RawConfig::from_pairs([
        ("SEMAPHORE_AGENT_STACK_NAME", "s"),
        ("SEMAPHORE_AGENT_TOKEN_PARAMETER_NAME", "t"),
        ("SEMAPHORE_ORGANIZATION", "o"),
        ("SEMAPHORE_AGENT_TAGS", " :value"),
    ]);
    let err = StackConfig::from_raw(&raw).expect_err("refused");
    assert_eq!(
        err.to_string(),
        "SEMAPHORE_AGENT_TAGS has a tag with an empty key"
    );
}

#[test]
fn loosely_written_numbers_are_read_like_the_original_with_a_warning() {
    let raw = RawConfig::from_pairs([
        ("SEMAPHORE_AGENT_STACK_NAME", "s"),
        ("SEMAPHORE_AGENT_TOKEN_PARAMETER_NAME", "t"),
        ("SEMAPHORE_ORGANIZATION", "o"),
        ("SEMAPHORE_AGENT_VOLUME_NAME", "/dev/sda1"),
        ("SEMAPHORE_AGENT_VOLUME_SIZE", "12.7GB"),
        ("SEMAPHORE_AGENT_SUBNETS", "subnet-1"),
    ]);
    let validated = StackConfig::from_raw(&raw).expect("valid");
    assert_eq!(validated.config.volume.expect("volume").size_gib, 12);
    assert_eq!(
        validated.warnings,
        [
            "SEMAPHORE_AGENT_SUBNETS is ignored because SEMAPHORE_AGENT_VPC_ID is not set",
            "SEMAPHORE_AGENT_VOLUME_SIZE '12.7GB' is read as 12",
        ]
    );
}

#[test]
fn long_stack_names_that_break_iam_policy_names_are_refused() {
    let name = format!("a{}", "b".repeat(98));
    let raw = RawConfig::from_pairs([
        ("SEMAPHORE_AGENT_STACK_NAME", name.as_str()),
        ("SEMAPHORE_AGENT_TOKEN_PARAMETER_NAME", "t"),
        ("SEMAPHORE_ORGANIZATION", "o"),
    ]);
    let err = StackConfig::from_raw(&raw).expect_err("too long");
    assert!(
        err.to_string().contains("use at most 98 characters"),
        "{err}"
    );
    let ok = "a".repeat(98);
    let raw = RawConfig::from_pairs([
        ("SEMAPHORE_AGENT_STACK_NAME", ok.as_str()),
        ("SEMAPHORE_AGENT_TOKEN_PARAMETER_NAME", "t"),
        ("SEMAPHORE_ORGANIZATION", "o"),
    ]);
    StackConfig::from_raw(&raw).expect("98 characters fit");
    let too_long = "a".repeat(129);
    let raw = RawConfig::from_pairs([
        ("SEMAPHORE_AGENT_STACK_NAME", too_long.as_str()),
        ("SEMAPHORE_AGENT_TOKEN_PARAMETER_NAME", "t"),
        ("SEMAPHORE_ORGANIZATION", "o"),
    ]);
    assert_eq!(
        StackConfig::from_raw(&raw)
            .expect_err("too long")
            .to_string(),
        "SEMAPHORE_AGENT_STACK_NAME can be up to 128 characters long."
    );
}

#[test]
fn log_group_kms_key_must_be_a_key_arn() {
    let cases = [
        (
            "a key ARN is accepted",
            "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            true,
        ),
        (
            "a multi-Region key ARN is accepted",
            "arn:aws:kms:eu-west-1:123456789012:key/mrk-1234abcd12ab34cd56ef1234567890ab",
            true,
        ),
        (
            "another partition is accepted",
            "arn:aws-cn:kms:cn-north-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            true,
        ),
        (
            "an alias ARN is refused",
            "arn:aws:kms:us-east-1:123456789012:alias/logs",
            false,
        ),
        ("an alias name is refused", "alias/aws/logs", false),
        (
            "a bare key id is refused",
            "1234abcd-12ab-34cd-56ef-1234567890ab",
            false,
        ),
        (
            "another service is refused",
            "arn:aws:s3:us-east-1:123456789012:key/abc",
            false,
        ),
        (
            "a short account is refused",
            "arn:aws:kms:us-east-1:1234:key/abc",
            false,
        ),
        (
            "an empty region is refused",
            "arn:aws:kms::123456789012:key/abc",
            false,
        ),
        (
            "an empty key id is refused",
            "arn:aws:kms:us-east-1:123456789012:key/",
            false,
        ),
        (
            "a key id with a slash is refused",
            "arn:aws:kms:us-east-1:123456789012:key/a/b",
            false,
        ),
    ];
    for (name, arn, valid) in cases {
        assert_eq!(stack_config::is_kms_key_arn(arn), valid, "{name}: {arn}");
        let raw = RawConfig::from_pairs([
            ("SEMAPHORE_AGENT_STACK_NAME", "s"),
            ("SEMAPHORE_AGENT_TOKEN_PARAMETER_NAME", "t"),
            ("SEMAPHORE_ORGANIZATION", "o"),
            ("SEMAPHORE_AGENT_LOG_GROUP_KMS_KEY_ARN", arn),
        ]);
        match StackConfig::from_raw(&raw) {
            Ok(v) => {
                assert!(valid, "{name}: accepted");
                assert_eq!(v.config.log_group_kms_key_arn.as_deref(), Some(arn));
            }
            Err(e) => {
                assert!(!valid, "{name}: refused with {e}");
                assert!(
                    e.to_string().starts_with(
                        "SEMAPHORE_AGENT_LOG_GROUP_KMS_KEY_ARN must be the ARN of a KMS key"
                    ),
                    "{name}: {e}"
                );
            }
        }
    }
}

#[test]
fn log_groups_use_cloudwatch_encryption_unless_a_key_is_given() {
    let raw = RawConfig::from_pairs([
        ("SEMAPHORE_AGENT_STACK_NAME", "s"),
        ("SEMAPHORE_AGENT_TOKEN_PARAMETER_NAME", "t"),
        ("SEMAPHORE_ORGANIZATION", "o"),
    ]);
    let config = StackConfig::from_raw(&raw).expect("valid").config;
    assert_eq!(config.log_group_kms_key_arn, None);
}
