# Modern Packer (1.7+) installs the Amazon plugin with `make packer.init PACKER_OS=macos`.
# CI uses to validate the rest offline, bundles the builder and does not know this block, so
# CI validates without this file.
packer {
  required_version = ">= 1.7.0"
  required_plugins {
    amazon = {
      version = "= 1.3.9"
      source  = "github.com/hashicorp/amazon"
    }
  }
}
