# Installs what the agent and its jobs need: pinned tools, AWS CLI v2, the CloudWatch agent,
# the Semaphore agent (configured at boot, when its user exists) and the runtime scripts.
param(
  [Parameter(Mandatory = $true)][string]$AgentVersion,
  [Parameter(Mandatory = $true)][string]$ToolboxVersion
)
$ErrorActionPreference = "Stop"
$ProgressPreference = "SilentlyContinue"

function Invoke-Checked([string]$What, [scriptblock]$Block) {
  & $Block
  if ($LASTEXITCODE -ne 0) { throw "$What failed with exit code $LASTEXITCODE" }
}

Set-ExecutionPolicy -ExecutionPolicy RemoteSigned -Scope LocalMachine -Force
[Net.ServicePointManager]::SecurityProtocol = [Net.SecurityProtocolType]::Tls12

# Chocolatey and pinned tools.
Invoke-Expression ((New-Object System.Net.WebClient).DownloadString("https://community.chocolatey.org/install.ps1"))
$env:Path += ";$env:ALLUSERSPROFILE\chocolatey\bin"
Invoke-Checked "choco install" {
  choco install -y --no-progress 7zip --version 21.7 `
    git --version 2.35.1.2 jq --version 1.6 yq --version 4.21.1 `
    nssm --version 2.24.101.20180116 python --version 3.12.2
}
Import-Module "$env:ChocolateyInstall\helpers\chocolateyProfile.psm1"
refreshenv
Invoke-Checked "git config" { git config --system core.autocrlf false }
Invoke-Checked "pip install boto3" { python -m pip install --disable-pip-version-check boto3 }

# AWS CLI v2 (waited for: the runtime scripts use it).
$msi = Start-Process msiexec.exe -Wait -PassThru -ArgumentList "/i", "https://awscli.amazonaws.com/AWSCLIV2.msi", "/qn"
if ($msi.ExitCode -ne 0) { throw "AWS CLI install failed with exit code $($msi.ExitCode)" }

# CloudWatch agent.
$cw = "$env:TEMP\amazon-cloudwatch-agent.msi"
Invoke-WebRequest -Uri "https://s3.amazonaws.com/amazoncloudwatch-agent/windows/amd64/latest/amazon-cloudwatch-agent.msi" -OutFile $cw
$msi = Start-Process msiexec.exe -Wait -PassThru -ArgumentList "/i", $cw, "/qn"
if ($msi.ExitCode -ne 0) { throw "CloudWatch agent install failed with exit code $($msi.ExitCode)" }
Copy-Item "C:\packer-tmp\amazon-cloudwatch-agent.json" "$env:ProgramData\Amazon\AmazonCloudWatchAgent\amazon-cloudwatch-agent.json"
& "$env:ProgramFiles\Amazon\AmazonCloudWatchAgent\amazon-cloudwatch-agent-ctl.ps1" -a fetch-config -m ec2 -s `
  -c "file:$env:ProgramData\Amazon\AmazonCloudWatchAgent\amazon-cloudwatch-agent.json"
Set-Service -Name AmazonCloudWatchAgent -StartupType Automatic

# The Semaphore agent.
$dir = "C:\semaphore-agent"
New-Item -ItemType Directory -Force -Path $dir, "$dir\hooks" | Out-Null
$tarball = "$dir\agent.tar.gz"
Invoke-WebRequest -Uri "https://github.com/semaphoreci/agent/releases/download/$AgentVersion/agent_Windows_x86_64.tar.gz" -OutFile $tarball
Invoke-Checked "tar" { tar.exe -xf $tarball -C $dir }
Remove-Item $tarball
Move-Item "C:\packer-tmp\shutdown.ps1" "$dir\hooks\shutdown.ps1"
foreach ($script in "start.ps1", "health-check.ps1", "gen-pre-signed-url.py") {
  Move-Item "C:\packer-tmp\$script" "$dir\$script"
}
Set-Content -Path "$dir\toolbox_version" -Value $ToolboxVersion -NoNewline
Write-Output "Provisioned agent $AgentVersion, toolbox $ToolboxVersion."
