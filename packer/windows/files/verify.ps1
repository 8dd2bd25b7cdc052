# The image's contents, checked at the end of the build (the Windows counterpart of goss).
$ErrorActionPreference = "Stop"
$failures = @()
function Check([string]$What, [bool]$Ok) {
  if ($Ok) { Write-Output "ok: $What" } else { Write-Output "FAILED: $What"; $script:failures += $What }
}
$dir = "C:\semaphore-agent"
foreach ($file in "agent.exe", "install.ps1", "start.ps1", "health-check.ps1", "gen-pre-signed-url.py", "toolbox_version", "hooks\shutdown.ps1") {
  Check "$dir\$file exists" (Test-Path "$dir\$file")
}
foreach ($command in "git", "jq", "yq", "nssm", "python", "aws", "7z") {
  Check "$command on PATH" ($null -ne (Get-Command $command -ErrorAction SilentlyContinue))
}
Check "boto3 importable" ((& python -c "import boto3" 2>$null; $LASTEXITCODE) -eq 0)
Check "CloudWatch agent service exists" ($null -ne (Get-Service AmazonCloudWatchAgent -ErrorAction SilentlyContinue))
Check "CloudWatch config in place" (Test-Path "$env:ProgramData\Amazon\AmazonCloudWatchAgent\amazon-cloudwatch-agent.json")
if ($failures.Count -gt 0) { throw "image checks failed: $($failures -join ', ')" }
