//! AWS names that synthesis and the deploy engine must agree on.

/// The ARN partition of a region (`aws`, `aws-cn`, `aws-us-gov`, the ISO partitions).
pub fn partition(region: &str) -> &'static str {
    const PREFIXES: &[(&str, &str)] = &[
        ("cn-", "aws-cn"),
        ("us-gov-", "aws-us-gov"),
        ("us-isob-", "aws-iso-b"),
        ("us-iso-", "aws-iso"),
        ("eu-isoe-", "aws-iso-e"),
        ("us-isof-", "aws-iso-f"),
    ];
    PREFIXES
        .iter()
        .find(|(prefix, _)| region.starts_with(prefix))
        .map_or("aws", |(_, partition)| partition)
}

/// What every assets bucket's name starts with (CDK's default qualifier `hnb659fds`); the
/// execution policy grants reading code from `<prefix>*`.
pub const ASSETS_BUCKET_PREFIX: &str = "cdk-hnb659fds-assets-";

/// The assets bucket: the one CDK's default bootstrap creates (qualifier `hnb659fds`), so an
/// account bootstrapped for the original needs nothing more. `synth` names it in the
/// Lambdas' `Code`; `bootstrap` creates it when missing; `deploy` uploads to it.
pub fn assets_bucket(account: &str, region: &str) -> String {
    format!("{ASSETS_BUCKET_PREFIX}{account}-{region}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_by_region_prefix() {
        for (region, expected) in [
            ("us-east-1", "aws"),
            ("eu-west-1", "aws"),
            ("cn-north-1", "aws-cn"),
            ("cn-northwest-1", "aws-cn"),
            ("us-gov-west-1", "aws-us-gov"),
            ("us-iso-east-1", "aws-iso"),
            ("us-isob-east-1", "aws-iso-b"),
            ("eu-isoe-west-1", "aws-iso-e"),
            ("us-isof-south-1", "aws-iso-f"),
        ] {
            assert_eq!(partition(region), expected, "{region}");
        }
    }

    #[test]
    fn bucket_is_cdks_default_bootstrap_bucket() {
        assert_eq!(
            assets_bucket("123456789012", "eu-west-1"),
            "cdk-hnb659fds-assets-123456789012-eu-west-1"
        );
    }
}
