//! The EC2 lookups through the real AWS SDK against moto_server. Runs when
//! `AWS_ENDPOINT_URL` is set (scripts/test.sh starts moto and sets it); skipped otherwise.

use aws_sdk_ec2::Client;
use aws_sdk_ec2::types::{BlockDeviceMapping, EbsBlockDevice};
use aws_test_support::unique;
use stack_lookups::{AmiQuery, AwsEc2, Ec2Lookups, LookupError, VpcFilter};
use stack_template::SubnetType;

async fn client() -> Option<Client> {
    if std::env::var_os("AWS_ENDPOINT_URL").is_none() {
        eprintln!(
            "skipped: AWS_ENDPOINT_URL is not set (run scripts/test.sh to start moto_server)"
        );
        return None;
    }
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .load()
        .await;
    Some(Client::new(&config))
}

#[tokio::test]
async fn images_are_found_by_name_and_by_id() {
    let Some(client) = client().await else { return };
    let name = unique("semaphore-agent-v0.0.0-ubuntu-noble-arm64");
    let registered = client
        .register_image()
        .name(&name)
        .root_device_name("/dev/sda1")
        .block_device_mappings(
            BlockDeviceMapping::builder()
                .device_name("/dev/sda1")
                .ebs(EbsBlockDevice::builder().volume_size(8).build())
                .build(),
        )
        .send()
        .await
        .expect("register image");
    let image_id = registered.image_id().expect("image id").to_owned();
    let ec2 = AwsEc2::new(client);

    let found = ec2
        .image_id(&AmiQuery::Name {
            name: name.clone(),
            owner: "123456789012".into(),
        })
        .await
        .expect("found by name");
    assert_eq!(found, image_id);
    assert_eq!(
        ec2.image_id(&AmiQuery::Id(image_id.clone()))
            .await
            .expect("found by id"),
        image_id
    );

    let missing = ec2
        .image_id(&AmiQuery::Name {
            name: unique("no-such-image"),
            owner: "123456789012".into(),
        })
        .await
        .expect_err("no image");
    assert!(matches!(missing, LookupError::NoAmi { .. }), "{missing}");
    assert!(
        missing.to_string().contains("SEMAPHORE_AGENT_AMI"),
        "{missing}"
    );
}

#[tokio::test]
async fn default_vpc_subnets_are_public() {
    let Some(client) = client().await else { return };
    let vpc = AwsEc2::new(client)
        .vpc(&VpcFilter::Default)
        .await
        .expect("default VPC");
    assert!(vpc.vpc_id.starts_with("vpc-"));
    assert_eq!(vpc.vpc_cidr_block, "172.31.0.0/16");
    assert!(!vpc.subnet_groups.is_empty());
    assert!(
        vpc.subnet_groups
            .iter()
            .all(|g| g.kind == SubnetType::Public),
        "{vpc:?}"
    );
    let zones: Vec<_> = vpc.subnet_groups[0]
        .subnets
        .iter()
        .map(|s| s.availability_zone.clone())
        .collect();
    let mut sorted = zones.clone();
    sorted.sort();
    assert_eq!(zones, sorted, "subnets sorted by zone");
}

#[tokio::test]
async fn custom_vpc_subnets_are_grouped_by_route() {
    let Some(client) = client().await else { return };
    let vpc_id = client
        .create_vpc()
        .cidr_block("10.42.0.0/16")
        .send()
        .await
        .expect("create VPC")
        .vpc()
        .and_then(|v| v.vpc_id())
        .expect("vpc id")
        .to_owned();
    let subnet = |cidr: &'static str, az: &'static str| {
        let client = client.clone();
        let vpc_id = vpc_id.clone();
        async move {
            client
                .create_subnet()
                .vpc_id(vpc_id)
                .cidr_block(cidr)
                .availability_zone(az)
                .send()
                .await
                .expect("create subnet")
                .subnet()
                .and_then(|s| s.subnet_id())
                .expect("subnet id")
                .to_owned()
        }
    };
    let public = subnet("10.42.1.0/24", "us-east-1a").await;
    let isolated = subnet("10.42.2.0/24", "us-east-1b").await;
    let igw = client
        .create_internet_gateway()
        .send()
        .await
        .expect("create IGW")
        .internet_gateway()
        .and_then(|g| g.internet_gateway_id())
        .expect("igw id")
        .to_owned();
    client
        .attach_internet_gateway()
        .internet_gateway_id(&igw)
        .vpc_id(&vpc_id)
        .send()
        .await
        .expect("attach");
    let table = client
        .create_route_table()
        .vpc_id(&vpc_id)
        .send()
        .await
        .expect("route table")
        .route_table()
        .and_then(|t| t.route_table_id())
        .expect("table id")
        .to_owned();
    client
        .create_route()
        .route_table_id(&table)
        .destination_cidr_block("0.0.0.0/0")
        .gateway_id(&igw)
        .send()
        .await
        .expect("route");
    client
        .associate_route_table()
        .route_table_id(&table)
        .subnet_id(&public)
        .send()
        .await
        .expect("associate");

    let vpc = AwsEc2::new(client)
        .vpc(&VpcFilter::Id(vpc_id.clone()))
        .await
        .expect("VPC");
    assert_eq!(vpc.vpc_id, vpc_id);
    assert_eq!(
        vpc.subnet_type(&public),
        Some(SubnetType::Public),
        "{vpc:?}"
    );
    assert_eq!(
        vpc.subnet_type(&isolated),
        Some(SubnetType::Isolated),
        "{vpc:?}"
    );
    let (kind, selected) = vpc.default_selection();
    assert_eq!(kind, SubnetType::Isolated);
    assert_eq!(selected[0].subnet_id, isolated);
}

#[tokio::test]
async fn missing_vpc_is_named() {
    let Some(client) = client().await else { return };
    let err = AwsEc2::new(client)
        .vpc(&VpcFilter::Id("vpc-0000000000000dead".into()))
        .await
        .expect_err("missing");
    assert!(err.to_string().contains("vpc-0000000000000dead"), "{err}");
    assert!(err.to_string().contains("SEMAPHORE_AGENT_VPC_ID"), "{err}");
}

#[tokio::test]
async fn availability_zones_and_security_groups() {
    let Some(client) = client().await else { return };
    let ec2 = AwsEc2::new(client.clone());
    let zones = ec2.availability_zones().await.expect("zones");
    assert!(zones.contains(&"us-east-1a".to_owned()), "{zones:?}");

    let default_vpc = ec2.vpc(&VpcFilter::Default).await.expect("default VPC");
    let group_id = client
        .create_security_group()
        .group_name(unique("agents"))
        .description("test")
        .vpc_id(default_vpc.vpc_id)
        .send()
        .await
        .expect("create SG")
        .group_id()
        .expect("group id")
        .to_owned();
    let sg = ec2.security_group(&group_id).await.expect("found");
    assert_eq!(sg.security_group_id, group_id);
    assert!(sg.allow_all_outbound, "new groups allow all egress");

    let err = ec2
        .security_group("sg-0000000000000dead")
        .await
        .expect_err("missing");
    assert!(err.to_string().contains("sg-0000000000000dead"), "{err}");
}
