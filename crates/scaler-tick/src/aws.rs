//! The ports on the AWS SDK: SSM for the token, Auto Scaling, CloudWatch.

use std::time::SystemTime;

use aws_config::SdkConfig;
use aws_sdk_autoscaling::types::Filter;
use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};
use aws_support::AwsFailure;

use crate::ports::{Fleet, MetricsSink, TickError, TokenStore};
use crate::semaphore::{Metrics, Token};
use crate::settings::GroupSelector;
use scaler_core::GroupState;

/// CloudWatch namespace of the scaler's metrics (as the original).
pub const NAMESPACE: &str = "Semaphore";
/// The tag CloudFormation puts on the stack's resources.
pub const STACK_NAME_TAG: &str = "aws:cloudformation:stack-name";

/// SSM, Auto Scaling and CloudWatch clients.
#[derive(Debug, Clone)]
pub struct AwsIo {
    ssm: aws_sdk_ssm::Client,
    autoscaling: aws_sdk_autoscaling::Client,
    cloudwatch: aws_sdk_cloudwatch::Client,
}

impl AwsIo {
    /// Clients from one SDK configuration.
    pub fn new(sdk: &SdkConfig) -> AwsIo {
        AwsIo {
            ssm: aws_sdk_ssm::Client::new(sdk),
            autoscaling: aws_sdk_autoscaling::Client::new(sdk),
            cloudwatch: aws_sdk_cloudwatch::Client::new(sdk),
        }
    }

    /// From separately configured clients (tests point one service at a fault injector).
    pub fn from_clients(
        ssm: aws_sdk_ssm::Client,
        autoscaling: aws_sdk_autoscaling::Client,
        cloudwatch: aws_sdk_cloudwatch::Client,
    ) -> AwsIo {
        AwsIo {
            ssm,
            autoscaling,
            cloudwatch,
        }
    }
}

impl TokenStore for AwsIo {
    async fn token(&self, name: &str) -> Result<Token, TickError> {
        let output = self
            .ssm
            .get_parameter()
            .name(name)
            .with_decryption(true)
            .send()
            .await;
        let output = match output {
            Ok(o) => o,
            Err(e) => {
                let failure = AwsFailure::new("GetParameter", &e);
                return Err(if failure.is_code("ParameterNotFound") {
                    TickError::TokenMissing { name: name.into() }
                } else {
                    TickError::TokenUnreadable {
                        name: name.into(),
                        failure,
                    }
                });
            }
        };
        match output.parameter.and_then(|p| p.value) {
            Some(value) if !value.trim().is_empty() => Ok(Token::new(value.trim())),
            _ => Err(TickError::TokenMissing { name: name.into() }),
        }
    }
}

impl Fleet for AwsIo {
    async fn describe(&self, selector: &GroupSelector) -> Result<GroupState, TickError> {
        let request = self.autoscaling.describe_auto_scaling_groups();
        let request = match selector {
            GroupSelector::Name(name) => request.auto_scaling_group_names(name),
            GroupSelector::StackTag(stack) => request.filters(
                Filter::builder()
                    .name(format!("tag:{STACK_NAME_TAG}"))
                    .values(stack)
                    .build(),
            ),
        };
        let output = request
            .send()
            .await
            .map_err(|e| TickError::Aws(AwsFailure::new("DescribeAutoScalingGroups", &e)))?;
        let group = output
            .auto_scaling_groups
            .unwrap_or_default()
            .into_iter()
            .next()
            .ok_or_else(|| TickError::GroupNotFound(selector.clone()))?;
        let name = group.auto_scaling_group_name.unwrap_or_default();
        let size = |v: Option<i32>| v.and_then(|n| u32::try_from(n).ok());
        match (
            size(group.desired_capacity),
            size(group.min_size),
            size(group.max_size),
        ) {
            (Some(desired), Some(min), Some(max)) => Ok(GroupState {
                name,
                desired,
                min,
                max,
            }),
            _ => Err(TickError::GroupIncomplete(name)),
        }
    }

    async fn set_desired(&self, name: &str, desired: u32) -> Result<(), TickError> {
        self.autoscaling
            .set_desired_capacity()
            .auto_scaling_group_name(name)
            .desired_capacity(i32::try_from(desired).unwrap_or(i32::MAX))
            .honor_cooldown(false)
            .send()
            .await
            .map_err(|e| TickError::Aws(AwsFailure::new("SetDesiredCapacity", &e)))?;
        Ok(())
    }
}

/// The data the original published: `JobCount` per `JobState` and `AgentCount` per
/// `AgentState`, each with the `StackName` dimension first.
pub fn metric_data(stack_name: &str, metrics: &Metrics, at: SystemTime) -> Vec<MetricDatum> {
    let timestamp = DateTime::from(at);
    let datum = |metric: &str, dimension: &str, state: &str, value: u64| {
        MetricDatum::builder()
            .metric_name(metric)
            .dimensions(
                Dimension::builder()
                    .name("StackName")
                    .value(stack_name)
                    .build(),
            )
            .dimensions(Dimension::builder().name(dimension).value(state).build())
            .value(value as f64)
            .unit(StandardUnit::Count)
            .timestamp(timestamp)
            .build()
    };
    metrics
        .jobs
        .iter()
        .map(|(state, n)| datum("JobCount", "JobState", state, *n))
        .chain(
            metrics
                .agents
                .iter()
                .map(|(state, n)| datum("AgentCount", "AgentState", state, *n)),
        )
        .collect()
}

impl MetricsSink for AwsIo {
    async fn publish(&self, stack_name: &str, metrics: &Metrics) -> Result<(), TickError> {
        self.cloudwatch
            .put_metric_data()
            .namespace(NAMESPACE)
            .set_metric_data(Some(metric_data(stack_name, metrics, SystemTime::now())))
            .send()
            .await
            .map_err(|e| TickError::Aws(AwsFailure::new("PutMetricData", &e)))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_names_and_dimensions_match_the_original() {
        let metrics = Metrics::parse(
            br#"{"jobs":{"queued":3,"running":2},"agents":{"idle":1,"occupied":2}}"#,
        )
        .expect("valid");
        let data = metric_data("stk", &metrics, SystemTime::UNIX_EPOCH);
        let summary: Vec<String> = data
            .iter()
            .map(|d| {
                let dims: Vec<String> = d
                    .dimensions()
                    .iter()
                    .map(|x| format!("{}={}", x.name().unwrap_or(""), x.value().unwrap_or("")))
                    .collect();
                let name = d.metric_name().unwrap_or("");
                format!("{name} {} {}", dims.join(","), d.value().unwrap_or(-1.0))
            })
            .collect();
        assert_eq!(
            summary,
            [
                "JobCount StackName=stk,JobState=queued 3",
                "JobCount StackName=stk,JobState=running 2",
                "AgentCount StackName=stk,AgentState=idle 1",
                "AgentCount StackName=stk,AgentState=occupied 2",
            ]
        );
        assert!(data.iter().all(|d| d.unit() == Some(&StandardUnit::Count)));
    }
}
