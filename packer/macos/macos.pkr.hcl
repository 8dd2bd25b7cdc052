# The macOS agent image (mac1.metal for x86_64, mac2.metal for arm64). Needs a dedicated host
# with free capacity in the region (see packer/README.md).

variable "stack_version" {
  type = string
}
variable "hash" {
  type = string
}
variable "region" {
  type = string
}
variable "ami_prefix" {
  type    = string
  default = "semaphore-agent"
}
variable "arch" {
  type        = string
  description = "x86_64 (mac1.metal) or arm64 (mac2.metal)"
}
variable "instance_type" {
  type    = string
  default = "mac2.metal"
}
variable "agent_version" {
  type = string
}
variable "toolbox_version" {
  type = string
}
variable "macos_version" {
  type        = string
  default     = "14"
  description = "The major version of Amazon's macOS base image (amzn-ec2-macos-<version>.*)"
}
variable "agent_binary" {
  type        = string
  description = "The Semaphore agent binary for arch, built from this repository (make instance.build on a Mac)"
}
variable "install_go_agent" {
  type        = bool
  default     = false
  description = "Install the Go agent release agent_version instead of the Rust agent (for its Kubernetes executor)"
}
variable "instance_binary" {
  type        = string
  description = "The agent-instance binary for arch (make instance.build on a Mac)"
}

locals {
  ami_name = "${var.ami_prefix}-${var.stack_version}-macos-${var.arch}-${var.hash}"
}

source "amazon-ebs" "macos" {
  region        = var.region
  instance_type = var.instance_type
  ami_name      = local.ami_name
  tenancy       = "host"
  ebs_optimized = true
  ssh_username  = "ec2-user"
  ssh_timeout   = "2h"

  aws_polling {
    delay_seconds = 60
    max_attempts  = 60
  }

  source_ami_filter {
    owners      = ["amazon"]
    most_recent = true
    filters = {
      name                = "amzn-ec2-macos-${var.macos_version}.*"
      architecture        = "${var.arch}_mac"
      root-device-type    = "ebs"
      virtualization-type = "hvm"
    }
  }

  launch_block_device_mappings {
    device_name           = "/dev/sda1"
    volume_size           = 120
    volume_type           = "gp3"
    iops                  = 3000
    throughput            = 125
    delete_on_termination = true
  }

  # BEGIN packer>=1.7 (the builder instance requires IMDSv2; CI's Packer 1.6.6 validates
  # the template without this block)
  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 2
  }
  imds_support = "v2.0"
  # END packer>=1.7

  tags = {
    Name            = "Semaphore agent"
    Version         = var.stack_version
    Agent_Version   = var.agent_version
    Toolbox_Version = var.toolbox_version
    Hash            = var.hash
  }
}

build {
  name    = "semaphore-agent-macos"
  sources = ["source.amazon-ebs.macos"]

  provisioner "file" {
    source      = var.instance_binary
    destination = "/tmp/agent-instance"
  }

  provisioner "file" {
    source      = var.agent_binary
    destination = "/tmp/semaphore-agent"
  }

  provisioner "file" {
    source      = "files"
    destination = "/tmp/"
  }

  provisioner "shell" {
    environment_vars = [
      "AGENT_VERSION=${var.agent_version}",
      "INSTALL_GO_AGENT=${var.install_go_agent}",
      "TOOLBOX_VERSION=${var.toolbox_version}",
      "FILES=/tmp/files",
    ]
    scripts = ["files/provision.sh", "files/verify.sh"]
  }
}
