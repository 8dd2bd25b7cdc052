# What the stack's user data runs once per instance (EC2Launch v2, as LocalSystem):
#   C:\semaphore-agent\start.ps1 <stack>-config
# Reads the stack's parameters, creates the `semaphore` user, installs and configures the agent
# as that user, starts it as a service and schedules the health check. Any failure marks the
# instance unhealthy in its Auto Scaling group (the group replaces it), or powers it off.
param([Parameter(Mandatory = $true)][string]$ConfigParameter)
$ErrorActionPreference = "Stop"
$ProgressPreference = "SilentlyContinue"
$dir = "C:\semaphore-agent"
$started = Get-Date

function Say([string]$Line) {
  Write-Output ("[+{0:N3}s] {1}" -f ((Get-Date) - $started).TotalSeconds, $Line)
}

# IMDSv2 only: a session token for every read.
function Get-Metadata([string]$Path) {
  $token = Invoke-RestMethod -Method PUT -Uri "http://169.254.169.254/latest/api/token" `
    -Headers @{ "X-aws-ec2-metadata-token-ttl-seconds" = "60" } -TimeoutSec 5
  Invoke-RestMethod -Uri "http://169.254.169.254/latest/meta-data/$Path" `
    -Headers @{ "X-aws-ec2-metadata-token" = $token } -TimeoutSec 5
}

# Runs the AWS CLI; its output on success, an exception (with its message) otherwise.
function Invoke-Aws([string[]]$Arguments) {
  $output = & aws.exe @Arguments 2>&1
  if ($LASTEXITCODE -ne 0) { throw "aws $($Arguments[0..1] -join ' ') failed: $output" }
  ($output | Out-String).Trim()
}

# An SSM parameter's value, retried (fresh instance-profile credentials can take seconds to
# work), except when the parameter does not exist.
function Get-Parameter([string]$Name, [switch]$Decrypt) {
  $arguments = @("ssm", "get-parameter", "--region", $script:region, "--name", $Name,
    "--query", "Parameter.Value", "--output", "text")
  if ($Decrypt) { $arguments += "--with-decryption" }
  for ($attempt = 1; ; $attempt++) {
    try { return Invoke-Aws $arguments }
    catch {
      if ("$_" -match "ParameterNotFound") { throw "SSM parameter $Name does not exist in $($script:region)" }
      if ($attempt -ge 30) { throw "reading SSM parameter $Name failed $attempt times: $_" }
      Say "Reading SSM parameter $Name failed; retrying"
      Start-Sleep -Milliseconds (Get-Random -Minimum 750 -Maximum 5001)
    }
  }
}

$instanceId = $null
$region = $null
try {
  $instanceId = Get-Metadata "instance-id"
  $region = Get-Metadata "placement/region"
  Say "Instance $instanceId in $region"

  Say "Fetching agent params from SSM parameter '$ConfigParameter'..."
  $params = Get-Parameter $ConfigParameter | ConvertFrom-Json
  foreach ($key in "endpoint", "agentTokenParameterName", "sshKeysParameterName") {
    if (-not $params.$key) { throw "agent parameters in ${ConfigParameter}: '$key' is missing or empty" }
  }
  # The same value rules as the Linux reader (crates/stack-contract/src/agent_params.rs; a test
  # checks that both agree on tests/fixtures/agent-params): the stack writes strings.
  $afterJob = "$($params.disconnectAfterJob)"
  if ($afterJob -cnotmatch '^(true|false)$') {
    throw "agent parameters in ${ConfigParameter}: 'disconnectAfterJob' must be `"true`" or `"false`""
  }
  $idle = "$($params.disconnectAfterIdleTimeout)"
  $idleSeconds = 0
  if ($idle -cnotmatch '^[0-9]+$' -or -not [int]::TryParse($idle, [ref]$idleSeconds)) {
    throw "agent parameters in ${ConfigParameter}: 'disconnectAfterIdleTimeout' must be a whole number of seconds from 0 to 2147483647"
  }

  Say "Creating user semaphore..."
  $bytes = New-Object byte[] 48
  [Security.Cryptography.RandomNumberGenerator]::Create().GetBytes($bytes)
  $password = [Convert]::ToBase64String($bytes) + "!aA1"
  $secure = ConvertTo-SecureString $password -AsPlainText -Force
  New-LocalUser -Name semaphore -Password $secure -PasswordNeverExpires | Out-Null
  Add-LocalGroupMember -Group Administrators -Member semaphore
  $credential = New-Object System.Management.Automation.PSCredential (".\semaphore", $secure)

  $keys = Get-Parameter $params.sshKeysParameterName | ConvertFrom-Json
  if (-not $keys -or $keys.Count -eq 0) { throw "SSM parameter $($params.sshKeysParameterName) holds no SSH keys" }
  Say "Fetching agent token from SSM parameter '$($params.agentTokenParameterName)'..."
  $token = Get-Parameter $params.agentTokenParameterName -Decrypt

  # The user's profile, known_hosts, toolbox and config.yaml are made as the user itself.
  Enable-PSRemoting -Force -SkipNetworkProfileCheck | Out-Null
  Invoke-Command -ComputerName localhost -Credential $credential -ArgumentList $keys, $token, $params, $dir -ScriptBlock {
    param($Keys, $Token, $Params, $Dir)
    $ErrorActionPreference = "Stop"
    $ssh = Join-Path $HOME ".ssh"
    New-Item -ItemType Directory -Force -Path $ssh | Out-Null
    $known = Join-Path $ssh "known_hosts"
    $existing = @(if (Test-Path $known) { Get-Content $known })
    $lines = $Keys | ForEach-Object { "github.com $_" } | Where-Object { $existing -notcontains $_ }
    if ($lines) { Add-Content -Path $known -Value $lines }
    $env:SemaphoreRegistrationToken = $Token
    $env:SemaphoreEndpoint = $Params.endpoint
    $env:SemaphoreAgentDisconnectAfterJob = "$($Params.disconnectAfterJob)"
    $env:SemaphoreAgentDisconnectAfterIdleTimeout = "$($Params.disconnectAfterIdleTimeout)"
    $env:SemaphoreAgentShutdownHook = "C:\\semaphore-agent\\hooks\\shutdown.ps1"
    $env:SemaphoreToolboxVersion = Get-Content (Join-Path $Dir "toolbox_version")
    Set-Location $Dir
    & (Join-Path $Dir "install.ps1") | Out-Null
  }

  if ("$($params.usePreSignedURL)" -eq "True") {
    $name = (& python "$dir\gen-pre-signed-url.py" | Out-String).Trim()
    if ($LASTEXITCODE -ne 0 -or -not $name) { throw "could not pre-sign the STS URL" }
    Say "Agent name: a pre-signed STS GetCallerIdentity URL (valid 15 minutes)"
  } else {
    $suffix = -join ((48..57) + (65..90) + (97..122) | Get-Random -Count 13 | ForEach-Object { [char]$_ })
    $name = "${instanceId}__$suffix"
    Say "Agent name: $name"
  }

  Say "Changing agent configuration..."
  $config = "$dir\config.yaml"
  $env:AGENT_NAME = $name
  & yq -i '.name = strenv(AGENT_NAME) | .upload-job-logs = "when-trimmed"' $config
  if ($LASTEXITCODE -ne 0) { throw "yq could not set the agent name" }
  foreach ($var in @($params.envVars)) {
    if (-not $var) { continue }
    $env:AGENT_ENV_VAR = $var
    & yq -i '.env-vars += [strenv(AGENT_ENV_VAR)]' $config
    if ($LASTEXITCODE -ne 0) { throw "yq could not add an env var" }
  }
  Remove-Item Env:\AGENT_NAME, Env:\AGENT_ENV_VAR -ErrorAction SilentlyContinue
  # The file holds the token: only the agent's user and administrators may read it.
  & icacls.exe $config /inheritance:r /grant:r "semaphore:(R,W)" "Administrators:F" "SYSTEM:F" | Out-Null

  Say "Starting agent..."
  $nssm = "nssm.exe"
  & $nssm install semaphore-agent "$dir\agent.exe" "start --config-file $dir\config.yaml" | Out-Null
  & $nssm set semaphore-agent ObjectName ".\semaphore" $password | Out-Null
  & $nssm set semaphore-agent AppStdout "$dir\agent.log" | Out-Null
  & $nssm set semaphore-agent AppStderr "$dir\agent.log" | Out-Null
  & $nssm set semaphore-agent AppExit Default Exit | Out-Null
  $start = Start-Process $nssm -ArgumentList "start", "semaphore-agent" -Wait -PassThru -NoNewWindow
  if ($start.ExitCode -ne 0) { throw "nssm could not start the agent (exit code $($start.ExitCode))" }
  $deadline = (Get-Date).AddSeconds(60)
  while (-not (Get-Process | Where-Object { $_.Path -eq "$dir\agent.exe" })) {
    if ((Get-Date) -gt $deadline) { throw "the agent did not start within 60 s" }
    Start-Sleep -Seconds 1
  }

  $action = New-ScheduledTaskAction -Execute "powershell.exe" `
    -Argument "-NonInteractive -NoLogo -NoProfile -ExecutionPolicy Bypass -File `"$dir\health-check.ps1`""
  $trigger = New-ScheduledTaskTrigger -Once -At (Get-Date) -RepetitionInterval (New-TimeSpan -Minutes 1)
  Register-ScheduledTask -TaskName "Semaphore agent health check" -Action $action -Trigger $trigger `
    -User "SYSTEM" -RunLevel Highest | Out-Null

  Disable-PSRemoting -Force
  Stop-Service winrm
  Set-Service winrm -StartupType Disabled
  Say ("Agent started {0:N3} s after boot began" -f ((Get-Date) - $started).TotalSeconds)
} catch {
  Say "Boot failed: $_"
  $marked = $false
  if ($instanceId -and $region) {
    try {
      Invoke-Aws @("autoscaling", "set-instance-health", "--region", $region, "--instance-id", $instanceId,
        "--health-status", "Unhealthy", "--no-should-respect-grace-period") | Out-Null
      $marked = $true
      Say "Marked $instanceId unhealthy: its Auto Scaling group replaces it"
    } catch { Say "Could not mark the instance unhealthy: $_" }
  }
  if (-not $marked) {
    Say "Powering off (the instance terminates)"
    Stop-Computer -Force
  }
  exit 1
}
