# The agent's shutdown hook (run as `semaphore`, SEMAPHORE_AGENT_SHUTDOWN_REASON set):
# terminate this instance through its Auto Scaling group, decrementing the desired capacity
# after an idle timeout only. Credentials a job left behind are ignored: the AWS CLI uses the
# instance profile. If the call keeps failing, power off (the group replaces the instance).
$ErrorActionPreference = "Stop"
function Get-Metadata([string]$Path) {
  $token = Invoke-RestMethod -Method PUT -Uri "http://169.254.169.254/latest/api/token" `
    -Headers @{ "X-aws-ec2-metadata-token-ttl-seconds" = "60" } -TimeoutSec 5
  Invoke-RestMethod -Uri "http://169.254.169.254/latest/meta-data/$Path" `
    -Headers @{ "X-aws-ec2-metadata-token" = $token } -TimeoutSec 5
}
foreach ($name in "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE") {
  Remove-Item "Env:\$name" -ErrorAction SilentlyContinue
}
Remove-Item (Join-Path $HOME ".aws\credentials") -ErrorAction SilentlyContinue
$instanceId = Get-Metadata "instance-id"
$region = Get-Metadata "placement/region"
$decrement = if ($env:SEMAPHORE_AGENT_SHUTDOWN_REASON -eq "IDLE") { "--should-decrement-desired-capacity" } else { "--no-should-decrement-desired-capacity" }
for ($attempt = 1; $attempt -le 3; $attempt++) {
  & aws.exe autoscaling terminate-instance-in-auto-scaling-group --region $region --instance-id $instanceId $decrement | Out-Null
  if ($LASTEXITCODE -eq 0) { exit 0 }
  Start-Sleep -Seconds $attempt
}
Stop-Computer -Force
