# Agent images (AMIs). Run from the repository root, for example:
#
#   make packer.init PACKER_OS=linux
#   make packer.build PACKER_OS=linux UBUNTU_VERSION=noble AMI_ARCH=arm64
#
# Every variable can come from the environment or the command line. See packer/README.md.

AWS_REGION ?= us-east-1
AMI_ARCH ?= x86_64
AMI_PREFIX ?= semaphore-agent
AGENT_VERSION ?= v2.2.16
TOOLBOX_VERSION ?= v1.38.4
PACKER_OS ?= linux
UBUNTU_VERSION ?= focal
SOURCE_AMI ?=
APT_HOLD_PATTERNS ?=
INSTALL_ERLANG ?= true
SYSTEMD_RESTART_SECONDS ?= 1800
# true: install the Go agent release AGENT_VERSION instead of this repository's Rust agent.
INSTALL_GO_AGENT ?= false
PACKER ?= packer

# The workspace version (Cargo.toml), as in the names the stack looks up.
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)

# What each image's hash covers; crates/stack-template/src/fingerprint.rs lists the same.
IMAGE_SOURCES_linux := Makefile packer/linux crates/agent-instance/Cargo.toml crates/agent-instance/src crates/aws-support/Cargo.toml crates/aws-support/src crates/stack-contract/Cargo.toml crates/stack-contract/src crates/semaphore-agent/Cargo.toml crates/semaphore-agent/src crates/agent-protocol/Cargo.toml crates/agent-protocol/src crates/agent-core/Cargo.toml crates/agent-core/src
IMAGE_SOURCES_windows := Makefile packer/windows
IMAGE_SOURCES_macos := Makefile packer/macos crates/agent-instance/Cargo.toml crates/agent-instance/src crates/aws-support/Cargo.toml crates/aws-support/src crates/stack-contract/Cargo.toml crates/stack-contract/src crates/semaphore-agent/Cargo.toml crates/semaphore-agent/src crates/agent-protocol/Cargo.toml crates/agent-protocol/src crates/agent-core/Cargo.toml crates/agent-core/src

# MD5 of every file's MD5 (lowercase hex, sorted, one per line); `target` folders excluded.
# macOS has `md5 -r` (same output shape) instead of md5sum.
MD5 := $(if $(filter Darwin,$(shell uname -s)),md5 -r,md5sum)
HASH = $(shell find $(IMAGE_SOURCES_$(PACKER_OS)) -name target -prune -o -type f -print0 \
	| xargs -0 $(MD5) | cut -d ' ' -f 1 | LC_ALL=C sort | $(MD5) | cut -d ' ' -f 1)

ifeq ($(UBUNTU_VERSION),focal)
UBUNTU_NUMBER := 20.04
else ifeq ($(UBUNTU_VERSION),jammy)
UBUNTU_NUMBER := 22.04
else ifeq ($(UBUNTU_VERSION),noble)
UBUNTU_NUMBER := 24.04
else
$(error UBUNTU_VERSION must be focal, jammy or noble, not "$(UBUNTU_VERSION)")
endif

ifeq ($(filter $(AMI_ARCH),x86_64 arm64),)
$(error AMI_ARCH must be x86_64 or arm64, not "$(AMI_ARCH)")
endif
ifeq ($(filter $(PACKER_OS),linux windows macos),)
$(error PACKER_OS must be linux, windows or macos, not "$(PACKER_OS)")
endif

ifeq ($(PACKER_OS)-$(AMI_ARCH),windows-arm64)
$(error AMI_ARCH=arm64: the Semaphore agent has no Windows arm64 build; use x86_64)
endif

# The builder's instance type follows the architecture unless given.
ifeq ($(PACKER_OS),macos)
AMI_INSTANCE_TYPE ?= $(if $(filter arm64,$(AMI_ARCH)),mac2.metal,mac1.metal)
else
AMI_INSTANCE_TYPE ?= $(if $(filter arm64,$(AMI_ARCH)),t4g.large,t3.large)
endif

ifeq ($(PACKER_OS),linux)
IMAGE_OS := ubuntu-$(UBUNTU_VERSION)
else
IMAGE_OS := $(PACKER_OS)
endif
AMI_NAME = $(AMI_PREFIX)-v$(VERSION)-$(IMAGE_OS)-$(AMI_ARCH)-$(HASH)

# The agent-instance and semaphore-agent binaries baked into Linux and macOS images.
# agent-instance: `dist` profile. semaphore-agent: `image` profile (optimized for size) and, on
# Linux, linked statically with musl: no shared libc pages, so its idle memory is about 3.6 MB
# instead of 5.5 MB, and it runs on every supported Ubuntu.
ifeq ($(PACKER_OS),macos)
CARGO_CROSS := cargo build
INSTANCE_TARGET := $(if $(filter arm64,$(AMI_ARCH)),aarch64,x86_64)-apple-darwin
INSTANCE_TARGET_ARG := $(INSTANCE_TARGET)
AGENT_TARGET := $(INSTANCE_TARGET)
else
CARGO_CROSS := cargo zigbuild
INSTANCE_TARGET := $(if $(filter arm64,$(AMI_ARCH)),aarch64,x86_64)-unknown-linux-gnu
# glibc 2.31 (focal) so one binary runs on every supported Ubuntu.
INSTANCE_TARGET_ARG := $(INSTANCE_TARGET).2.31
AGENT_TARGET := $(if $(filter arm64,$(AMI_ARCH)),aarch64,x86_64)-unknown-linux-musl
endif
# rustup (when it manages the toolchain) adds the standard libraries of the targets first.
INSTANCE_BUILD := { ! command -v rustup >/dev/null || rustup target add $(INSTANCE_TARGET) $(AGENT_TARGET); } \
	&& $(CARGO_CROSS) --profile dist --locked -p agent-instance --target $(INSTANCE_TARGET_ARG) \
	&& $(CARGO_CROSS) --profile image --locked -p semaphore-agent --target $(AGENT_TARGET)
INSTANCE_BINARY := $(CURDIR)/target/$(INSTANCE_TARGET)/dist/agent-instance
AGENT_BINARY := $(CURDIR)/target/$(AGENT_TARGET)/image/semaphore-agent

COMMON_VARS = -var 'stack_version=v$(VERSION)' -var 'hash=$(HASH)' -var 'region=$(AWS_REGION)' \
	-var 'ami_prefix=$(AMI_PREFIX)' -var 'arch=$(AMI_ARCH)' -var 'instance_type=$(AMI_INSTANCE_TYPE)' \
	-var 'agent_version=$(AGENT_VERSION)' -var 'toolbox_version=$(TOOLBOX_VERSION)'
VARS_linux = $(COMMON_VARS) -var 'ubuntu_name=$(UBUNTU_VERSION)' -var 'ubuntu_version=$(UBUNTU_NUMBER)' \
	-var 'source_ami=$(SOURCE_AMI)' -var 'apt_hold_patterns=$(APT_HOLD_PATTERNS)' \
	-var 'install_erlang=$(INSTALL_ERLANG)' -var 'systemd_restart_seconds=$(SYSTEMD_RESTART_SECONDS)' \
	-var 'instance_binary=$(INSTANCE_BINARY)' -var 'agent_binary=$(AGENT_BINARY)' \
	-var 'install_go_agent=$(INSTALL_GO_AGENT)'
VARS_windows = $(COMMON_VARS)
VARS_macos = $(COMMON_VARS) -var 'instance_binary=$(INSTANCE_BINARY)' -var 'agent_binary=$(AGENT_BINARY)' \
	-var 'install_go_agent=$(INSTALL_GO_AGENT)'

.PHONY: print-hash print-ami-name instance.build packer.init packer.validate packer.build packer.fmt

print-hash:
	@echo $(HASH)

print-ami-name:
	@echo $(AMI_NAME)

instance.build:
ifneq ($(PACKER_OS),windows)
	$(INSTANCE_BUILD)
endif

packer.init:
	cd packer/$(PACKER_OS) && $(PACKER) init .

packer.validate: instance.build
	cd packer/$(PACKER_OS) && $(PACKER) validate $(VARS_$(PACKER_OS)) .

packer.build: instance.build
	@echo "Building $(AMI_NAME) in $(AWS_REGION)"
	cd packer/$(PACKER_OS) && $(PACKER) build $(VARS_$(PACKER_OS)) .

packer.fmt:
	cd packer/$(PACKER_OS) && $(PACKER) fmt .
