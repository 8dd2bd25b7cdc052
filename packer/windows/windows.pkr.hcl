# The Windows agent image: Windows Server 2019 (x86_64) with EC2Launch v2.
# Built by `make packer.build PACKER_OS=windows` (see packer/README.md).

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
  description = "x86_64 (the agent and the CloudWatch agent ship Windows builds for amd64 only)"
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

locals {
  ami_name = "${var.ami_prefix}-${var.stack_version}-windows-${var.arch}-${var.hash}"
}

source "amazon-ebs" "windows" {
  region         = var.region
  instance_type  = var.instance_type
  ami_name       = local.ami_name
  communicator   = "winrm"
  winrm_username = "Administrator"
  winrm_use_ssl  = true
  winrm_insecure = true
  winrm_port     = 5986
  user_data_file = "files/ec2-userdata.ps1"

  source_ami_filter {
    owners      = ["801119661308"]
    most_recent = true
    filters = {
      name                = "EC2LaunchV2-Windows_Server-2019-English-Full-Base*"
      architecture        = var.arch
      root-device-type    = "ebs"
      virtualization-type = "hvm"
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
  name    = "semaphore-agent-windows"
  sources = ["source.amazon-ebs.windows"]

  provisioner "file" {
    source      = "files/"
    destination = "C:\\packer-tmp\\"
  }

  provisioner "powershell" {
    inline = [
      "& C:\\packer-tmp\\provision.ps1 -AgentVersion ${var.agent_version} -ToolboxVersion ${var.toolbox_version}",
      "& C:\\packer-tmp\\verify.ps1",
      "Remove-Item -Recurse -Force C:\\packer-tmp",
      "& $env:ProgramFiles\\Amazon\\EC2Launch\\EC2Launch.exe reset --block",
      "& $env:ProgramFiles\\Amazon\\EC2Launch\\EC2Launch.exe sysprep --block --shutdown",
    ]
  }
}
