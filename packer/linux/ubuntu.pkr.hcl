# The Linux agent image: Ubuntu focal, jammy or noble on x86_64 or arm64.
# Built by `make packer.build PACKER_OS=linux` (see packer/README.md).

variable "stack_version" {
  type        = string
  description = "v<workspace version>, as in the image name the stack looks up"
}
variable "hash" {
  type        = string
  description = "Content hash of the image sources (the Makefile computes it)"
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
  description = "x86_64 or arm64"
}
variable "instance_type" {
  type    = string
  default = "t3.large"
}
variable "agent_version" {
  type = string
}
variable "toolbox_version" {
  type = string
}
variable "ubuntu_name" {
  type    = string
  default = "focal"
}
variable "ubuntu_version" {
  type    = string
  default = "20.04"
}
variable "source_ami" {
  type        = string
  default     = ""
  description = "Base image id; empty for the newest Canonical image of ubuntu_name"
}
variable "apt_hold_patterns" {
  type        = string
  default     = ""
  description = "Package globs (comma or space separated, or a JSON array) held before the upgrade"
}
variable "install_erlang" {
  type    = string
  default = "true"
}
variable "systemd_restart_seconds" {
  type    = string
  default = "1800"
}
variable "instance_binary" {
  type        = string
  description = "The agent-instance binary for arch (make instance.build)"
}
variable "agent_binary" {
  type        = string
  description = "The Semaphore agent binary for arch, built from this repository (make instance.build)"
}
variable "install_go_agent" {
  type        = bool
  default     = false
  description = "Install the Go agent release agent_version instead of the Rust agent (for its Kubernetes executor)"
}
variable "awscli_version" {
  type    = string
  default = "2.15.0"
}

locals {
  ami_name = "${var.ami_prefix}-${var.stack_version}-ubuntu-${var.ubuntu_name}-${var.arch}-${var.hash}"
}

source "amazon-ebs" "ubuntu" {
  region        = var.region
  instance_type = var.instance_type
  ami_name      = local.ami_name
  ssh_username  = "ubuntu"
  source_ami    = var.source_ami

  dynamic "source_ami_filter" {
    for_each = var.source_ami == "" ? [1] : []
    content {
      owners      = ["099720109477"]
      most_recent = true
      filters = {
        name                = "ubuntu/images/*ubuntu-${var.ubuntu_name}-${var.ubuntu_version}-*"
        architecture        = var.arch
        root-device-type    = "ebs"
        virtualization-type = "hvm"
      }
    }
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
  name    = "semaphore-agent-ubuntu"
  sources = ["source.amazon-ebs.ubuntu"]

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
    execute_command = "sudo -E bash '{{ .Path }}'"
    environment_vars = [
      "DEBIAN_FRONTEND=noninteractive",
      "AGENT_VERSION=${var.agent_version}",
      "INSTALL_GO_AGENT=${var.install_go_agent}",
      "TOOLBOX_VERSION=${var.toolbox_version}",
      "APT_HOLD_PATTERNS=${var.apt_hold_patterns}",
      "INSTALL_ERLANG=${var.install_erlang}",
      "SYSTEMD_RESTART_SECONDS=${var.systemd_restart_seconds}",
      "AWSCLI_VERSION=${var.awscli_version}",
      "FILES=/tmp/files",
    ]
    scripts = [
      "scripts/10-upgrade.sh",
      "scripts/20-system-tools.sh",
      "scripts/30-erlang.sh",
      "scripts/40-awscli.sh",
      "scripts/50-cloudwatch-agent.sh",
      "scripts/60-docker.sh",
      "scripts/70-users.sh",
      "scripts/80-agent.sh",
      "scripts/90-cleanup.sh",
    ]
  }
}
