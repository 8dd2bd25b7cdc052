"""Prints a pre-signed STS GetCallerIdentity URL (global endpoint, 15 minutes) signed with the
instance profile's credentials: the agent name for agent types whose names AWS STS assigns."""

import boto3

sts = boto3.client("sts", region_name="us-east-1", endpoint_url="https://sts.amazonaws.com")
print(sts.generate_presigned_url("get_caller_identity", ExpiresIn=900, HttpMethod="GET"))
