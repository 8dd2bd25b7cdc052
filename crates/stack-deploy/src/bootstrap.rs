//! Where the Lambda code goes and which role CloudFormation acts as.
//!
//! Two kinds of bootstrap work:
//! - the original's CDK bootstrap (stack `CDKToolkit`, qualifier `hnb659fds`), found by its
//!   version parameter: its assets bucket and its execution role are reused as they are;
//! - our own, small bootstrap stack `agent-aws-stack-bootstrap`: an encrypted, private,
//!   versioned bucket under the same name CDK would use (so the synthesized template is the
//!   same either way), and, only when policies are given, an execution role limited to them.
//!
//! What `bootstrap` does is decided by the pure [`plan`] from the facts [`survey`] gathers:
//! reuse a CDK bootstrap, keep the role's policies when none are given, refuse a bucket no
//! bootstrap owns.

use serde_json::{Value, json};

use crate::cloud::{Stacks, Storage};
use crate::error::BootstrapError;

/// Our bootstrap stack's name.
pub const BOOTSTRAP_STACK: &str = "agent-aws-stack-bootstrap";
/// CDK's bootstrap version parameter (default qualifier).
pub const CDK_VERSION_PARAMETER: &str = "/cdk-bootstrap/hnb659fds/version";
/// The oldest CDK bootstrap whose bucket layout we rely on.
pub const CDK_MIN_VERSION: u32 = 6;
/// Our bootstrap's version parameter.
pub const VERSION_PARAMETER: &str = "/agent-aws-stack/bootstrap/version";
/// Our bootstrap template's version (bumped when the template changes).
pub const VERSION: u32 = 1;

/// The assets bucket's logical id in our bootstrap stack.
const BUCKET_ID: &str = "AssetsBucket";
/// The execution role's logical id in our bootstrap stack.
const ROLE_ID: &str = "CloudFormationExecutionRole";

pub use stack_contract::aws::{assets_bucket as bucket_name, partition};

/// Our execution role's name.
pub fn execution_role_name(account: &str, region: &str) -> String {
    format!("agent-aws-stack-cfn-exec-role-{account}-{region}")
}

/// A bootstrap found in an account and region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bootstrap {
    /// Whose bootstrap it is.
    pub kind: BootstrapKind,
    /// The assets bucket.
    pub bucket: String,
    /// The role CloudFormation acts as, if any (else the caller's credentials).
    pub execution_role: Option<String>,
}

/// CDK's or ours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BootstrapKind {
    /// The original's `cdk bootstrap`, with its version.
    Cdk(u32),
    /// `agent-aws-stack bootstrap`.
    Own,
}

/// Looks for a bootstrap: CDK's first (existing users need not bootstrap again), then ours.
pub async fn find(
    stacks: &impl Stacks,
    storage: &impl Storage,
    account: &str,
    region: &str,
) -> Result<Option<Bootstrap>, BootstrapError> {
    if let Some(version) = storage.parameter(CDK_VERSION_PARAMETER).await? {
        let version: u32 = version.trim().parse().unwrap_or(0);
        return Ok(Some(Bootstrap {
            kind: BootstrapKind::Cdk(version),
            bucket: bucket_name(account, region),
            execution_role: Some(format!(
                "arn:{}:iam::{account}:role/cdk-hnb659fds-cfn-exec-role-{account}-{region}",
                partition(region)
            )),
        }));
    }
    let Some(stack) = stacks.describe_stack(BOOTSTRAP_STACK).await? else {
        return Ok(None);
    };
    if !stack.status.is_usable() {
        return Err(BootstrapError::Unusable {
            stack: BOOTSTRAP_STACK.to_owned(),
            status: stack.status,
        });
    }
    let resources = stacks.resources(&stack.id).await?;
    let physical = |id: &str| {
        resources
            .iter()
            .find(|r| r.logical_id == id)
            .and_then(|r| r.physical_id.clone())
    };
    Ok(Some(Bootstrap {
        kind: BootstrapKind::Own,
        bucket: physical(BUCKET_ID).unwrap_or_else(|| bucket_name(account, region)),
        execution_role: physical(ROLE_ID)
            .map(|name| format!("arn:{}:iam::{account}:role/{name}", partition(region))),
    }))
}

/// Explains a missing or unusable bootstrap.
pub fn usable(
    found: Option<Bootstrap>,
    account: &str,
    region: &str,
) -> Result<Bootstrap, BootstrapError> {
    match found {
        None => Err(BootstrapError::Missing {
            account: account.to_owned(),
            region: region.to_owned(),
        }),
        Some(Bootstrap {
            kind: BootstrapKind::Cdk(version),
            ..
        }) if version < CDK_MIN_VERSION => Err(BootstrapError::CdkTooOld {
            account: account.to_owned(),
            region: region.to_owned(),
            version,
            minimum: CDK_MIN_VERSION,
        }),
        Some(b) => Ok(b),
    }
}

/// What `bootstrap` needs to know about an account and region before deciding.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Survey {
    /// The bootstrap found, if any.
    pub found: Option<Bootstrap>,
    /// Our execution role's current policies (read only when no policies are given and our
    /// bootstrap has a role).
    pub deployed_policies: Vec<String>,
    /// The bucket a bootstrap of ours would create.
    pub bucket: String,
    /// Whether that bucket exists (read only when no bootstrap was found).
    pub bucket_exists: bool,
}

/// Gathers the [`Survey`] for `given` policies: only the reads [`plan`] will use.
pub async fn survey(
    stacks: &impl Stacks,
    storage: &impl Storage,
    account: &str,
    region: &str,
    given: &[String],
) -> Result<Survey, BootstrapError> {
    let found = find(stacks, storage, account, region).await?;
    let mut survey = Survey {
        bucket: bucket_name(account, region),
        ..Survey::default()
    };
    match &found {
        Some(Bootstrap {
            kind: BootstrapKind::Own,
            execution_role: Some(_),
            ..
        }) if given.is_empty() => {
            let deployed = stacks.get_template(BOOTSTRAP_STACK).await?;
            survey.deployed_policies = deployed_policies(&deployed);
        }
        None => {
            survey.bucket_exists = storage.bucket_exists(&survey.bucket).await?;
        }
        _ => {}
    }
    survey.found = found;
    Ok(survey)
}

/// What `bootstrap` will do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BootstrapPlan {
    /// CDK's bootstrap is there: reuse it and change nothing.
    ReuseCdk {
        /// Its version.
        version: u32,
        /// Its bucket.
        bucket: String,
        /// Its execution role.
        execution_role: Option<String>,
        /// Policies were given, but CDK's role keeps its own.
        policies_ignored: bool,
    },
    /// Create or update our bootstrap stack.
    Deploy {
        /// The execution role's policies (none: no role).
        policies: Vec<String>,
        /// No policies were given and the role's current ones are kept (as CDK does).
        kept_policies: bool,
    },
}

/// Decides what `bootstrap` does with the `given` policies in the account `survey` describes.
pub fn plan(survey: &Survey, given: &[String]) -> Result<BootstrapPlan, BootstrapError> {
    match &survey.found {
        Some(Bootstrap {
            kind: BootstrapKind::Cdk(version),
            bucket,
            execution_role,
        }) => Ok(BootstrapPlan::ReuseCdk {
            version: *version,
            bucket: bucket.clone(),
            execution_role: execution_role.clone(),
            policies_ignored: !given.is_empty(),
        }),
        Some(Bootstrap {
            kind: BootstrapKind::Own,
            execution_role: Some(_),
            ..
        }) if given.is_empty() => Ok(BootstrapPlan::Deploy {
            policies: survey.deployed_policies.clone(),
            kept_policies: true,
        }),
        Some(_) => Ok(BootstrapPlan::Deploy {
            policies: given.to_vec(),
            kept_policies: false,
        }),
        None if survey.bucket_exists => Err(BootstrapError::OrphanBucket {
            bucket: survey.bucket.clone(),
        }),
        None => Ok(BootstrapPlan::Deploy {
            policies: given.to_vec(),
            kept_policies: false,
        }),
    }
}

/// The execution role's policies in a deployed bootstrap template (empty when there is no
/// role or the text is not our template).
pub fn deployed_policies(template_text: &str) -> Vec<String> {
    serde_json::from_str::<Value>(template_text)
        .ok()
        .and_then(|t| {
            t["Resources"][ROLE_ID]["Properties"]["ManagedPolicyArns"]
                .as_array()
                .cloned()
        })
        .unwrap_or_default()
        .into_iter()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect()
}

/// Our bootstrap stack's template. `policies` are the managed policy ARNs of the execution
/// role; with none, there is no role and CloudFormation acts with the caller's credentials.
pub fn template(account: &str, region: &str, policies: &[String]) -> Value {
    let bucket = bucket_name(account, region);
    let partition = partition(region);
    let mut resources = serde_json::Map::new();
    resources.insert(
        BUCKET_ID.into(),
        json!({
            "Type": "AWS::S3::Bucket",
            "Properties": {
                "BucketName": bucket,
                "VersioningConfiguration": { "Status": "Enabled" },
                "BucketEncryption": {
                    "ServerSideEncryptionConfiguration": [
                        { "ServerSideEncryptionByDefault": { "SSEAlgorithm": "aws:kms" }, "BucketKeyEnabled": true }
                    ]
                },
                "PublicAccessBlockConfiguration": {
                    "BlockPublicAcls": true,
                    "BlockPublicPolicy": true,
                    "IgnorePublicAcls": true,
                    "RestrictPublicBuckets": true
                },
                "OwnershipControls": { "Rules": [ { "ObjectOwnership": "BucketOwnerEnforced" } ] },
                "LifecycleConfiguration": {
                    "Rules": [
                        { "Id": "CleanupOldVersions", "Status": "Enabled", "NoncurrentVersionExpiration": { "NoncurrentDays": 30 } },
                        { "Id": "AbortIncompleteMultipartUploads", "Status": "Enabled", "AbortIncompleteMultipartUpload": { "DaysAfterInitiation": 1 } }
                    ]
                }
            },
            "UpdateReplacePolicy": "Retain",
            "DeletionPolicy": "Retain"
        }),
    );
    resources.insert(
        "AssetsBucketPolicy".into(),
        json!({
            "Type": "AWS::S3::BucketPolicy",
            "Properties": {
                "Bucket": { "Ref": BUCKET_ID },
                "PolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [{
                        "Sid": "DenyInsecureTransport",
                        "Effect": "Deny",
                        "Principal": "*",
                        "Action": "s3:*",
                        "Resource": [
                            format!("arn:{partition}:s3:::{bucket}"),
                            format!("arn:{partition}:s3:::{bucket}/*")
                        ],
                        "Condition": { "Bool": { "aws:SecureTransport": "false" } }
                    }]
                }
            }
        }),
    );
    if !policies.is_empty() {
        resources.insert(
            ROLE_ID.into(),
            json!({
                "Type": "AWS::IAM::Role",
                "Properties": {
                    "RoleName": execution_role_name(account, region),
                    "Description": "Role CloudFormation acts as to deploy agent-aws-stack stacks",
                    "AssumeRolePolicyDocument": {
                        "Version": "2012-10-17",
                        "Statement": [{
                            "Effect": "Allow",
                            "Principal": { "Service": "cloudformation.amazonaws.com" },
                            "Action": "sts:AssumeRole"
                        }]
                    },
                    "ManagedPolicyArns": policies
                }
            }),
        );
    }
    resources.insert(
        "VersionParameter".into(),
        json!({
            "Type": "AWS::SSM::Parameter",
            "Properties": {
                "Name": VERSION_PARAMETER,
                "Type": "String",
                "Value": VERSION.to_string(),
                "Description": "Version of the agent-aws-stack bootstrap"
            }
        }),
    );
    let mut outputs = serde_json::Map::new();
    outputs.insert(
        "BucketName".into(),
        json!({ "Value": { "Ref": BUCKET_ID } }),
    );
    outputs.insert(
        "BootstrapVersion".into(),
        json!({ "Value": VERSION.to_string() }),
    );
    if !policies.is_empty() {
        outputs.insert(
            "ExecutionRoleArn".into(),
            json!({ "Value": { "Fn::GetAtt": [ROLE_ID, "Arn"] } }),
        );
    }
    json!({
        "Description": "agent-aws-stack bootstrap: the Lambda code bucket and the CloudFormation execution role",
        "Resources": resources,
        "Outputs": outputs
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_only_with_policies() {
        let without = template("123456789012", "us-east-1", &[]);
        assert!(without["Resources"].get(ROLE_ID).is_none());
        assert!(without["Outputs"].get("ExecutionRoleArn").is_none());
        let arn = "arn:aws:iam::123456789012:policy/agent-exec".to_owned();
        let with = template("123456789012", "us-east-1", std::slice::from_ref(&arn));
        assert_eq!(
            with["Resources"][ROLE_ID]["Properties"]["ManagedPolicyArns"],
            json!([arn])
        );
        assert_eq!(
            with["Resources"][BUCKET_ID]["Properties"]["BucketName"],
            "cdk-hnb659fds-assets-123456789012-us-east-1"
        );
    }

    fn own(role: bool) -> Option<Bootstrap> {
        Some(Bootstrap {
            kind: BootstrapKind::Own,
            bucket: "b".into(),
            execution_role: role.then(|| "arn:role".into()),
        })
    }

    #[test]
    fn bootstrap_plans() {
        let policy = vec!["arn:aws:iam::1:policy/p".to_owned()];
        let old = vec!["arn:aws:iam::1:policy/old".to_owned()];
        let cdk = Some(Bootstrap {
            kind: BootstrapKind::Cdk(31),
            bucket: "cdk-bucket".into(),
            execution_role: Some("arn:cdk-role".into()),
        });
        let survey = |found: Option<Bootstrap>, deployed: &[String], bucket_exists: bool| Survey {
            found,
            deployed_policies: deployed.to_vec(),
            bucket: "b".into(),
            bucket_exists,
        };
        let deploy = |policies: &[String], kept_policies: bool| {
            Ok(BootstrapPlan::Deploy {
                policies: policies.to_vec(),
                kept_policies,
            })
        };
        /// (name, survey, given policies, expected plan or `Err("orphan")`)
        type Case = (
            &'static str,
            Survey,
            Vec<String>,
            Result<BootstrapPlan, &'static str>,
        );
        let cases: Vec<Case> = vec![
            (
                "a CDK bootstrap is reused as it is",
                survey(cdk.clone(), &[], false),
                vec![],
                Ok(BootstrapPlan::ReuseCdk {
                    version: 31,
                    bucket: "cdk-bucket".into(),
                    execution_role: Some("arn:cdk-role".into()),
                    policies_ignored: false,
                }),
            ),
            (
                "policies given for a CDK bootstrap are ignored, and said so",
                survey(cdk, &[], false),
                policy.clone(),
                Ok(BootstrapPlan::ReuseCdk {
                    version: 31,
                    bucket: "cdk-bucket".into(),
                    execution_role: Some("arn:cdk-role".into()),
                    policies_ignored: true,
                }),
            ),
            (
                "a fresh account gets the given policies",
                survey(None, &[], false),
                policy.clone(),
                deploy(&policy, false).map_err(|_: ()| ""),
            ),
            (
                "a fresh account without policies gets no role",
                survey(None, &[], false),
                vec![],
                deploy(&[], false).map_err(|_: ()| ""),
            ),
            (
                "a run without policies keeps the role's policies",
                survey(own(true), &old, false),
                vec![],
                deploy(&old, true).map_err(|_: ()| ""),
            ),
            (
                "given policies replace the role's",
                survey(own(true), &old, false),
                policy.clone(),
                deploy(&policy, false).map_err(|_: ()| ""),
            ),
            (
                "our bootstrap without a role stays without one",
                survey(own(false), &[], false),
                vec![],
                deploy(&[], false).map_err(|_: ()| ""),
            ),
            (
                "a bucket no bootstrap owns is refused",
                survey(None, &[], true),
                policy.clone(),
                Err("orphan"),
            ),
        ];
        for (name, survey, given, expected) in cases {
            match (plan(&survey, &given), expected) {
                (Ok(got), Ok(expected)) => assert_eq!(got, expected, "{name}"),
                (Err(BootstrapError::OrphanBucket { bucket }), Err("orphan")) => {
                    assert_eq!(bucket, "b", "{name}")
                }
                (got, expected) => panic!("{name}: got {got:?}, expected {expected:?}"),
            }
        }
    }

    #[test]
    fn partitions() {
        assert_eq!(partition("eu-west-1"), "aws");
        assert_eq!(partition("cn-north-1"), "aws-cn");
        assert_eq!(partition("us-gov-west-1"), "aws-us-gov");
    }
}
